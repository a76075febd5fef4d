from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wellness.extensions import db
from wellness.risk import services

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def make_flag(app, make_user):
    """make_flag(level="critical", person=None, now=NOW) -> flag id (a new worker by default)."""

    def make(level: str = "critical", person=None, now=NOW, source="assessment") -> int:
        person = person or make_user("worker", name="求助者")
        with app.app_context():
            flag = services.raise_flag(
                person.id, source=source, source_id=1, level=level, rule=f"test:{level}", now=now
            )
            db.session.commit()
            return flag.id

    return make
