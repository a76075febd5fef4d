"""Hotline roster answer to wellness.duty: the counsellors holding an active seat on a
shift that is running at ``now`` (not cancelled, starts_at <= now < ends_at). Read-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from wellness.extensions import db
from wellness.hotline.models import AssignmentStatus, Shift, ShiftAssignment


def on_duty(now: datetime) -> set[int]:
    return set(
        db.session.scalars(
            select(ShiftAssignment.counselor_id)
            .join(Shift, Shift.id == ShiftAssignment.shift_id)
            .where(
                ShiftAssignment.status == AssignmentStatus.ACTIVE.value,
                Shift.cancelled_at.is_(None),
                Shift.starts_at <= now,
                Shift.ends_at > now,
            )
        )
    )
