"""A member's risk-queue records: export what concerns them, erase on request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from wellness.extensions import db
from wellness.risk.models import (
    ContactAttempt,
    FollowUp,
    RiskFlag,
    RiskTransfer,
    RiskTrigger,
    SafetyPlan,
)


def export_for(user_id: int) -> dict:
    flags = db.session.scalars(
        select(RiskFlag).where(RiskFlag.person_id == user_id).order_by(RiskFlag.created_at)
    ).all()
    plans = db.session.scalars(
        select(SafetyPlan).where(SafetyPlan.person_id == user_id).order_by(SafetyPlan.version)
    ).all()
    return {
        "follow_up_cases": [
            {
                "created_at": f.created_at.isoformat(timespec="seconds"),
                "status": f.status,
                "outcome": f.outcome,
            }
            for f in flags
        ],
        "safety_plans": [
            {
                "version": p.version,
                "created_at": p.created_at.isoformat(timespec="seconds"),
                "warning_signs": p.warning_signs,
                "coping_steps": p.coping_steps,
                "people_places": p.people_places,
                "contacts": p.contacts,
                "safe_environment": p.safe_environment,
            }
            for p in plans
        ],
    }


def erase_for(user_id: int, now: datetime) -> None:
    # Contacts and triggers go with their flags (ON DELETE CASCADE on every database;
    # deleted explicitly as well so SQLite without foreign keys behaves the same).
    flag_ids = select(RiskFlag.id).where(RiskFlag.person_id == user_id)
    db.session.execute(delete(ContactAttempt).where(ContactAttempt.flag_id.in_(flag_ids)))
    db.session.execute(delete(RiskTrigger).where(RiskTrigger.flag_id.in_(flag_ids)))
    db.session.execute(delete(RiskTransfer).where(RiskTransfer.flag_id.in_(flag_ids)))
    db.session.execute(delete(FollowUp).where(FollowUp.person_id == user_id))
    db.session.execute(delete(SafetyPlan).where(SafetyPlan.person_id == user_id))
    db.session.execute(delete(RiskFlag).where(RiskFlag.person_id == user_id))
    return None
