"""Real concurrent requests, released together by a Barrier, each thread with its own test
client and database connection. The same tests run on SQLite (file) and PostgreSQL
(TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import time_machine
from sqlalchemy import func, select

from tests.booking.factories import NOW, TUESDAY, bj, stamp
from tests.conftest import PASSWORD
from wellness.auth import services as auth_services
from wellness.booking import services
from wellness.booking.models import Appointment, BookingCell, GroupSession, WaitlistEntry
from wellness.extensions import db

THREADS = 30


def slot_of(world, counselor, station: int, hh: int, mm: int = 0) -> str:
    service = world.services["individual"]
    return f"c{counselor.id}-{station}-{service}-{stamp(TUESDAY, hh, mm)}"


def tokens_for(app, users) -> list[str]:
    with app.app_context():
        tokens = [auth_services.issue_api_token(u.phone, PASSWORD)[0] for u in users]
        db.session.remove()
    return tokens


def fire(app, requests: list[tuple[str, str, dict]]) -> list[tuple[int, dict]]:
    """Send each (token, path, json) from its own thread at the same moment."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, dict] | None] = [None] * len(requests)

    def run(index: int, token: str, path: str, body: dict) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )
        results[index] = (response.status_code, response.get_json(silent=True) or {})

    threads = [
        threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)
    ]
    with time_machine.travel(NOW, tick=True):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def counts(app, *where):
    with app.app_context():
        n = db.session.scalar(select(func.count(Appointment.id)).where(*where))
        db.session.remove()
    return n


def test_thirty_bookings_of_one_slot_exactly_one_wins(app, world, make_user):
    workers = [make_user("worker") for _ in range(THREADS)]
    tokens = tokens_for(app, workers)
    slot_id = (
        f"c{world.counselor.id}-{world.station}-{world.services['individual']}-{stamp(TUESDAY, 10)}"
    )
    results = fire(app, [(t, "/appointments", {"slot_id": slot_id}) for t in tokens])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: THREADS - 1}, statuses
    refused = [body for status, body in results if status == 409]
    assert all(b["error"]["fields"] == {"slot_id": "full"} for b in refused)
    assert "just been taken" in refused[0]["error"]["message"]
    assert counts(app) == 1
    with app.app_context():
        cells = db.session.scalar(select(func.count(BookingCell.id)))
        assert cells == 12 + 10 + 12  # one booking's counsellor, client and room cells
        db.session.remove()


def test_overlapping_ranges_of_one_counsellor_exactly_one_wins(app, world, make_user, caplog):
    """Different, pairwise overlapping starts (each needs 60 minutes with its buffer). The
    losers lose on the UNIQUE constraint, never by a deadlock (on PostgreSQL the slot
    stamps' trigger runs once per cell statement, after its UNIQUE checks)."""
    workers = [make_user("worker") for _ in range(20)]
    tokens = tokens_for(app, workers)
    starts = [(10, 0), (10, 10), (10, 20), (9, 40)]
    requests = []
    for i, token in enumerate(tokens):
        hh, mm = starts[i % len(starts)]
        slot_id = (
            f"c{world.counselor.id}-{world.station}-{world.services['individual']}-"
            f"{stamp(TUESDAY, hh, mm)}"
        )
        requests.append((token, "/appointments", {"slot_id": slot_id}))
    results = fire(app, requests)
    statuses = Counter(status for status, _ in results)
    assert statuses[201] == 1 and statuses[409] == 19, statuses
    assert counts(app) == 1
    assert not [r for r in caplog.records if "ended by the database" in r.getMessage()]


def test_one_worker_double_submitting_two_counsellors_gets_one(app, world, make_user):
    """The same member fires 10 requests at two counsellors' overlapping slots."""
    worker = make_user("worker")
    token = tokens_for(app, [worker])[0]
    ids = [
        slot_of(world, world.counselor, world.station, 10),
        slot_of(world, world.second, world.other_station, 10),
    ]
    results = fire(app, [(token, "/appointments", {"slot_id": ids[i % 2]}) for i in range(10)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 9}, statuses
    assert counts(app) == 1


def test_thirty_joins_of_a_six_seat_group_six_seats_and_a_waitlist(app, world, make_user):
    admin = make_user("admin")
    workers = [make_user("worker") for _ in range(THREADS)]
    with app.app_context():
        session = services.schedule_group_session(
            db.session.get(type(admin), admin.id),
            service_code="sand_table",
            room_id=world.rooms["沙盘室"],
            counselor_id=world.counselor.id,
            starts_at=bj(TUESDAY, 14),
            title="沙盘团队活动",
            capacity=6,
            now=NOW,
        )
        session_id = session.id
        db.session.remove()
    tokens = tokens_for(app, workers)
    body = {"slot_id": f"g{session_id}", "waitlist": True}
    results = fire(app, [(t, "/appointments", body) for t in tokens])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 6, 202: THREADS - 6}, statuses
    # Each answer tells a place in the queue (a snapshot while others still commit); read
    # afterwards, the places are exactly 1..24.
    assert all(1 <= b["position"] <= THREADS - 6 for s, b in results if s == 202)
    with app.app_context():
        entries = db.session.scalars(select(WaitlistEntry)).all()
        assert sorted(services.waitlist_position(e) for e in entries) == list(
            range(1, THREADS - 6 + 1)
        )
        assert db.session.get(GroupSession, session_id).seats_taken == 6
        assert db.session.scalar(select(func.count(WaitlistEntry.id))) == THREADS - 6
        db.session.remove()
    assert counts(app, Appointment.status == "booked") == 6


def test_thirty_joins_without_waitlist_get_six_and_twenty_four_conflicts(app, world, make_user):
    admin = make_user("admin")
    workers = [make_user("worker") for _ in range(THREADS)]
    with app.app_context():
        session = services.schedule_group_session(
            db.session.get(type(admin), admin.id),
            service_code="group",
            room_id=world.rooms["团体活动室"],
            counselor_id=world.counselor.id,
            starts_at=bj(TUESDAY, 14),
            title="减压团辅",
            capacity=6,
            now=NOW,
        )
        session_id = session.id
        db.session.remove()
    tokens = tokens_for(app, workers)
    results = fire(app, [(t, "/appointments", {"slot_id": f"g{session_id}"}) for t in tokens])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 6, 409: THREADS - 6}, statuses
    with app.app_context():
        assert db.session.get(GroupSession, session_id).seats_taken == 6
        db.session.remove()


@pytest.mark.parametrize("seats", [4])
def test_relaxation_seats_under_load(app, world, make_user, seats):
    workers = [make_user("worker") for _ in range(12)]
    tokens = tokens_for(app, workers)
    slot_id = f"r{world.station}-{world.services['relaxation']}-{stamp(TUESDAY, 9)}"
    results = fire(app, [(t, "/appointments", {"slot_id": slot_id}) for t in tokens])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: seats, 409: 12 - seats}, statuses


def test_cancel_and_rebook_race_leaves_one_active_booking(app, world, make_user):
    """A cancellation and ten new bookings of the freed slot at once: afterwards at most
    one active booking holds the slot, never two."""
    owner = make_user("worker")
    others = [make_user("worker") for _ in range(10)]
    slot_id = (
        f"c{world.counselor.id}-{world.station}-{world.services['individual']}-{stamp(TUESDAY, 10)}"
    )
    with app.app_context():
        booked = services.book(db.session.get(type(owner), owner.id), slot_id, now=NOW)
        appointment_id = booked.appointment.id
        db.session.remove()
    owner_token, *tokens = tokens_for(app, [owner, *others])
    requests = [(owner_token, f"/appointments/{appointment_id}/cancel", {})]
    requests += [(t, "/appointments", {"slot_id": slot_id}) for t in tokens]
    results = fire(app, requests)
    assert results[0][0] == 200
    assert all(status in (201, 409) for status, _ in results[1:])
    assert counts(app, Appointment.status == "booked") <= 1
    assert counts(app, Appointment.status == "booked") == sum(1 for s, _ in results if s == 201)
