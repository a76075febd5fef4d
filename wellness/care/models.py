"""A care episode: one counsellor's plan for one person, its sessions and its measures."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow

GOALS_MAX = 2000
NOTE_MAX = 1000
MAX_SESSIONS = 20


class EpisodeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class EpisodeSource(StrEnum):
    """Where the plan came from, kept as a kind and an id (like risk flags' sources)."""

    FLAG = "flag"
    CALL = "call"
    CONVERSATION = "conversation"
    BOOKING = "booking"
    MANUAL = "manual"


class Outcome(StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    WORSE = "worse"
    REFERRED = "referred"
    DROPPED_OUT = "dropped_out"


class CareEpisode(Base):
    __tablename__ = "care_episodes"
    __table_args__ = (Index("ix_care_episodes_counselor_status", "counselor_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(20), default=EpisodeSource.MANUAL.value)
    source_id: Mapped[str | None] = mapped_column(String(40))
    goals: Mapped[str] = mapped_column(Text)
    planned_sessions: Mapped[int] = mapped_column(default=6)
    # Instrument codes repeated before each session, comma-separated ("phq9,gad7").
    measures: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default=EpisodeStatus.OPEN.value)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(Text)

    @property
    def measure_codes(self) -> list[str]:
        return [code for code in self.measures.split(",") if code]


class CareSession(Base):
    """Session ``number`` of an episode and the appointment that holds its time."""

    __tablename__ = "care_sessions"
    __table_args__ = (UniqueConstraint("episode_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(
        ForeignKey("care_episodes.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL")
    )
    starts_at: Mapped[datetime]


class MeasureAssignment(Base):
    """A questionnaire a counsellor asked a person to fill in by ``due_at``: before a care
    session, or assigned on its own (once or on a schedule). It counts as done when the
    person submits that instrument from ``opens_at`` on."""

    __tablename__ = "care_measure_assignments"
    __table_args__ = (
        Index("ix_care_assignments_due", "sent_at", "opens_at"),
        UniqueConstraint("session_id", "instrument"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_episodes.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_sessions.id", ondelete="CASCADE")
    )
    instrument: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    # The window opens here (due_at - CARE_MEASURE_LEAD_HOURS): the invitation goes out,
    # and a submission from then on completes the assignment.
    opens_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once by a conditional UPDATE when the invitation was queued.
    sent_at: Mapped[datetime | None]
