"""Risk use cases. ``raise_flag`` never commits: it joins the caller's transaction, so a
flag exists exactly when the assessment or call that raised it exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from wellness import audit, timeline
from wellness.auth import services as auth_services
from wellness.auth.models import User
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.risk.models import (
    ContactAttempt,
    ContactChannel,
    FlagLevel,
    FlagSource,
    FlagStatus,
    FollowUp,
    FollowUpKind,
    Outcome,
    RiskFlag,
    RiskTrigger,
    SafetyPlan,
)
from wellness.timeline import TimelineEvent


def claim_deadline(level: str, since: datetime) -> datetime:
    minutes = current_app.config["RISK_CLAIM_MINUTES"][level]
    return since + timedelta(minutes=minutes)


def open_flag_for(person_id: int) -> RiskFlag | None:
    return db.session.scalar(
        select(RiskFlag).where(
            RiskFlag.person_id == person_id, RiskFlag.status != FlagStatus.RESOLVED.value
        )
    )


def _attach(
    flag: RiskFlag, level: FlagLevel, source: str, source_id: str | None, rule: str, now: datetime
) -> RiskFlag:
    flag.trigger_count += 1
    flag.last_triggered_at = now
    if level.rank > FlagLevel(flag.level).rank:
        flag.level = level.value
        flag.rule = rule
        flag.source, flag.source_id = source, source_id
        if flag.status == FlagStatus.OPEN.value:
            # A higher level tightens the claim deadline; it never loosens it.
            flag.due_at = min(flag.due_at, claim_deadline(level.value, now))
            flag.escalated_at = None if flag.due_at > now else flag.escalated_at
    db.session.add(
        RiskTrigger(
            flag_id=flag.id,
            source=source,
            source_id=source_id,
            level=level.value,
            rule=rule,
            at=now,
        )
    )
    audit.record(None, "risk.flag_retriggered", flag, {"level": level.value, "rule": rule})
    return flag


def raise_flag(
    person_id: int,
    *,
    source: str,
    source_id: str | int | None,
    level: str,
    rule: str,
    now: datetime | None = None,
) -> RiskFlag:
    """Open a flag for ``person_id`` or attach to their open one (raising its level).

    Joins the caller's transaction and does not commit. Safe under concurrency: a partial
    unique index allows one unresolved flag per person; a racing insert falls back to
    attaching to the winner's flag.
    """
    now = now or utcnow()
    try:
        flag_level = FlagLevel(level)
        FlagSource(source)
    except ValueError:
        raise InvalidInput("unknown risk level or source", {"level": "invalid"}) from None
    sid = None if source_id is None else str(source_id)
    existing = open_flag_for(person_id)
    if existing is not None:
        return _attach(existing, flag_level, source, sid, rule, now)
    flag = RiskFlag(
        person_id=person_id,
        org_unit_id=getattr(db.session.get(User, person_id), "org_unit_id", None),
        source=source,
        source_id=sid,
        level=flag_level.value,
        rule=rule,
        status=FlagStatus.OPEN.value,
        created_at=now,
        last_triggered_at=now,
        due_at=claim_deadline(flag_level.value, now),
    )
    try:
        with db.session.begin_nested():
            db.session.add(flag)
            db.session.flush()
    except IntegrityError:
        existing = open_flag_for(person_id)
        if existing is None:
            raise
        return _attach(existing, flag_level, source, sid, rule, now)
    db.session.add(
        RiskTrigger(
            flag_id=flag.id, source=source, source_id=sid, level=flag_level.value, rule=rule, at=now
        )
    )
    audit.record(
        None, "risk.flag_raised", flag, {"level": flag_level.value, "rule": rule, "source": source}
    )
    from wellness.risk import assignment  # noqa: PLC0415 (assignment imports this module's peers)

    if assignment.enabled():
        assignment.auto_assign(flag, now)
    return flag


# ------------------------------------------------------------------------------ the queue

LEVEL_ORDER = case(
    (RiskFlag.level == FlagLevel.CRITICAL.value, 3),
    (RiskFlag.level == FlagLevel.HIGH.value, 2),
    else_=1,
)


@dataclass(frozen=True)
class QueueFilter:
    level: str | None = None
    mine: bool = False
    org_unit_id: int | None = None
    include_claimed: bool = True


def queue_stmt(counselor: User, filters: QueueFilter | None = None):
    """Unresolved flags: most severe first, then the nearest deadline."""
    filters = filters or QueueFilter()
    stmt = select(RiskFlag).where(RiskFlag.status != FlagStatus.RESOLVED.value)
    if filters.level:
        stmt = stmt.where(RiskFlag.level == filters.level)
    if filters.mine:
        stmt = stmt.where(RiskFlag.claimed_by_id == counselor.id)
    if not filters.include_claimed:
        stmt = stmt.where(RiskFlag.status == FlagStatus.OPEN.value)
    if filters.org_unit_id:
        units = auth_services.descendant_ids(filters.org_unit_id)
        stmt = stmt.join(User, User.id == RiskFlag.person_id).where(User.org_unit_id.in_(units))
    return stmt.order_by(LEVEL_ORDER.desc(), RiskFlag.due_at, RiskFlag.id)


def queue(counselor: User, filters: QueueFilter | None = None, limit: int = 200) -> list[RiskFlag]:
    return list(db.session.scalars(queue_stmt(counselor, filters).limit(limit)))


def people_by_id(ids) -> dict[int, User]:
    ids = set(ids)
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def get_flag(flag_id: int) -> RiskFlag:
    flag = db.session.get(RiskFlag, flag_id)
    if flag is None:
        raise NotFound(str(_l("No such case.")))
    return flag


def can_handle(user: User, flag: RiskFlag) -> bool:
    """The counsellor holding the case (or who resolved it) may see the person's record."""
    return user.role == "counselor" and user.id in (flag.claimed_by_id, flag.resolved_by_id)


def flag_for_handler(user: User, flag_id: int) -> RiskFlag:
    flag = get_flag(flag_id)
    if not can_handle(user, flag):
        raise NotPermitted(str(_l("Only the counsellor handling this case can open it.")))
    return flag


def claim(counselor: User, flag_id: int, now: datetime | None = None) -> RiskFlag:
    """Atomic: of two counsellors claiming at once, exactly one wins; the other learns who."""
    now = now or utcnow()
    won = db.session.execute(
        update(RiskFlag)
        .where(RiskFlag.id == flag_id, RiskFlag.status == FlagStatus.OPEN.value)
        .values(status=FlagStatus.CLAIMED.value, claimed_by_id=counselor.id, claimed_at=now)
    ).rowcount
    if not won:
        db.session.rollback()
        flag = get_flag(flag_id)
        if flag.status == FlagStatus.CLAIMED.value and flag.claimed_by_id == counselor.id:
            return flag
        holder = db.session.get(User, flag.claimed_by_id) if flag.claimed_by_id else None
        if flag.status == FlagStatus.RESOLVED.value:
            raise Conflict(str(_l("This case is already resolved.")), {"flag": "resolved"})
        raise Conflict(
            str(_l("%(name)s is already handling this case.", name=holder.name if holder else "?")),
            {"flag": "claimed"},
        )
    flag = get_flag(flag_id)
    audit.record(counselor, "risk.claim", flag)
    db.session.commit()
    return flag


def log_contact(
    counselor: User,
    flag_id: int,
    channel: str,
    reached: bool,
    note: str = "",
    now: datetime | None = None,
) -> ContactAttempt:
    now = now or utcnow()
    flag = flag_for_handler(counselor, flag_id)
    if flag.status != FlagStatus.CLAIMED.value:
        raise Conflict(str(_l("Claim the case before logging contacts.")), {"flag": "not_claimed"})
    if channel not in {c.value for c in ContactChannel}:
        raise InvalidInput(str(_l("Choose how you made contact.")), {"channel": "invalid"})
    attempt = ContactAttempt(
        flag_id=flag.id,
        counselor_id=counselor.id,
        at=now,
        channel=channel,
        reached=bool(reached),
        note=(note or "").strip()[:2000] or None,
    )
    db.session.add(attempt)
    db.session.flush()
    audit.record(counselor, "risk.contact", flag, {"channel": channel, "reached": bool(reached)})
    db.session.commit()
    return attempt


def resolve(
    counselor: User,
    flag_id: int,
    outcome: str | None,
    note: str = "",
    follow_up_days: int | None = None,
    follow_up_kind: str | None = None,
    follow_up_instrument: str | None = None,
    now: datetime | None = None,
) -> RiskFlag:
    now = now or utcnow()
    if not outcome or outcome not in {o.value for o in Outcome}:
        raise InvalidInput(str(_l("Choose an outcome before resolving.")), {"outcome": "required"})
    if follow_up_days is not None and not 1 <= follow_up_days <= 365:
        raise InvalidInput(
            str(_l("A follow-up must be 1 to 365 days away.")), {"follow_up_days": "range"}
        )
    if follow_up_days is not None and follow_up_kind not in {k.value for k in FollowUpKind}:
        raise InvalidInput(str(_l("Choose what the follow-up is.")), {"follow_up_kind": "invalid"})
    flag = flag_for_handler(counselor, flag_id)
    done = db.session.execute(
        update(RiskFlag)
        .where(
            RiskFlag.id == flag.id,
            RiskFlag.status == FlagStatus.CLAIMED.value,
            RiskFlag.claimed_by_id == counselor.id,
        )
        .values(
            status=FlagStatus.RESOLVED.value,
            resolved_at=now,
            resolved_by_id=counselor.id,
            outcome=outcome,
            resolution_note=(note or "").strip()[:4000] or None,
        )
    ).rowcount
    if not done:
        db.session.rollback()
        raise Conflict(str(_l("Only a case you hold can be resolved.")), {"flag": "not_claimed"})
    if follow_up_days is not None:
        db.session.add(
            FollowUp(
                flag_id=flag.id,
                person_id=flag.person_id,
                kind=follow_up_kind,
                instrument=follow_up_instrument,
                due_at=now + timedelta(days=follow_up_days),
                assigned_to_id=counselor.id,
                created_by_id=counselor.id,
                created_at=now,
            )
        )
    audit.record(counselor, "risk.resolve", flag, {"outcome": outcome})
    db.session.commit()
    db.session.refresh(flag)
    return flag


def reopen(counselor: User, flag_id: int, now: datetime | None = None) -> RiskFlag:
    now = now or utcnow()
    flag = flag_for_handler(counselor, flag_id)
    if flag.status != FlagStatus.RESOLVED.value:
        raise Conflict(str(_l("Only a resolved case can be reopened.")), {"flag": "open"})
    flag.status = FlagStatus.CLAIMED.value
    flag.claimed_by_id, flag.claimed_at = counselor.id, now
    flag.resolved_at = flag.resolved_by_id = flag.outcome = None
    flag.reopened_count += 1
    flag.escalated_at = None
    flag.due_at = claim_deadline(flag.level, now)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            str(_l("This person already has another open case.")), {"flag": "open_elsewhere"}
        ) from None
    audit.record(counselor, "risk.reopen", flag)
    db.session.commit()
    return flag


def contacts_for(flag_id: int) -> list[ContactAttempt]:
    return list(
        db.session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.flag_id == flag_id)
            .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
        )
    )


def flags_for_person(person_id: int) -> list[RiskFlag]:
    return list(
        db.session.scalars(
            select(RiskFlag)
            .where(RiskFlag.person_id == person_id)
            .order_by(RiskFlag.created_at.desc())
        )
    )


def triggers_for(flag_id: int) -> list[RiskTrigger]:
    return list(
        db.session.scalars(
            select(RiskTrigger)
            .where(RiskTrigger.flag_id == flag_id)
            .order_by(RiskTrigger.at.desc())
        )
    )


def open_case_view(counselor: User, flag_id: int) -> tuple[RiskFlag, User, list[TimelineEvent]]:
    """The case page: the flag, the person and their timeline. Every view is audited."""
    flag = flag_for_handler(counselor, flag_id)
    person = db.session.get(User, flag.person_id)
    events = timeline.events_for(flag.person_id)
    audit.record(counselor, "risk.view_case", flag, {"person_id": flag.person_id})
    db.session.commit()
    return flag, person, events


# ------------------------------------------------------------------------------ follow-ups


def follow_ups_due(
    counselor: User, now: datetime | None = None, horizon: timedelta = timedelta(days=1)
) -> list[FollowUp]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(FollowUp)
            .where(
                FollowUp.done_at.is_(None),
                FollowUp.due_at <= now + horizon,
                FollowUp.assigned_to_id == counselor.id,
            )
            .order_by(FollowUp.due_at)
        )
    )


def overdue_count(counselor: User, now: datetime | None = None) -> int:
    now = now or utcnow()
    flags = (
        db.session.scalar(
            select(func.count(RiskFlag.id)).where(
                RiskFlag.status == FlagStatus.OPEN.value, RiskFlag.due_at <= now
            )
        )
        or 0
    )
    follow_ups = (
        db.session.scalar(
            select(func.count(FollowUp.id)).where(
                FollowUp.done_at.is_(None),
                FollowUp.due_at <= now,
                FollowUp.assigned_to_id == counselor.id,
            )
        )
        or 0
    )
    return flags + follow_ups


def complete_follow_up(
    counselor: User, follow_up_id: int, note: str = "", now: datetime | None = None
) -> FollowUp:
    now = now or utcnow()
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.assigned_to_id != counselor.id:
        raise NotFound(str(_l("No such follow-up.")))
    done = db.session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.done_at.is_(None))
        .values(done_at=now, done_by_id=counselor.id, note=(note or "").strip()[:2000] or None)
    ).rowcount
    if not done:
        db.session.rollback()
        raise Conflict(str(_l("This follow-up is already done.")), {"follow_up": "done"})
    audit.record(counselor, "risk.follow_up_done", follow_up)
    db.session.commit()
    return follow_up


# ------------------------------------------------------------------------------ safety plans

SAFETY_PLAN_FIELDS = (
    "warning_signs",
    "coping_steps",
    "people_places",
    "contacts",
    "safe_environment",
)


def latest_safety_plan(person_id: int) -> SafetyPlan | None:
    return db.session.scalar(
        select(SafetyPlan)
        .where(SafetyPlan.person_id == person_id)
        .order_by(SafetyPlan.version.desc())
        .limit(1)
    )


def save_safety_plan(
    counselor: User, flag_id: int, fields: dict[str, str], now: datetime | None = None
) -> SafetyPlan:
    now = now or utcnow()
    flag = flag_for_handler(counselor, flag_id)
    values = {name: (fields.get(name) or "").strip()[:4000] for name in SAFETY_PLAN_FIELDS}
    if not any(values.values()):
        raise InvalidInput(
            str(_l("Write at least one part of the plan.")), {"warning_signs": "required"}
        )
    previous = latest_safety_plan(flag.person_id)
    plan = SafetyPlan(
        person_id=flag.person_id,
        version=(previous.version + 1) if previous else 1,
        written_by_id=counselor.id,
        created_at=now,
        **values,
    )
    db.session.add(plan)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            str(_l("Someone saved a newer version just now; reload and try again.")),
            {"warning_signs": "stale"},
        ) from None
    audit.record(counselor, "risk.safety_plan_save", plan, {"version": plan.version})
    person = db.session.get(User, flag.person_id)
    notify.queue(
        person,
        str(_l("Your safety plan")),
        str(
            _l(
                "Your counsellor has written down your safety plan with you. You can "
                "read it any time on your own page."
            )
        ),
        link="/risk/my-safety-plan",
        external=False,
        now=now,
    )
    db.session.commit()
    return plan


# ------------------------------------------------------------------------------ worker side


def request_callback(worker: User, preference: str, now: datetime | None = None) -> RiskFlag:
    now = now or utcnow()
    preference = (preference or "").strip()[:100]
    flag = open_flag_for(worker.id) or raise_flag(
        worker.id,
        source="manual",
        source_id=None,
        level="elevated",
        rule="callback_requested",
        now=now,
    )
    flag.callback_requested_at = now
    flag.callback_preference = preference or None
    audit.record(worker, "risk.callback_request", flag)
    db.session.commit()
    return flag


# ------------------------------------------------------------------------------ escalation


def escalate_overdue(now: datetime | None = None, limit: int = 500) -> int:
    """Mark open flags past their claim deadline as escalated, once, and tell the admins.

    State lives in the database (escalated_at), so restarts lose nothing; the conditional
    UPDATE means a second concurrent run escalates nothing twice; the outbox row commits
    with the mark, so a mail outage only delays the message.
    """
    now = now or utcnow()
    ids = db.session.scalars(
        select(RiskFlag.id)
        .where(
            RiskFlag.status == FlagStatus.OPEN.value,
            RiskFlag.due_at <= now,
            RiskFlag.escalated_at.is_(None),
        )
        .order_by(RiskFlag.due_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    supervisors = list(
        db.session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))
    )
    escalated = 0
    for flag_id in ids:
        won = db.session.execute(
            update(RiskFlag)
            .where(
                RiskFlag.id == flag_id,
                RiskFlag.status == FlagStatus.OPEN.value,
                RiskFlag.escalated_at.is_(None),
                RiskFlag.due_at <= now,
            )
            .values(escalated_at=now)
        ).rowcount
        if not won:
            db.session.rollback()
            continue
        flag = db.session.get(RiskFlag, flag_id)
        for admin in supervisors:
            notify.queue(
                admin,
                f"风险个案超时未认领 / Risk case unclaimed past its deadline (#{flag.id})",
                f"等级 level: {flag.level}; 截止 due: {flag.due_at.isoformat(timespec='minutes')}",
                link=f"/risk/supervise/{flag.id}",
                dedupe_key=f"risk-escalation:{flag.id}:{flag.reopened_count}:{admin.id}",
                urgent=flag.level == FlagLevel.CRITICAL.value,  # through quiet hours
                now=now,
            )
        audit.record(None, "risk.escalate", flag, {"level": flag.level})
        db.session.commit()
        escalated += 1
    return escalated


# ------------------------------------------------------------------------------ supervision


@dataclass(frozen=True)
class SupervisorStats:
    by_level_status: dict[tuple[str, str], int]
    claimed_total: int
    claimed_in_time: int
    median_minutes_to_claim: float | None
    median_minutes_to_resolve: float | None
    escalated: int

    @property
    def sla_percent(self) -> float | None:
        if not self.claimed_total:
            return None
        return round(100 * self.claimed_in_time / self.claimed_total, 1)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    middle = len(values) // 2
    if len(values) % 2:
        return round(values[middle], 1)
    return round((values[middle - 1] + values[middle]) / 2, 1)


def supervisor_stats(since: datetime, until: datetime) -> SupervisorStats:
    """Aggregates only: counts, SLA share and medians; no person is identifiable."""
    in_range = (RiskFlag.created_at >= since) & (RiskFlag.created_at < until)
    counts = {
        (level, status): n
        for level, status, n in db.session.execute(
            select(RiskFlag.level, RiskFlag.status, func.count(RiskFlag.id))
            .where(in_range)
            .group_by(RiskFlag.level, RiskFlag.status)
        )
    }
    rows = db.session.execute(
        select(
            RiskFlag.created_at, RiskFlag.claimed_at, RiskFlag.due_at, RiskFlag.resolved_at
        ).where(in_range, RiskFlag.claimed_at.is_not(None))
    ).all()
    to_claim = [(r.claimed_at - r.created_at).total_seconds() / 60 for r in rows]
    to_resolve = [
        (r.resolved_at - r.created_at).total_seconds() / 60
        for r in rows
        if r.resolved_at is not None
    ]
    in_time = sum(1 for r in rows if r.claimed_at <= r.due_at)
    escalated = (
        db.session.scalar(
            select(func.count(RiskFlag.id)).where(in_range, RiskFlag.escalated_at.is_not(None))
        )
        or 0
    )
    return SupervisorStats(
        counts, len(rows), in_time, _median(to_claim), _median(to_resolve), escalated
    )
