"""Booking use cases against the database: search, book, conflicts, cancel, reschedule,
relaxation seats, closures, time off, group sessions, waitlists, reminders, attendance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from tests.booking.factories import MONDAY, NEXT_MONDAY, NOW, TUESDAY, attached, bj, stamp
from wellness.booking import services
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    BookingCell,
    GroupSession,
    Station,
    WaitlistEntry,
)
from wellness.errors import Conflict, InvalidInput, NotFound, WellnessError
from wellness.extensions import db
from wellness.notify.models import OutboxMessage


def slot(world, counselor, day, hh, mm=0, service="individual", station=None):
    return (
        f"c{counselor.id}-{station or world.station}-{world.services[service]}-{stamp(day, hh, mm)}"
    )


def times(search, counselor_id=None):
    return [
        sl.to_local(s.starts_at).strftime("%H:%M")
        for s in search.slots
        if counselor_id is None or (s.counselor and s.counselor.id == counselor_id)
    ]


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot():
    """Everything a failed use case must leave unchanged."""
    return (
        count(Appointment),
        count(BookingCell),
        count(OutboxMessage),
        count(WaitlistEntry),
        tuple(db.session.scalars(select(GroupSession.seats_taken).order_by(GroupSession.id))),
    )


# ----------------------------------------------------------------------------- search


def test_search_lists_each_counsellors_openings(app, world):
    with app.app_context():
        found = services.search_slots(world.station, "individual", MONDAY, now=NOW)
        # 王静: 9-12 and 13:30-17:30 hourly; 李明华 at 江北 on Monday mornings only.
        assert times(found, world.counselor.id) == [
            "09:00", "10:00", "11:00", "13:30", "14:30", "15:30", "16:30",
        ]  # fmt: skip
        assert times(found, world.second.id) == ["09:00", "10:00", "11:00"]
        first = found.slots[0]
        assert first.remaining == 1 and first.counselor.name in ("王静", "李明华")
        assert services.parse_slot_id(first.id).start == bj(MONDAY, 9)
        # The other station sees 李明华 in the afternoon only.
        other = services.search_slots(world.other_station, "individual", MONDAY, now=NOW)
        assert times(other, world.second.id) == ["13:00", "14:00", "15:00", "16:00"]
        assert times(other, world.counselor.id) == []


def test_notice_and_horizon_in_search(app, world):
    with app.app_context():
        # At 08:30 with 60 minutes' notice the 09:00 slots are gone.
        later = NOW + timedelta(minutes=30)
        assert "09:00" not in times(
            services.search_slots(world.station, "individual", MONDAY, now=later)
        )
        far = MONDAY + timedelta(days=29)
        result = services.search_slots(world.station, "individual", far, now=NOW)
        assert result.slots == [] and not result.bookable_day


def test_phone_service_needs_no_room_and_group_service_lists_sessions_only(app, world):
    with app.app_context():
        phone = services.search_slots(world.station, "phone", MONDAY, now=NOW)
        assert times(phone, world.counselor.id)[:3] == ["09:00", "09:30", "10:00"]
        assert services.search_slots(world.station, "group", MONDAY, now=NOW).slots == []


def test_query_count_of_a_search_does_not_grow_with_bookings(app, world, make_user):
    """The search reads a fixed number of queries, however many appointments exist."""
    with app.app_context():
        engine = db.engine

        def queries_for_search() -> int:
            seen = []

            def count_it(*_args, **_kwargs):
                seen.append(1)

            event.listen(engine, "before_cursor_execute", count_it)
            try:
                db.session.expire_all()
                services.search_slots(world.station, "individual", TUESDAY, now=NOW)
            finally:
                event.remove(engine, "before_cursor_execute", count_it)
            return len(seen)

        empty = queries_for_search()
        for hour in (9, 10, 11, 13, 14, 15, 16):
            minute = 30 if hour >= 13 else 0
            worker = make_user("worker")
            services.book(
                attached(worker), slot(world, world.counselor, TUESDAY, hour, minute), now=NOW
            )
        for hour in (9, 10, 11, 13, 14, 15):
            worker = make_user("worker")
            services.book(
                attached(worker),
                slot(world, world.second, TUESDAY, hour, station=world.other_station),
                now=NOW,
            )
        busy = queries_for_search()
        assert count(Appointment) == 13
        assert busy == empty, (empty, busy)
        assert times(services.search_slots(world.station, "individual", TUESDAY, now=NOW)) == []


# ----------------------------------------------------------------------------- booking


def test_book_assigns_a_room_takes_cells_and_queues_a_confirmation(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        result = services.book(attached(worker), slot(world, world.counselor, MONDAY, 10), now=NOW)
        appointment = result.appointment
        assert appointment.status == "booked" and not result.existing
        assert appointment.room_id == world.rooms["咨询室一"]
        assert appointment.starts_at == bj(MONDAY, 10) and appointment.ends_at == bj(MONDAY, 10, 50)
        assert len(appointment.reference) == 9
        # 12 counsellor cells (50 + 10 buffer), 10 client cells, 12 room cells.
        kinds = dict(
            db.session.execute(
                select(BookingCell.resource, func.count())
                .where(BookingCell.appointment_id == appointment.id)
                .group_by(BookingCell.resource)
            ).all()
        )
        assert kinds == {"c": 12, "u": 10, "r": 12}
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == worker.id))
        assert appointment.reference in message.body and "人民路1号" in message.body
        assert message.dedupe_key == f"booking:{appointment.id}:booked"
        # Gone from the search; the second room still lets 李明华 take 10:00.
        found = services.search_slots(world.station, "individual", MONDAY, now=NOW)
        assert "10:00" not in times(found, world.counselor.id)
        assert "10:00" in times(found, world.second.id)


def test_a_taken_slot_is_a_conflict_and_changes_nothing(app, world, make_user):
    first, second = make_user("worker"), make_user("worker")
    with app.app_context():
        wanted = slot(world, world.counselor, MONDAY, 10)
        services.book(attached(first), wanted, now=NOW)
        before = snapshot()
        with pytest.raises(Conflict) as error:
            services.book(attached(second), wanted, now=NOW)
        assert error.value.fields == {"slot_id": "full"}
        assert snapshot() == before


def test_overlapping_range_for_the_same_counsellor_is_refused(app, world, make_user):
    """An aligned start that is not on the displayed grid is accepted when free, but it
    cannot overlap another booking of the counsellor, even by 5 minutes of buffer."""
    first, second = make_user("worker"), make_user("worker")
    with app.app_context():
        services.book(attached(first), slot(world, world.counselor, MONDAY, 10), now=NOW)
        before = snapshot()
        for hh, mm in ((10, 30), (10, 55), (9, 15)):
            with pytest.raises(Conflict):
                services.book(
                    attached(second), slot(world, world.counselor, MONDAY, hh, mm), now=NOW
                )
        assert snapshot() == before
        ok = services.book(attached(second), slot(world, world.counselor, MONDAY, 11), now=NOW)
        assert ok.appointment.status == "booked"


def test_the_same_worker_cannot_hold_two_overlapping_appointments(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        services.book(attached(worker), slot(world, world.counselor, MONDAY, 10), now=NOW)
        before = snapshot()
        with pytest.raises(Conflict) as error:
            services.book(attached(worker), slot(world, world.second, MONDAY, 10, 30), now=NOW)
        assert error.value.fields == {"slot_id": "overlap"}
        assert snapshot() == before


def test_rooms_run_out_before_counsellors(app, world, make_user):
    """Two individual rooms: a third counsellor at the same hour finds no room."""
    with app.app_context():
        from tests.booking.factories import add_counselor

        third = make_user("counselor", name="张晓燕")
        add_counselor(third.id, [world.station], [(0, "09:00", "12:00", world.station, "work")])
        services.book(
            attached(make_user("worker")), slot(world, world.counselor, MONDAY, 9), now=NOW
        )
        services.book(attached(make_user("worker")), slot(world, world.second, MONDAY, 9), now=NOW)
        found = services.search_slots(world.station, "individual", MONDAY, now=NOW)
        assert "09:00" not in times(found, third.id)
        with pytest.raises(Conflict) as error:
            services.book(attached(make_user("worker")), slot(world, third, MONDAY, 9), now=NOW)
        assert error.value.fields == {"slot_id": "full"}


@pytest.mark.parametrize(
    ("make_id", "field_code"),
    [
        (lambda w, c: slot(w, c, MONDAY, 7), "past"),  # 07:00 < 08:00 now
        (lambda w, c: slot(w, c, MONDAY, 8, 30), "too_soon"),
        (lambda w, c: slot(w, c, MONDAY + timedelta(days=35), 9), "too_far"),
        (lambda w, c: slot(w, c, MONDAY, 10, station=w.other_station), "invalid"),
        (lambda w, c: slot(w, c, MONDAY, 10, service="group"), "invalid"),
        (lambda w, c: slot(w, c, MONDAY, 10, 3), "invalid"),
        (lambda w, c: "c1-2-3", "invalid"),
        (lambda w, c: "x" * 500, "invalid"),
        (lambda w, c: f"c{c.id}-{w.station}-{w.services['individual']}-202612073000", "invalid"),
    ],
)
def test_bad_slots_are_clear_errors(app, world, make_user, make_id, field_code):
    worker = make_user("worker")
    with app.app_context():
        before = snapshot()
        with pytest.raises(InvalidInput) as error:
            services.book(attached(worker), make_id(world, world.counselor), now=NOW)
        assert error.value.fields == {"slot_id": field_code}
        assert snapshot() == before


def test_outside_working_time_and_on_a_closed_day(app, world, make_user):
    worker, admin = make_user("worker"), make_user("admin")
    with app.app_context():
        with pytest.raises(Conflict) as error:
            services.book(attached(worker), slot(world, world.counselor, MONDAY, 12), now=NOW)
        assert error.value.fields == {"slot_id": "unavailable"}
        services.add_closure(attached(admin), world.station, TUESDAY, TUESDAY, "元旦")
        assert services.search_slots(world.station, "individual", TUESDAY, now=NOW).slots == []
        with pytest.raises(Conflict):
            services.book(attached(worker), slot(world, world.counselor, TUESDAY, 9), now=NOW)


def test_time_off_and_exceptions_change_the_slots(app, world):
    with app.app_context():
        counselor = attached(world.counselor)
        services.add_time_off(
            counselor, counselor, starts_at=bj(MONDAY, 9), ends_at=bj(MONDAY, 11), reason="培训"
        )
        assert (
            times(
                services.search_slots(world.station, "individual", MONDAY, now=NOW), counselor.id
            )[0]
            == "11:00"
        )
        services.add_exception(
            counselor, counselor, day=TUESDAY, station_id=world.station,
            starts=sl.time(18, 0), ends=sl.time(20, 0), note="晚间加班", now=NOW,
        )  # fmt: skip
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert times(found, counselor.id) == ["18:00", "19:00"]


def test_idempotent_double_submit_books_once(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        wanted = slot(world, world.counselor, MONDAY, 10)
        first = services.book(attached(worker), wanted, now=NOW, idempotency_key="k-1")
        again = services.book(attached(worker), wanted, now=NOW, idempotency_key="k-1")
        assert again.existing and again.appointment.id == first.appointment.id
        assert count(Appointment) == 1 and count(OutboxMessage) == 1


# ----------------------------------------------------------------------------- cancel, reschedule


def test_cancel_before_the_window_frees_the_slot(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, TUESDAY, 10), now=NOW
        ).appointment
        cancelled = services.cancel_appointment(attached(worker), booked.id, now=NOW)
        assert cancelled.status == "cancelled" and cancelled.sequence == 1
        assert count(BookingCell, BookingCell.appointment_id == booked.id) == 0
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert "10:00" in times(found, world.counselor.id)
        # Cancelling twice changes nothing.
        before = snapshot()
        services.cancel_appointment(attached(worker), booked.id, now=NOW)
        assert snapshot() == before


def test_cancel_inside_the_window_says_contact_the_station(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, TUESDAY, 10), now=NOW
        ).appointment
        before = snapshot()
        late = bj(TUESDAY, 9)  # 1 hour before, window is 24 hours
        with pytest.raises(Conflict) as error:
            services.cancel_appointment(attached(worker), booked.id, now=late)
        assert "0571-88880001" in error.value.message
        assert error.value.fields == {"appointment": "late"}
        assert snapshot() == before
        with pytest.raises(Conflict):
            services.reschedule(
                attached(worker), booked.id, slot(world, world.counselor, TUESDAY, 14, 30), now=late
            )
        assert snapshot() == before


def test_someone_elses_appointment_is_not_found(app, world, make_user):
    owner, other = make_user("worker"), make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(owner), slot(world, world.counselor, TUESDAY, 10), now=NOW
        ).appointment
        with pytest.raises(NotFound):
            services.cancel_appointment(attached(other), booked.id, now=NOW)


def test_reschedule_moves_in_one_transaction(app, world, make_user):
    worker, rival = make_user("worker"), make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, TUESDAY, 10), now=NOW
        ).appointment
        services.book(attached(rival), slot(world, world.counselor, TUESDAY, 14, 30), now=NOW)
        before = snapshot()
        with pytest.raises(Conflict):  # taken: the old one stays booked
            services.reschedule(
                attached(worker), booked.id, slot(world, world.counselor, TUESDAY, 14, 30), now=NOW
            )
        assert snapshot() == before
        assert db.session.get(Appointment, booked.id).status == "booked"
        moved = services.reschedule(
            attached(worker), booked.id, slot(world, world.counselor, TUESDAY, 15, 30), now=NOW
        )
        assert moved.rescheduled_from_id == booked.id and moved.status == "booked"
        assert db.session.get(Appointment, booked.id).status == "cancelled"
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert "10:00" in times(found, world.counselor.id)
        assert "15:30" not in times(found, world.counselor.id)
        with pytest.raises(InvalidInput):
            services.reschedule(
                attached(worker),
                moved.id,
                slot(world, world.counselor, TUESDAY, 9, service="phone"),
                now=NOW,
            )


# ----------------------------------------------------------------------------- relaxation room


def test_relaxation_room_is_booked_by_the_seat(app, world, make_user):
    with app.app_context():
        found = services.search_slots(world.station, "relaxation", MONDAY, now=NOW)
        first = found.slots[0]
        assert first.kind == "room" and first.remaining == 4 and first.capacity == 4
        assert sl.to_local(first.starts_at).strftime("%H:%M") == "09:00"
        for _ in range(4):
            services.book(attached(make_user("worker")), first.id, now=NOW)
        with pytest.raises(Conflict):
            services.book(attached(make_user("worker")), first.id, now=NOW)
        again = services.search_slots(world.station, "relaxation", MONDAY, now=NOW)
        assert first.id not in [s.id for s in again.slots]


# ----------------------------------------------------------------------------- group sessions


def make_group(app, world, capacity=6, hh=14, day=TUESDAY):
    with app.app_context():
        admin = db.session.scalar(select(services.User).where(services.User.role == "admin"))
        session = services.schedule_group_session(
            admin,
            service_code="sand_table",
            room_id=world.rooms["沙盘室"],
            counselor_id=world.counselor.id,
            starts_at=bj(day, hh),
            title="沙盘团队活动",
            capacity=capacity,
            now=NOW,
        )
        return session.id


def test_group_session_blocks_its_counsellor_and_room(app, world, make_user):
    make_user("admin")
    with app.app_context():
        services.book(
            attached(make_user("worker")), slot(world, world.counselor, TUESDAY, 9), now=NOW
        )
        admin = db.session.scalar(select(services.User).where(services.User.role == "admin"))
        with pytest.raises(Conflict) as error:
            services.schedule_group_session(
                admin, service_code="sand_table", room_id=world.rooms["沙盘室"],
                counselor_id=world.counselor.id, starts_at=bj(TUESDAY, 9, 30), title="冲突",
                capacity=1, now=NOW,
            )  # fmt: skip
        assert error.value.fields == {"counselor_id": "busy"}
        assert count(GroupSession) == 0
    session_id = make_group(app, world, capacity=1)
    with app.app_context():
        found = services.search_slots(world.station, "sand_table", TUESDAY, now=NOW)
        group = [s for s in found.slots if s.kind == "group"]
        assert [g.id for g in group] == [f"g{session_id}"]
        assert "14:00" not in times(found, world.counselor.id)  # the counsellor is busy
        individual = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert "14:30" not in times(individual, world.counselor.id)


def test_group_fills_then_waitlist_then_offer_and_accept(app, world, make_user):
    make_user("admin")
    session_id = make_group(app, world, capacity=2)
    members = [make_user("worker") for _ in range(4)]
    with app.app_context():
        one = services.book(attached(members[0]), f"g{session_id}", now=NOW).appointment
        services.book(attached(members[1]), f"g{session_id}", now=NOW)
        with pytest.raises(Conflict) as error:
            services.book(attached(members[2]), f"g{session_id}", now=NOW)
        assert error.value.fields == {"slot_id": "full"}
        second_try = services.book(attached(members[2]), f"g{session_id}", now=NOW, waitlist=True)
        third = services.book(attached(members[3]), f"g{session_id}", now=NOW, waitlist=True)
        assert (
            second_try.waitlist_entry and services.waitlist_position(second_try.waitlist_entry) == 1
        )
        assert services.waitlist_position(third.waitlist_entry) == 2
        # Joining again is idempotent.
        assert services.book(attached(members[0]), f"g{session_id}", now=NOW).existing
        # A seat frees: the first waiting member gets a held offer; the seat stays counted.
        services.cancel_appointment(attached(members[0]), one.id, now=NOW)
        session = db.session.get(GroupSession, session_id)
        assert session.seats_taken == 2
        held = db.session.scalar(select(Appointment).where(Appointment.user_id == members[2].id))
        assert held.status == "held" and held.hold_expires_at == NOW + timedelta(minutes=120)
        offer = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"booking:{held.id}:offer")
        )
        assert offer is not None and offer.user_id == members[2].id
        accepted = services.accept_offer(
            attached(members[2]), held.id, now=NOW + timedelta(minutes=5)
        )
        assert accepted.status == "booked"
        assert db.session.get(WaitlistEntry, second_try.waitlist_entry.id).status == "accepted"


def test_an_offer_expires_to_the_next_member_and_then_frees_the_seat(app, world, make_user):
    make_user("admin")
    session_id = make_group(app, world, capacity=1)
    first, waiting_a, waiting_b = (make_user("worker") for _ in range(3))
    with app.app_context():
        seat = services.book(attached(first), f"g{session_id}", now=NOW).appointment
        services.book(attached(waiting_a), f"g{session_id}", now=NOW, waitlist=True)
        services.book(attached(waiting_b), f"g{session_id}", now=NOW, waitlist=True)
        services.cancel_appointment(attached(first), seat.id, now=NOW)
        later = NOW + timedelta(minutes=121)
        with pytest.raises(Conflict):
            held_a = db.session.scalar(
                select(Appointment).where(Appointment.user_id == waiting_a.id)
            )
            services.accept_offer(attached(waiting_a), held_a.id, now=later)
        assert services.expire_holds(now=later) == 1
        assert services.expire_holds(now=later) == 0  # idempotent
        held_b = db.session.scalar(select(Appointment).where(Appointment.user_id == waiting_b.id))
        assert held_b.status == "held"
        services.decline_offer(attached(waiting_b), held_b.id, now=later)
        session = db.session.get(GroupSession, session_id)
        assert session.seats_taken == 0  # nobody left waiting: the seat is free again


def test_day_waitlist_gets_the_freed_individual_slot(app, world, make_user):
    booker, waiting = make_user("worker"), make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(booker), slot(world, world.counselor, TUESDAY, 10), now=NOW
        ).appointment
        entry = services.join_day_waitlist(
            attached(waiting), world.station, "individual", TUESDAY, now=NOW
        )
        with pytest.raises(Conflict):
            services.join_day_waitlist(
                attached(waiting), world.station, "individual", TUESDAY, now=NOW
            )
        services.cancel_appointment(attached(booker), booked.id, now=NOW)
        held = db.session.scalar(select(Appointment).where(Appointment.user_id == waiting.id))
        assert held.status == "held" and held.starts_at == bj(TUESDAY, 10)
        assert held.counselor_id == world.counselor.id
        # Held for them: not offered to anyone else in the search.
        found = services.search_slots(world.station, "individual", TUESDAY, now=NOW)
        assert "10:00" not in times(found, world.counselor.id)
        assert db.session.get(WaitlistEntry, entry.id).status == "offered"


def test_members_only_group_session(app, world, make_user, make_org_unit):
    union = make_org_unit("星河电子工会")
    make_user("admin")
    insider = make_user("worker", org_unit_id=union.id)
    outsider = make_user("worker")
    with app.app_context():
        admin = db.session.scalar(select(services.User).where(services.User.role == "admin"))
        session = services.schedule_group_session(
            admin, service_code="group", room_id=world.rooms["团体活动室"],
            counselor_id=world.counselor.id, starts_at=bj(TUESDAY, 14), title="减压团辅",
            capacity=8, org_unit_id=union.id, now=NOW,
        )  # fmt: skip
        with pytest.raises(WellnessError) as error:
            services.book(attached(outsider), f"g{session.id}", now=NOW)
        assert error.value.status == 403
        assert services.book(attached(insider), f"g{session.id}", now=NOW).appointment


def test_cancelling_a_group_session_tells_every_member(app, world, make_user):
    make_user("admin")
    session_id = make_group(app, world, capacity=3)
    members = [make_user("worker") for _ in range(2)]
    with app.app_context():
        for member in members:
            services.book(attached(member), f"g{session_id}", now=NOW)
        admin = db.session.scalar(select(services.User).where(services.User.role == "admin"))
        services.cancel_group_session(admin, session_id, "带领老师生病", now=NOW)
        statuses = set(db.session.scalars(select(Appointment.status)))
        assert statuses == {"cancelled"}
        assert count(BookingCell) == 0
        assert count(OutboxMessage, OutboxMessage.dedupe_key.like("booking:%:cancelled")) == 2


# ----------------------------------------------------------------------------- reminders


def test_reminders_go_once_each(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, NEXT_MONDAY, 10), now=NOW
        ).appointment
        start = bj(NEXT_MONDAY, 10)
        assert services.send_reminders(now=start - timedelta(hours=30)) == {"24h": 0, "2h": 0}
        assert services.send_reminders(now=start - timedelta(hours=23)) == {"24h": 1, "2h": 0}
        assert services.send_reminders(now=start - timedelta(hours=23)) == {"24h": 0, "2h": 0}
        assert services.send_reminders(now=start - timedelta(hours=1, minutes=50)) == {
            "24h": 0,
            "2h": 1,
        }
        assert services.send_reminders(now=start - timedelta(hours=1)) == {"24h": 0, "2h": 0}
        keys = set(
            db.session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.dedupe_key.like(f"booking:{booked.id}:reminder%")
                )
            )
        )
        assert keys == {f"booking:{booked.id}:reminder:24h", f"booking:{booked.id}:reminder:2h"}
        body = db.session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.dedupe_key == f"booking:{booked.id}:reminder:2h"
            )
        )
        assert "0571-88880001" in body  # the policy is quoted


def test_a_late_booking_gets_only_the_reminders_still_ahead(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        services.book(attached(worker), slot(world, world.counselor, MONDAY, 14, 30), now=NOW)
        # Booked 6.5 hours ahead: no 24 h reminder, the 2 h one at 12:30.
        assert services.send_reminders(now=bj(MONDAY, 9)) == {"24h": 0, "2h": 0}
        assert services.send_reminders(now=bj(MONDAY, 12, 40)) == {"24h": 0, "2h": 1}


def test_cancelled_appointments_get_no_reminder(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, NEXT_MONDAY, 10), now=NOW
        ).appointment
        services.cancel_appointment(attached(worker), booked.id, now=NOW)
        assert services.send_reminders(now=bj(NEXT_MONDAY, 9)) == {"24h": 0, "2h": 0}


# ----------------------------------------------------------------------------- counsellor side


def test_attendance_once_after_the_start_by_the_own_counsellor(app, world, make_user):
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, MONDAY, 10), now=NOW
        ).appointment
        with pytest.raises(Conflict):
            services.mark_attendance(attached(world.counselor), booked.id, "attended", now=NOW)
        with pytest.raises(NotFound):
            services.mark_attendance(
                attached(world.second), booked.id, "attended", now=bj(MONDAY, 11)
            )
        with pytest.raises(InvalidInput):
            services.mark_attendance(
                attached(world.counselor), booked.id, "maybe", now=bj(MONDAY, 11)
            )
        done = services.mark_attendance(
            attached(world.counselor), booked.id, "no_show", now=bj(MONDAY, 11)
        )
        assert done.status == "no_show"
        with pytest.raises(Conflict):
            services.mark_attendance(
                attached(world.counselor), booked.id, "attended", now=bj(MONDAY, 11)
            )


def test_notes_are_for_the_counsellors_on_the_case(app, world, make_user):
    worker = make_user("worker")
    stranger = make_user("counselor")
    with app.app_context():
        first = services.book(
            attached(worker), slot(world, world.counselor, MONDAY, 10), now=NOW
        ).appointment
        services.add_note(attached(world.counselor), first.id, "来访者工作压力大，睡眠差。")
        assert len(services.notes_for_client(attached(world.counselor), worker.id)) == 1
        assert services.notes_for_client(attached(stranger), worker.id) == []
        assert services.notes_for_client(attached(world.second), worker.id) == []
        # 李明华 takes on the same client: now on the case, sees the note.
        services.book(
            attached(worker),
            slot(world, world.second, TUESDAY, 10, station=world.other_station),
            now=NOW,
        )
        notes = services.notes_for_client(attached(world.second), worker.id)
        assert [n[0].body for n in notes] == ["来访者工作压力大，睡眠差。"]
        with pytest.raises(NotFound):
            services.add_note(attached(stranger), first.id, "x")


def test_agenda_spans_stations_and_is_audited(app, world, make_user):
    from wellness.audit import AuditEvent

    with app.app_context():
        services.book(attached(make_user("worker")), slot(world, world.second, MONDAY, 9), now=NOW)
        services.book(
            attached(make_user("worker")),
            slot(world, world.second, MONDAY, 14, station=world.other_station),
            now=NOW,
        )
        items = services.counselor_agenda(attached(world.second), MONDAY, days=7)
        assert [i.station.id for i in items] == [world.station, world.other_station]
        assert count(AuditEvent, AuditEvent.action == "booking.agenda_read") == 1


def test_feed_token_rotates_and_revokes(app, world):
    with app.app_context():
        counselor = attached(world.counselor)
        token = services.rotate_feed(counselor)
        assert services.feed_owner(token).id == counselor.id
        newer = services.rotate_feed(counselor)
        assert services.feed_owner(token) is None and services.feed_owner(newer) is not None
        services.revoke_feed(counselor)
        assert services.feed_owner(newer) is None


def test_stations_near_sorts_by_distance(app, world):
    with app.app_context():
        near_other = services.stations_near(30.21, 120.21)
        assert [n.station.id for n in near_other] == [world.other_station, world.station]
        assert near_other[0].distance_km < 2
        by_district = services.stations_near(district="江北区")
        assert [n.station.id for n in by_district] == [world.station]
        db.session.get(Station, world.station).active = False
        db.session.commit()
        assert [n.station.id for n in services.stations_near()] == [world.other_station]


def test_a_refused_claim_leaves_none_of_its_cells_and_the_transaction_goes_on(app, world):
    """On SQLite the cells go in one statement without a savepoint; on PostgreSQL in a
    savepoint. Either way a claim whose last cell is taken leaves nothing behind, and the
    use case can go on in the same transaction."""
    with app.app_context():
        start = bj(MONDAY, 10)
        taken = services._cell_rows("c", world.counselor.id, start + timedelta(minutes=55),
                                    start + timedelta(minutes=60))  # fmt: skip
        assert services._claim(taken)
        db.session.commit()
        rows = services._cell_rows("c", world.counselor.id, start, start + timedelta(hours=1))
        assert not services._claim(rows)
        assert count(BookingCell) == 1
        assert services._claim(rows[:-1])  # the free part alone, same transaction
        db.session.commit()
        assert count(BookingCell) == 12
