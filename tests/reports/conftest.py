from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from wellness.assessments.instruments import get_instrument
from wellness.assessments.models import AssessmentResponse
from wellness.auth.models import OrgUnit, User
from wellness.extensions import db
from wellness.reports import cache, periods

NOW = datetime(2026, 12, 15, 4, 0, tzinfo=UTC)  # reports end with November 2026
LAST = 202611

# A PHQ-9 answer vector for each band (totals 2, 7, 12, 17, 22).
PHQ9 = {
    "minimal": [0, 0, 1, 1, 0, 0, 0, 0, 0],
    "mild": [1, 1, 1, 1, 1, 1, 1, 0, 0],
    "moderate": [2, 2, 2, 2, 1, 1, 1, 1, 0],
    "moderately_severe": [2, 2, 2, 2, 2, 2, 2, 2, 1],
    "severe": [3, 3, 3, 3, 3, 3, 2, 1, 1],
}

_phones = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_caches(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REPORTS_DATA_CHECK_SECONDS", 0)  # see new data at once
    # charts of this test only (several test runs may share the working tree's instance/)
    monkeypatch.setitem(app.config, "REPORTS_CACHE_DIR", str(tmp_path / "report_cache"))
    with app.app_context():
        cache.clear_all()
    yield
    with app.app_context():
        cache.clear_all()


@pytest.fixture
def frozen():
    """Freeze the clock at NOW (views call utcnow())."""
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def org(app):
    """城市总工会 > 甲区 (with its own members) > 甲一厂, 甲二厂; 城市总工会 > 乙区 > 乙一厂."""
    with app.app_context():
        city = OrgUnit(name="城市总工会", kind="city")
        db.session.add(city)
        db.session.flush()
        a = OrgUnit(name="甲区总工会", kind="district", parent_id=city.id)
        b = OrgUnit(name="乙区总工会", kind="district", parent_id=city.id)
        db.session.add_all([a, b])
        db.session.flush()
        a1 = OrgUnit(name="甲一厂工会", parent_id=a.id)
        a2 = OrgUnit(name="甲二厂工会", parent_id=a.id)
        b1 = OrgUnit(name="乙一厂工会", parent_id=b.id)
        db.session.add_all([a1, a2, b1])
        db.session.commit()
        return {
            "city": city.id,
            "a": a.id,
            "b": b.id,
            "a1": a1.id,
            "a2": a2.id,
            "b1": b1.id,
        }


def make_workers(unit_id: int | None, n: int) -> list[int]:
    users = [
        User(
            phone=f"+86136{next(_phones):08d}",
            name="职工",
            role="worker",
            password_hash="x",
            org_unit_id=unit_id,
        )
        for _i in range(n)
    ]
    db.session.add_all(users)
    db.session.flush()
    return [u.id for u in users]


def add_result(
    user_id: int, unit_id: int | None, band: str, month: int, day: int = 10, code="phq9"
):
    inst = get_instrument(code)
    answers = PHQ9[band] if code == "phq9" else None
    result = inst.score(answers)
    assert result.band == band
    at = periods.month_start(month) + timedelta(days=day - 1, hours=3)
    db.session.add(
        AssessmentResponse(
            user_id=user_id,
            instrument=code,
            instrument_version=inst.version,
            language="zh",
            answers=list(result.answers),
            total=result.total,
            percent=result.percent,
            band=result.band,
            risk=result.risk,
            level=result.level,
            critical_items=list(result.critical_items),
            rule=result.rule,
            created_at=at,
            org_unit_id=unit_id,
        )
    )


def populate(unit_id: int | None, month: int, bands: dict[str, int]) -> list[int]:
    """New workers in ``unit_id``, one PHQ-9 result each in ``month``."""
    ids = []
    for band, count in bands.items():
        for user_id in make_workers(unit_id, count):
            add_result(user_id, unit_id, band, month)
            ids.append(user_id)
    return ids


BUSY = {"minimal": 30, "mild": 20, "moderate": 12, "moderately_severe": 8, "severe": 6}
