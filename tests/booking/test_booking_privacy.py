"""A member's bookings in the data export, on account deletion, and on the case timeline."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.booking.factories import MONDAY, NOW, TUESDAY, attached, bj, stamp
from wellness.booking import privacy, services, timeline
from wellness.booking.models import Appointment, BookingCell, SessionNote, WaitlistEntry
from wellness.extensions import db


def slot(world, day, hh):
    service = world.services["individual"]
    return f"c{world.counselor.id}-{world.station}-{service}-{stamp(day, hh)}"


def test_export_erase_and_timeline(app, world, make_user):
    member, waiting = make_user("worker"), make_user("worker")
    with app.app_context():
        past = services.book(attached(member), slot(world, MONDAY, 10), now=NOW).appointment
        ahead = services.book(attached(member), slot(world, TUESDAY, 10), now=NOW).appointment
        services.join_day_waitlist(attached(waiting), world.station, "individual", TUESDAY, now=NOW)
        services.add_note(attached(world.counselor), past.id, "焦虑，睡眠差")
        exported = privacy.export_for(member.id)
        assert [a["reference"] for a in exported["appointments"]] == [
            past.reference,
            ahead.reference,
        ]
        assert "焦虑" not in str(exported)
        events = timeline.events_for(member.id)
        assert [e.kind for e in events] == ["appointment", "appointment"]
        assert "王静" in events[0].title
        later = bj(MONDAY, 11)
        notice = privacy.erase_for(member.id, later)
        db.session.commit()
        assert notice is not None and "1" in str(notice)
        assert db.session.get(Appointment, past.id).status == "booked"  # past visits stay
        assert db.session.get(Appointment, ahead.id).status == "cancelled"
        assert db.session.scalar(select(func.count(SessionNote.id))) == 0
        # The freed Tuesday time went to the member waiting for it.
        held = db.session.scalar(select(Appointment).where(Appointment.user_id == waiting.id))
        assert held.status == "held" and held.starts_at == bj(TUESDAY, 10)
        assert (
            db.session.scalar(
                select(func.count(BookingCell.id)).where(BookingCell.appointment_id == ahead.id)
            )
            == 0
        )
        assert db.session.scalar(select(WaitlistEntry.status)) == "offered"
