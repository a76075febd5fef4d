"""Risk's answer to "who is on this person's case team": the counsellor holding the
person's unresolved, claimed flag (there is at most one unresolved flag per person)."""

from __future__ import annotations

from sqlalchemy import select

from wellness.extensions import db
from wellness.risk.models import FlagStatus, RiskFlag


def counselors_for(person_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(RiskFlag.claimed_by_id).where(
                RiskFlag.person_id == person_id,
                RiskFlag.status == FlagStatus.CLAIMED.value,
                RiskFlag.claimed_by_id.is_not(None),
            )
        )
    )
