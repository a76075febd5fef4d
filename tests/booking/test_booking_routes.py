"""Booking pages: the member journey, bad input, the counsellor side and the admin side."""

from __future__ import annotations

import icalendar
import pytest
import time_machine
from sqlalchemy import func, select

from tests.booking.factories import MONDAY, NOW, TUESDAY, bj, stamp
from wellness.audit import AuditEvent
from wellness.booking import services
from wellness.booking.models import (
    Appointment,
    AvailabilityRule,
    BookingCell,
    GroupSession,
    Room,
    Station,
    StationClosure,
    TimeOff,
    WaitlistEntry,
)
from wellness.extensions import db

EN = {"Accept-Language": "en"}


def slot(world, counselor, day, hh, mm=0, station=None, service="individual"):
    return (
        f"c{counselor.id}-{station or world.station}-{world.services[service]}-{stamp(day, hh, mm)}"
    )


def count(app, model, *where):
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return n


def book(app, user, slot_id, **kw):
    with app.app_context():
        from wellness.auth.models import User

        result = services.book(db.session.get(User, user.id), slot_id, now=NOW, **kw)
        appointment_id = result.appointment.id if result.appointment else None
        db.session.remove()
    return appointment_id


@pytest.fixture
def worker(at_now, make_user, login_as):
    """A signed-in member; the clock is already at the tests' Monday (the session cookie
    would otherwise be expired in the frozen future)."""
    return login_as(make_user("worker", name="王伟"))


# ----------------------------------------------------------------------------- member pages


def test_station_list_by_distance_and_district(client, world, worker, at_now):
    response = client.get("/booking/?lat=30.21&lon=120.21", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[-2000:]
    assert page.index("高新区职工心理服务站") < page.index("江北区职工心理服务站")
    assert "km away" in page and "Sorted by distance" in page
    page = client.get("/booking/?district=江北区", headers=EN).get_data(as_text=True)
    assert "江北区职工心理服务站" in page and "高新区职工心理服务站" not in page
    # Nonsense input is ignored, never a 500.
    for query in ("lat=999&lon=1", "lat=abc", "district=<script>", "lat=30"):
        assert client.get(f"/booking/?{query}").status_code == 200
    assert 'src="/static/js/booking.js"' in page


def test_slots_page_and_station_page(client, world, worker, at_now):
    response = client.get(f"/booking/stations/{world.station}", headers=EN)
    assert response.status_code == 200 and "Individual counselling" in response.get_data(True)
    page = client.get(
        f"/booking/stations/{world.station}/slots?service=individual&date={MONDAY}",
        headers={"Accept-Language": "zh"},
    ).get_data(as_text=True)
    # 09:00 is inside the 60 minutes' notice at 08:00.
    assert "王静" in page and "李明华" in page and ">10:00<" in page and ">13:30<" in page
    assert ">09:00<" not in page
    assert slot(world, world.counselor, MONDAY, 10) in page
    # Unknown service and a bad date fall back; an unknown station is 404.
    assert (
        client.get(f"/booking/stations/{world.station}/slots?service=x&date=y").status_code == 200
    )
    assert client.get("/booking/stations/999/slots").status_code == 404


def test_book_confirm_download_ics_and_cancel(app, client, world, worker, at_now):
    wanted = slot(world, world.counselor, TUESDAY, 10)
    page = client.get(f"/booking/book?slot={wanted}", headers=EN).get_data(as_text=True)
    assert "Confirm your booking" in page and "王静" in page and "24 hours" in page
    response = client.post("/booking/book", data={"slot_id": wanted, "nonce": "n-1"}, headers=EN)
    assert response.status_code == 302
    location = response.headers["Location"]
    page = client.get(location, headers=EN).get_data(as_text=True)
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        reference, appointment_id = appointment.reference, appointment.id
        db.session.remove()
    assert reference in page and "人民路1号" in page and "calendar.ics" in page
    assert "0571-88880001" in page  # the policy names the station's number

    ics = client.get(f"/booking/appointments/{appointment_id}/calendar.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    event = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    uid = str(event["UID"])
    assert event["STATUS"] == "CONFIRMED" and int(event["SEQUENCE"]) == 0

    response = client.post(f"/booking/appointments/{appointment_id}/cancel", data={}, headers=EN)
    assert response.status_code == 302
    cancelled = icalendar.Calendar.from_ical(
        client.get(f"/booking/appointments/{appointment_id}/calendar.ics").data
    )
    event = cancelled.walk("VEVENT")[0]
    assert str(event["UID"]) == uid and event["STATUS"] == "CANCELLED"
    assert int(event["SEQUENCE"]) == 1 and cancelled["METHOD"] == "CANCEL"


def test_taken_slot_is_409_with_other_times_and_nothing_changes(
    app, client, world, worker, make_user, at_now
):
    wanted = slot(world, world.counselor, TUESDAY, 10)
    book(app, make_user("worker"), wanted)
    before = (count(app, Appointment), count(app, BookingCell))
    response = client.post("/booking/book", data={"slot_id": wanted, "nonce": "x"}, headers=EN)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "just been taken" in page and "Other free times that day" in page
    assert slot(world, world.counselor, TUESDAY, 11) in page
    assert (count(app, Appointment), count(app, BookingCell)) == before


def test_double_clicked_submit_books_once(app, client, world, worker, at_now):
    data = {"slot_id": slot(world, world.counselor, TUESDAY, 10), "nonce": "same-nonce"}
    first = client.post("/booking/book", data=data)
    second = client.post("/booking/book", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app, Appointment) == 1


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({}, 404),
        ({"slot_id": "nonsense"}, 404),
        ({"slot_id": "c999-1-1-202612081000"}, 404),  # no such counsellor at the station
    ],
)
def test_bad_booking_posts(app, client, world, worker, at_now, data, status):
    assert client.post("/booking/book", data=data).status_code == status
    assert count(app, Appointment) == 0


def test_past_slot_is_a_clear_error(app, client, world, worker, at_now):
    response = client.post(
        "/booking/book",
        data={"slot_id": slot(world, world.counselor, MONDAY, 7), "nonce": "p"},
        headers=EN,
    )
    assert response.status_code == 422
    assert "already passed" in response.get_data(as_text=True)
    assert count(app, Appointment) == 0


def test_late_cancel_shows_contact_the_station(app, client, world, worker, login_as, at_now):
    appointment_id = book(app, worker, slot(world, world.counselor, TUESDAY, 10))
    with time_machine.travel(bj(TUESDAY, 8), tick=False):
        login_as(worker)  # the earlier session has expired by then
        page = client.get(f"/booking/appointments/{appointment_id}", headers=EN)
        assert "too late to cancel or change online" in page.get_data(as_text=True)
        response = client.post(f"/booking/appointments/{appointment_id}/cancel", headers=EN)
        assert response.status_code == 409
        assert "0571-88880001" in response.get_data(as_text=True)
    assert count(app, Appointment, Appointment.status == "booked") == 1


def test_reschedule_page(app, client, world, worker, at_now):
    appointment_id = book(app, worker, slot(world, world.counselor, TUESDAY, 10))
    page = client.get(
        f"/booking/appointments/{appointment_id}/reschedule?date={TUESDAY}", headers=EN
    ).get_data(as_text=True)
    new = slot(world, world.counselor, TUESDAY, 14, 30)
    assert new in page
    response = client.post(
        f"/booking/appointments/{appointment_id}/reschedule", data={"slot_id": new, "nonce": "r"}
    )
    assert response.status_code == 302
    assert count(app, Appointment, Appointment.status == "booked") == 1
    assert count(app, Appointment, Appointment.rescheduled_from_id == appointment_id) == 1


def test_other_members_appointments_are_404(app, client, world, worker, make_user, at_now):
    other = make_user("worker")
    appointment_id = book(app, other, slot(world, world.counselor, TUESDAY, 10))
    for path in ("", "/calendar.ics", "/reschedule"):
        assert client.get(f"/booking/appointments/{appointment_id}{path}").status_code == 404
    assert client.post(f"/booking/appointments/{appointment_id}/cancel").status_code == 404
    assert count(app, Appointment, Appointment.status == "booked") == 1


def test_group_session_waitlist_through_the_pages(app, client, world, worker, make_user, at_now):
    admin = make_user("admin")
    with app.app_context():
        session = services.schedule_group_session(
            db.session.get(type(admin), admin.id),
            service_code="sand_table",
            room_id=world.rooms["沙盘室"],
            counselor_id=world.counselor.id,
            starts_at=bj(TUESDAY, 14),
            title="沙盘团队活动",
            capacity=1,
            now=NOW,
        )
        session_id = session.id
        db.session.remove()
    book(app, make_user("worker"), f"g{session_id}")
    page = client.get(f"/booking/book?slot=g{session_id}", headers=EN).get_data(as_text=True)
    assert "Join the waitlist" in page
    response = client.post(
        "/booking/book", data={"slot_id": f"g{session_id}", "waitlist": "1", "nonce": "w"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/appointments")
    page = client.get("/booking/appointments", headers=EN).get_data(as_text=True)
    assert "Number 1 in line" in page and "沙盘团队活动" in page
    assert client.get(f"/booking/group-sessions/{session_id}", headers=EN).status_code == 200
    assert count(app, WaitlistEntry) == 1


def test_day_waitlist_form(app, client, world, worker, at_now):
    response = client.post(
        "/booking/waitlist",
        data={"station_id": world.station, "service": "individual", "day": TUESDAY.isoformat()},
    )
    assert response.status_code == 302
    assert count(app, WaitlistEntry) == 1
    assert client.post("/booking/waitlist", data={"station_id": "x"}).status_code == 400


# ----------------------------------------------------------------------------- counsellor pages


def test_counsellor_schedule_attendance_notes_follow_up(
    app, client, world, make_user, login_as, at_now
):
    member = make_user("worker", name="陈小雨")
    appointment_id = book(app, member, slot(world, world.counselor, MONDAY, 10))
    login_as(world.counselor)
    page = client.get(f"/booking/schedule?date={MONDAY}", headers=EN).get_data(as_text=True)
    assert "陈小雨" in page and "江北区职工心理服务站" in page
    week = client.get(f"/booking/schedule?view=week&date={TUESDAY}", headers=EN)
    assert week.status_code == 200 and "陈小雨" in week.get_data(as_text=True)
    detail = client.get(f"/booking/schedule/appointments/{appointment_id}", headers=EN)
    assert detail.status_code == 200 and "Private session notes" in detail.get_data(True)
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
        db.session.remove()
    assert {"booking.agenda_read", "booking.appointment_read"} <= actions

    # Too early for attendance; after the start it works once.
    early = client.post(
        f"/booking/schedule/appointments/{appointment_id}/attendance", data={"outcome": "attended"}
    )
    assert early.status_code == 302
    assert count(app, Appointment, Appointment.status == "attended") == 0
    with time_machine.travel(bj(MONDAY, 10, 5), tick=False):
        login_as(world.counselor)
        client.post(
            f"/booking/schedule/appointments/{appointment_id}/attendance",
            data={"outcome": "attended"},
        )
    assert count(app, Appointment, Appointment.status == "attended") == 1
    login_as(world.counselor)  # back at 08:00 the 10:05 session cookie is not valid yet

    client.post(f"/booking/schedule/appointments/{appointment_id}/notes", data={"body": "睡眠改善"})
    detail = client.get(f"/booking/schedule/appointments/{appointment_id}").get_data(True)
    assert "睡眠改善" in detail

    follow = client.get(
        f"/booking/schedule/appointments/{appointment_id}/follow-up?date={TUESDAY}"
    ).get_data(as_text=True)
    wanted = slot(world, world.counselor, TUESDAY, 9)
    assert wanted in follow
    response = client.post(
        f"/booking/schedule/appointments/{appointment_id}/follow-up",
        data={"slot_id": wanted, "nonce": "f"},
    )
    assert response.status_code == 302
    assert count(app, Appointment, Appointment.user_id == member.id) == 2


def test_counsellors_cannot_open_each_others_clients(
    app, client, world, make_user, login_as, at_now
):
    appointment_id = book(app, make_user("worker"), slot(world, world.counselor, MONDAY, 10))
    login_as(world.second)
    base = f"/booking/schedule/appointments/{appointment_id}"
    assert client.get(base).status_code == 404
    assert client.post(f"{base}/notes", data={"body": "x"}).status_code == 404
    assert client.post(f"{base}/cancel", data={"reason": "x"}).status_code == 404
    assert client.get(f"/booking/counselors/{world.counselor.id}/availability").status_code == 404


def test_availability_editing_with_field_errors(app, client, world, login_as, at_now):
    login_as(world.counselor)
    base = f"/booking/counselors/{world.counselor.id}/availability"
    assert client.get("/booking/availability").status_code == 302
    page = client.get(base, headers=EN).get_data(as_text=True)
    assert "Weekly template" in page
    rules_before = count(app, AvailabilityRule)
    bad = client.post(
        f"{base}/rules",
        data={"rule-weekday": "5", "rule-kind": "work", "rule-station_id": str(world.station),
              "rule-starts": "09:03", "rule-ends": "12:00"},
        headers=EN,
    )  # fmt: skip
    assert bad.status_code == 422 and "5-minute grid" in bad.get_data(as_text=True)
    overlap = client.post(
        f"{base}/rules",
        data={"rule-weekday": "0", "rule-kind": "work", "rule-station_id": str(world.station),
              "rule-starts": "10:00", "rule-ends": "11:00"},
    )  # fmt: skip
    assert overlap.status_code == 409
    assert count(app, AvailabilityRule) == rules_before
    ok = client.post(
        f"{base}/rules",
        data={"rule-weekday": "5", "rule-kind": "work", "rule-station_id": str(world.station),
              "rule-starts": "09:00", "rule-ends": "12:00"},
    )  # fmt: skip
    assert ok.status_code == 302 and count(app, AvailabilityRule) == rules_before + 1
    with app.app_context():
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert any(s.counselor.id == world.counselor.id for s in found.slots)
        db.session.remove()
    exception = client.post(
        f"{base}/exceptions",
        data={"exception-day": TUESDAY.isoformat(), "exception-station_id": "0"},
    )
    assert exception.status_code == 302
    with app.app_context():
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert not any(s.counselor.id == world.counselor.id for s in found.slots)
        db.session.remove()


def test_time_off_lists_clashing_appointments(app, client, world, make_user, login_as, at_now):
    book(app, make_user("worker"), slot(world, world.counselor, TUESDAY, 10))
    login_as(world.counselor)
    response = client.post(
        f"/booking/counselors/{world.counselor.id}/availability/time-off",
        data={"timeoff-starts_at": f"{TUESDAY}T09:00", "timeoff-ends_at": f"{TUESDAY}T12:00"},
        headers=EN,
    )
    assert response.status_code == 200
    assert "fall inside it" in response.get_data(as_text=True)
    assert count(app, TimeOff) == 1
    with app.app_context():
        row = db.session.scalar(select(TimeOff))
        assert row.starts_at == bj(TUESDAY, 9)  # Beijing input stored as UTC
        db.session.remove()


def test_calendar_feed_rotate_use_revoke(app, client, world, make_user, login_as, at_now):
    book(app, make_user("worker", name="刘洋"), slot(world, world.counselor, TUESDAY, 10))
    login_as(world.counselor)
    page = client.post("/booking/calendar-feed", data={"action": "rotate"}).get_data(True)
    url = page.split('id="feed-url">')[1].split("<")[0]
    path = url.split("localhost", 1)[-1]
    anonymous = type(client)(client.application)
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = icalendar.Calendar.from_ical(feed.data).walk("VEVENT")
    assert len(events) == 1 and "刘*" in str(events[0]["SUMMARY"])
    assert "刘洋" not in feed.get_data(as_text=True)
    client.post("/booking/calendar-feed", data={"action": "revoke"})
    assert anonymous.get(path).status_code == 404
    assert anonymous.get("/booking/feed/not-a-token.ics").status_code == 404


# ----------------------------------------------------------------------------- admin pages


def test_admin_manages_stations_rooms_hours_closures(
    app, client, world, make_user, login_as, at_now
):
    login_as(make_user("admin"))
    assert "江北区职工心理服务站" in client.get("/booking/admin/stations").get_data(True)
    data = {
        "name": "江南区职工心理服务站",
        "district": "江南区",
        "address": "滨江市江南区江滨路8号",
        "latitude": "30.25",
        "longitude": "120.15",
        "phone": "0571-88880002",
        "active": "y",
    }
    bad = client.post("/booking/admin/stations", data={**data, "latitude": "123"}, headers=EN)
    assert bad.status_code == 400 and count(app, Station) == 2
    duplicate = client.post(
        "/booking/admin/stations", data={**data, "name": "江北区职工心理服务站"}, headers=EN
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.get_data(True)
    created = client.post("/booking/admin/stations", data=data)
    assert created.status_code == 302 and count(app, Station) == 3
    station_url = created.headers["Location"]
    station_id = int(station_url.rstrip("/").rsplit("/", 1)[1])
    room = client.post(
        f"{station_url}/rooms",
        data={
            "room-name": "咨询室A",
            "room-kind": "individual",
            "room-capacity": "1",
            "room-active": "y",
        },
    )
    assert room.status_code == 302 and count(app, Room, Room.station_id == station_id) == 1
    same = client.post(
        f"{station_url}/rooms",
        data={"room-name": "咨询室A", "room-kind": "individual", "room-capacity": "1"},
    )
    assert same.status_code == 409
    hours = client.post(
        f"{station_url}/hours",
        data={"hours-weekday": "0", "hours-opens": "09:00", "hours-closes": "08:00"},
    )
    assert hours.status_code == 422
    # A closure over a booked day sends the admin to the desk to tell the members.
    book(app, make_user("worker"), slot(world, world.counselor, TUESDAY, 10))
    closure = client.post(
        f"/booking/admin/stations/{world.station}/closures",
        data={"closure-first_day": TUESDAY.isoformat(), "closure-last_day": TUESDAY.isoformat(),
              "closure-reason": "设备检修"},
    )  # fmt: skip
    assert closure.status_code == 302 and "/desk" in closure.headers["Location"]
    assert count(app, StationClosure) == 1
    desk = client.get(closure.headers["Location"], headers=EN).get_data(as_text=True)
    assert "Cancel appointment" in desk
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
        db.session.remove()
    response = client.post(
        f"/booking/schedule/appointments/{appointment_id}/cancel", data={"reason": "设备检修"}
    )
    assert response.status_code == 302
    assert count(app, Appointment, Appointment.status == "cancelled") == 1


def test_admin_edits_services_counsellors_and_group_sessions(
    app, client, world, make_user, login_as, at_now
):
    login_as(make_user("admin"))
    service_id = world.services["individual"]
    page = client.get(f"/booking/admin/services/{service_id}").get_data(as_text=True)
    assert "个体心理咨询" in page
    form = {"name": "个体心理咨询", "name_en": "Individual counselling", "duration_minutes": "52",
            "buffer_minutes": "10", "capacity": "1", "min_notice_minutes": "60",
            "horizon_days": "28", "late_cancel_hours": "12", "active": "y"}  # fmt: skip
    assert client.post(f"/booking/admin/services/{service_id}", data=form).status_code == 422
    ok = client.post(
        f"/booking/admin/services/{service_id}", data={**form, "duration_minutes": "45"}
    )
    assert ok.status_code == 302
    assert "王静" in client.get("/booking/admin/counselors").get_data(True)
    assigned = client.post(
        f"/booking/admin/counselors/{world.counselor.id}/stations",
        data={f"c{world.counselor.id}-stations": [str(world.station), str(world.other_station)]},
    )
    assert assigned.status_code == 302
    with app.app_context():
        assert [s.id for s in services.stations_of(world.counselor.id)] == sorted(
            [world.station, world.other_station],
            key=lambda i: db.session.get(Station, i).name,
        )
        db.session.remove()
    session = client.post(
        "/booking/admin/group-sessions",
        data={
            "title": "职场减压团辅",
            "service": "group",
            "room_id": str(world.rooms["团体活动室"]),
            "counselor_id": str(world.counselor.id),
            "starts_at": f"{TUESDAY}T14:00",
            "capacity": "10",
            "org_unit_id": "0",
        },
    )
    assert session.status_code == 302
    with app.app_context():
        created = db.session.scalar(select(GroupSession))
        assert created.starts_at == bj(TUESDAY, 14) and created.capacity == 10
        session_id = created.id
        db.session.remove()
    too_big = client.post(
        "/booking/admin/group-sessions",
        data={"title": "太多人", "service": "group", "room_id": str(world.rooms["团体活动室"]),
              "counselor_id": str(world.second.id), "starts_at": f"{TUESDAY}T09:00",
              "capacity": "50", "org_unit_id": "0"},
        headers=EN,
    )  # fmt: skip
    assert too_big.status_code == 422 and count(app, GroupSession) == 1
    assert client.get(f"/booking/schedule/group-sessions/{session_id}").status_code == 200
    cancel = client.post(
        f"/booking/admin/group-sessions/{session_id}/cancel", data={"reason": "场地调整"}
    )
    assert cancel.status_code == 302
    assert count(app, GroupSession, GroupSession.status == "cancelled") == 1


def test_pages_render_in_both_languages(app, client, world, worker, at_now):
    appointment_id = book(app, worker, slot(world, world.counselor, TUESDAY, 10))
    for headers, word in ((EN, "My appointments"), ({"Accept-Language": "zh"}, "我的预约")):
        page = client.get("/booking/appointments", headers=headers).get_data(as_text=True)
        assert word in page
        assert (
            client.get(f"/booking/appointments/{appointment_id}", headers=headers).status_code
            == 200
        )
