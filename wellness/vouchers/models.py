"""Voucher batches, vouchers, holds for appointments, the ledger and per-member quotas.

A voucher's sessions always sit in exactly one bucket::

    sessions = remaining + reserved + consumed + forfeited + expired + revoked

The database checks this sum and that no bucket is negative on every row (CHECK
constraints), and every change is one conditional UPDATE that moves sessions between
buckets (``... WHERE remaining_sessions > 0``, rowcount checked), so two requests can never
spend the same session. Each move also writes an append-only ledger row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from wellness.database import Base, append_only_on_postgres, utcnow
from wellness.vouchers.codes import display

SERVICE_CODES = ("individual", "group", "sand_table", "relaxation", "phone", "video")


class BatchStatus(StrEnum):
    DRAFT = "draft"  # recipients staged and checked; nothing issued yet
    ISSUED = "issued"


class BatchTarget(StrEnum):
    MEMBERS = "members"  # a CSV or a list of members (phone or member id)
    ORG_UNIT = "org_unit"  # every active member of an org unit and the units below it
    BEARER = "bearer"  # N unassigned codes, printed and handed out


class LimitPeriod(StrEnum):
    BATCH = "batch"  # at most N vouchers of this batch per member
    MONTH = "month"  # at most N vouchers from the issuing org unit per calendar month
    QUARTER = "quarter"
    YEAR = "year"


class VoucherStatus(StrEnum):
    UNASSIGNED = "unassigned"  # a bearer code nobody has claimed yet
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class HoldStatus(StrEnum):
    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"
    FORFEITED = "forfeited"


class EntryKind(StrEnum):
    ISSUE = "issue"  # -> remaining (one row per issuing run, for all its vouchers)
    ASSIGN = "assign"  # a bearer code claimed into a wallet (no sessions move)
    RESERVE = "reserve"  # remaining -> reserved
    RELEASE = "release"  # reserved -> remaining
    CONSUME = "consume"  # reserved -> consumed
    FORFEIT = "forfeit"  # reserved -> forfeited
    EXPIRE = "expire"  # remaining -> expired
    REVOKE = "revoke"  # remaining -> revoked


class VoucherBatch(Base):
    __tablename__ = "voucher_batches"
    __table_args__ = (
        CheckConstraint("sessions_per_voucher > 0", name="sessions_positive"),
        CheckConstraint("valid_until > valid_from", name="valid_range"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="limit_positive"),
        Index("ix_voucher_batches_valid_until", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    target: Mapped[str] = mapped_column(String(12))
    target_org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    bearer_count: Mapped[int | None]
    sessions_per_voucher: Mapped[int]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]  # exclusive: the voucher is usable while now < valid_until
    per_member_limit: Mapped[int | None] = mapped_column(default=1)
    limit_period: Mapped[str] = mapped_column(String(10), default=LimitPeriod.BATCH.value)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.DRAFT.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None]
    issued_count: Mapped[int] = mapped_column(default=0)
    staged_count: Mapped[int] = mapped_column(default=0)
    # What the recipient check found: counts, and the first bad rows for the page (all of
    # them are in voucher_import_problems).
    import_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    services: Mapped[list[VoucherBatchService]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="VoucherBatchService.service_code"
    )
    org_unit = relationship("OrgUnit", foreign_keys=[org_unit_id])
    target_org_unit = relationship("OrgUnit", foreign_keys=[target_org_unit_id])
    created_by = relationship("User", foreign_keys=[created_by_id])

    @property
    def service_codes(self) -> list[str]:
        """In the order of SERVICE_CODES (individual first), not alphabetical."""
        chosen = {s.service_code for s in self.services}
        return [code for code in SERVICE_CODES if code in chosen]

    def __repr__(self) -> str:
        return f"<VoucherBatch {self.id} {self.status}>"


class VoucherBatchService(Base):
    """The services a batch pays for (a row per service, so SQL can test the scope)."""

    __tablename__ = "voucher_batch_services"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("voucher_batches.id", ondelete="CASCADE"), primary_key=True
    )
    service_code: Mapped[str] = mapped_column(String(20), primary_key=True)


class VoucherRecipient(Base):
    """A member staged for a draft batch (from a CSV, a list or an org unit)."""

    __tablename__ = "voucher_recipients"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("voucher_batches.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int | None]  # line in the uploaded CSV, or position in the list


class VoucherImportProblem(Base):
    """A row of a recipient list that cannot get a voucher: every one is kept, by line."""

    __tablename__ = "voucher_import_problems"
    __table_args__ = (Index("ix_voucher_import_problems_batch_line", "batch_id", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id", ondelete="CASCADE"))
    line: Mapped[int | None]  # 1-based line in the file; None for an org unit's member
    value: Mapped[str] = mapped_column(String(80))  # as shown (truncated, printable)
    problem: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(16))  # e.g. the line it duplicates


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("remaining_sessions >= 0", name="remaining_not_negative"),
        CheckConstraint("reserved_sessions >= 0", name="reserved_not_negative"),
        CheckConstraint("consumed_sessions >= 0", name="consumed_not_negative"),
        CheckConstraint("forfeited_sessions >= 0", name="forfeited_not_negative"),
        CheckConstraint("expired_sessions >= 0", name="expired_not_negative"),
        CheckConstraint("revoked_sessions >= 0", name="revoked_not_negative"),
        CheckConstraint(
            "sessions = remaining_sessions + reserved_sessions + consumed_sessions"
            " + forfeited_sessions + expired_sessions + revoked_sessions",
            name="sessions_balance",
        ),
        CheckConstraint(
            "status IN ('unassigned', 'active', 'expired', 'revoked')", name="status_known"
        ),
        CheckConstraint(
            "(status = 'unassigned') = (user_id IS NULL) OR status IN ('expired', 'revoked')",
            name="owner_matches_status",
        ),
        Index("ix_vouchers_user_status", "user_id", "status"),
        Index("ix_vouchers_batch_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)  # canonical, without dashes
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12))
    sessions: Mapped[int]
    remaining_sessions: Mapped[int]
    # Columns that bulk issuance leaves to the database (server defaults), so each of the
    # 100,000 rows carries only the values that differ.
    reserved_sessions: Mapped[int] = mapped_column(server_default=text("0"))
    consumed_sessions: Mapped[int] = mapped_column(server_default=text("0"))
    forfeited_sessions: Mapped[int] = mapped_column(server_default=text("0"))
    expired_sessions: Mapped[int] = mapped_column(server_default=text("0"))
    revoked_sessions: Mapped[int] = mapped_column(server_default=text("0"))
    quota_period: Mapped[str | None] = mapped_column(String(12))  # which quota row it counts in
    assigned_at: Mapped[datetime | None]  # set when a bearer code is claimed
    reminded_at: Mapped[datetime | None]  # the 7-day expiry reminder went out
    closed_at: Mapped[datetime | None]  # expired or revoked at

    batch: Mapped[VoucherBatch] = relationship(lazy="joined", innerjoin=True)
    user = relationship("User")

    @property
    def display_code(self) -> str:
        return display(self.code)

    @property
    def valid_from(self) -> datetime:
        return self.batch.valid_from

    @property
    def valid_until(self) -> datetime:
        return self.batch.valid_until

    @property
    def service_codes(self) -> list[str]:
        return self.batch.service_codes

    @property
    def state(self) -> str:
        """What a person sees: status, or ``used_up`` for an active voucher with nothing left."""
        if (
            self.status == VoucherStatus.ACTIVE
            and self.remaining_sessions == 0
            and self.reserved_sessions == 0
        ):
            return "used_up"
        return self.status

    def __repr__(self) -> str:
        return f"<Voucher {self.id} {self.status} {self.remaining_sessions}/{self.sessions}>"


class VoucherHold(Base):
    """A session held for one appointment: reserved, then consumed, released or forfeited.

    ``appointment_id`` is a plain id (vouchers never imports booking) and unique, so an
    appointment holds at most one voucher session.
    """

    __tablename__ = "voucher_holds"
    __table_args__ = (Index("ix_voucher_holds_voucher_status", "voucher_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    appointment_id: Mapped[int] = mapped_column(unique=True)
    service_code: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=HoldStatus.RESERVED.value)
    reserved_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class VoucherEntry(Base):
    """The append-only ledger. ``sessions`` moved from one bucket to another (see kinds)."""

    __tablename__ = "voucher_ledger"
    __table_args__ = (
        CheckConstraint("sessions >= 0", name="sessions_not_negative"),
        Index("ix_voucher_ledger_voucher", "voucher_id", "id"),
        Index("ix_voucher_ledger_batch_kind", "batch_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))  # None: issue
    kind: Mapped[str] = mapped_column(String(10))
    sessions: Mapped[int] = mapped_column(default=0)
    vouchers: Mapped[int] = mapped_column(default=1)  # an issue row covers many vouchers
    ref_type: Mapped[str | None] = mapped_column(String(20))  # "appointment", "visit"...
    ref_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    actor_id: Mapped[int | None]  # plain id, like the audit trail
    at: Mapped[datetime] = mapped_column(default=utcnow)


class VoucherQuota(Base):
    """How many vouchers a member holds in one limit scope and period.

    Issuing or claiming raises ``issued`` with ``... WHERE issued < :limit`` (rowcount
    checked), so the per-member limit holds under concurrency too.
    """

    __tablename__ = "voucher_quotas"
    __table_args__ = (CheckConstraint("issued >= 0", name="issued_not_negative"),)

    scope: Mapped[str] = mapped_column(String(24), primary_key=True)  # "batch:7" / "org:3"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(12), primary_key=True)  # "all", "2026", ...
    issued: Mapped[int] = mapped_column(default=0)


append_only_on_postgres(VoucherEntry.__table__)


class LedgerIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_ledger_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, VoucherEntry):
            raise LedgerIsAppendOnly("voucher ledger rows cannot be changed or deleted")
