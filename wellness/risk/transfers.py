"""Handing a case to another counsellor: a supervisor (admin) assigns or reassigns any
unresolved case; the counsellor holding a case transfers it. Always with a reason; the new
and the previous holder are told. Atomic: the UPDATE names the holder it expects, so of two
concurrent transfers of one case exactly one wins and the other gets a 409."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from wellness import audit
from wellness.auth.models import Role, User
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotPermitted
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.risk.models import FlagLevel, FlagStatus, RiskFlag, RiskTransfer, TransferReason
from wellness.risk.services import get_flag


def active_counselors() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.COUNSELOR.value, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def caseloads() -> dict[int, int]:
    """Unresolved cases each counsellor holds."""
    rows = db.session.execute(
        select(RiskFlag.claimed_by_id, func.count(RiskFlag.id))
        .where(RiskFlag.status == FlagStatus.CLAIMED.value)
        .group_by(RiskFlag.claimed_by_id)
    )
    return {holder: count for holder, count in rows if holder is not None}


def transfer(
    actor: User,
    flag_id: int,
    to_user_id: int | None,
    reason: str | None,
    note: str = "",
    now: datetime | None = None,
) -> RiskFlag:
    now = now or utcnow()
    flag = get_flag(flag_id)
    is_supervisor = actor.role == Role.ADMIN.value
    if not is_supervisor and not (
        actor.role == Role.COUNSELOR.value and flag.claimed_by_id == actor.id
    ):
        raise NotPermitted(
            str(_l("Only the counsellor holding this case or a supervisor can hand it over."))
        )
    if flag.status == FlagStatus.RESOLVED.value:
        raise Conflict(str(_l("This case is already resolved.")), {"flag": "resolved"})
    if reason not in {r.value for r in TransferReason}:
        raise InvalidInput(str(_l("Choose a reason for the hand-over.")), {"reason": "invalid"})
    target = db.session.get(User, to_user_id) if to_user_id else None
    if target is None or not target.active or target.role != Role.COUNSELOR.value:
        raise InvalidInput(
            str(_l("Choose an active counsellor to hand the case to.")), {"to_user_id": "invalid"}
        )
    if target.id == flag.claimed_by_id:
        raise Conflict(str(_l("This counsellor already holds the case.")), {"to_user_id": "same"})
    previous = flag.claimed_by_id
    expected = (
        RiskFlag.claimed_by_id.is_(None) if previous is None else RiskFlag.claimed_by_id == previous
    )
    won = db.session.execute(
        update(RiskFlag)
        .where(RiskFlag.id == flag.id, RiskFlag.status == flag.status, expected)
        .values(
            status=FlagStatus.CLAIMED.value,
            claimed_by_id=target.id,
            claimed_at=func.coalesce(RiskFlag.claimed_at, now),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.rollback()
        raise Conflict(
            str(_l("Someone handed this case over just now. Reload and check who holds it.")),
            {"flag": "changed"},
        )
    db.session.add(
        RiskTransfer(
            flag_id=flag.id,
            from_id=previous,
            to_id=target.id,
            by_id=actor.id,
            reason=reason,
            note=(note or "").strip()[:1000] or None,
            at=now,
        )
    )
    audit.record(
        actor, "risk.transfer", flag, {"from": previous, "to": target.id, "reason": reason}
    )
    urgent = flag.level == FlagLevel.CRITICAL.value
    notify.queue(
        target,
        str(_l("A risk case was handed to you (#%(id)s)", id=flag.id)),
        str(_l("Open it in your risk queue; its level is %(level)s.", level=flag.level)),
        link=f"/risk/flags/{flag.id}",
        urgent=urgent,
        now=now,
    )
    if previous is not None and previous != actor.id:
        notify.queue(
            db.session.get(User, previous),
            str(_l("A risk case you held was handed over (#%(id)s)", id=flag.id)),
            str(_l("A supervisor handed this case to %(name)s.", name=target.name)),
            now=now,
        )
    db.session.commit()
    db.session.refresh(flag)
    return flag


def transfers_for(flag_id: int) -> list[RiskTransfer]:
    return list(
        db.session.scalars(
            select(RiskTransfer).where(RiskTransfer.flag_id == flag_id).order_by(RiskTransfer.at)
        )
    )


def supervision_view(admin: User, flag_id: int) -> RiskFlag:
    """What a supervisor opens from an escalation notice: the case's handling, not its
    clinical content. Every view is audited."""
    flag = get_flag(flag_id)
    audit.record(admin, "risk.supervise_case", flag)
    db.session.commit()
    return flag
