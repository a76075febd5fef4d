"""The demo data: stations in three districts, rooms, the menu, counsellors with real
openings, group sessions; seeding twice adds nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from wellness.booking import services
from wellness.booking.models import (
    Appointment,
    GroupSession,
    Room,
    Service,
    Station,
)
from wellness.database import utcnow
from wellness.extensions import db


def test_demo_booking_data(app, runner):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert "stations: 4" in first.output
    with app.app_context():
        stations = db.session.scalars(select(Station)).all()
        assert {s.district for s in stations} == {"江北区", "江南区", "高新区"}
        kinds = set(db.session.scalars(select(Room.kind)))
        assert {"individual", "group", "sand_table", "relaxation"} <= kinds
        codes = set(db.session.scalars(select(Service.code)))
        assert codes == {"individual", "group", "sand_table", "relaxation", "phone", "video"}
        assert db.session.scalar(select(func.count(GroupSession.id))) == 2
        assert db.session.scalar(select(func.count(Appointment.id))) >= 5
        # Every station has bookable individual times within the next week.
        now = utcnow()
        for station in stations:
            found = [
                s
                for day in range(1, 8)
                for s in services.search_slots(
                    station.id, "individual", services.local_today(now) + timedelta(days=day), now
                ).slots
            ]
            assert found, station.name
        counts = {
            "appointments": db.session.scalar(select(func.count(Appointment.id))),
            "stations": len(stations),
        }
        db.session.remove()
    second = runner.invoke(args=["seed", "demo"])
    assert "nothing new" in second.output, second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id))) == counts["appointments"]
        db.session.remove()
