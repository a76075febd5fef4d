"""Hotline fixtures: taxonomy ids and shifts with staff (the fixed clock and the call
builders are in hotline_support.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import HotlineTerm, Shift, ShiftAssignment


@pytest.fixture
def terms(app) -> dict[str, dict[str, int]]:
    """The standard taxonomy: {"topic": {code: id}, "action": {...}, "referral": {...}}."""
    with app.app_context():
        services.ensure_builtin_terms()
        db.session.commit()
        found: dict[str, dict[str, int]] = {}
        for term in db.session.scalars(db.select(HotlineTerm)):
            found.setdefault(term.kind, {})[term.code] = term.id
        return found


@pytest.fixture
def make_shift(app):
    """make_shift(start, hours, seats=2, staff=[users], mode="seated") -> shift id."""

    def make(start: datetime, hours: float, seats: int = 2, staff=(), mode: str = "seated"):
        with app.app_context():
            shift = Shift(
                name="测试班次",
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
                seats_needed=seats,
                mode=mode,
                filled=len(staff),
            )
            db.session.add(shift)
            db.session.flush()
            for user in staff:
                db.session.add(ShiftAssignment(shift_id=shift.id, counselor_id=user.id))
            db.session.commit()
            return shift.id

    return make
