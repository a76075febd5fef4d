"""Risk use cases. ``raise_flag`` never commits: it joins the caller's transaction, so a
flag exists exactly when the assessment or call that raised it exists."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wellness import audit
from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.risk.models import FlagLevel, FlagSource, FlagStatus, RiskFlag, RiskTrigger


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
    return flag
