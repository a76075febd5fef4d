"""One rating per member and rated thing (an attended appointment, a conversation, a class)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow


class SubjectKind(StrEnum):
    APPOINTMENT = "appointment"
    CONVERSATION = "conversation"
    CLASS = "class"


SCORE_MIN = 1
SCORE_MAX = 5
COMMENT_MAX = 1000


class Feedback(Base):
    """A member's score (1-5) and optional comment. ``org_unit_id`` is the member's unit
    when they rated (reports count a rating where it arose); ``counselor_id`` the
    counsellor of the rated session, for aggregates only."""

    __tablename__ = "feedback_ratings"
    __table_args__ = (
        UniqueConstraint("member_id", "subject_kind", "subject_id"),
        CheckConstraint("score >= 1 AND score <= 5", name="score_range"),
        CheckConstraint(
            "subject_kind IN ('appointment', 'conversation', 'class')", name="subject_kind"
        ),
        Index("ix_feedback_ratings_report", "created_at", "subject_kind", "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    counselor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
