"""Optional round-robin auto-assignment (config ``RISK_AUTO_ASSIGN``, default off).

When ``raise_flag`` opens a NEW flag, it is claimed on behalf of the on-duty counsellor
(wellness.duty) holding the fewest open cases; ties go to the one assigned least recently,
then the lowest id. Nobody on duty -> the flag stays open in the queue. Joins the caller's
transaction (no commit); the claim is a conditional UPDATE on an still-open, unclaimed flag.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from wellness import audit, duty
from wellness.auth.models import Role, User
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.risk.models import FlagLevel, FlagStatus, RiskFlag, RiskTransfer

AUTO_ASSIGN_REASON = "auto_assign"


def enabled() -> bool:
    return bool(current_app.config.get("RISK_AUTO_ASSIGN", False))


def pick_counselor(now: datetime) -> User | None:
    """The least-loaded on-duty active counsellor, or None."""
    ids = duty.on_duty(now)
    if not ids:
        return None
    candidates = list(
        db.session.scalars(
            select(User).where(
                User.id.in_(ids), User.role == Role.COUNSELOR.value, User.active.is_(True)
            )
        )
    )
    if not candidates:
        return None
    cand_ids = [c.id for c in candidates]
    load = dict(
        db.session.execute(
            select(RiskFlag.claimed_by_id, func.count(RiskFlag.id))
            .where(
                RiskFlag.status == FlagStatus.CLAIMED.value, RiskFlag.claimed_by_id.in_(cand_ids)
            )
            .group_by(RiskFlag.claimed_by_id)
        ).all()
    )
    last: dict[int, datetime] = {}
    for uid, at in db.session.execute(
        select(RiskFlag.claimed_by_id, func.max(RiskFlag.claimed_at))
        .where(RiskFlag.claimed_by_id.in_(cand_ids))
        .group_by(RiskFlag.claimed_by_id)
    ):
        if at is not None:
            last[uid] = at
    for uid, at in db.session.execute(
        select(RiskTransfer.to_id, func.max(RiskTransfer.at))
        .where(RiskTransfer.to_id.in_(cand_ids))
        .group_by(RiskTransfer.to_id)
    ):
        if at is not None and (uid not in last or _utc(at) > _utc(last[uid])):
            last[uid] = at

    def key(user: User):
        at = last.get(user.id)
        return (load.get(user.id, 0), at is not None, _utc(at) if at else None, user.id)

    return min(candidates, key=key)


def _utc(value: datetime) -> datetime:
    # Aggregates (max) can come back naive on SQLite: they skip the column type.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def auto_assign(flag: RiskFlag, now: datetime) -> User | None:
    """Claim the new ``flag`` for the picked counsellor; returns them, or None."""
    counselor = pick_counselor(now)
    if counselor is None:
        return None
    won = db.session.execute(
        update(RiskFlag)
        .where(
            RiskFlag.id == flag.id,
            RiskFlag.status == FlagStatus.OPEN.value,
            RiskFlag.claimed_by_id.is_(None),
        )
        .values(status=FlagStatus.CLAIMED.value, claimed_by_id=counselor.id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return None
    db.session.refresh(flag)
    db.session.add(
        RiskTransfer(
            flag_id=flag.id,
            from_id=None,
            to_id=counselor.id,
            by_id=counselor.id,
            reason=AUTO_ASSIGN_REASON,
            note=None,
            at=now,
        )
    )
    audit.record(None, "risk.auto_assign", flag, {"to": counselor.id, "reason": AUTO_ASSIGN_REASON})
    notify.queue(
        counselor,
        str(_l("A risk case was assigned to you (#%(id)s)", id=flag.id)),
        str(_l("Open it in your risk queue; its level is %(level)s.", level=flag.level)),
        link=f"/risk/flags/{flag.id}",
        dedupe_key=f"risk.auto_assign:{flag.id}",
        urgent=flag.level == FlagLevel.CRITICAL.value,
        now=now,
    )
    return counselor
