from __future__ import annotations

import pytest
import time_machine
from flask import has_app_context

from tests.booking.factories import NOW, World, add_counselor, add_station, seed_services, weekdays
from wellness.extensions import db


@pytest.fixture
def make_user(make_user):
    """The shared factory, safe to call inside a test's app context: it ends the test
    session's transaction first (file SQLite begins every transaction IMMEDIATE, so an
    open one would hold the write lock against the factory's own session)."""

    def make(role: str = "worker", **fields):
        if has_app_context():
            db.session.commit()
        return make_user(role, **fields)

    return make


@pytest.fixture
def world(app, make_user) -> World:
    """Two stations, the service menu, counsellor 王静 at 江北 (Mon-Fri 9:00-17:30, lunch
    12:00-13:30) and 李明华 at 江北 on Monday mornings and 高新 otherwise."""
    counselor = make_user("counselor", name="王静")
    second = make_user("counselor", name="李明华")
    with app.app_context():
        services = seed_services()
        station, rooms = add_station()
        other, other_rooms = add_station(
            "高新区职工心理服务站", "高新区", 30.20, 120.20, phone="0571-88880003"
        )
        add_counselor(
            counselor.id,
            [station],
            weekdays(station) + [(d, "12:00", "13:30", None, "break") for d in range(5)],
        )
        add_counselor(
            second.id,
            [station, other],
            [(0, "09:00", "12:00", station, "work"), (0, "13:00", "17:00", other, "work")]
            + weekdays(other, "09:00", "17:00", range(1, 5)),
        )
    return World(services, station, rooms, other, other_rooms, counselor, second)


@pytest.fixture
def at_now():
    """Freeze the clock at the tests' Monday 08:00 (Beijing); it keeps ticking."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller
