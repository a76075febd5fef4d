"""Risk flags, their triggers, contact attempts, follow-ups and safety plans."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow


class FlagSource(StrEnum):
    ASSESSMENT = "assessment"
    HOTLINE = "hotline"
    MANUAL = "manual"
    MESSAGE = "message"  # raised from a conversation with a counsellor
    DETERIORATION = "deterioration"


class FlagLevel(StrEnum):
    ELEVATED = "elevated"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"elevated": 1, "high": 2, "critical": 3}[self.value]


class FlagStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    SAFETY_PLAN = "safety_plan"
    APPOINTMENT_BOOKED = "appointment_booked"
    REFERRED_HOSPITAL = "referred_hospital"
    REFERRED_HOTLINE = "referred_hotline"
    NOT_REACHABLE = "not_reachable"
    NO_RISK = "no_risk"


class ContactChannel(StrEnum):
    PHONE = "phone"
    IN_PERSON = "in_person"
    MESSAGE = "message"


class RiskFlag(Base):
    """One open case per person at a time (partial unique index); repeats attach to it."""

    __tablename__ = "risk_flags"
    __table_args__ = (
        Index(
            "uq_risk_flags_open_person",
            "person_id",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_risk_flags_queue", "status", "due_at"),
        # For the reports' monthly rollup and its median times: a month's flags are read
        # from this index alone.
        Index(
            "ix_risk_flags_created_report",
            "created_at",
            "level",
            "org_unit_id",
            "claimed_at",
            "resolved_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The person's unit when the flag was raised (reports count a flag where it arose, as
    # they do a self-assessment; a later move does not rewrite history).
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default=FlagStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_triggered_at: Mapped[datetime] = mapped_column(default=utcnow)
    trigger_count: Mapped[int] = mapped_column(default=1)
    due_at: Mapped[datetime]  # claim deadline for the current level
    escalated_at: Mapped[datetime | None]
    escalation_notified_at: Mapped[datetime | None]
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(30))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    reopened_count: Mapped[int] = mapped_column(default=0)
    callback_requested_at: Mapped[datetime | None]
    callback_preference: Mapped[str | None] = mapped_column(String(100))
    # Every change to the row moves this (ORM changes and Core UPDATEs alike), so the reports
    # rollup finds the months whose flags changed with one index range.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)


class RiskTrigger(Base):
    """Every event that raised or re-raised a flag, in order."""

    __tablename__ = "risk_triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactAttempt(Base):
    __tablename__ = "risk_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="CASCADE"), index=True
    )
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(12))
    reached: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)


class FollowUpKind(StrEnum):
    CONTACT = "contact"
    REASSESSMENT = "reassessment"


class FollowUp(Base):
    __tablename__ = "risk_follow_ups"
    __table_args__ = (Index("ix_risk_follow_ups_due", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(15))
    instrument: Mapped[str | None] = mapped_column(String(20))
    due_at: Mapped[datetime]
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    reminded_at: Mapped[datetime | None]


class SafetyPlan(Base):
    """Versioned: every save is a new row; the worker sees the latest."""

    __tablename__ = "safety_plans"
    __table_args__ = (Index("uq_safety_plans_person_version", "person_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[int]
    warning_signs: Mapped[str] = mapped_column(Text, default="")
    coping_steps: Mapped[str] = mapped_column(Text, default="")
    people_places: Mapped[str] = mapped_column(Text, default="")
    contacts: Mapped[str] = mapped_column(Text, default="")
    safe_environment: Mapped[str] = mapped_column(Text, default="")
    written_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TransferReason(StrEnum):
    WORKLOAD = "workload"
    EXPERTISE = "expertise"  # another counsellor fits the person better
    AVAILABILITY = "availability"  # leave, shift end
    PERSON_ASKED = "person_asked"
    UNCLAIMED = "unclaimed"  # a supervisor assigns a case nobody claimed in time


class RiskTransfer(Base):
    """Every assignment or hand-over of a case, with its reason. The free-text note lives
    here (erased with the person's data), never in the append-only audit trail."""

    __tablename__ = "risk_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="CASCADE"), index=True
    )
    from_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
