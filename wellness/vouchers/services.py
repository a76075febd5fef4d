"""Voucher use cases: batches and issuance, wallet and claims, the booking interface,
station verification, revocation, expiry sweeps, reminders and reports.

Integrity rules (see models.py): every change of a voucher's sessions is one conditional
UPDATE that moves sessions between buckets and checks its rowcount; the database refuses a
negative bucket or an unbalanced row. Each move writes an append-only ledger row and an
audit event in the same transaction.

Transactions: the booking interface (``reserve_for_appointment`` ... ``usable_vouchers``)
joins the caller's transaction and never commits. Every other public function here is a
use case and commits once at its end (sweeps commit per chunk, so a long sweep holds no
lock for long and a crash loses nothing it already did).

On SQLite every transaction begins IMMEDIATE (``wellness/sqlite.py``), so a use case that
reads before it writes queues for the write lock instead of failing on a stale snapshot;
on PostgreSQL the conditional UPDATEs wait for the row lock and re-check their WHERE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import case, exists, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from wellness import audit
from wellness.auth.models import OrgUnit, Role, User
from wellness.auth.phones import mask_phone
from wellness.auth.services import descendant_ids
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, WellnessError
from wellness.extensions import db
from wellness.notify.services import queue as queue_notification
from wellness.vouchers import codes as codes_mod
from wellness.vouchers import csvimport
from wellness.vouchers.models import (
    SERVICE_CODES,
    BatchStatus,
    BatchTarget,
    EntryKind,
    HoldStatus,
    LimitPeriod,
    Voucher,
    VoucherBatch,
    VoucherBatchService,
    VoucherEntry,
    VoucherHold,
    VoucherImportProblem,
    VoucherQuota,
    VoucherRecipient,
    VoucherStatus,
)

BEIJING = ZoneInfo("Asia/Shanghai")
CHUNK = 2000  # rows per INSERT/UPDATE round trip in bulk work
SHOWN_BAD = 200  # bad rows kept in the batch's report for the page (all are in a table)
MAX_SESSIONS = 50
MAX_BEARER = 100_000
MAX_VALID_YEARS = 5
REMINDER_DAYS = 7
OPEN_STATUSES = (VoucherStatus.ACTIVE.value, VoucherStatus.UNASSIGNED.value)

voucher_table = Voucher.__table__
batch_table = VoucherBatch.__table__
hold_table = VoucherHold.__table__
quota_table = VoucherQuota.__table__
ledger_table = VoucherEntry.__table__
recipient_table = VoucherRecipient.__table__


# ----------------------------------------------------------------------------- helpers


def _dialect() -> str:
    return db.engine.dialect.name


def _upsert(table):
    """INSERT ... ON CONFLICT DO NOTHING for the current dialect."""
    module = postgresql if _dialect() == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def beijing_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BEIJING).astimezone(UTC)


def as_utc(value: date | datetime, *, end: bool = False) -> datetime:
    """A Beijing calendar day becomes its start (or, with ``end``, the next day's start)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=BEIJING)
        return value.astimezone(UTC)
    return beijing_start(value + timedelta(days=1) if end else value)


def last_valid_day(valid_until: datetime) -> date:
    """The last Beijing calendar day on which a voucher is usable (valid_until is exclusive)."""
    return (valid_until.astimezone(BEIJING) - timedelta(microseconds=1)).date()


def quota_key(batch: VoucherBatch, now: datetime) -> tuple[str, str]:
    """(scope, period) of the per-member limit row a voucher of ``batch`` counts in."""
    if batch.limit_period == LimitPeriod.BATCH:
        return f"batch:{batch.id}", "all"
    local = now.astimezone(BEIJING)
    scope = f"org:{batch.org_unit_id or 0}"
    if batch.limit_period == LimitPeriod.MONTH:
        return scope, f"{local.year}-{local.month:02d}"
    if batch.limit_period == LimitPeriod.QUARTER:
        return scope, f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return scope, str(local.year)


def _ledger(
    kind: EntryKind,
    voucher_id: int | None,
    batch_id: int,
    now: datetime,
    *,
    sessions: int = 1,
    vouchers: int = 1,
    ref_type: str | None = None,
    ref_id: int | None = None,
    reason: str | None = None,
    actor_id: int | None = None,
) -> VoucherEntry:
    entry = VoucherEntry(
        batch_id=batch_id,
        voucher_id=voucher_id,
        kind=kind.value,
        sessions=sessions,
        vouchers=vouchers,
        ref_type=ref_type,
        ref_id=ref_id,
        reason=reason,
        actor_id=actor_id,
        at=now,
    )
    db.session.add(entry)
    return entry


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", actor)


# ----------------------------------------------------------------------------- errors


CONFLICT_KINDS = frozenset(
    {"expired", "revoked", "exhausted", "not_yet_valid", "already_reserved", "limit", "claimed"}
)


def code_error(kind: str, voucher: Voucher | None = None, limit: int | None = None):
    """A localised error on the ``voucher_code`` field (422 or 409)."""
    until = format_date(last_valid_day(voucher.valid_until)) if voucher is not None else ""
    start = format_date(voucher.valid_from.astimezone(BEIJING).date()) if voucher else ""
    messages = {
        "format": _(
            "Enter the 16-character voucher code: letters and digits, without 0, O, 1 or I."
        ),
        "check": _("This code has a typo. Please check each character again."),
        "unknown": _("There is no voucher with this code."),
        "expired": _("This voucher expired after %(date)s.", date=until),
        "revoked": _("This voucher has been withdrawn by the union that issued it."),
        "exhausted": _("This voucher has no sessions left."),
        "not_yours": _("This voucher belongs to another member."),
        "claimed": _("Someone else has already claimed this voucher."),
        "wrong_service": _("This voucher does not cover this service."),
        "not_yet_valid": _("This voucher can be used from %(date)s.", date=start),
        "already_reserved": _("This appointment already uses a voucher."),
        "already_yours": _("This voucher is already in your wallet."),
        "limit": _(
            "You already hold the most vouchers allowed (%(n)s) from this issuer for now.",
            n=limit or 1,
        ),
    }
    cls = Conflict if kind in CONFLICT_KINDS else InvalidInput
    return cls(messages[kind], {"voucher_code": kind})


def parse_code(raw: str) -> str:
    try:
        return codes_mod.normalise(raw or "")
    except codes_mod.CodeError as error:
        raise code_error(error.kind) from None


def service_label(code: str) -> str:
    labels = {
        "individual": _("Individual counselling"),
        "group": _("Group counselling"),
        "sand_table": _("Sand-table therapy"),
        "relaxation": _("Relaxation room"),
        "phone": _("Phone counselling"),
        "video": _("Video counselling"),
    }
    return labels.get(code, code)


def status_label(state: str) -> str:
    labels = {
        "unassigned": _("Not yet claimed"),
        "active": _("Ready to use"),
        "used_up": _("Used up"),
        "expired": _("Expired"),
        "revoked": _("Withdrawn"),
    }
    return labels.get(state, state)


def problem_label(problem: str, detail: str | None = None) -> str:
    labels = {
        csvimport.ENCODING: _("Not UTF-8 text. In Excel choose “CSV UTF-8 (comma delimited)”."),
        csvimport.UTF16: _("The file is UTF-16 (“Unicode text”). In Excel save it as “CSV UTF-8”."),
        csvimport.EMPTY: _("The member column is empty."),
        csvimport.INVALID: _("Not a mainland mobile number or a member id."),
        csvimport.SCIENTIFIC: _(
            "Excel shortened the number (like 1.39E+10). Format the column as text."
        ),
        csvimport.TOO_LONG: _("The line is too long."),
        csvimport.UNKNOWN: _("No active member with this number or id."),
        csvimport.DUPLICATE: _("The same member is already on line %(line)s.", line=detail),
        csvimport.LIMIT: _("This member already holds the most vouchers allowed."),
    }
    return labels.get(problem, problem)


# ----------------------------------------------------------------------------- batches


@dataclass
class BatchSpec:
    """What an admin fills in for a batch (the page, the CLI and the API build one)."""

    name: str
    sessions: int
    valid_until: date | datetime
    valid_from: date | datetime | None = None
    service_codes: list[str] | None = None
    org_unit_id: int | None = None  # the issuing union
    per_member_limit: int | None = 1
    limit_period: str = LimitPeriod.BATCH.value
    notes: str | None = None


@dataclass
class ImportReport:
    """Counts of a recipient check. Bad rows go to ``voucher_import_problems`` (every one,
    written a chunk at a time); the first SHOWN_BAD are also kept here for the page."""

    batch_id: int | None = None
    rows: int = 0
    blank: int = 0
    good: int = 0
    bad_count: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)
    header: list[str] | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)

    def add_bad(self, row: csvimport.BadRow) -> None:
        self.bad_count += 1
        self.problems[row.problem] = self.problems.get(row.problem, 0) + 1
        entry = {"line": row.line, "value": row.raw, "problem": row.problem, "detail": row.detail}
        if len(self.bad) < SHOWN_BAD:
            self.bad.append(entry)
        self.pending.append(entry)

    def flush(self) -> None:
        """Write the bad rows collected so far (call per chunk: memory stays flat)."""
        if self.pending and self.batch_id is not None:
            db.session.execute(
                insert(VoucherImportProblem.__table__),
                [{"batch_id": self.batch_id, **entry} for entry in self.pending],
            )
        self.pending = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "blank": self.blank,
            "good": self.good,
            "bad_count": self.bad_count,
            "bad": self.bad,
            "problems": self.problems,
            "header": self.header,
        }


@dataclass
class IssueResult:
    batch: VoucherBatch
    issued: int
    refused: int = 0


Progress = Callable[[int], None] | None


def _check_spec(spec: BatchSpec, now: datetime) -> tuple[datetime, datetime, list[str]]:
    name = (spec.name or "").strip()
    if not name or len(name) > 120:
        raise InvalidInput(_("Enter a name of 1 to 120 characters."), {"name": "invalid"})
    spec.name = name
    if not isinstance(spec.sessions, int) or not 1 <= spec.sessions <= MAX_SESSIONS:
        raise InvalidInput(
            _("Sessions per voucher must be between 1 and %(n)s.", n=MAX_SESSIONS),
            {"sessions": "out_of_range"},
        )
    services = list(dict.fromkeys(spec.service_codes or SERVICE_CODES))
    unknown = [code for code in services if code not in SERVICE_CODES]
    if unknown or not services:
        raise InvalidInput(_("Choose services from the list."), {"service_codes": "invalid"})
    valid_from = as_utc(spec.valid_from) if spec.valid_from is not None else now
    valid_until = as_utc(spec.valid_until, end=True)
    if valid_until <= max(valid_from, now):
        raise InvalidInput(
            _("The last day must be after the first day and in the future."),
            {"valid_until": "too_early"},
        )
    if valid_until > now + timedelta(days=366 * MAX_VALID_YEARS):
        raise InvalidInput(
            _("Vouchers can be valid for at most %(n)s years.", n=MAX_VALID_YEARS),
            {"valid_until": "too_late"},
        )
    if spec.per_member_limit is not None and not 1 <= spec.per_member_limit <= 100:
        raise InvalidInput(
            _("The limit per member must be between 1 and 100, or empty for no limit."),
            {"per_member_limit": "out_of_range"},
        )
    if spec.limit_period not in {p.value for p in LimitPeriod}:
        raise InvalidInput(_("Choose a period from the list."), {"limit_period": "invalid"})
    if spec.org_unit_id is not None and db.session.get(OrgUnit, spec.org_unit_id) is None:
        raise InvalidInput(_("Unknown organisation."), {"org_unit_id": "unknown"})
    if spec.notes is not None and len(spec.notes) > 2000:
        raise InvalidInput(_("Notes can have at most 2000 characters."), {"notes": "too_long"})
    return valid_from, valid_until, services


def _new_batch(
    actor: Any,
    spec: BatchSpec,
    target: BatchTarget,
    now: datetime,
    *,
    target_org_unit_id: int | None = None,
    bearer_count: int | None = None,
) -> VoucherBatch:
    valid_from, valid_until, services = _check_spec(spec, now)
    batch = VoucherBatch(
        name=spec.name,
        org_unit_id=spec.org_unit_id,
        target=target.value,
        target_org_unit_id=target_org_unit_id,
        bearer_count=bearer_count,
        sessions_per_voucher=spec.sessions,
        valid_from=valid_from,
        valid_until=valid_until,
        per_member_limit=spec.per_member_limit,
        limit_period=spec.limit_period,
        notes=(spec.notes or "").strip() or None,
        status=BatchStatus.DRAFT.value,
        created_by_id=_actor_id(actor),
        created_at=now,
        services=[VoucherBatchService(service_code=code) for code in services],
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def _resolve_members(refs: list[csvimport.MemberRef]) -> dict[tuple[str, str], int]:
    """(kind, value) -> user id for active worker accounts, in two indexed queries.

    Only the phone (unique index) or the id is in the WHERE clause; role and active are
    checked here. With ``role = 'worker'`` in SQL, SQLite picks the role index and scans
    every member for each chunk (measured: 30x slower at 300,000 members).
    """
    phones = [r.value for r in refs if r.kind == csvimport.PHONE]
    ids = [int(r.value) for r in refs if r.kind == csvimport.MEMBER_ID]
    found: dict[tuple[str, str], int] = {}
    worker = Role.WORKER.value
    if phones:
        for user_id, phone, role, active in db.session.execute(
            select(User.id, User.phone, User.role, User.active).where(User.phone.in_(phones))
        ):
            if role == worker and active:
                found[(csvimport.PHONE, phone)] = user_id
    if ids:
        for user_id, role, active in db.session.execute(
            select(User.id, User.role, User.active).where(User.id.in_(ids))
        ):
            if role == worker and active:
                found[(csvimport.MEMBER_ID, str(user_id))] = user_id
    return found


def _over_limit(batch: VoucherBatch, user_ids: list[int], now: datetime) -> set[int]:
    """Members who already hold as many vouchers as the batch's limit allows (a preview)."""
    if batch.per_member_limit is None or not user_ids:
        return set()
    scope, period = quota_key(batch, now)
    return set(
        db.session.scalars(
            select(VoucherQuota.user_id).where(
                VoucherQuota.scope == scope,
                VoucherQuota.period == period,
                VoucherQuota.user_id.in_(user_ids),
                VoucherQuota.issued >= batch.per_member_limit,
            )
        )
    )


def _limit_may_bite(batch: VoucherBatch, now: datetime) -> bool:
    """False when nobody can be over the limit yet (no quota rows in the batch's scope)."""
    if batch.per_member_limit is None:
        return False
    scope, period = quota_key(batch, now)
    return (
        db.session.scalar(
            select(VoucherQuota.user_id)
            .where(VoucherQuota.scope == scope, VoucherQuota.period == period)
            .limit(1)
        )
        is not None
    )


def _stage_members(
    batch: VoucherBatch,
    items: Iterable[csvimport.MemberRef | csvimport.BadRow],
    now: datetime,
    report: ImportReport,
    progress: Progress = None,
) -> None:
    """Check every row and stage the good ones as recipients, CHUNK rows at a time.

    Memory stays flat: a chunk is resolved to members with one indexed query, staged with
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (a member already staged from an
    earlier chunk is a duplicate: the primary key says so, no set of seen ids is kept).
    """
    report.batch_id = batch.id
    check_limit = _limit_may_bite(batch, now)
    for chunk in codes_mod.chunked(items, CHUNK):
        refs = [item for item in chunk if isinstance(item, csvimport.MemberRef)]
        bad = [item for item in chunk if isinstance(item, csvimport.BadRow)]
        report.rows += len(chunk)
        resolved = _resolve_members(refs)
        good: dict[int, csvimport.MemberRef] = {}
        for ref in refs:
            user_id = resolved.get((ref.kind, ref.value))
            if user_id is None:
                bad.append(csvimport.BadRow(ref.line, csvimport.shown(ref.raw), csvimport.UNKNOWN))
            elif user_id in good:
                bad.append(_duplicate(ref, good[user_id].line))
            else:
                good[user_id] = ref
        if good and check_limit:
            for user_id in _over_limit(batch, list(good), now):
                ref = good.pop(user_id)
                bad.append(csvimport.BadRow(ref.line, csvimport.shown(ref.raw), csvimport.LIMIT))
        if good:
            staged = set(
                db.session.scalars(
                    _upsert(recipient_table).returning(recipient_table.c.user_id),
                    [
                        {"batch_id": batch.id, "user_id": user_id, "line": ref.line}
                        for user_id, ref in good.items()
                    ],
                )
            )
            repeated = [user_id for user_id in good if user_id not in staged]
            if repeated:  # staged from an earlier chunk: report the first line
                for user_id, first_line in db.session.execute(
                    select(VoucherRecipient.user_id, VoucherRecipient.line).where(
                        VoucherRecipient.batch_id == batch.id,
                        VoucherRecipient.user_id.in_(repeated),
                    )
                ):
                    bad.append(_duplicate(good[user_id], first_line))
            report.good += len(staged)
        for row in sorted(bad, key=lambda r: r.line):
            report.add_bad(row)
        report.flush()
        if progress:
            progress(len(chunk))


def _duplicate(ref: csvimport.MemberRef, first_line: int | None) -> csvimport.BadRow:
    return csvimport.BadRow(
        ref.line, csvimport.shown(ref.raw), csvimport.DUPLICATE, str(first_line)
    )


def _stage_org_unit(
    batch: VoucherBatch, org_unit_id: int, now: datetime, report: ImportReport
) -> None:
    """Stage every active member of the unit and the units below it (INSERT ... SELECT)."""
    report.batch_id = batch.id
    units = descendant_ids(org_unit_id)
    members = select(literal(batch.id), User.id, literal(None)).where(
        User.org_unit_id.in_(units), User.role == Role.WORKER.value, User.active.is_(True)
    )
    db.session.execute(
        insert(recipient_table).from_select(["batch_id", "user_id", "line"], members)
    )
    if batch.per_member_limit is not None:
        scope, period = quota_key(batch, now)
        over = select(VoucherQuota.user_id).where(
            VoucherQuota.scope == scope,
            VoucherQuota.period == period,
            VoucherQuota.issued >= batch.per_member_limit,
        )
        for _user_id, phone in db.session.execute(
            select(User.id, User.phone).where(
                User.id.in_(over),
                User.id.in_(
                    select(VoucherRecipient.user_id).where(VoucherRecipient.batch_id == batch.id)
                ),
            )
        ):
            report.add_bad(csvimport.BadRow(None, mask_phone(phone), csvimport.LIMIT))
        report.flush()
        db.session.execute(
            recipient_table.delete().where(
                recipient_table.c.batch_id == batch.id, recipient_table.c.user_id.in_(over)
            )
        )
    report.good = db.session.scalar(
        select(func.count()).where(VoucherRecipient.batch_id == batch.id)
    )
    report.rows = report.good + report.bad_count


def _finish_draft(batch: VoucherBatch, report: ImportReport) -> None:
    batch.staged_count = report.good
    batch.import_report = report.as_dict()


def _check_bearer_count(count: Any) -> int:
    if not isinstance(count, int) or not 1 <= count <= MAX_BEARER:
        raise InvalidInput(
            _("Choose between 1 and %(n)s codes.", n=MAX_BEARER), {"bearer_count": "out_of_range"}
        )
    return count


def prepare_csv_batch(
    actor: Any,
    spec: BatchSpec,
    stream: BinaryIO,
    now: datetime | None = None,
    progress: Progress = None,
) -> VoucherBatch:
    """Step 1 of a CSV issuance: a draft batch with every row checked; nothing issued.

    The admin then sees every bad row by line number and confirms the good rows
    (:func:`confirm_batch`), or discards the draft.
    """
    now = now or utcnow()
    batch = _new_batch(actor, spec, BatchTarget.MEMBERS, now)
    reader = csvimport.read_members(stream)
    report = ImportReport()
    _stage_members(batch, reader, now, report, progress)
    report.blank = reader.blank_lines
    report.header = reader.header
    _finish_draft(batch, report)
    audit.record(
        actor,
        "vouchers.batch_prepare",
        batch,
        {"good": report.good, "bad": report.bad_count},
        at=now,
    )
    db.session.commit()
    return batch


def prepare_org_unit_batch(
    actor: Any, spec: BatchSpec, org_unit_id: int, now: datetime | None = None
) -> VoucherBatch:
    now = now or utcnow()
    if db.session.get(OrgUnit, org_unit_id) is None:
        raise InvalidInput(_("Unknown organisation."), {"target_org_unit_id": "unknown"})
    batch = _new_batch(actor, spec, BatchTarget.ORG_UNIT, now, target_org_unit_id=org_unit_id)
    report = ImportReport()
    _stage_org_unit(batch, org_unit_id, now, report)
    _finish_draft(batch, report)
    audit.record(actor, "vouchers.batch_prepare", batch, {"good": report.good}, at=now)
    db.session.commit()
    return batch


def prepare_bearer_batch(
    actor: Any, spec: BatchSpec, count: int, now: datetime | None = None
) -> VoucherBatch:
    now = now or utcnow()
    count = _check_bearer_count(count)
    batch = _new_batch(actor, spec, BatchTarget.BEARER, now, bearer_count=count)
    batch.staged_count = count
    batch.import_report = ImportReport(rows=count, good=count).as_dict()
    audit.record(actor, "vouchers.batch_prepare", batch, {"bearer": count}, at=now)
    db.session.commit()
    return batch


def _insert_vouchers(
    batch: VoucherBatch, owners: list[int | None], quota_period: str | None
) -> None:
    """Insert one voucher per owner (None: a bearer code) with Core executemany.

    A code collision (75 random bits: practically never) fails the chunk's savepoint; the
    chunk is retried with fresh codes instead of failing the batch.
    """
    status = VoucherStatus.UNASSIGNED.value if owners[0] is None else VoucherStatus.ACTIVE.value
    sessions = batch.sessions_per_voucher
    for attempt in range(3):
        fresh = codes_mod.generate_codes(len(owners))
        rows = [
            {
                "batch_id": batch.id,
                "code": code,
                "user_id": owner,
                "status": status,
                "sessions": sessions,
                "remaining_sessions": sessions,
                "quota_period": quota_period,
            }
            for code, owner in zip(fresh, owners, strict=True)
        ]
        try:
            with db.session.begin_nested():
                db.session.execute(insert(voucher_table), rows)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _claim_quota(
    batch: VoucherBatch, user_ids: list[int], now: datetime
) -> tuple[list[int], str | None]:
    """Count one voucher against each member's limit, atomically; returns who fits."""
    if batch.per_member_limit is None:
        return user_ids, None
    scope, period = quota_key(batch, now)
    db.session.execute(
        _upsert(quota_table),
        [{"scope": scope, "user_id": uid, "period": period, "issued": 0} for uid in user_ids],
    )
    return _count_against_limit(batch, scope, period, user_ids), period


def _count_against_limit(
    batch: VoucherBatch, scope: str, period: str, user_ids: list[int]
) -> list[int]:
    """One conditional UPDATE over the members' quota rows (which exist): each member
    under the limit counts one more voucher. Returns those members, sorted."""
    allowed = db.session.scalars(
        update(quota_table)
        .where(
            quota_table.c.scope == scope,
            quota_table.c.period == period,
            quota_table.c.user_id.in_(user_ids),
            quota_table.c.issued < batch.per_member_limit,
        )
        .values(issued=quota_table.c.issued + 1)
        .returning(quota_table.c.user_id)
    ).all()
    return sorted(allowed)


def _claim_quota_for_recipients(
    batch: VoucherBatch, user_ids: list[int], after: int, now: datetime
) -> tuple[list[int], str]:
    """The same for a chunk of staged recipients (``after < user_id <= user_ids[-1]``):
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` from the recipients, then one
    conditional ``UPDATE ... WHERE user_id IN (...)`` (an index lookup per member; a join
    here tempts PostgreSQL into a nested loop while the new rows have no statistics)."""
    scope, period = quota_key(batch, now)
    in_range = (
        (recipient_table.c.batch_id == batch.id)
        & (recipient_table.c.user_id > after)
        & (recipient_table.c.user_id <= user_ids[-1])
    )
    db.session.execute(
        _upsert(quota_table).from_select(
            ["scope", "user_id", "period", "issued"],
            select(literal(scope), recipient_table.c.user_id, literal(period), literal(0)).where(
                in_range
            ),
        )
    )
    return _count_against_limit(batch, scope, period, user_ids), period


def _issue(
    batch: VoucherBatch, actor: Any, now: datetime, progress: Progress = None
) -> IssueResult:
    """Issue a draft batch in the current transaction (no commit)."""
    claimed = db.session.execute(
        update(batch_table)
        .where(batch_table.c.id == batch.id, batch_table.c.status == BatchStatus.DRAFT.value)
        .values(status=BatchStatus.ISSUED.value, issued_at=now)
    ).rowcount
    if claimed != 1:
        raise Conflict(_("This batch has already been issued."), {"batch": "issued"})
    db.session.refresh(batch)
    issued = refused = 0
    if batch.target == BatchTarget.BEARER:
        remaining = batch.bearer_count or 0
        while remaining:
            size = min(CHUNK, remaining)
            _insert_vouchers(batch, [None] * size, None)
            issued += size
            remaining -= size
            if progress:
                progress(size)
    else:
        after = 0
        while True:
            user_ids = db.session.scalars(
                select(VoucherRecipient.user_id)
                .where(VoucherRecipient.batch_id == batch.id, VoucherRecipient.user_id > after)
                .order_by(VoucherRecipient.user_id)
                .limit(CHUNK)
            ).all()
            if not user_ids:
                break
            if batch.per_member_limit is None or batch.limit_period == LimitPeriod.BATCH:
                # A member is staged once per batch (primary key), so a per-batch limit of
                # at least 1 cannot be passed here; only bearer claims need the quota row.
                allowed, period = list(user_ids), None
            else:
                allowed, period = _claim_quota_for_recipients(batch, list(user_ids), after, now)
            after = user_ids[-1]
            if allowed:
                _insert_vouchers(batch, allowed, period)
            issued += len(allowed)
            refused += len(user_ids) - len(allowed)
            if progress:
                progress(len(user_ids))
    batch.issued_count = issued
    report = dict(batch.import_report or {})
    report["refused_at_issue"] = refused
    batch.import_report = report
    if issued:
        _ledger(
            EntryKind.ISSUE,
            None,
            batch.id,
            now,
            sessions=issued * batch.sessions_per_voucher,
            vouchers=issued,
            actor_id=_actor_id(actor),
        )
    audit.record(
        actor,
        "vouchers.issue",
        batch,
        {"vouchers": issued, "sessions": issued * batch.sessions_per_voucher, "refused": refused},
        at=now,
    )
    return IssueResult(batch=batch, issued=issued, refused=refused)


def confirm_batch(
    actor: Any, batch_id: int, now: datetime | None = None, progress: Progress = None
) -> IssueResult:
    """Step 2: issue the staged recipients (or the bearer codes) in one transaction.

    Members who reached their limit since the preview are refused (counted in the report);
    everyone else gets a voucher. Two admins confirming at once issue the batch once.
    """
    now = now or utcnow()
    batch = get_batch(batch_id)
    if batch.status != BatchStatus.DRAFT:
        raise Conflict(_("This batch has already been issued."), {"batch": "issued"})
    if not batch.staged_count:
        raise Conflict(_("There is nobody to issue vouchers to."), {"batch": "empty"})
    result = _issue(batch, actor, now, progress)
    db.session.commit()
    return result


def discard_batch(actor: Any, batch_id: int, now: datetime | None = None) -> None:
    """Delete a draft (nothing was issued from it)."""
    now = now or utcnow()
    batch = get_batch(batch_id)
    if batch.status != BatchStatus.DRAFT:
        raise Conflict(_("Only a draft can be discarded."), {"batch": "issued"})
    deleted = db.session.execute(
        batch_table.delete().where(
            batch_table.c.id == batch.id, batch_table.c.status == BatchStatus.DRAFT.value
        )
    ).rowcount
    if deleted != 1:
        raise Conflict(_("Only a draft can be discarded."), {"batch": "issued"})
    db.session.expunge(batch)
    audit.record(actor, "vouchers.batch_discard", ("voucher_batches", batch_id), at=now)
    db.session.commit()


def issue_batch_now(
    actor: Any,
    spec: BatchSpec,
    *,
    members: list[str] | None = None,
    org_unit_id: int | None = None,
    bearer_count: int | None = None,
    now: datetime | None = None,
) -> IssueResult:
    """All or nothing, in one transaction (the JSON API): any bad member refuses the lot.

    Exactly one of ``members`` (phones or member ids), ``org_unit_id`` or ``bearer_count``.
    """
    now = now or utcnow()
    given = [x is not None for x in (members, org_unit_id, bearer_count)]
    if sum(given) != 1:
        raise InvalidInput(
            _("Give exactly one of: members, org_unit_id or bearer_count."),
            {"members": "choose_one"},
        )
    try:
        report = ImportReport()
        if members is not None:
            if not members:
                raise InvalidInput(_("The member list is empty."), {"members": "empty"})
            batch = _new_batch(actor, spec, BatchTarget.MEMBERS, now)
            _stage_members(batch, csvimport.members_from_list(members), now, report)
            if report.bad_count:
                fields = {f"members.{row['line']}": row["problem"] for row in report.bad}
                raise InvalidInput(
                    _(
                        "%(n)s members cannot be given a voucher; nothing was issued.",
                        n=report.bad_count,
                    ),
                    fields,
                )
        elif org_unit_id is not None:
            if db.session.get(OrgUnit, org_unit_id) is None:
                raise InvalidInput(_("Unknown organisation."), {"org_unit_id": "unknown"})
            batch = _new_batch(
                actor, spec, BatchTarget.ORG_UNIT, now, target_org_unit_id=org_unit_id
            )
            _stage_org_unit(batch, org_unit_id, now, report)
            if report.bad_count:
                raise Conflict(
                    _(
                        "%(n)s members already hold the most vouchers allowed; nothing was issued.",
                        n=report.bad_count,
                    ),
                    {"org_unit_id": "limit"},
                )
        else:
            count = _check_bearer_count(bearer_count)
            batch = _new_batch(actor, spec, BatchTarget.BEARER, now, bearer_count=count)
            report = ImportReport(rows=count, good=count)
        _finish_draft(batch, report)
        result = _issue(batch, actor, now)
        if result.refused:
            raise Conflict(
                _("Some members reached their limit meanwhile; nothing was issued."),
                {"members": "limit"},
            )
    except WellnessError:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def get_batch(batch_id: int) -> VoucherBatch:
    batch = db.session.get(VoucherBatch, batch_id, populate_existing=True)
    if batch is None:
        raise NotFound(_("No such voucher batch."))
    return batch


def list_batches(page: int = 1, per_page: int = 30):
    stmt = select(VoucherBatch).order_by(VoucherBatch.created_at.desc(), VoucherBatch.id.desc())
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=100, error_out=False)


def batch_vouchers(batch_id: int, page: int = 1, per_page: int = 50, status: str | None = None):
    stmt = select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id)
    if status:
        stmt = stmt.where(Voucher.status == status)
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=200, error_out=False)


def bad_rows_csv(batch: VoucherBatch) -> bytes:
    """Every row that got no voucher, by line (Excel-friendly, formulas neutralised)."""
    problems = db.session.execute(
        select(
            VoucherImportProblem.line,
            VoucherImportProblem.value,
            VoucherImportProblem.problem,
            VoucherImportProblem.detail,
        )
        .where(VoucherImportProblem.batch_id == batch.id)
        .order_by(VoucherImportProblem.line, VoucherImportProblem.id)
        .execution_options(yield_per=CHUNK)
    )
    rows = (
        ("" if line is None else line, value, problem_label(problem, detail))
        for line, value, problem, detail in problems
    )
    return csvimport.to_csv_bytes((_("Line"), _("Value"), _("Problem")), rows)


# ----------------------------------------------------------------------------- wallet


def my_vouchers(user_id: int) -> list[Voucher]:
    """Usable vouchers first (soonest expiry first), then the rest, newest first."""
    open_first = case((Voucher.status == VoucherStatus.ACTIVE.value, 0), else_=1)
    return list(
        db.session.scalars(
            select(Voucher)
            .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
            .where(Voucher.user_id == user_id)
            .order_by(open_first, VoucherBatch.valid_until, Voucher.id.desc())
            .limit(200)
        )
    )


def own_vouchers_stmt(user_id: int):
    return (
        select(Voucher)
        .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .where(Voucher.user_id == user_id)
        .order_by(VoucherBatch.valid_until, Voucher.id)
    )


def get_voucher(voucher_id: int) -> Voucher:
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None:
        raise NotFound(_("There is no voucher with this code."))
    return voucher


def _find(code: str) -> Voucher | None:
    return db.session.scalar(
        select(Voucher).where(Voucher.code == code).execution_options(populate_existing=True)
    )


def _assign(voucher: Voucher, user_id: int, now: datetime, actor_id: int | None) -> None:
    """Claim an unassigned bearer code for ``user_id`` (no commit). Raises on a lost race."""
    batch = voucher.batch
    period = None
    moved = db.session.execute(
        update(voucher_table)
        .where(
            voucher_table.c.id == voucher.id,
            voucher_table.c.status == VoucherStatus.UNASSIGNED.value,
            voucher_table.c.user_id.is_(None),
        )
        .values(user_id=user_id, status=VoucherStatus.ACTIVE.value, assigned_at=now)
    ).rowcount
    if moved != 1:
        raise code_error("claimed")
    if batch.per_member_limit is not None:
        allowed, period = _claim_quota(batch, [user_id], now)
        if not allowed:
            raise code_error("limit", limit=batch.per_member_limit)
        db.session.execute(
            update(voucher_table)
            .where(voucher_table.c.id == voucher.id)
            .values(quota_period=period)
        )
    _ledger(EntryKind.ASSIGN, voucher.id, batch.id, now, sessions=0, actor_id=actor_id or user_id)
    audit.record(actor_id or user_id, "vouchers.assign", voucher, {"user_id": user_id}, at=now)


def _diagnose(voucher: Voucher | None, user_id: int | None, now: datetime, service_code=None):
    """Why a voucher cannot be used now (an error), or None when it could be claimed."""
    if voucher is None:
        return code_error("unknown")
    if voucher.status == VoucherStatus.REVOKED:
        return code_error("revoked")
    if voucher.status == VoucherStatus.EXPIRED or voucher.valid_until <= now:
        return code_error("expired", voucher)
    if user_id is not None and voucher.user_id is not None and voucher.user_id != user_id:
        return code_error("not_yours")
    if service_code is not None and service_code not in voucher.service_codes:
        return code_error("wrong_service")
    if voucher.valid_from > now:
        return code_error("not_yet_valid", voucher)
    if voucher.status == VoucherStatus.UNASSIGNED:
        return None
    return code_error("exhausted")


def claim_code(user: Any, raw_code: str, now: datetime | None = None) -> Voucher:
    """Put a bearer code (from a printed sheet) into the member's wallet."""
    now = now or utcnow()
    code = parse_code(raw_code)
    try:
        voucher = _find(code)
        if voucher is None:
            raise code_error("unknown")
        if voucher.user_id == user.id:
            raise code_error("already_yours")
        if voucher.user_id is not None:
            raise code_error("claimed")
        if voucher.status == VoucherStatus.REVOKED:
            raise code_error("revoked")
        if voucher.status == VoucherStatus.EXPIRED or voucher.valid_until <= now:
            raise code_error("expired", voucher)
        _assign(voucher, user.id, now, user.id)
    except WellnessError:
        db.session.rollback()
        raise
    db.session.commit()
    return _find(code)


# ----------------------------------------------------------------------------- booking interface


def _valid_now(now: datetime):
    return exists().where(
        batch_table.c.id == voucher_table.c.batch_id,
        batch_table.c.valid_from <= now,
        batch_table.c.valid_until > now,
    )


def _covers(service_code: str):
    service_table = VoucherBatchService.__table__
    return exists().where(
        service_table.c.batch_id == voucher_table.c.batch_id,
        service_table.c.service_code == service_code,
    )


def reserve_for_appointment(
    user_id: int,
    code: str,
    service_code: str,
    appointment_id: int,
    now: datetime,
    *,
    actor_id: int | None = None,
) -> Voucher:
    """Hold one session of the member's voucher for an appointment (no commit).

    One conditional UPDATE (remaining -> reserved) decides; of twenty concurrent calls on a
    one-session voucher exactly one moves a session. An unclaimed bearer code is claimed
    into the member's wallet on the way. Raises InvalidInput/Conflict on ``voucher_code``;
    on an error nothing this function did remains (savepoint).
    """
    canonical = parse_code(code)
    if service_code not in SERVICE_CODES:
        raise code_error("wrong_service")
    with db.session.begin_nested():
        voucher_id = _reserve_update(canonical, user_id, service_code, now)
        if voucher_id is None:
            voucher = _find(canonical)
            problem = _diagnose(voucher, user_id, now, service_code)
            if problem is not None:
                raise problem
            _assign(voucher, user_id, now, actor_id or user_id)  # an unclaimed bearer code
            voucher_id = _reserve_update(canonical, user_id, service_code, now)
            if voucher_id is None:
                raise code_error("exhausted")
        voucher = db.session.get(Voucher, voucher_id, populate_existing=True)
        db.session.add(
            VoucherHold(
                voucher_id=voucher_id,
                appointment_id=appointment_id,
                service_code=service_code,
                status=HoldStatus.RESERVED.value,
                reserved_at=now,
            )
        )
        try:
            db.session.flush()
        except IntegrityError:
            raise code_error("already_reserved") from None
        _ledger(
            EntryKind.RESERVE,
            voucher_id,
            voucher.batch_id,
            now,
            ref_type="appointment",
            ref_id=appointment_id,
            actor_id=actor_id or user_id,
        )
        audit.record(
            actor_id or user_id,
            "vouchers.reserve",
            voucher,
            {"appointment_id": appointment_id, "service": service_code},
            at=now,
        )
    return voucher


def _reserve_update(code: str, user_id: int, service_code: str, now: datetime) -> int | None:
    return db.session.execute(
        update(voucher_table)
        .where(
            voucher_table.c.code == code,
            voucher_table.c.user_id == user_id,
            voucher_table.c.status == VoucherStatus.ACTIVE.value,
            voucher_table.c.remaining_sessions > 0,
            _valid_now(now),
            _covers(service_code),
        )
        .values(
            remaining_sessions=voucher_table.c.remaining_sessions - 1,
            reserved_sessions=voucher_table.c.reserved_sessions + 1,
        )
        .returning(voucher_table.c.id)
    ).scalar()


def _close_hold(appointment_id: int, status: HoldStatus, now: datetime):
    """reserved -> ``status`` for the appointment's hold; (hold id, voucher id) or None."""
    return db.session.execute(
        update(hold_table)
        .where(
            hold_table.c.appointment_id == appointment_id,
            hold_table.c.status == HoldStatus.RESERVED.value,
        )
        .values(status=status.value, closed_at=now)
        .returning(hold_table.c.id, hold_table.c.voucher_id)
    ).first()


def _move_reserved(voucher_id: int, target: str):
    """reserved -> ``target`` bucket for one session; returns (batch id, status, user id)."""
    values = {"reserved_sessions": voucher_table.c.reserved_sessions - 1}
    column = voucher_table.c[target]
    values[target] = column + 1
    row = db.session.execute(
        update(voucher_table)
        .where(voucher_table.c.id == voucher_id, voucher_table.c.reserved_sessions > 0)
        .values(**values)
        .returning(voucher_table.c.batch_id, voucher_table.c.status, voucher_table.c.user_id)
    ).first()
    if row is None:  # cannot happen while holds and counters agree; never spend blindly
        raise RuntimeError(f"voucher {voucher_id} has no reserved session to move")
    return row


def release_for_appointment(
    appointment_id: int, now: datetime, reason: str, *, actor_id: int | None = None
) -> None:
    """Give the appointment's session back (timely cancel). Idempotent; no commit.

    If the voucher expired or was withdrawn meanwhile, the session goes to that bucket
    (ledger: release, then expire/revoke) instead of becoming usable again.
    """
    closed = _close_hold(appointment_id, HoldStatus.RELEASED, now)
    if closed is None:
        return
    _hold_id, voucher_id = closed
    row = db.session.execute(
        update(voucher_table)
        .where(voucher_table.c.id == voucher_id, voucher_table.c.reserved_sessions > 0)
        .values(
            reserved_sessions=voucher_table.c.reserved_sessions - 1,
            remaining_sessions=voucher_table.c.remaining_sessions
            + case((voucher_table.c.status.in_(OPEN_STATUSES), 1), else_=0),
            expired_sessions=voucher_table.c.expired_sessions
            + case((voucher_table.c.status == VoucherStatus.EXPIRED.value, 1), else_=0),
            revoked_sessions=voucher_table.c.revoked_sessions
            + case((voucher_table.c.status == VoucherStatus.REVOKED.value, 1), else_=0),
        )
        .returning(voucher_table.c.batch_id, voucher_table.c.status)
    ).first()
    if row is None:
        raise RuntimeError(f"voucher {voucher_id} has no reserved session to release")
    batch_id, status = row
    reason = (reason or "")[:300] or None
    common = {"ref_type": "appointment", "ref_id": appointment_id, "actor_id": actor_id}
    _ledger(EntryKind.RELEASE, voucher_id, batch_id, now, reason=reason, **common)
    if status == VoucherStatus.EXPIRED:
        _ledger(EntryKind.EXPIRE, voucher_id, batch_id, now, **common)
    elif status == VoucherStatus.REVOKED:
        _ledger(EntryKind.REVOKE, voucher_id, batch_id, now, **common)
    audit.record(
        actor_id,
        "vouchers.release",
        ("vouchers", voucher_id),
        {"appointment_id": appointment_id, "reason": reason},
        at=now,
    )
    _expire_identity(voucher_id)


def consume_for_appointment(
    appointment_id: int, now: datetime, *, actor_id: int | None = None
) -> None:
    """The member attended: reserved -> consumed. Idempotent; no commit."""
    _finish_hold(appointment_id, now, HoldStatus.CONSUMED, EntryKind.CONSUME, actor_id)


def forfeit_for_appointment(
    appointment_id: int, now: datetime, *, actor_id: int | None = None
) -> None:
    """No-show (or a late cancel): reserved -> forfeited. Idempotent; no commit."""
    _finish_hold(appointment_id, now, HoldStatus.FORFEITED, EntryKind.FORFEIT, actor_id)


def _finish_hold(
    appointment_id: int,
    now: datetime,
    status: HoldStatus,
    kind: EntryKind,
    actor_id: int | None,
) -> None:
    closed = _close_hold(appointment_id, status, now)
    if closed is None:
        return
    _hold_id, voucher_id = closed
    target = "consumed_sessions" if kind == EntryKind.CONSUME else "forfeited_sessions"
    batch_id, _status, _user = _move_reserved(voucher_id, target)
    _ledger(
        kind,
        voucher_id,
        batch_id,
        now,
        ref_type="appointment",
        ref_id=appointment_id,
        actor_id=actor_id,
    )
    audit.record(
        actor_id,
        f"vouchers.{kind.value}",
        ("vouchers", voucher_id),
        {"appointment_id": appointment_id},
        at=now,
    )
    _expire_identity(voucher_id)


def _expire_identity(voucher_id: int) -> None:
    """Core UPDATEs bypass the identity map: make a loaded voucher reload its counters."""
    loaded = db.session.identity_map.get(identity_key(Voucher, voucher_id))
    if loaded is not None:
        db.session.expire(loaded)


def usable_vouchers(user_id: int, service_code: str, now: datetime) -> list[Voucher]:
    """The member's vouchers that could pay for ``service_code`` now, soonest expiry first."""
    if service_code not in SERVICE_CODES:
        return []
    service_table = VoucherBatchService.__table__
    return list(
        db.session.scalars(
            select(Voucher)
            .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
            .where(
                Voucher.user_id == user_id,
                Voucher.status == VoucherStatus.ACTIVE.value,
                Voucher.remaining_sessions > 0,
                VoucherBatch.valid_from <= now,
                VoucherBatch.valid_until > now,
                exists().where(
                    service_table.c.batch_id == Voucher.batch_id,
                    service_table.c.service_code == service_code,
                ),
            )
            .order_by(VoucherBatch.valid_until, Voucher.id)
            .execution_options(populate_existing=True)
        )
    )


# ----------------------------------------------------------------------------- station


@dataclass
class StationView:
    voucher: Voucher
    owner: User | None
    open_holds: list[VoucherHold]
    usable: bool
    problem: str | None  # localised reason it cannot be used now


def verify_at_station(actor: Any, raw_code: str, now: datetime | None = None) -> StationView:
    """A counsellor or admin looks a code up: owner, scope, remaining. Audited."""
    now = now or utcnow()
    code = parse_code(raw_code)
    voucher = _find(code)
    if voucher is None:
        db.session.rollback()
        raise code_error("unknown")
    problem = None
    if voucher.status == VoucherStatus.REVOKED:
        problem = code_error("revoked")
    elif voucher.status == VoucherStatus.EXPIRED or voucher.valid_until <= now:
        problem = code_error("expired", voucher)
    elif voucher.valid_from > now:
        problem = code_error("not_yet_valid", voucher)
    elif voucher.remaining_sessions <= 0:
        problem = code_error("exhausted")
    audit.record(actor, "vouchers.verify", voucher, {"owner": voucher.user_id}, at=now)
    db.session.commit()
    voucher = _find(code)
    open_holds = list(
        db.session.scalars(
            select(VoucherHold)
            .where(
                VoucherHold.voucher_id == voucher.id,
                VoucherHold.status == HoldStatus.RESERVED.value,
            )
            .order_by(VoucherHold.id)
        )
    )
    return StationView(
        voucher=voucher,
        owner=voucher.user,
        open_holds=open_holds,
        usable=problem is None,
        problem=problem.message if problem is not None else None,
    )


def consume_at_station(
    actor: Any, raw_code: str, service_code: str, now: datetime | None = None
) -> Voucher:
    """A walk-in visit paid with the voucher: one session, remaining -> consumed.

    Written to the ledger as reserve + consume (ref "visit"), so every consume comes out of
    reserved. One conditional UPDATE decides, so a double tap spends one session.
    """
    now = now or utcnow()
    code = parse_code(raw_code)
    if service_code not in SERVICE_CODES:
        raise code_error("wrong_service")
    try:
        row = db.session.execute(
            update(voucher_table)
            .where(
                voucher_table.c.code == code,
                voucher_table.c.status.in_(OPEN_STATUSES),
                voucher_table.c.remaining_sessions > 0,
                _valid_now(now),
                _covers(service_code),
            )
            .values(
                remaining_sessions=voucher_table.c.remaining_sessions - 1,
                consumed_sessions=voucher_table.c.consumed_sessions + 1,
            )
            .returning(voucher_table.c.id, voucher_table.c.batch_id)
        ).first()
        if row is None:
            voucher = _find(code)
            problem = _diagnose(voucher, None, now, service_code)
            raise problem or code_error("exhausted")
        voucher_id, batch_id = row
        actor_id = _actor_id(actor)
        common = {"ref_type": "visit", "actor_id": actor_id}
        _ledger(EntryKind.RESERVE, voucher_id, batch_id, now, **common)
        _ledger(EntryKind.CONSUME, voucher_id, batch_id, now, **common)
        audit.record(
            actor, "vouchers.consume", ("vouchers", voucher_id), {"service": service_code}, at=now
        )
    except WellnessError:
        db.session.rollback()
        raise
    db.session.commit()
    return _find(code)


# ----------------------------------------------------------------------------- revoke


def revoke_voucher(
    actor: Any, voucher_id: int, reason: str, now: datetime | None = None
) -> Voucher:
    """Withdraw a voucher (admin, with a reason): its remaining sessions are revoked.

    Sessions already reserved for appointments stay reserved until booking consumes,
    forfeits or releases them (a release then goes to "revoked"). The member's quota is
    given back, and the member is told.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise InvalidInput(_("Give a reason of 1 to 300 characters."), {"reason": "required"})
    try:
        row = db.session.execute(
            update(voucher_table)
            .where(voucher_table.c.id == voucher_id, voucher_table.c.status.in_(OPEN_STATUSES))
            .values(
                status=VoucherStatus.REVOKED.value,
                closed_at=now,
                revoked_sessions=voucher_table.c.revoked_sessions
                + voucher_table.c.remaining_sessions,
                remaining_sessions=0,
            )
            .returning(
                voucher_table.c.batch_id,
                voucher_table.c.revoked_sessions,
                voucher_table.c.user_id,
                voucher_table.c.quota_period,
            )
        ).first()
        if row is None:
            if db.session.get(Voucher, voucher_id) is None:
                raise NotFound(_("There is no voucher with this code."))
            raise Conflict(
                _("This voucher has already expired or been withdrawn."), {"reason": "closed"}
            )
        batch_id, moved, user_id, period = row
        batch = db.session.get(VoucherBatch, batch_id)
        if user_id is not None and period is not None:
            scope, _period = quota_key(batch, now)
            db.session.execute(
                update(quota_table)
                .where(
                    quota_table.c.scope == scope,
                    quota_table.c.user_id == user_id,
                    quota_table.c.period == period,
                    quota_table.c.issued > 0,
                )
                .values(issued=quota_table.c.issued - 1)
            )
        _ledger(
            EntryKind.REVOKE,
            voucher_id,
            batch_id,
            now,
            sessions=moved,
            reason=reason,
            actor_id=_actor_id(actor),
        )
        audit.record(actor, "vouchers.revoke", ("vouchers", voucher_id), {"reason": reason}, at=now)
        voucher = db.session.get(Voucher, voucher_id, populate_existing=True)
        if user_id is not None:
            owner = db.session.get(User, user_id)
            with force_locale(owner.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                queue_notification(
                    owner,
                    _("Your counselling voucher was withdrawn"),
                    _(
                        "Your voucher %(code)s from “%(batch)s” was withdrawn. Reason: %(reason)s",
                        code=voucher.display_code,
                        batch=batch.name,
                        reason=reason,
                    ),
                    link=WALLET_PATH,
                    dedupe_key=f"vouchers:revoke:{voucher_id}",
                    now=now,
                )
    except WellnessError:
        db.session.rollback()
        raise
    db.session.commit()
    return voucher


# ----------------------------------------------------------------------------- sweeps

WALLET_PATH = "/vouchers/"


def expire_due(now: datetime | None = None, chunk: int = 1000) -> dict[str, int]:
    """Mark vouchers past their last day expired, once each; their remaining sessions
    move to "expired". Safe to run twice or in two processes (conditional UPDATE)."""
    now = now or utcnow()
    open_vouchers = (
        select(Voucher.id)
        .where(Voucher.batch_id == VoucherBatch.id, Voucher.status.in_(OPEN_STATUSES))
        .exists()
    )
    batch_ids = db.session.scalars(
        select(VoucherBatch.id).where(VoucherBatch.valid_until <= now, open_vouchers)
    ).all()
    db.session.rollback()
    totals = {"batches": 0, "vouchers": 0, "sessions": 0}
    for batch_id in batch_ids:
        count = sessions = 0
        while True:
            ids = db.session.scalars(
                select(Voucher.id)
                .where(Voucher.batch_id == batch_id, Voucher.status.in_(OPEN_STATUSES))
                .order_by(Voucher.id)
                .limit(chunk)
            ).all()
            if not ids:
                break
            rows = db.session.execute(
                update(voucher_table)
                .where(voucher_table.c.id.in_(ids), voucher_table.c.status.in_(OPEN_STATUSES))
                .values(
                    status=VoucherStatus.EXPIRED.value,
                    closed_at=now,
                    # Before this moment an open voucher's expired bucket is always 0.
                    expired_sessions=voucher_table.c.expired_sessions
                    + voucher_table.c.remaining_sessions,
                    remaining_sessions=0,
                )
                .returning(voucher_table.c.id, voucher_table.c.expired_sessions)
            ).all()
            if rows:
                db.session.execute(
                    insert(ledger_table),
                    [
                        {
                            "batch_id": batch_id,
                            "voucher_id": voucher_id,
                            "kind": EntryKind.EXPIRE.value,
                            "sessions": moved,
                            "vouchers": 1,
                            "at": now,
                        }
                        for voucher_id, moved in rows
                    ],
                )
            count += len(rows)
            sessions += sum(moved for _id, moved in rows)
        if count:
            audit.record(
                None,
                "vouchers.expire",
                ("voucher_batches", batch_id),
                {"vouchers": count, "sessions": sessions},
                at=now,
            )
            totals["batches"] += 1
        totals["vouchers"] += count
        totals["sessions"] += sessions
        db.session.commit()
    return totals


def remind_expiring(now: datetime | None = None, chunk: int = 500) -> dict[str, int]:
    """Tell members 7 days ahead that an unused voucher expires; once per voucher.

    The voucher is claimed with ``UPDATE ... WHERE reminded_at IS NULL`` before its message
    is queued (and the message has a unique dedupe key), so two sweeps send one reminder.
    """
    now = now or utcnow()
    horizon = now + timedelta(days=REMINDER_DAYS)
    sent = 0
    while True:
        ids = db.session.scalars(
            select(Voucher.id)
            .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
            .where(
                Voucher.status == VoucherStatus.ACTIVE.value,
                Voucher.user_id.is_not(None),
                Voucher.remaining_sessions > 0,
                Voucher.reminded_at.is_(None),
                VoucherBatch.valid_until > now,
                VoucherBatch.valid_until <= horizon,
            )
            .order_by(Voucher.id)
            .limit(chunk)
        ).all()
        if not ids:
            db.session.rollback()
            break
        claimed = db.session.scalars(
            update(voucher_table)
            .where(voucher_table.c.id.in_(ids), voucher_table.c.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(voucher_table.c.id)
        ).all()
        vouchers = db.session.scalars(
            select(Voucher).where(Voucher.id.in_(claimed)).execution_options(populate_existing=True)
        ).all()
        owners = {
            u.id: u
            for u in db.session.scalars(
                select(User).where(User.id.in_(list({v.user_id for v in vouchers})))
            )
        }
        default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
        for voucher in vouchers:
            owner = owners[voucher.user_id]
            with force_locale(owner.locale or default_locale):
                queue_notification(
                    owner,
                    _("Your counselling voucher expires soon"),
                    _(
                        "Your voucher %(code)s still has %(n)s free sessions and can be used "
                        "until %(date)s. Book a session before then.",
                        code=voucher.display_code,
                        n=voucher.remaining_sessions,
                        date=format_date(last_valid_day(voucher.valid_until)),
                    ),
                    link=WALLET_PATH,
                    dedupe_key=f"vouchers:expiry:{voucher.id}",
                    now=now,
                )
        sent += len(vouchers)
        db.session.commit()
    return {"reminded": sent}


# ----------------------------------------------------------------------------- reports


REPORT_COLUMNS = (
    "vouchers",
    "assigned",
    "members",
    "sessions",
    "reserved",
    "consumed",
    "forfeited",
    "expired",
    "revoked",
    "unused",
)
USAGE_COLUMNS = ("reserved", "consumed", "forfeited", "unused")


@dataclass
class ReportRow:
    key: int | None
    label: str
    values: dict[str, int | None]
    suppressed: bool

    @property
    def redemption_rate(self) -> float | None:
        consumed, sessions = self.values.get("consumed"), self.values.get("sessions")
        if self.suppressed or consumed is None or not sessions:
            return None
        return consumed / sessions


def _aggregates():
    return (
        func.count(Voucher.id).label("vouchers"),
        func.count(Voucher.user_id).label("assigned"),
        func.count(func.distinct(Voucher.user_id)).label("members"),
        func.coalesce(func.sum(Voucher.sessions), 0).label("sessions"),
        func.coalesce(func.sum(Voucher.reserved_sessions), 0).label("reserved"),
        func.coalesce(func.sum(Voucher.consumed_sessions), 0).label("consumed"),
        func.coalesce(func.sum(Voucher.forfeited_sessions), 0).label("forfeited"),
        func.coalesce(func.sum(Voucher.expired_sessions), 0).label("expired"),
        func.coalesce(func.sum(Voucher.revoked_sessions), 0).label("revoked"),
        func.coalesce(func.sum(Voucher.remaining_sessions), 0).label("unused"),
    )


def _row(key, label, mapping) -> ReportRow:
    values = {name: int(mapping[name] or 0) for name in REPORT_COLUMNS}
    k = current_app.config.get("SMALL_CELL_K", 5)
    # Usage by fewer than k members could point at a person: suppress it.
    suppressed = 0 < values["members"] < k
    if suppressed:
        for name in USAGE_COLUMNS:
            values[name] = None
    return ReportRow(key=key, label=label, values=values, suppressed=suppressed)


def report_by_batch(org_unit_id: int | None = None) -> list[ReportRow]:
    stmt = (
        select(VoucherBatch.id, VoucherBatch.name, *_aggregates())
        .join(Voucher, Voucher.batch_id == VoucherBatch.id)
        .group_by(VoucherBatch.id, VoucherBatch.name)
        .order_by(VoucherBatch.id.desc())
    )
    if org_unit_id is not None:
        stmt = stmt.where(VoucherBatch.org_unit_id.in_(descendant_ids(org_unit_id)))
    return [_row(r.id, r.name, r._mapping) for r in db.session.execute(stmt)]


def report_by_org_unit() -> list[ReportRow]:
    stmt = (
        select(VoucherBatch.org_unit_id, OrgUnit.name, *_aggregates())
        .join(Voucher, Voucher.batch_id == VoucherBatch.id)
        .outerjoin(OrgUnit, OrgUnit.id == VoucherBatch.org_unit_id)
        .group_by(VoucherBatch.org_unit_id, OrgUnit.name)
        .order_by(OrgUnit.name)
    )
    rows = []
    for r in db.session.execute(stmt):
        rows.append(_row(r.org_unit_id, r.name or _("Service centre"), r._mapping))
    return rows


def batch_summary(batch_id: int) -> ReportRow | None:
    stmt = select(*_aggregates()).where(Voucher.batch_id == batch_id)
    mapping = db.session.execute(stmt).first()._mapping
    if not mapping["vouchers"]:
        return None
    return _row(batch_id, "", mapping)


def column_labels() -> dict[str, str]:
    return {
        "vouchers": _("Vouchers issued"),
        "assigned": _("Assigned to members"),
        "members": _("Members"),
        "sessions": _("Sessions issued"),
        "reserved": _("Reserved"),
        "consumed": _("Consumed"),
        "forfeited": _("Forfeited (no-show)"),
        "expired": _("Expired"),
        "revoked": _("Withdrawn"),
        "unused": _("Unused"),
    }


def report_csv(group: str) -> bytes:
    rows = report_by_org_unit() if group == "org_unit" else report_by_batch()
    labels = column_labels()
    first = _("Organisation") if group == "org_unit" else _("Batch")
    header = [first, *[labels[c] for c in REPORT_COLUMNS], _("Redemption rate")]

    def cells(row: ReportRow) -> Iterator[object]:
        yield row.label
        for column in REPORT_COLUMNS:
            value = row.values[column]
            yield "" if value is None else value
        rate = row.redemption_rate
        yield "" if rate is None else f"{rate:.1%}"

    return csvimport.to_csv_bytes(header, (list(cells(row)) for row in rows))


# ----------------------------------------------------------------------------- ledger balance


BUCKETS = ("remaining", "reserved", "consumed", "forfeited", "expired", "revoked")
FLOWS: dict[str, tuple[str | None, str | None]] = {
    EntryKind.ISSUE.value: (None, "remaining"),
    EntryKind.ASSIGN.value: (None, None),
    EntryKind.RESERVE.value: ("remaining", "reserved"),
    EntryKind.RELEASE.value: ("reserved", "remaining"),
    EntryKind.CONSUME.value: ("reserved", "consumed"),
    EntryKind.FORFEIT.value: ("reserved", "forfeited"),
    EntryKind.EXPIRE.value: ("remaining", "expired"),
    EntryKind.REVOKE.value: ("remaining", "revoked"),
}


def ledger_balance(batch_id: int) -> dict[str, dict[str, int]]:
    """The batch's buckets twice: replayed from the ledger, and summed from the vouchers.

    Balanced means ``ledger == vouchers`` and ``issued = remaining + reserved + consumed +
    forfeited + expired + revoked`` on both sides.
    """
    from_ledger = dict.fromkeys(BUCKETS, 0)
    issued = 0
    for kind, sessions in db.session.execute(
        select(VoucherEntry.kind, func.sum(VoucherEntry.sessions))
        .where(VoucherEntry.batch_id == batch_id)
        .group_by(VoucherEntry.kind)
    ):
        source, target = FLOWS[kind]
        sessions = int(sessions or 0)
        if kind == EntryKind.ISSUE:
            issued += sessions
        if source:
            from_ledger[source] -= sessions
        if target:
            from_ledger[target] += sessions
    summary = db.session.execute(
        select(
            func.coalesce(func.sum(Voucher.sessions), 0),
            *[func.coalesce(func.sum(voucher_table.c[f"{b}_sessions"]), 0) for b in BUCKETS],
        ).where(Voucher.batch_id == batch_id)
    ).one()
    from_vouchers = {b: int(v) for b, v in zip(BUCKETS, summary[1:], strict=True)}
    return {
        "issued": {"ledger": issued, "vouchers": int(summary[0])},
        "ledger": from_ledger,
        "vouchers": from_vouchers,
    }
