"""Hotline use cases: taxonomy, roster, coverage warnings, calls, crisis records, reports,
retention. Pages, jobs and (later) the API call these; each use case commits once.

Concurrency: seats are counted with a conditional UPDATE (``filled < seats_needed``); a
counsellor's roster changes and call logging first touch that counsellor's row in
``hotline_counselor_locks`` (a row lock on PostgreSQL, held to commit), so the overlap check
that follows reads committed data and two requests cannot both pass it. State changes are
compare-and-swap UPDATEs; sweeps claim rows with unique constraints or conditional UPDATEs.
On SQLite every transaction that may write starts with BEGIN IMMEDIATE (wellness/sqlite.py),
which serialises writers the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from wellness import audit
from wellness.auth.models import Role, User
from wellness.auth.phones import InvalidPhone, normalise_mobile
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.hotline import rating as rating_rules
from wellness.hotline import roster
from wellness.hotline.models import (
    OPEN_SWAP_STATUSES,
    ActionCode,
    AgeBand,
    AssignmentStatus,
    CallKind,
    CounselorLock,
    CrisisRecord,
    GapWarning,
    Gender,
    HotlineCall,
    HotlineTerm,
    Shift,
    ShiftAssignment,
    ShiftMode,
    ShiftSwap,
    ShiftTemplate,
    SwapStatus,
    TermKind,
)
from wellness.notify import services as notify
from wellness.risk import services as risk_services

BEIJING = roster.BEIJING
RETENTION_FLOOR_DAYS = 1095  # the 2021 NHC guideline: records kept at least 3 years
DEFAULT_FOLLOW_UP_HOURS = {"critical": 4, "high": 24, "elevated": 72}
MAX_CALL = timedelta(hours=12)
LATE_LOGGING = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)


# ----------------------------------------------------------------------------- settings


def _cfg(key: str, default):
    return current_app.config.get(key, default)


def retention_days() -> int:
    """Configured retention, never below the legal floor of 3 years."""
    return max(int(_cfg("HOTLINE_RETENTION_DAYS", RETENTION_FLOOR_DAYS)), RETENTION_FLOOR_DAYS)


def min_seats() -> int:
    return int(_cfg("HOTLINE_MIN_SEATS", 2))


def service_hours() -> tuple[int, int]:
    raw = _cfg("HOTLINE_SERVICE_HOURS", (0, 24))
    if isinstance(raw, str):
        opens, _sep, closes = raw.partition("-")
        return int(opens), int(closes)
    return int(raw[0]), int(raw[1])


def follow_up_hours(level: str) -> int:
    hours = dict(DEFAULT_FOLLOW_UP_HOURS)
    hours.update(_cfg("HOTLINE_FOLLOW_UP_HOURS", {}) or {})
    return int(hours.get(level, 24))


def _invalid(message, **fields: str) -> InvalidInput:
    return InvalidInput(str(message), fields)


def local(dt: datetime) -> datetime:
    return dt.astimezone(BEIJING)


def _fmt(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------- transactions


def _lock_counselor(counselor_id: int) -> None:
    """Serialise roster changes for one counsellor: lock (create if need be) their row."""
    bump = (
        update(CounselorLock)
        .where(CounselorLock.counselor_id == counselor_id)
        .values(version=CounselorLock.version + 1)
    )
    if db.session.execute(bump).rowcount:
        return
    try:
        with db.session.begin_nested():
            db.session.add(CounselorLock(counselor_id=counselor_id, version=1))
    except IntegrityError:
        db.session.execute(bump)


def _begin_locked(*counselor_ids: int) -> None:
    """Take these counsellors' lock rows, in id order, so two use cases that need the same
    two rows cannot deadlock."""
    for counselor_id in sorted(set(counselor_ids)):
        _lock_counselor(counselor_id)


def _insert_ignore(model, rows: list[dict], returning):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING (PostgreSQL and SQLite)."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).values(rows).on_conflict_do_nothing().returning(*returning)
    return db.session.execute(stmt).all()


# --------------------------------------------------------------------------- people


def counselors() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.COUNSELOR.value, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def _active_counselor(user_id: int | None, field_name: str) -> User:
    user = db.session.get(User, user_id) if user_id else None
    if user is None or user.role != Role.COUNSELOR.value or not user.active:
        raise _invalid(_l("Choose an active counsellor."), **{field_name: "unknown"})
    return user


def _require_counselor(actor) -> int:
    if getattr(actor, "role", None) != Role.COUNSELOR.value:
        raise NotPermitted(str(_l("Only counsellors can do this.")))
    return actor.id


def _require_admin(actor) -> int:
    if getattr(actor, "role", None) != Role.ADMIN.value:
        raise NotPermitted(str(_l("Only administrators can do this.")))
    return actor.id


def _admins() -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.role == Role.ADMIN.value, User.active.is_(True)))
    )


def _queue(
    user: User, subject, body, *, link: str | None, dedupe_key: str | None, now, urgent=False
):
    """Queue a message in the recipient's language (jobs run without a request). Crisis
    follow-ups are ``urgent``: they go out through quiet hours."""
    language = user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")
    with force_locale(language):
        notify.queue(
            user,
            str(subject()),
            str(body()),
            link=link,
            dedupe_key=dedupe_key,
            now=now,
            urgent=urgent,
        )


# ------------------------------------------------------------------------- taxonomy

BUILTIN_TERMS: dict[str, list[tuple[str, str, str]]] = {
    TermKind.TOPIC.value: [
        ("emotion", "情绪困扰", "Emotional distress"),
        ("work_stress", "工作压力", "Work stress"),
        ("relationships", "人际关系", "Relationships"),
        ("family", "婚姻家庭", "Marriage and family"),
        ("parenting", "亲子教育", "Parenting"),
        ("career", "职业发展", "Career"),
        ("labour_rights", "劳动关系与权益", "Labour relations and rights"),
        ("money", "失业与经济压力", "Job loss and money worries"),
        ("sleep_health", "睡眠与身体健康", "Sleep and physical health"),
        ("addiction", "成瘾问题", "Addiction"),
        ("grief", "丧失与哀伤", "Loss and grief"),
        ("suicide_risk", "自杀或自伤风险", "Suicide or self-harm risk"),
        ("information", "咨询服务信息", "Information about services"),
        ("other", "其他", "Other"),
    ],
    TermKind.ACTION.value: [
        (ActionCode.LISTENED.value, "倾听与建议", "Listened and advised"),
        (ActionCode.REFERRED_STATION.value, "转介至服务站", "Referred to a service station"),
        (ActionCode.REFERRED_HOSPITAL.value, "转介至医院", "Referred to a hospital"),
        (ActionCode.EMERGENCY.value, "已联动110/120", "Emergency services called (110/120)"),
    ],
    TermKind.REFERRAL.value: [
        ("station", "职工心理服务站", "Workers' counselling station"),
        ("mental_health_centre", "市精神卫生中心", "City mental health centre"),
        ("hospital_psych", "综合医院心理科", "General hospital psychology clinic"),
        ("line_12356", "12356心理援助热线", "12356 psychological assistance line"),
        ("legal_aid", "12348法律援助", "12348 legal aid"),
        ("union_rights", "工会维权服务", "Union rights service"),
    ],
}


def list_terms(kind: str | None = None, *, active_only: bool = False) -> list[HotlineTerm]:
    stmt = select(HotlineTerm).order_by(HotlineTerm.kind, HotlineTerm.sort_order, HotlineTerm.id)
    if kind:
        stmt = stmt.where(HotlineTerm.kind == kind)
    if active_only:
        stmt = stmt.where(HotlineTerm.active.is_(True))
    return list(db.session.scalars(stmt))


def get_term(term_id: int) -> HotlineTerm:
    term = db.session.get(HotlineTerm, term_id)
    if term is None:
        raise NotFound(str(_l("No such taxonomy entry.")))
    return term


def _check_labels(label_zh: str, label_en: str) -> tuple[str, str]:
    label_zh = (label_zh or "").strip()
    label_en = (label_en or "").strip()
    if not label_zh or len(label_zh) > 80:
        raise _invalid(_l("Enter a Chinese label of 1 to 80 characters."), label_zh="invalid")
    if len(label_en) > 80:
        raise _invalid(_l("The English label is at most 80 characters."), label_en="too_long")
    return label_zh, label_en or label_zh


def ensure_builtin_terms() -> int:
    """Add the standard topics, actions and referral targets that are missing (no commit)."""
    created = 0
    for kind, entries in BUILTIN_TERMS.items():
        for order, (code, label_zh, label_en) in enumerate(entries):
            exists = db.session.scalar(
                select(HotlineTerm.id).where(HotlineTerm.kind == kind, HotlineTerm.code == code)
            )
            if exists is None:
                db.session.add(
                    HotlineTerm(
                        kind=kind,
                        code=code,
                        label_zh=label_zh,
                        label_en=label_en,
                        sort_order=(order + 1) * 10,
                    )
                )
                created += 1
    db.session.flush()
    return created


def add_standard_terms(actor) -> int:
    _require_admin(actor)
    created = ensure_builtin_terms()
    audit.record(actor, "hotline.terms_seeded", ("hotline_terms", "standard"), {"n": created})
    db.session.commit()
    return created


def add_term(actor, kind: str, label_zh: str, label_en: str = "") -> HotlineTerm:
    _require_admin(actor)
    if kind not in {k.value for k in TermKind}:
        raise _invalid(_l("Choose a list."), kind="invalid")
    label_zh, label_en = _check_labels(label_zh, label_en)
    last = db.session.scalar(
        select(func.max(HotlineTerm.sort_order)).where(HotlineTerm.kind == kind)
    )
    term = HotlineTerm(
        kind=kind,
        code=f"custom_{secrets.token_hex(5)}",
        label_zh=label_zh,
        label_en=label_en,
        sort_order=(last or 0) + 10,
    )
    db.session.add(term)
    db.session.flush()
    audit.record(actor, "hotline.term_added", term, {"kind": kind})
    db.session.commit()
    return term


def update_term(actor, term_id: int, *, label_zh: str, label_en: str, active: bool) -> HotlineTerm:
    _require_admin(actor)
    term = get_term(term_id)
    label_zh, label_en = _check_labels(label_zh, label_en)
    term.label_zh, term.label_en, term.active = label_zh, label_en, bool(active)
    audit.record(actor, "hotline.term_updated", term, {"active": term.active})
    db.session.commit()
    return term


def _active_terms(ids: list[int], kind: str, field_name: str) -> list[HotlineTerm]:
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    terms = list(
        db.session.scalars(
            select(HotlineTerm).where(
                HotlineTerm.id.in_(ids), HotlineTerm.kind == kind, HotlineTerm.active.is_(True)
            )
        )
    )
    if len(terms) != len(ids):
        raise _invalid(_l("Choose from the list."), **{field_name: "unknown"})
    return terms


# ---------------------------------------------------------------------------- roster


@dataclass
class TemplateInput:
    name: str
    start_time: time
    duration_minutes: int
    weekdays: int
    seats_needed: int
    mode: str = ShiftMode.SEATED.value
    valid_from: date | None = None
    valid_until: date | None = None


def _check_shift_shape(name: str, duration_minutes, seats_needed, mode: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise _invalid(_l("Enter a name of 1 to 60 characters."), name="invalid")
    if not isinstance(duration_minutes, int) or not 30 <= duration_minutes <= 1440:
        raise _invalid(_l("A shift lasts from 30 minutes to 24 hours."), duration_minutes="invalid")
    if not isinstance(seats_needed, int) or not 1 <= seats_needed <= 50:
        raise _invalid(_l("Seats needed: 1 to 50."), seats_needed="invalid")
    if mode not in {m.value for m in ShiftMode}:
        raise _invalid(_l("Choose seated or on call."), mode="invalid")
    return name


def list_templates() -> list[ShiftTemplate]:
    return list(
        db.session.scalars(
            select(ShiftTemplate).order_by(
                ShiftTemplate.active.desc(), ShiftTemplate.start_time, ShiftTemplate.id
            )
        )
    )


def create_template(actor, data: TemplateInput, now: datetime | None = None) -> ShiftTemplate:
    now = now or utcnow()
    _require_admin(actor)
    name = _check_shift_shape(data.name, data.duration_minutes, data.seats_needed, data.mode)
    if not isinstance(data.weekdays, int) or not 1 <= data.weekdays <= roster.ALL_DAYS:
        raise _invalid(_l("Choose at least one day of the week."), weekdays="required")
    if not isinstance(data.start_time, time):
        raise _invalid(_l("Enter a start time."), start_time="required")
    valid_from = data.valid_from or local(now).date()
    if data.valid_until is not None and data.valid_until < valid_from:
        raise _invalid(_l("The end date is before the start date."), valid_until="before_start")
    template = ShiftTemplate(
        name=name,
        start_time=data.start_time.replace(second=0, microsecond=0, tzinfo=None),
        duration_minutes=data.duration_minutes,
        weekdays=data.weekdays,
        seats_needed=data.seats_needed,
        mode=data.mode,
        valid_from=valid_from,
        valid_until=data.valid_until,
        created_by_id=actor.id,
    )
    db.session.add(template)
    db.session.flush()
    created = materialise_template(template, now, _horizon(now))
    audit.record(actor, "hotline.template_created", template, {"shifts": created})
    db.session.commit()
    return template


def deactivate_template(actor, template_id: int, now: datetime | None = None) -> dict[str, int]:
    """Stop a template; its future shifts nobody took are removed, staffed ones stay."""
    now = now or utcnow()
    _require_admin(actor)
    template = db.session.get(ShiftTemplate, template_id)
    if template is None:
        raise NotFound(str(_l("No such shift template.")))
    if not template.active:
        raise Conflict(str(_l("This template is already stopped.")))
    template.active = False
    template.valid_until = local(now).date()
    removed = db.session.execute(
        delete(Shift).where(
            Shift.template_id == template.id, Shift.starts_at > now, Shift.filled == 0
        )
    ).rowcount
    kept = (
        db.session.scalar(
            select(func.count(Shift.id)).where(
                Shift.template_id == template.id,
                Shift.starts_at > now,
                Shift.cancelled_at.is_(None),
            )
        )
        or 0
    )
    audit.record(actor, "hotline.template_stopped", template, {"removed": removed, "kept": kept})
    db.session.commit()
    return {"removed": removed, "kept": kept}


def _horizon(now: datetime) -> datetime:
    return now + timedelta(weeks=int(_cfg("HOTLINE_ROSTER_WEEKS", 4)))


def materialise_template(template: ShiftTemplate, now: datetime, until: datetime) -> int:
    """Insert the template's shifts from the start of ``now``'s day until ``until``; rows
    that exist already are skipped (unique template + start). Does not commit."""
    day_start = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        {
            "template_id": template.id,
            "name": template.name,
            "starts_at": begins,
            "ends_at": ends,
            "seats_needed": template.seats_needed,
            "mode": template.mode,
            "filled": 0,
            "created_at": now,
        }
        for begins, ends in roster.occurrences(
            template.start_time,
            timedelta(minutes=template.duration_minutes),
            template.weekdays,
            day_start,
            until,
            valid_from=template.valid_from,
            valid_until=template.valid_until,
        )
        if begins >= day_start
    ]
    return len(_insert_ignore(Shift, rows, [Shift.id]))


def materialise_shifts(now: datetime | None = None) -> int:
    """Create the coming weeks' shifts from active templates (idempotent: unique rows)."""
    now = now or utcnow()
    templates = list(db.session.scalars(select(ShiftTemplate).where(ShiftTemplate.active)))
    until = _horizon(now)
    created = sum(materialise_template(t, now, until) for t in templates)
    db.session.commit()
    return created


def create_shift(
    actor,
    *,
    name: str,
    starts_at: datetime | None,
    duration_minutes: int,
    seats_needed: int,
    mode: str,
    now: datetime | None = None,
) -> Shift:
    """A one-off shift (a holiday, an extra seat on a busy evening)."""
    now = now or utcnow()
    _require_admin(actor)
    name = _check_shift_shape(name, duration_minutes, seats_needed, mode)
    if starts_at is None:
        raise _invalid(_l("Enter a start time."), starts_at="required")
    if starts_at + timedelta(minutes=duration_minutes) <= now:
        raise _invalid(_l("This shift would already be over."), starts_at="past")
    shift = Shift(
        name=name,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=duration_minutes),
        seats_needed=seats_needed,
        mode=mode,
        filled=0,
        created_at=now,
    )
    db.session.add(shift)
    db.session.flush()
    audit.record(actor, "hotline.shift_created", shift)
    db.session.commit()
    return shift


def get_shift(shift_id: int) -> Shift:
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(str(_l("No such shift.")))
    return shift


def shifts_between(start: datetime, end: datetime) -> list[Shift]:
    return list(
        db.session.scalars(
            select(Shift)
            .where(Shift.starts_at < end, Shift.ends_at > start, Shift.cancelled_at.is_(None))
            .options(selectinload(Shift.assignments))
            .order_by(Shift.starts_at, Shift.id)
        )
    )


def active_staff(shift: Shift) -> list[ShiftAssignment]:
    return [a for a in shift.assignments if a.status == AssignmentStatus.ACTIVE.value]


def roster_days(now: datetime, days: int = 14) -> list[tuple[date, list[Shift]]]:
    """Shifts from the start of today (Beijing) for ``days`` days, grouped by start day."""
    start = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    grouped: dict[date, list[Shift]] = defaultdict(list)
    for shift in shifts_between(start, start + timedelta(days=days)):
        if shift.starts_at >= start:
            grouped[local(shift.starts_at).date()].append(shift)
    return sorted(grouped.items())


def current_shift_for(counselor_id: int, at: datetime) -> Shift | None:
    return db.session.scalar(
        select(Shift)
        .join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
        .where(
            ShiftAssignment.counselor_id == counselor_id,
            ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
            Shift.cancelled_at.is_(None),
            Shift.starts_at <= at,
            Shift.ends_at > at,
        )
        .order_by(Shift.mode.desc(), Shift.starts_at)  # a seated shift before on-call
        .limit(1)
    )


def upcoming_assignments(counselor_id: int, now: datetime, limit: int = 20):
    return list(
        db.session.scalars(
            select(ShiftAssignment)
            .join(Shift, ShiftAssignment.shift_id == Shift.id)
            .where(
                ShiftAssignment.counselor_id == counselor_id,
                ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
                Shift.cancelled_at.is_(None),
                Shift.ends_at > now,
            )
            .order_by(Shift.starts_at)
            .limit(limit)
        )
    )


def next_shift_counselor_ids(now: datetime) -> set[int]:
    """Counsellors on the next shift(s) to start after ``now`` (for crisis handovers)."""
    first = db.session.scalar(
        select(func.min(Shift.starts_at)).where(
            Shift.starts_at > now, Shift.cancelled_at.is_(None), Shift.filled > 0
        )
    )
    if first is None:
        return set()
    return set(
        db.session.scalars(
            select(ShiftAssignment.counselor_id)
            .join(Shift, ShiftAssignment.shift_id == Shift.id)
            .where(
                Shift.starts_at == first,
                ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
            )
        )
    )


def _overlapping_assignment(counselor_id: int, shift: Shift) -> ShiftAssignment | None:
    return db.session.scalar(
        select(ShiftAssignment)
        .join(Shift, ShiftAssignment.shift_id == Shift.id)
        .where(
            ShiftAssignment.counselor_id == counselor_id,
            ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
            Shift.cancelled_at.is_(None),
            Shift.starts_at < shift.ends_at,
            Shift.ends_at > shift.starts_at,
        )
        .limit(1)
    )


def _check_no_overlap(counselor_id: int, shift: Shift, field_name: str = "shift") -> None:
    clash = _overlapping_assignment(counselor_id, shift)
    if clash is None:
        return
    if clash.shift_id == shift.id:
        raise Conflict(str(_l("Already on this shift.")), {field_name: "taken"})
    other = clash.shift
    raise Conflict(
        str(
            _l(
                "This overlaps another shift of the same counsellor: %(name)s from %(start)s.",
                name=other.name,
                start=_fmt(other.starts_at),
            )
        ),
        {field_name: "overlap"},
    )


def _assign(actor_id: int, counselor_id: int, shift_id: int, now: datetime) -> ShiftAssignment:
    _begin_locked(counselor_id)
    shift = get_shift(shift_id)
    if shift.cancelled_at is not None or shift.ends_at <= now:
        raise _invalid(_l("This shift is over or cancelled."), shift="closed")
    counselor = _active_counselor(counselor_id, "counselor_id")
    _check_no_overlap(counselor.id, shift)
    seat = db.session.execute(
        update(Shift)
        .where(
            Shift.id == shift.id,
            Shift.filled < Shift.seats_needed,
            Shift.cancelled_at.is_(None),
        )
        .values(filled=Shift.filled + 1)
    ).rowcount
    if not seat:
        raise Conflict(str(_l("This shift is already fully staffed.")), {"shift": "full"})
    assignment = ShiftAssignment(
        shift_id=shift.id, counselor_id=counselor.id, assigned_by_id=actor_id, created_at=now
    )
    db.session.add(assignment)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(str(_l("Already on this shift.")), {"shift": "taken"}) from None
    action = "hotline.shift_signed_up" if actor_id == counselor.id else "hotline.shift_assigned"
    audit.record(actor_id, action, assignment, {"shift": shift.id, "counselor": counselor.id})
    if actor_id != counselor.id:
        _queue(
            counselor,
            lambda: _("You have a hotline shift"),
            lambda: _(
                "You were put on the hotline shift %(name)s from %(start)s.",
                name=shift.name,
                start=_fmt(shift.starts_at),
            ),
            link="/hotline/roster",
            dedupe_key=f"hotline-assign:{assignment.id}",
            now=now,
        )
    db.session.commit()
    return assignment


def sign_up(actor, shift_id: int, now: datetime | None = None) -> ShiftAssignment:
    counselor_id = _require_counselor(actor)
    return _assign(counselor_id, counselor_id, shift_id, now or utcnow())


def assign(actor, shift_id: int, counselor_id: int, now: datetime | None = None):
    actor_id = _require_admin(actor)
    return _assign(actor_id, counselor_id, shift_id, now or utcnow())


def _end_assignment(assignment_id: int, status: AssignmentStatus, now: datetime) -> bool:
    """End an active assignment (withdrawn or swapped); False when it had already ended."""
    return bool(
        db.session.execute(
            update(ShiftAssignment)
            .where(
                ShiftAssignment.id == assignment_id,
                ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
            )
            .values(status=status.value, ended_at=now)
        ).rowcount
    )


def withdraw(actor, assignment_id: int, now: datetime | None = None) -> ShiftAssignment:
    """A counsellor leaves a shift (with notice), or an admin removes someone."""
    now = now or utcnow()
    actor_id, role = actor.id, actor.role
    if role not in (Role.COUNSELOR.value, Role.ADMIN.value):
        raise NotPermitted(str(_l("Only counsellors and administrators can do this.")))
    peek = db.session.get(ShiftAssignment, assignment_id)
    if peek is None or (role == Role.COUNSELOR.value and peek.counselor_id != actor_id):
        raise NotFound(str(_l("No such shift assignment.")))
    _begin_locked(peek.counselor_id)
    assignment = db.session.get(ShiftAssignment, assignment_id)
    shift = assignment.shift
    if shift.ends_at <= now:
        raise _invalid(_l("This shift is over."), shift="closed")
    notice = timedelta(hours=int(_cfg("HOTLINE_WITHDRAW_HOURS", 48)))
    if role == Role.COUNSELOR.value and shift.starts_at - now < notice:
        raise _invalid(
            _l(
                "Less than %(hours)s hours before the shift: ask a colleague to swap, "
                "or ask an administrator.",
                hours=int(notice.total_seconds() // 3600),
            ),
            shift="too_late",
        )
    if not _end_assignment(assignment.id, AssignmentStatus.WITHDRAWN, now):
        raise Conflict(str(_l("This assignment has already ended.")))
    db.session.execute(
        update(Shift).where(Shift.id == shift.id, Shift.filled > 0).values(filled=Shift.filled - 1)
    )
    db.session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.assignment_id == assignment.id, ShiftSwap.status.in_(OPEN_SWAP_STATUSES))
        .values(status=SwapStatus.CANCELLED.value, decided_at=now)
    )
    audit.record(actor_id, "hotline.shift_withdrawn", assignment, {"shift": shift.id})
    db.session.commit()
    return assignment


# ------------------------------------------------------------------------------ swaps


def own_assignment(actor, assignment_id: int) -> ShiftAssignment:
    """An active assignment of the signed-in counsellor (anyone else's is 'not found')."""
    assignment = db.session.get(ShiftAssignment, assignment_id)
    if (
        assignment is None
        or assignment.counselor_id != actor.id
        or assignment.status != AssignmentStatus.ACTIVE.value
    ):
        raise NotFound(str(_l("No such shift assignment.")))
    return assignment


def request_swap(
    actor, assignment_id: int, to_id: int | None, note: str = "", now: datetime | None = None
) -> ShiftSwap:
    now = now or utcnow()
    actor_id = _require_counselor(actor)
    actor_name = actor.name
    _begin_locked(actor_id)
    assignment = db.session.get(ShiftAssignment, assignment_id)
    if (
        assignment is None
        or assignment.counselor_id != actor_id
        or assignment.status != AssignmentStatus.ACTIVE.value
    ):
        raise NotFound(str(_l("No such shift assignment.")))
    if assignment.shift.starts_at <= now:
        raise _invalid(_l("This shift has already started."), to_id="started")
    target = _active_counselor(to_id, "to_id")
    if target.id == actor_id:
        raise _invalid(_l("Choose a colleague, not yourself."), to_id="self")
    note = (note or "").strip()
    if len(note) > 200:
        raise _invalid(_l("At most 200 characters."), note="too_long")
    _check_no_overlap(target.id, assignment.shift, "to_id")
    swap = ShiftSwap(
        assignment_id=assignment.id,
        from_id=actor_id,
        to_id=target.id,
        note=note or None,
        created_at=now,
    )
    db.session.add(swap)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            str(_l("This shift already has an open swap request.")), {"to_id": "open"}
        ) from None
    audit.record(actor_id, "hotline.swap_requested", swap, {"to": target.id})
    shift = assignment.shift
    _queue(
        target,
        lambda: _("A colleague asks you to take a hotline shift"),
        lambda: _(
            "%(name)s asks you to take the shift %(shift)s from %(start)s.",
            name=actor_name,
            shift=shift.name,
            start=_fmt(shift.starts_at),
        ),
        link="/hotline/swaps",
        dedupe_key=f"hotline-swap:{swap.id}:asked",
        now=now,
    )
    db.session.commit()
    return swap


SWAP_DECISIONS = {
    # decision: (who may, from statuses, new status)
    "accept": ("to", (SwapStatus.PENDING.value,), SwapStatus.ACCEPTED.value),
    "decline": ("to", (SwapStatus.PENDING.value,), SwapStatus.DECLINED.value),
    "cancel": ("from", OPEN_SWAP_STATUSES, SwapStatus.CANCELLED.value),
    "approve": ("admin", (SwapStatus.ACCEPTED.value,), SwapStatus.APPROVED.value),
    "reject": ("admin", (SwapStatus.ACCEPTED.value,), SwapStatus.REJECTED.value),
}


def act_on_swap(actor, swap_id: int, decision: str, now: datetime | None = None) -> ShiftSwap:
    """Accept/decline (the colleague), cancel (the requester), approve/reject (an admin).

    Each step is a compare-and-swap on the status, so a double click or two admins
    approving at once hand the shift over exactly once.
    """
    now = now or utcnow()
    actor_id, role = actor.id, actor.role
    if decision not in SWAP_DECISIONS:
        raise _invalid(_l("Unknown decision."), decision="invalid")
    who, from_statuses, new_status = SWAP_DECISIONS[decision]
    peek = db.session.get(ShiftSwap, swap_id)
    involved = peek is not None and actor_id in (peek.from_id, peek.to_id)
    if peek is None or (role != Role.ADMIN.value and not involved):
        raise NotFound(str(_l("No such swap request.")))
    allowed = (
        (who == "admin" and role == Role.ADMIN.value)
        or (who == "to" and actor_id == peek.to_id and role == Role.COUNSELOR.value)
        or (who == "from" and actor_id == peek.from_id and role == Role.COUNSELOR.value)
    )
    if not allowed:
        raise NotPermitted(str(_l("You cannot make this decision on this request.")))
    locks = {"accept": (peek.to_id,), "approve": (peek.from_id, peek.to_id)}
    _begin_locked(actor_id, *locks.get(decision, ()))
    values: dict = {"status": new_status}
    if who == "admin":
        values.update(decided_by_id=actor_id, decided_at=now)
    elif who == "to":
        values.update(responded_at=now)
    else:
        values.update(decided_at=now)
    moved = db.session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.id == swap_id, ShiftSwap.status.in_(from_statuses))
        .values(**values)
    ).rowcount
    if not moved:
        raise Conflict(str(_l("This request was already handled.")))
    swap = db.session.get(ShiftSwap, swap_id)
    db.session.refresh(swap)
    shift = swap.assignment.shift
    if decision in ("accept", "approve"):
        if shift.starts_at <= now:
            raise _invalid(_l("This shift has already started."), decision="started")
        _check_no_overlap(swap.to_id, shift, "decision")
    if decision == "approve":
        if not _end_assignment(swap.assignment_id, AssignmentStatus.SWAPPED, now):
            raise Conflict(str(_l("The original assignment has ended.")))
        db.session.add(
            ShiftAssignment(
                shift_id=shift.id, counselor_id=swap.to_id, assigned_by_id=actor_id, created_at=now
            )
        )
        db.session.flush()
    audit.record(actor_id, f"hotline.swap_{decision}", swap, {"shift": shift.id})
    if decision in ("accept", "decline", "approve", "reject"):
        _queue(
            swap.from_user,
            lambda: _("Your shift swap request was answered"),
            lambda: _(
                "Swap of %(shift)s from %(start)s: %(status)s.",
                shift=shift.name,
                start=_fmt(shift.starts_at),
                status=swap_status_label(swap.status),
            ),
            link="/hotline/swaps",
            dedupe_key=f"hotline-swap:{swap.id}:{decision}",
            now=now,
        )
    if decision == "accept":
        for admin in _admins():
            _queue(
                admin,
                lambda: _("A hotline shift swap needs approval"),
                lambda: _(
                    "%(a)s hands %(shift)s from %(start)s to %(b)s.",
                    a=swap.from_user.name,
                    b=swap.to_user.name,
                    shift=shift.name,
                    start=_fmt(shift.starts_at),
                ),
                link="/hotline/swaps",
                dedupe_key=f"hotline-swap:{swap.id}:approve:{admin.id}",
                now=now,
            )
    db.session.commit()
    return swap


def swap_status_label(status: str) -> str:
    labels = {
        "pending": _l("waiting for the colleague"),
        "accepted": _l("waiting for approval"),
        "approved": _l("approved"),
        "declined": _l("declined"),
        "rejected": _l("not approved"),
        "cancelled": _l("cancelled"),
    }
    return str(labels.get(status, status))


def swaps_for(actor, limit: int = 50) -> list[ShiftSwap]:
    stmt = select(ShiftSwap).order_by(ShiftSwap.created_at.desc(), ShiftSwap.id.desc())
    if actor.role != Role.ADMIN.value:
        stmt = stmt.where(or_(ShiftSwap.from_id == actor.id, ShiftSwap.to_id == actor.id))
    return list(db.session.scalars(stmt.limit(limit)))


# -------------------------------------------------------------------------- coverage


def coverage(start: datetime, end: datetime) -> list[roster.HourCoverage]:
    spans = [
        roster.Span(
            start=s.starts_at,
            end=s.ends_at,
            seats_needed=s.seats_needed,
            mode=s.mode,
            staff=frozenset(a.counselor_id for a in active_staff(s)),
        )
        for s in shifts_between(start, end)
    ]
    return roster.hourly_coverage(
        spans, start, end, min_seats=min_seats(), service_hours=service_hours()
    )


def week_start(now: datetime) -> datetime:
    today = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=today.weekday())


def coverage_weeks(now: datetime, weeks: int = 4):
    """Whole Monday-to-Sunday weeks from this week until ``weeks`` weeks after now."""
    start = week_start(now)
    end = week_start(now + timedelta(weeks=weeks)) + timedelta(weeks=1)
    hours = coverage(start, end)
    upcoming = [h for h in hours if h.end > now]
    return roster.week_grid(hours), roster.find_gaps(upcoming)


def warn_gaps(now: datetime | None = None) -> dict[str, int]:
    """Sweep: warn every admin once per gap in the next 72 hours.

    Each under-staffed hour is recorded in ``hotline_gap_warnings`` (unique per hour); only
    hours inserted by this run are announced, so a second run, or a second scheduler at
    the same time, sends nothing. Hours covered again lose their row: a gap that re-opens
    later is a new gap and is announced again. A gap that runs past the 72-hour horizon
    grows at the far end as time passes; those hours extend a gap already announced and
    are not announced again.
    """
    now = now or utcnow()
    horizon = now + timedelta(hours=int(_cfg("HOTLINE_GAP_WARNING_HOURS", 72)))
    hours = coverage(now, horizon)
    if not hours:
        return {"gaps": 0, "hours": 0, "messages": 0}
    edge = hours[-1].end
    gap_hours = {h.start.astimezone(BEIJING): h for h in hours if h.is_gap}
    covered = [h.start for h in hours if not h.is_gap]
    warned_before = set(
        db.session.scalars(
            select(GapWarning.hour_start).where(GapWarning.hour_start >= now - timedelta(hours=2))
        )
    )
    fresh = _insert_ignore(
        GapWarning,
        [{"hour_start": start, "warned_at": now} for start in sorted(gap_hours)],
        [GapWarning.id, GapWarning.hour_start],
    )
    if covered:
        db.session.execute(delete(GapWarning).where(GapWarning.hour_start.in_(covered)))
    db.session.execute(delete(GapWarning).where(GapWarning.hour_start < now - timedelta(days=7)))
    new_hours = sorted(
        (
            (gap_hours[row.hour_start.astimezone(BEIJING)], row.id)
            for row in fresh
            if row.hour_start.astimezone(BEIJING) in gap_hours
        ),
        key=lambda pair: pair[0].start,
    )
    ranges: list[list] = []
    for hour, row_id in new_hours:
        if ranges and ranges[-1][1] == hour.start:
            ranges[-1][1] = hour.end
            ranges[-1][2] = max(ranges[-1][2], hour.missing)
        else:
            ranges.append([hour.start, hour.end, hour.missing, row_id])
    # The far end of a gap already announced, sliding into view: the same gap.
    ranges = [r for r in ranges if not (r[1] >= edge and r[0] - roster.HOUR in warned_before)]
    sent = 0
    admins = _admins()
    nonce = secrets.token_hex(4)
    for start, end, missing, _row_id in ranges:
        for admin in admins:
            _queue(
                admin,
                lambda: _("Hotline roster gap in the next 72 hours"),
                lambda start=start, end=end, missing=missing: (
                    _(
                        "From %(start)s until at least %(end)s the hotline is %(missing)s "
                        "seat(s) short of the required staffing. Please assign counsellors.",
                        start=_fmt(start),
                        end=_fmt(end),
                        missing=missing,
                    )
                    if end >= edge
                    else _(
                        "From %(start)s to %(end)s the hotline is %(missing)s seat(s) short of "
                        "the required staffing. Please assign counsellors.",
                        start=_fmt(start),
                        end=_fmt(end),
                        missing=missing,
                    )
                ),
                link="/hotline/coverage",
                # Once-ness comes from the unique hour rows; the key only labels the message.
                dedupe_key=f"hotline-gap:{local(start):%Y%m%d%H}:{nonce}:{admin.id}",
                now=now,
            )
            sent += 1
    if ranges:
        audit.record(
            None,
            "hotline.gap_warning",
            ("hotline_gap_warnings", ranges[0][3]),
            {"gaps": len(ranges), "hours": len(new_hours)},
        )
    db.session.commit()
    return {"gaps": len(ranges), "hours": len(new_hours), "messages": sent}


# ----------------------------------------------------------------------------- calls


@dataclass
class CallInput:
    started_at: datetime | None
    kind: str = CallKind.ANSWERED.value
    ended_at: datetime | None = None
    duration_minutes: int | None = None
    wait_seconds: int | None = None
    caller_number: str | None = None
    member_phone: str | None = None
    member_consent: bool = False
    age_band: str = AgeBand.UNKNOWN.value
    gender: str = Gender.UNKNOWN.value
    topic_ids: list[int] = field(default_factory=list)
    summary: str = ""
    action_id: int | None = None
    referral_id: int | None = None


@dataclass
class CrisisInput:
    ideation: int | None = None
    plan: int | None = None
    means: int | None = None
    attempts: int | None = None
    hopelessness: int | None = None
    in_progress: bool = False
    judged_level: str | None = None
    police_called_at: datetime | None = None
    ambulance_called_at: datetime | None = None
    contact_reached_at: datetime | None = None
    contact_note: str | None = None
    help_arrived_at: datetime | None = None
    help_note: str | None = None
    handover_to_id: int | None = None
    handover_note: str | None = None
    follow_up_owner_id: int | None = None
    follow_up_due_at: datetime | None = None
    follow_up_plan: str | None = None


def caller_digits(raw: str | None) -> str | None:
    """A caller number reduced to digits (mainland prefix dropped); None when empty."""
    digits = re.sub(r"\D", "", raw or "")
    if not digits:
        return None
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def caller_key(digits: str | None) -> str | None:
    """Keyed hash of a caller number: recognises repeat callers without storing numbers."""
    if not digits:
        return None
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"hotline-caller:" + digits.encode(), hashlib.sha256).hexdigest()


def _member_key(user: User) -> str | None:
    return caller_key(caller_digits(user.phone))


def _check_moment(value: datetime | None, field_name: str, earliest: datetime, now: datetime):
    if value is None:
        return
    if value > now + CLOCK_SKEW:
        raise _invalid(_l("This time is in the future."), **{field_name: "future"})
    if value < earliest:
        raise _invalid(_l("This time is before the call."), **{field_name: "too_early"})


def _call_times(data: CallInput, now: datetime) -> tuple[datetime, datetime]:
    start = data.started_at
    if start is None:
        raise _invalid(_l("Enter when the call started."), started_at="required")
    if start > now + CLOCK_SKEW:
        raise _invalid(_l("This time is in the future."), started_at="future")
    if start < now - LATE_LOGGING:
        raise _invalid(
            _l("Calls can be logged up to 30 days later. Ask an administrator."),
            started_at="too_old",
        )
    if data.ended_at is not None:
        if data.ended_at < start:
            raise _invalid(_l("The call cannot end before it started."), ended_at="before_start")
        if data.ended_at > now + CLOCK_SKEW:
            raise _invalid(_l("This time is in the future."), ended_at="future")
        end = data.ended_at
    elif data.duration_minutes is not None:
        if not 0 <= data.duration_minutes <= MAX_CALL.total_seconds() // 60:
            raise _invalid(_l("Duration: 0 to 720 minutes."), duration_minutes="invalid")
        end = start + timedelta(minutes=data.duration_minutes)
    elif data.kind == CallKind.ANSWERED.value:
        raise _invalid(_l("Enter the end time or the duration."), duration_minutes="required")
    else:
        end = start
    if end - start > MAX_CALL:
        raise _invalid(_l("A call lasts at most 12 hours."), ended_at="too_long")
    return start, end


def _validate_call(data: CallInput, now: datetime) -> dict:
    if data.kind not in {k.value for k in CallKind}:
        raise _invalid(_l("Choose what kind of call this was."), kind="invalid")
    start, end = _call_times(data, now)
    if data.wait_seconds is not None and not 0 <= data.wait_seconds <= 3600:
        raise _invalid(_l("Waiting time: 0 to 3600 seconds."), wait_seconds="invalid")
    if data.age_band not in {a.value for a in AgeBand}:
        raise _invalid(_l("Choose from the list."), age_band="invalid")
    if data.gender not in {g.value for g in Gender}:
        raise _invalid(_l("Choose from the list."), gender="invalid")
    summary = (data.summary or "").strip()
    if len(summary) > 4000:
        raise _invalid(_l("Notes are at most 4000 characters."), summary="too_long")
    digits = caller_digits(data.caller_number)
    if digits is not None and not 5 <= len(digits) <= 20:
        raise _invalid(_l("Enter the caller's number as digits."), caller_number="invalid")
    member = None
    if (data.member_phone or "").strip():
        if not data.member_consent:
            raise _invalid(
                _l("Link the call to a member only when the caller agrees. Tick the box."),
                member_consent="required",
            )
        try:
            phone = normalise_mobile(data.member_phone)
        except InvalidPhone:
            raise _invalid(
                _l("Enter a valid mainland mobile number (11 digits)."), member_phone="invalid"
            ) from None
        member = db.session.scalar(
            select(User).where(
                User.phone == phone, User.role == Role.WORKER.value, User.active.is_(True)
            )
        )
        if member is None:
            raise _invalid(_l("No member has this mobile number."), member_phone="unknown")
    answered = data.kind == CallKind.ANSWERED.value
    topics = _active_terms(data.topic_ids or [], TermKind.TOPIC.value, "topic_ids")
    if answered and not topics:
        raise _invalid(_l("Choose at least one topic."), topic_ids="required")
    action = None
    if data.action_id:
        action = _active_terms([data.action_id], TermKind.ACTION.value, "action_id")[0]
    elif answered:
        raise _invalid(_l("Choose the action taken."), action_id="required")
    referral = None
    if data.referral_id:
        referral = _active_terms([data.referral_id], TermKind.REFERRAL.value, "referral_id")[0]
    elif action is not None and action.code in (
        ActionCode.REFERRED_STATION.value,
        ActionCode.REFERRED_HOSPITAL.value,
    ):
        raise _invalid(_l("Choose where the caller was referred."), referral_id="required")
    return {
        "start": start,
        "end": end,
        "summary": summary or None,
        "digits": digits,
        "member": member,
        "topics": topics,
        "action": action,
        "referral": referral,
    }


def _validate_crisis(crisis: CrisisInput, call_start: datetime, now: datetime) -> dict:
    missing = {
        item: "required" for item in rating_rules.ITEMS if getattr(crisis, item, None) is None
    }
    if missing:
        raise InvalidInput(str(_l("Rate every item of the suicide-risk rating.")), missing)
    try:
        rating = rating_rules.Rating(
            ideation=crisis.ideation,
            plan=crisis.plan,
            means=crisis.means,
            attempts=crisis.attempts,
            hopelessness=crisis.hopelessness,
            in_progress=bool(crisis.in_progress),
        )
    except rating_rules.InvalidRating as error:
        raise _invalid(_l("Choose from the list."), **{error.item: "invalid"}) from None
    computed = rating_rules.level_of(rating)
    judged = crisis.judged_level or None
    if judged is not None and judged not in rating_rules.LEVELS[1:]:
        raise _invalid(_l("Choose from the list."), judged_level="invalid")
    level = rating_rules.final_level(computed, judged)
    if level == "none":
        raise _invalid(
            _l(
                "The rating shows no suicide risk. If you judge the risk higher, choose a "
                "level; otherwise untick the risk call box."
            ),
            judged_level="required",
        )
    if not crisis.follow_up_owner_id:
        raise _invalid(_l("Choose who follows this crisis up."), follow_up_owner_id="required")
    owner = _active_counselor(crisis.follow_up_owner_id, "follow_up_owner_id")
    due = crisis.follow_up_due_at or now + timedelta(hours=follow_up_hours(level))
    if due <= call_start or due > now + timedelta(days=30):
        raise _invalid(
            _l("The follow-up is due after the call and within 30 days."),
            follow_up_due_at="invalid",
        )
    earliest = call_start - timedelta(hours=1)
    for name in ("police_called_at", "ambulance_called_at", "contact_reached_at"):
        _check_moment(getattr(crisis, name), name, earliest, now)
    _check_moment(crisis.help_arrived_at, "help_arrived_at", earliest, now)
    called = [t for t in (crisis.police_called_at, crisis.ambulance_called_at) if t]
    if crisis.help_arrived_at and called and crisis.help_arrived_at < min(called):
        raise _invalid(
            _l("Help cannot arrive before 110/120 was called."), help_arrived_at="before_call"
        )
    handover = None
    handover_note = (crisis.handover_note or "").strip()
    if crisis.handover_to_id:
        handover = _active_counselor(crisis.handover_to_id, "handover_to_id")
    elif handover_note:
        raise _invalid(_l("Choose who takes the handover."), handover_to_id="required")
    texts = {}
    for name, limit in (
        ("contact_note", 200),
        ("help_note", 200),
        ("follow_up_plan", 2000),
    ):
        value = (getattr(crisis, name) or "").strip()
        if len(value) > limit:
            raise _invalid(_l("This text is too long."), **{name: "too_long"})
        texts[name] = value or None
    if len(handover_note) > 2000:
        raise _invalid(_l("This text is too long."), handover_note="too_long")
    return {
        "rating": rating,
        "computed": computed,
        "level": level,
        "owner": owner,
        "due": due,
        "handover": handover,
        "handover_note": handover_note or None,
        **texts,
    }


def _repeat_index(key: str | None, member_id: int | None, start: datetime) -> int:
    if key is None and member_id is None:
        return 1
    since = start - timedelta(days=int(_cfg("HOTLINE_REPEAT_DAYS", 30)))
    same = []
    if key is not None:
        same.append(HotlineCall.caller_key == key)
    if member_id is not None:
        same.append(HotlineCall.caller_member_id == member_id)
    earlier = db.session.scalar(
        select(func.count(HotlineCall.id)).where(
            or_(*same), HotlineCall.started_at >= since, HotlineCall.started_at < start
        )
    )
    return (earlier or 0) + 1


def log_call(
    actor, data: CallInput, crisis: CrisisInput | None = None, now: datetime | None = None
) -> HotlineCall:
    """Record a call; with ``crisis``, its crisis record and (for a member) a risk flag.

    Call, crisis record, risk flag, notifications and audit entries are one transaction:
    either all exist or none does.
    """
    now = now or utcnow()
    actor_id = _require_counselor(actor)
    _begin_locked(actor_id)
    checked = _validate_call(data, now)
    action = checked["action"]
    if action is not None and action.code == ActionCode.EMERGENCY.value and crisis is None:
        raise _invalid(
            _l("Emergency services were called: fill in the crisis record."), is_risk="required"
        )
    if crisis is not None and data.kind != CallKind.ANSWERED.value:
        raise _invalid(_l("A crisis record needs an answered call."), kind="not_answered")
    crisis_checked = _validate_crisis(crisis, checked["start"], now) if crisis else None
    member = checked["member"]
    key = caller_key(checked["digits"]) or (_member_key(member) if member else None)
    shift = current_shift_for(actor_id, checked["start"])
    call = HotlineCall(
        counselor_id=actor_id,
        shift_id=shift.id if shift else None,
        outside_shift=shift is None,
        kind=data.kind,
        started_at=checked["start"],
        ended_at=checked["end"],
        duration_seconds=int((checked["end"] - checked["start"]).total_seconds()),
        wait_seconds=data.wait_seconds,
        caller_member_id=member.id if member else None,
        member_consent=member is not None,
        caller_key=key,
        repeat_index=_repeat_index(key, member.id if member else None, checked["start"]),
        age_band=data.age_band,
        gender=data.gender,
        summary=checked["summary"],
        action_id=action.id if action else None,
        referral_id=checked["referral"].id if checked["referral"] else None,
        is_risk=crisis is not None,
        created_at=now,
    )
    call.topics = checked["topics"]
    db.session.add(call)
    db.session.flush()
    record = None
    if crisis_checked is not None:
        record = _record_crisis(actor_id, call, member, crisis, crisis_checked, now)
    audit.record(
        actor_id,
        "hotline.call_logged",
        call,
        {
            "risk": call.is_risk,
            "outside_shift": call.outside_shift,
            "member": call.caller_member_id,
            "crisis": record.id if record else None,
        },
    )
    db.session.commit()
    return call


def _record_crisis(
    actor_id: int, call, member, crisis: CrisisInput, checked: dict, now
) -> CrisisRecord:
    rating: rating_rules.Rating = checked["rating"]
    handover = checked["handover"]
    record = CrisisRecord(
        call_id=call.id,
        ideation=rating.ideation,
        plan=rating.plan,
        means=rating.means,
        attempts=rating.attempts,
        hopelessness=rating.hopelessness,
        in_progress=rating.in_progress,
        score=rating.score,
        computed_level=checked["computed"],
        level=checked["level"],
        police_called_at=crisis.police_called_at,
        ambulance_called_at=crisis.ambulance_called_at,
        contact_reached_at=crisis.contact_reached_at,
        contact_note=checked["contact_note"],
        help_arrived_at=crisis.help_arrived_at,
        help_note=checked["help_note"],
        handover_to_id=handover.id if handover else None,
        handover_note=checked["handover_note"],
        handed_over_at=now if handover else None,
        follow_up_owner_id=checked["owner"].id,
        follow_up_due_at=checked["due"],
        follow_up_plan=checked["follow_up_plan"],
        created_by_id=actor_id,
        created_at=now,
    )
    db.session.add(record)
    db.session.flush()
    flag = None
    if member is not None:
        # Same transaction: the flag exists exactly when the call does.
        flag = risk_services.raise_flag(
            member.id,
            source="hotline",
            source_id=call.id,
            level=checked["level"],
            rule=f"hotline:{rating.summary}",
            now=now,
        )
        record.risk_flag_id = flag.id
    link = f"/hotline/crises/{record.id}"
    owner = checked["owner"]
    if owner.id != actor_id:
        _queue(
            owner,
            lambda: _("A hotline crisis follow-up is assigned to you"),
            lambda: _(
                "Crisis call at %(start)s (level: %(level)s). Follow up by %(due)s.",
                start=_fmt(call.started_at),
                level=level_label(record.level),
                due=_fmt(record.follow_up_due_at),
            ),
            link=link,
            dedupe_key=f"hotline-crisis:{record.id}:owner",
            now=now,
            urgent=True,
        )
    if handover is not None and handover.id not in (actor_id, owner.id):
        _queue(
            handover,
            lambda: _("A hotline crisis was handed over to you"),
            lambda: _(
                "Crisis call at %(start)s (level: %(level)s) was handed over to you.",
                start=_fmt(call.started_at),
                level=level_label(record.level),
            ),
            link=link,
            dedupe_key=f"hotline-crisis:{record.id}:handover:{handover.id}",
            now=now,
            urgent=True,
        )
    audit.record(
        actor_id,
        "hotline.crisis_recorded",
        record,
        {
            "level": record.level,
            "computed": record.computed_level,
            "score": record.score,
            "flag": flag.id if flag else None,
        },
    )
    return record


def level_label(level: str) -> str:
    labels = {
        "critical": _l("critical"),
        "high": _l("high"),
        "elevated": _l("elevated"),
        "none": _l("none"),
    }
    return str(labels.get(level, level))


def view_call(actor, call_id: int) -> HotlineCall:
    """A call record for a counsellor; every view is audited (admins see aggregates only)."""
    actor_id = _require_counselor(actor)
    call = db.session.get(HotlineCall, call_id)
    if call is None:
        raise NotFound(str(_l("No such call.")))
    audit.record(actor_id, "hotline.call_viewed", call)
    db.session.commit()
    return call


def caller_history(call: HotlineCall, limit: int = 20) -> list[HotlineCall]:
    """Earlier calls from the same caller (by number hash or linked member)."""
    same = []
    if call.caller_key:
        same.append(HotlineCall.caller_key == call.caller_key)
    if call.caller_member_id:
        same.append(HotlineCall.caller_member_id == call.caller_member_id)
    if not same:
        return []
    return list(
        db.session.scalars(
            select(HotlineCall)
            .where(or_(*same), HotlineCall.id != call.id)
            .order_by(HotlineCall.started_at.desc(), HotlineCall.id.desc())
            .limit(limit)
        )
    )


def calls_of_member(user_id: int) -> list[HotlineCall]:
    """Calls linked (with consent) to this member, oldest first."""
    return list(
        db.session.scalars(
            select(HotlineCall)
            .where(HotlineCall.caller_member_id == user_id)
            .order_by(HotlineCall.started_at, HotlineCall.id)
        )
    )


def recent_calls(counselor_id: int, now: datetime, hours: int = 24) -> list[HotlineCall]:
    return list(
        db.session.scalars(
            select(HotlineCall)
            .where(
                HotlineCall.counselor_id == counselor_id,
                HotlineCall.started_at >= now - timedelta(hours=hours),
            )
            .order_by(HotlineCall.started_at.desc(), HotlineCall.id.desc())
            .limit(30)
        )
    )


# -------------------------------------------------------------------- crisis records


def get_crisis(crisis_id: int) -> CrisisRecord:
    record = db.session.get(CrisisRecord, crisis_id)
    if record is None:
        raise NotFound(str(_l("No such crisis record.")))
    return record


def view_crisis(actor, crisis_id: int) -> CrisisRecord:
    actor_id = _require_counselor(actor)
    record = get_crisis(crisis_id)
    audit.record(actor_id, "hotline.crisis_viewed", record)
    db.session.commit()
    return record


@dataclass
class CrisisUpdate:
    police_called_at: datetime | None = None
    ambulance_called_at: datetime | None = None
    contact_reached_at: datetime | None = None
    contact_note: str | None = None
    help_arrived_at: datetime | None = None
    help_note: str | None = None
    handover_to_id: int | None = None
    handover_note: str | None = None


def update_crisis(
    actor, crisis_id: int, data: CrisisUpdate, now: datetime | None = None
) -> CrisisRecord:
    """Add action times, confirmation of help and a handover. Recorded times are kept:
    a blank field never erases one."""
    now = now or utcnow()
    actor_id = _require_counselor(actor)
    _begin_locked(actor_id)
    record = get_crisis(crisis_id)
    call_start = record.call.started_at
    earliest = call_start - timedelta(hours=1)
    changed = []
    for name in (
        "police_called_at",
        "ambulance_called_at",
        "contact_reached_at",
        "help_arrived_at",
    ):
        value = getattr(data, name)
        if value is not None and value != getattr(record, name):
            _check_moment(value, name, earliest, now)
            setattr(record, name, value)
            changed.append(name)
    called = [t for t in (record.police_called_at, record.ambulance_called_at) if t]
    if record.help_arrived_at and called and record.help_arrived_at < min(called):
        raise _invalid(
            _l("Help cannot arrive before 110/120 was called."), help_arrived_at="before_call"
        )
    for name in ("contact_note", "help_note"):
        value = (getattr(data, name) or "").strip()
        if len(value) > 200:
            raise _invalid(_l("This text is too long."), **{name: "too_long"})
        if value and value != getattr(record, name):
            setattr(record, name, value)
            changed.append(name)
    note = (data.handover_note or "").strip()
    if len(note) > 2000:
        raise _invalid(_l("This text is too long."), handover_note="too_long")
    if data.handover_to_id:
        target = _active_counselor(data.handover_to_id, "handover_to_id")
        if target.id != record.handover_to_id or note:
            record.handover_to_id = target.id
            record.handover_note = note or record.handover_note
            record.handed_over_at = now
            record.handover_ack_at = None
            changed.append("handover")
            if target.id != actor_id:
                _queue(
                    target,
                    lambda: _("A hotline crisis was handed over to you"),
                    lambda: _(
                        "Crisis call at %(start)s (level: %(level)s) was handed over to you.",
                        start=_fmt(call_start),
                        level=level_label(record.level),
                    ),
                    link=f"/hotline/crises/{record.id}",
                    dedupe_key=f"hotline-crisis:{record.id}:handover:{target.id}:"
                    f"{int(now.timestamp())}",
                    now=now,
                )
    elif note:
        raise _invalid(_l("Choose who takes the handover."), handover_to_id="required")
    if not changed:
        raise InvalidInput(str(_l("Nothing to save.")))
    audit.record(actor_id, "hotline.crisis_updated", record, {"fields": changed})
    db.session.commit()
    return record


def acknowledge_handover(actor, crisis_id: int, now: datetime | None = None) -> CrisisRecord:
    now = now or utcnow()
    actor_id = _require_counselor(actor)
    _begin_locked(actor_id)
    record = get_crisis(crisis_id)
    if record.handover_to_id != actor_id:
        raise NotPermitted(str(_l("This handover is for a colleague.")))
    done = db.session.execute(
        update(CrisisRecord)
        .where(CrisisRecord.id == record.id, CrisisRecord.handover_ack_at.is_(None))
        .values(handover_ack_at=now)
    ).rowcount
    if not done:
        raise Conflict(str(_l("Already acknowledged.")))
    audit.record(actor_id, "hotline.handover_acknowledged", record)
    db.session.commit()
    return record


def reassign_follow_up(actor, crisis_id: int, owner_id: int | None, now=None) -> CrisisRecord:
    actor_id = _require_counselor(actor)
    _begin_locked(actor_id)
    record = get_crisis(crisis_id)
    if record.follow_up_done_at is not None:
        raise Conflict(str(_l("This follow-up is already done.")))
    owner = _active_counselor(owner_id, "owner_id")
    previous = record.follow_up_owner_id
    record.follow_up_owner_id = owner.id
    record.follow_up_reminded_at = None
    audit.record(
        actor_id, "hotline.follow_up_reassigned", record, {"from": previous, "to": owner.id}
    )
    if owner.id != actor_id:
        _queue(
            owner,
            lambda: _("A hotline crisis follow-up is assigned to you"),
            lambda: _(
                "Crisis call at %(start)s (level: %(level)s). Follow up by %(due)s.",
                start=_fmt(record.call.started_at),
                level=level_label(record.level),
                due=_fmt(record.follow_up_due_at),
            ),
            link=f"/hotline/crises/{record.id}",
            dedupe_key=None,
            now=now or utcnow(),
        )
    db.session.commit()
    return record


def complete_follow_up(
    actor, crisis_id: int, note: str, now: datetime | None = None
) -> CrisisRecord:
    """The owner closes the follow-up. When 110/120 was called, the arrival of help must
    be confirmed first (988 policy: confirm that emergency services reached the person)."""
    now = now or utcnow()
    actor_id = _require_counselor(actor)
    _begin_locked(actor_id)
    record = get_crisis(crisis_id)
    if record.follow_up_owner_id != actor_id:
        raise NotPermitted(str(_l("Only the follow-up owner can close it.")))
    note = (note or "").strip()
    if not note or len(note) > 2000:
        raise _invalid(
            _l("Write what the follow-up found (up to 2000 characters)."), note="required"
        )
    if (record.police_called_at or record.ambulance_called_at) and not record.help_arrived_at:
        raise _invalid(
            _l("110/120 was called: confirm that help reached the caller before closing."),
            note="help_unconfirmed",
        )
    done = db.session.execute(
        update(CrisisRecord)
        .where(CrisisRecord.id == record.id, CrisisRecord.follow_up_done_at.is_(None))
        .values(follow_up_done_at=now, follow_up_done_by_id=actor_id, follow_up_note=note)
    ).rowcount
    if not done:
        raise Conflict(str(_l("This follow-up is already done.")))
    audit.record(actor_id, "hotline.follow_up_done", record)
    db.session.commit()
    db.session.refresh(record)
    return record


def open_follow_ups(owner_id: int | None = None) -> list[CrisisRecord]:
    stmt = (
        select(CrisisRecord)
        .where(CrisisRecord.follow_up_done_at.is_(None))
        .order_by(CrisisRecord.follow_up_due_at, CrisisRecord.id)
    )
    if owner_id is not None:
        stmt = stmt.where(CrisisRecord.follow_up_owner_id == owner_id)
    return list(db.session.scalars(stmt))


def handovers_for(counselor_id: int) -> list[CrisisRecord]:
    return list(
        db.session.scalars(
            select(CrisisRecord)
            .where(
                CrisisRecord.handover_to_id == counselor_id,
                CrisisRecord.handover_ack_at.is_(None),
            )
            .order_by(CrisisRecord.handed_over_at)
        )
    )


def remind_follow_ups(now: datetime | None = None) -> int:
    """Sweep: remind owners of overdue crisis follow-ups, once each (claimed by UPDATE)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(CrisisRecord.id).where(
                CrisisRecord.follow_up_done_at.is_(None),
                CrisisRecord.follow_up_due_at <= now,
                CrisisRecord.follow_up_reminded_at.is_(None),
            )
        )
    )
    sent = 0
    for crisis_id in due:
        claimed = db.session.execute(
            update(CrisisRecord)
            .where(CrisisRecord.id == crisis_id, CrisisRecord.follow_up_reminded_at.is_(None))
            .values(follow_up_reminded_at=now)
        ).rowcount
        if not claimed:
            continue
        record = db.session.get(CrisisRecord, crisis_id)
        _queue(
            record.follow_up_owner,
            lambda record=record: _("Overdue: hotline crisis follow-up"),
            lambda record=record: _(
                "The follow-up of the crisis call at %(start)s was due at %(due)s.",
                start=_fmt(record.call.started_at),
                due=_fmt(record.follow_up_due_at),
            ),
            link=f"/hotline/crises/{record.id}",
            dedupe_key=f"hotline-crisis:{record.id}:overdue:{record.follow_up_owner_id}",
            now=now,
        )
        sent += 1
    db.session.commit()
    return sent


# ------------------------------------------------------------------------ supervisor


def _suppress(count: int) -> int | None:
    """Small cells (1 to K-1) are hidden in aggregates; 0 stays 0."""
    k = int(_cfg("SMALL_CELL_K", 5))
    return None if 0 < count < k else count


def supervisor_report(start: datetime, end: datetime, now: datetime) -> dict:
    """Aggregates for supervisors: no notes, no caller identities."""
    rows = db.session.execute(
        select(
            HotlineCall.id,
            HotlineCall.started_at,
            HotlineCall.kind,
            HotlineCall.duration_seconds,
            HotlineCall.wait_seconds,
            HotlineCall.outside_shift,
            HotlineCall.repeat_index,
            HotlineCall.is_risk,
        ).where(HotlineCall.started_at >= start, HotlineCall.started_at < end)
    ).all()
    per_hour = [[0] * 7 for _hour in range(24)]
    kinds: Counter[str] = Counter()
    waits, durations = [], []
    outside = repeat = risk = 0
    for row in rows:
        at = local(row.started_at)
        per_hour[at.hour][at.weekday()] += 1
        kinds[row.kind] += 1
        if row.wait_seconds is not None:
            waits.append(row.wait_seconds)
        if row.kind == CallKind.ANSWERED.value:
            durations.append(row.duration_seconds)
        outside += row.outside_shift
        repeat += row.repeat_index > 1
        risk += row.is_risk
    offered = len(rows)
    reached = kinds[CallKind.ANSWERED.value] + kinds[CallKind.SILENT.value]
    topic_rows = db.session.execute(
        select(HotlineCall.started_at, HotlineTerm.id)
        .join(HotlineCall.topics)
        .where(HotlineCall.started_at >= start, HotlineCall.started_at < end)
    ).all()
    months: dict[str, Counter[int]] = defaultdict(Counter)
    for at, term_id in topic_rows:
        months[local(at).strftime("%Y-%m")][term_id] += 1
    topic_ids = sorted({term_id for _at, term_id in topic_rows})
    terms = {t.id: t for t in list_terms(TermKind.TOPIC.value)}
    topics_by_month = {
        month: {tid: _suppress(counter.get(tid, 0)) for tid in topic_ids}
        for month, counter in sorted(months.items())
    }
    crises = list(
        db.session.scalars(
            select(CrisisRecord)
            .join(HotlineCall, CrisisRecord.call_id == HotlineCall.id)
            .where(
                or_(
                    and_(HotlineCall.started_at >= start, HotlineCall.started_at < end),
                    CrisisRecord.follow_up_done_at.is_(None),
                )
            )
            .order_by(HotlineCall.started_at.desc(), CrisisRecord.id.desc())
        )
    )
    past_end = min(end, now)
    hours = coverage(start, past_end) if past_end > start else []
    return {
        "offered": offered,
        "kinds": dict(kinds),
        "answer_rate": round(100.0 * reached / offered, 1) if offered else None,
        "mean_wait": round(sum(waits) / len(waits)) if waits else None,
        "mean_minutes": round(sum(durations) / len(durations) / 60, 1) if durations else None,
        "outside_shift": outside,
        "repeat": repeat,
        "risk": risk,
        "per_hour": per_hour,
        "per_hour_max": max((max(r) for r in per_hour), default=0),
        "topics": [terms[tid] for tid in topic_ids if tid in terms],
        "topics_by_month": topics_by_month,
        "crises": crises,
        "compliance": roster.compliance(hours),
        "past_gaps": roster.find_gaps(hours)[-20:],
    }


# ------------------------------------------------------------------------- retention


def retention_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=retention_days())


def purge_expired(now: datetime | None = None) -> int:
    """Sweep: anonymise hotline records older than the retention period (>= 3 years).

    Notes and everything that could identify the caller are removed; the figures that
    reports need (time, duration, age band, gender, topics, action, risk level) stay.
    Idempotent: only rows not yet purged are touched; one audit entry per run.
    """
    now = now or utcnow()
    cutoff = retention_cutoff(now)
    purged = (
        db.session.execute(
            update(HotlineCall)
            .where(HotlineCall.started_at < cutoff, HotlineCall.purged_at.is_(None))
            .values(
                summary=None,
                caller_member_id=None,
                member_consent=False,
                caller_key=None,
                purged_at=now,
            )
            .returning(HotlineCall.id)
        )
        .scalars()
        .all()
    )
    if purged:
        db.session.execute(
            update(CrisisRecord)
            .where(CrisisRecord.call_id.in_(purged))
            .values(
                contact_note=None,
                help_note=None,
                handover_note=None,
                follow_up_plan=None,
                follow_up_note=None,
            )
        )
        audit.record(
            None,
            "hotline.retention_purge",
            ("hotline_calls", "retention"),
            {
                "count": len(purged),
                "cutoff": cutoff.isoformat(),
                "retention_days": retention_days(),
                "first_id": min(purged),
                "last_id": max(purged),
            },
            at=now,
        )
    db.session.commit()
    return len(purged)


def deidentify_member(user_id: int, now: datetime | None = None) -> int:
    """For the member-deletion flow: hotline records must be kept (>= 3 years), so they are
    de-identified instead of deleted. Returns how many records were de-identified, so the
    member can be told. Joins the caller's transaction and does not commit.

    The link to the member, their consent flag and the keyed hash of their number are
    removed (also from calls they made anonymously from that number); the counsellor's
    notes stay as the record the guideline requires.
    """
    now = now or utcnow()
    user = db.session.get(User, user_id)
    which = [HotlineCall.caller_member_id == user_id]
    key = _member_key(user) if user is not None else None
    if key:
        which.append(HotlineCall.caller_key == key)
    ids = (
        db.session.execute(
            update(HotlineCall)
            .where(or_(*which))
            .values(
                caller_member_id=None, member_consent=False, caller_key=None, deidentified_at=now
            )
            .returning(HotlineCall.id)
        )
        .scalars()
        .all()
    )
    audit.record(
        None,
        "hotline.member_deidentified",
        ("users", user_id),
        {"count": len(ids)},
        at=now,
    )
    return len(ids)
