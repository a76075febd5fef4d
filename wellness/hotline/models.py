"""Hotline: taxonomies, the on-call roster, call records and crisis interventions."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wellness.database import Base, utcnow


class TermKind(StrEnum):
    TOPIC = "topic"
    ACTION = "action"
    REFERRAL = "referral"


class ActionCode(StrEnum):
    """Built-in actions the rules know about; admins may add more, and rename these."""

    LISTENED = "listened"
    REFERRED_STATION = "referred_station"
    REFERRED_HOSPITAL = "referred_hospital"
    EMERGENCY = "emergency"  # emergency services (110/120) called: needs a crisis record


class ShiftMode(StrEnum):
    SEATED = "seated"
    ON_CALL = "on_call"


class AssignmentStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    SWAPPED = "swapped"


class SwapStatus(StrEnum):
    PENDING = "pending"  # waiting for the colleague to accept
    ACCEPTED = "accepted"  # waiting for an admin to approve
    APPROVED = "approved"
    DECLINED = "declined"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_SWAP_STATUSES = (SwapStatus.PENDING.value, SwapStatus.ACCEPTED.value)


class CallKind(StrEnum):
    ANSWERED = "answered"
    SILENT = "silent"
    ABANDONED = "abandoned"  # the caller hung up before a counsellor answered


class AgeBand(StrEnum):
    UNKNOWN = "unknown"
    UNDER_18 = "under_18"
    A18_29 = "18_29"
    A30_39 = "30_39"
    A40_49 = "40_49"
    A50_59 = "50_59"
    A60_PLUS = "60_plus"


class Gender(StrEnum):
    UNKNOWN = "unknown"
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class HotlineTerm(Base):
    """An admin-editable entry of a taxonomy (topic, action taken, referral target).

    Terms are never deleted, only deactivated, so old calls keep their labels.
    """

    __tablename__ = "hotline_terms"
    __table_args__ = (UniqueConstraint("kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    code: Mapped[str] = mapped_column(String(40))
    label_zh: Mapped[str] = mapped_column(String(80))
    label_en: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=100)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def label_for(self, locale: str) -> str:
        return self.label_zh if str(locale).startswith("zh") else (self.label_en or self.label_zh)


class ShiftTemplate(Base):
    """A weekly recurring shift: start (Beijing time), duration, days, seats, mode."""

    __tablename__ = "hotline_shift_templates"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 30 AND 1440", name="duration"),
        CheckConstraint("seats_needed BETWEEN 1 AND 50", name="seats"),
        CheckConstraint("weekdays BETWEEN 1 AND 127", name="weekdays"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int]
    weekdays: Mapped[int]  # bit 0 = Monday ... bit 6 = Sunday
    seats_needed: Mapped[int]
    mode: Mapped[str] = mapped_column(String(10), default=ShiftMode.SEATED.value)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Shift(Base):
    """One concrete shift. ``filled`` counts active assignments; a conditional UPDATE keeps
    it within ``seats_needed`` (and a CHECK constraint backs that up)."""

    __tablename__ = "hotline_shifts"
    __table_args__ = (
        UniqueConstraint("template_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="order"),
        CheckConstraint("filled >= 0 AND filled <= seats_needed", name="filled"),
        Index("ix_hotline_shifts_span", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("hotline_shift_templates.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    seats_needed: Mapped[int]
    mode: Mapped[str] = mapped_column(String(10), default=ShiftMode.SEATED.value)
    filled: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignments: Mapped[list[ShiftAssignment]] = relationship(
        back_populates="shift", order_by="ShiftAssignment.id", viewonly=True
    )


class ShiftAssignment(Base):
    __tablename__ = "hotline_shift_assignments"
    __table_args__ = (
        Index(
            "uq_hotline_assignment_active",
            "shift_id",
            "counselor_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_shifts.id", ondelete="CASCADE"), index=True
    )
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=AssignmentStatus.ACTIVE.value)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    shift: Mapped[Shift] = relationship(back_populates="assignments")
    counselor = relationship("User", foreign_keys=[counselor_id], lazy="joined")


class CounselorLock(Base):
    """One row per counsellor, touched (UPDATE) at the start of every roster change for that
    counsellor: it serialises them on PostgreSQL (row lock) and makes the first statement of
    the transaction a write on SQLite, so overlap checks read committed data."""

    __tablename__ = "hotline_counselor_locks"

    counselor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(default=0)


class ShiftSwap(Base):
    """A counsellor hands an assignment to a colleague: the colleague accepts, an admin approves."""

    __tablename__ = "hotline_shift_swaps"
    __table_args__ = (
        Index(
            "uq_hotline_swap_open",
            "assignment_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'accepted')"),
            postgresql_where=text("status IN ('pending', 'accepted')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_shift_assignments.id", ondelete="CASCADE"), index=True
    )
    from_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=SwapStatus.PENDING.value)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    assignment: Mapped[ShiftAssignment] = relationship()
    from_user = relationship("User", foreign_keys=[from_id], lazy="joined")
    to_user = relationship("User", foreign_keys=[to_id], lazy="joined")


class GapWarning(Base):
    """An under-staffed hour admins were warned about (unique: each hour warned once).

    The sweep deletes the row when the hour is covered again, so a gap that closes and
    re-opens is a new gap and warns again.
    """

    __tablename__ = "hotline_gap_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(unique=True)
    warned_at: Mapped[datetime] = mapped_column(default=utcnow)


call_topics = Table(
    "hotline_call_topics",
    Base.metadata,
    Column("call_id", ForeignKey("hotline_calls.id", ondelete="CASCADE"), primary_key=True),
    Column("term_id", ForeignKey("hotline_terms.id"), primary_key=True),
)


class HotlineCall(Base):
    """One call. Notes (``summary``) are for counsellors only; admins see aggregates.

    ``caller_key`` is a keyed hash of the caller's number (never the number itself), used
    to recognise repeat and silent callers. Retention: kept at least 3 years, then the purge
    sweep anonymises the row (``purged_at``); a member's deletion request de-identifies it
    (``deidentified_at``) instead of deleting it.
    """

    __tablename__ = "hotline_calls"
    __table_args__ = (
        CheckConstraint("duration_seconds >= 0", name="duration"),
        Index("ix_hotline_calls_caller", "caller_key", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shift_id: Mapped[int | None] = mapped_column(
        ForeignKey("hotline_shifts.id", ondelete="SET NULL")
    )
    outside_shift: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(10), default=CallKind.ANSWERED.value)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime]
    duration_seconds: Mapped[int]
    wait_seconds: Mapped[int | None]
    caller_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    member_consent: Mapped[bool] = mapped_column(default=False)
    caller_key: Mapped[str | None] = mapped_column(String(64))
    repeat_index: Mapped[int] = mapped_column(default=1)  # nth call from this caller lately
    age_band: Mapped[str] = mapped_column(String(10), default=AgeBand.UNKNOWN.value)
    gender: Mapped[str] = mapped_column(String(10), default=Gender.UNKNOWN.value)
    summary: Mapped[str | None] = mapped_column(Text)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_terms.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_terms.id"))
    is_risk: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deidentified_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]

    topics: Mapped[list[HotlineTerm]] = relationship(
        secondary=call_topics, order_by="HotlineTerm.sort_order"
    )
    action: Mapped[HotlineTerm | None] = relationship(foreign_keys=[action_id])
    referral: Mapped[HotlineTerm | None] = relationship(foreign_keys=[referral_id])
    counselor = relationship("User", foreign_keys=[counselor_id])
    member = relationship("User", foreign_keys=[caller_member_id])
    crisis: Mapped[CrisisRecord | None] = relationship(back_populates="call", uselist=False)


class CrisisRecord(Base):
    """Crisis intervention on a risk call: rating, timed actions, handover, follow-up."""

    __tablename__ = "hotline_crises"
    __table_args__ = (
        Index("ix_hotline_crises_follow_up", "follow_up_done_at", "follow_up_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_calls.id", ondelete="CASCADE"), unique=True
    )
    ideation: Mapped[int]
    plan: Mapped[int]
    means: Mapped[int]
    attempts: Mapped[int]
    hopelessness: Mapped[int]
    in_progress: Mapped[bool] = mapped_column(default=False)
    score: Mapped[int]
    computed_level: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    # Actions with their times (988: confirm that help reached the person).
    police_called_at: Mapped[datetime | None]
    ambulance_called_at: Mapped[datetime | None]
    contact_reached_at: Mapped[datetime | None]
    contact_note: Mapped[str | None] = mapped_column(String(200))
    help_arrived_at: Mapped[datetime | None]
    help_note: Mapped[str | None] = mapped_column(String(200))
    # Handover to the next shift.
    handover_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handover_note: Mapped[str | None] = mapped_column(Text)
    handed_over_at: Mapped[datetime | None]
    handover_ack_at: Mapped[datetime | None]
    # Follow-up task: an owner is required.
    follow_up_owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    follow_up_due_at: Mapped[datetime]
    follow_up_plan: Mapped[str | None] = mapped_column(Text)
    follow_up_done_at: Mapped[datetime | None]
    follow_up_done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    follow_up_note: Mapped[str | None] = mapped_column(Text)
    follow_up_reminded_at: Mapped[datetime | None]
    risk_flag_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[HotlineCall] = relationship(back_populates="crisis")
    follow_up_owner = relationship("User", foreign_keys=[follow_up_owner_id])
    handover_to = relationship("User", foreign_keys=[handover_to_id])
