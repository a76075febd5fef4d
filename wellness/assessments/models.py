"""Stored self-assessment responses: raw answers plus the result computed at submission."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow


class AssessmentResponse(Base):
    __tablename__ = "assessment_responses"
    __table_args__ = (
        UniqueConstraint("user_id", "submission_key"),
        Index("ix_assessment_user_instrument", "user_id", "instrument", "created_at"),
        Index("ix_assessment_created_instrument_band", "created_at", "instrument", "band"),
        Index("ix_assessment_rescreen", "rescreen_due_at", "rescreen_reminded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(20))
    instrument_version: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))
    answers: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int]
    percent: Mapped[int | None]
    band: Mapped[str] = mapped_column(String(30))
    risk: Mapped[bool]
    level: Mapped[str | None] = mapped_column(String(10))
    critical_items: Mapped[list[int]] = mapped_column(JSON, default=list)
    rule: Mapped[str] = mapped_column(String(120), default="")
    # Idempotency: the form carries a one-time key; a resubmitted form is refused.
    submission_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rescreen_due_at: Mapped[datetime | None]
    rescreen_reminded_at: Mapped[datetime | None]
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
