"""The slot cache: a search is answered from the per-process cache only while the stamps of
the station and its counsellors are unchanged, and every write that changes what a search
reads changes a stamp, whichever way it is made (services, Core, plain SQL, a cascade)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

import pytest
from sqlalchemy import delete, event, select, text, update

from tests.booking.factories import MONDAY, NOW, attached, bj
from wellness.auth.models import OrgUnit, User
from wellness.booking import services
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    AvailabilityRule,
    BookingCell,
    CounselorProfile,
    CounselorStation,
    Room,
    SlotStamp,
    StationHours,
)
from wellness.extensions import db


def answer(world, code: str = "individual") -> tuple:
    found = services.search_slots(world.station, code, MONDAY, now=NOW)
    return tuple(
        (s.id, s.remaining, s.counselor.name if s.counselor else None, s.members_only)
        for s in found.slots
    )


def computed_afresh(app, world, code: str = "individual") -> tuple:
    """The same search with the cache turned off."""
    kept, size = app.extensions.pop("slot_openings", None), app.config["SLOT_CACHE_SIZE"]
    app.config["SLOT_CACHE_SIZE"] = 0
    try:
        return answer(world, code)
    finally:
        app.config["SLOT_CACHE_SIZE"] = size
        app.extensions.pop("slot_openings", None)
        if kept is not None:
            app.extensions["slot_openings"] = kept


def take_cell(resource: str, resource_id: int, hour: int) -> None:
    db.session.execute(
        text(
            "INSERT INTO booking_cells (resource, resource_id, seat, cell) VALUES (:r, :i, 1, :c)"
        ),
        {"r": resource, "i": resource_id, "c": sl.cell_index(bj(MONDAY, hour))},
    )


def _book(world, workers) -> None:
    services.book(
        attached(workers[0]),
        f"c{world.counselor.id}-{world.station}-{world.services['individual']}-202612071000",
        now=NOW,
    )


def _cell_of_the_second_counsellor(world, _workers) -> None:
    """李明华 works at both stations: a cell taken for him anywhere changes this station."""
    take_cell("c", world.second.id, 10)


def _both_counselling_rooms_taken(world, _workers) -> None:
    for name in ("咨询室一", "咨询室二"):
        take_cell("r", world.rooms[name], 14)


def _time_off(world, _workers) -> None:
    counselor = attached(world.counselor)
    services.add_time_off(
        counselor, counselor, starts_at=bj(MONDAY, 9), ends_at=bj(MONDAY, 11), reason="培训"
    )


def _exception(world, _workers) -> None:
    counselor = attached(world.counselor)
    services.add_exception(
        counselor, counselor, day=MONDAY, station_id=world.station,
        starts=time(18, 0), ends=time(20, 0), note="晚间", now=NOW,
    )  # fmt: skip


def _rule_shortened(world, _workers) -> None:
    db.session.execute(
        update(AvailabilityRule)
        .where(AvailabilityRule.counselor_id == world.counselor.id, AvailabilityRule.kind == "work")
        .values(ends=time(11, 0))
    )


def _rules_deleted(world, _workers) -> None:
    db.session.execute(
        text("DELETE FROM availability_rules WHERE counselor_id = :c"), {"c": world.counselor.id}
    )


def _closure(world, workers) -> None:
    admin = attached(workers[1])
    services.add_closure(admin, world.station, MONDAY, MONDAY, "停电检修")


def _rooms_closed(world, _workers) -> None:
    db.session.execute(update(Room).where(Room.kind == "individual").values(active=False))


def _left_the_station(world, _workers) -> None:
    db.session.execute(
        delete(CounselorStation).where(CounselorStation.counselor_id == world.counselor.id)
    )


def _stops_taking_bookings(world, _workers) -> None:
    db.session.execute(
        update(CounselorProfile)
        .where(CounselorProfile.user_id == world.counselor.id)
        .values(accepts_bookings=False)
    )


def _account_disabled(world, _workers) -> None:
    db.session.execute(
        text("UPDATE users SET active = false WHERE id = :c"), {"c": world.second.id}
    )


def _renamed(world, _workers) -> None:
    db.session.execute(
        text("UPDATE users SET name = '王静怡' WHERE id = :c"), {"c": world.counselor.id}
    )


def _relaxation_seat_taken(world, _workers) -> None:
    take_cell("r", world.rooms["放松室"], 9)


def _station_opens_later(world, _workers) -> None:
    db.session.execute(
        update(StationHours).where(StationHours.station_id == world.station).values(opens=time(13))
    )


CHANGES: list[tuple[str, Callable]] = [
    ("individual", _book),
    ("individual", _cell_of_the_second_counsellor),
    ("individual", _both_counselling_rooms_taken),
    ("individual", _time_off),
    ("individual", _exception),
    ("individual", _rule_shortened),
    ("individual", _rules_deleted),
    ("individual", _closure),
    ("individual", _rooms_closed),
    ("individual", _left_the_station),
    ("individual", _stops_taking_bookings),
    ("individual", _account_disabled),
    ("individual", _renamed),
    ("relaxation", _relaxation_seat_taken),
    ("relaxation", _station_opens_later),
]


@pytest.mark.parametrize(("code", "change"), CHANGES, ids=[c.__name__[1:] for _, c in CHANGES])
def test_every_change_a_search_reads_reaches_the_cached_answer(app, world, make_user, code, change):
    workers = [make_user("worker"), make_user("admin")]
    with app.app_context():
        before = answer(world, code)
        assert answer(world, code) == before  # now served from the cache
        change(world, workers)
        db.session.commit()
        after = answer(world, code)
        assert after != before, "the change should show in the search"
        assert after == computed_afresh(app, world, code)


def test_a_freed_time_comes_back(app, world, make_user):
    workers = [make_user("worker")]
    with app.app_context():
        free = answer(world)
        _book(world, workers)
        booked = answer(world)
        assert booked != free
        appointment = db.session.scalar(select(Appointment.id))
        # (as if a day earlier: inside the late-cancel window a member cannot cancel online)
        services.cancel_appointment(attached(workers[0]), appointment, now=NOW - timedelta(days=1))
        assert answer(world) == free
        _book(world, workers)
        assert answer(world) == booked
        # The cells go by the foreign key's ON DELETE CASCADE, not by any code of ours.
        db.session.execute(delete(Appointment))
        db.session.commit()
        assert answer(world) == free == computed_afresh(app, world)


def test_an_unchanged_station_is_answered_from_the_cache(app, world, make_user):
    with app.app_context():
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        first = answer(world)
        cache = app.extensions["slot_openings"]
        hits = cache.hits
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            db.session.expire_all()
            again = answer(world)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert again == first and cache.hits == hits + 1
        # one statement: the station and service with the stamps; nothing else is read
        assert len(statements) == 1, statements
        assert not any("booking_cells" in s or "availability_rules" in s for s in statements)
        # A room taken at the other station leaves this station's answer in the cache.
        take_cell("r", world.other_rooms["咨询室一"], 9)
        db.session.commit()
        assert answer(world) == first and cache.hits == hits + 2


def test_stations_and_counsellors_get_their_stamp_rows(app, world):
    with app.app_context():
        rows = set(db.session.execute(select(SlotStamp.kind, SlotStamp.ref_id)))
        assert rows == {
            ("s", world.station),
            ("s", world.other_station),
            ("c", world.counselor.id),
            ("c", world.second.id),
        }
        stamps = dict(
            ((k, r), s)
            for k, r, s in db.session.execute(
                select(SlotStamp.kind, SlotStamp.ref_id, SlotStamp.stamp)
            )
        )
        take_cell("r", world.other_rooms["咨询室一"], 9)
        db.session.commit()
        changed = {
            (k, r)
            for k, r, s in db.session.execute(
                select(SlotStamp.kind, SlotStamp.ref_id, SlotStamp.stamp)
            )
            if stamps[(k, r)] != s
        }
        assert changed == {("s", world.other_station)}
        db.session.execute(delete(BookingCell))
        db.session.commit()


def test_group_sessions_in_the_cached_answer_follow_seats_units_and_cancellation(
    app, world, make_user
):
    admin, member = make_user("admin"), make_user("worker")
    with app.app_context():
        unit = OrgUnit(name="滨江机械厂工会")
        db.session.add(unit)
        db.session.commit()
        db.session.execute(update(User).where(User.id == member.id).values(org_unit_id=unit.id))
        db.session.commit()
        answer(world, "sand_table")
        session = services.schedule_group_session(
            attached(admin), service_code="sand_table", room_id=world.rooms["沙盘室"],
            counselor_id=world.counselor.id, starts_at=bj(MONDAY, 14), title="沙盘团体",
            capacity=6, org_unit_id=unit.id, now=NOW,
        )  # fmt: skip
        seen = []
        for change in (
            lambda: None,
            lambda: services.join_group_session(attached(member), session.id, now=NOW),
            lambda: db.session.execute(
                update(OrgUnit).where(OrgUnit.id == unit.id).values(name="滨江机械集团工会")
            ),
            lambda: db.session.execute(
                text("UPDATE group_sessions SET status = 'cancelled' WHERE id = :s"),
                {"s": session.id},
            ),
        ):
            change()
            db.session.commit()
            now_seen = answer(world, "sand_table")
            assert now_seen == computed_afresh(app, world, "sand_table")
            seen.append(
                [(r, members) for sid, r, _name, members in now_seen if sid.startswith("g")]
            )
        assert seen == [
            [(6, "滨江机械厂工会")],
            [(5, "滨江机械厂工会")],
            [(5, "滨江机械集团工会")],
            [],
        ]
