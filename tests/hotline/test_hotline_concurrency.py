"""Real concurrent requests (threads released together by a Barrier, each with its own
client or app context) against the file SQLite database and, with TEST_DATABASE_URL,
PostgreSQL: seats never overfill, one counsellor never gets overlapping shifts, a swap is
approved once, sweeps warn and purge once, and simultaneous call logging never fails."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.hotline.hotline_support import NOW, call_input
from wellness.audit import AuditEvent
from wellness.database import utcnow
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import HotlineCall, Shift, ShiftAssignment, ShiftSwap
from wellness.notify.models import OutboxMessage


@pytest.fixture(autouse=True)
def wide_race_window(monkeypatch):
    """Hold each use case for a moment before it takes its locks or claims its rows, so the
    threads really meet there (the GIL would otherwise run short requests nearly in turn)."""
    for name in ("_lock_counselor", "_insert_ignore"):
        real = getattr(services, name)

        def slow(*args, _real=real, **kwargs):
            time.sleep(0.05)
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, slow)


def together(n: int, work) -> list:
    """Run ``work(i)`` in n threads that start at the same moment; return the results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def signed_in_clients(app, login_as, users):
    clients = []
    for user in users:
        client = app.test_client()
        login_as(user, on=client)
        clients.append(client)
    return clients


def test_concurrent_sign_ups_never_overfill_a_shift(app, make_user, make_shift, login_as):
    people = [make_user("counselor") for _ in range(8)]
    shift_id = make_shift(utcnow() + timedelta(days=2), 8, seats=2)
    clients = signed_in_clients(app, login_as, people)
    statuses = together(
        8, lambda i: clients[i].post(f"/hotline/shifts/{shift_id}/sign-up").status_code
    )
    assert Counter(statuses) == {302: 2, 409: 6}
    with app.app_context():
        assert db.session.get(Shift, shift_id).filled == 2
    assert count(app, ShiftAssignment, ShiftAssignment.status == "active") == 2


def test_one_counsellor_cannot_take_overlapping_shifts_at_once(
    app, make_user, make_shift, login_as
):
    me = make_user("counselor")
    start = utcnow() + timedelta(days=2)
    shifts = [make_shift(start + timedelta(hours=i), 8, seats=2) for i in range(6)]
    clients = signed_in_clients(app, login_as, [me] * 6)
    statuses = together(
        6, lambda i: clients[i].post(f"/hotline/shifts/{shifts[i]}/sign-up").status_code
    )
    assert Counter(statuses) == {302: 1, 409: 5}
    assert count(app, ShiftAssignment, ShiftAssignment.counselor_id == me.id) == 1
    assert count(app, Shift, Shift.filled == 1) == 1


def test_a_swap_is_approved_once_under_concurrent_clicks(app, make_user, make_shift, login_as):
    a, b = make_user("counselor"), make_user("counselor")
    admins = [make_user("admin"), make_user("admin")]
    shift_id = make_shift(utcnow() + timedelta(days=2), 8, staff=[a])
    with app.app_context():
        assignment_id = db.session.scalar(select(ShiftAssignment.id))
        swap = services.request_swap(a, assignment_id, b.id)
        services.act_on_swap(b, swap.id, "accept")
        swap_id = swap.id
    clients = signed_in_clients(app, login_as, admins * 3)
    statuses = together(
        6,
        lambda i: (
            clients[i].post(f"/hotline/swaps/{swap_id}", data={"decision": "approve"}).status_code
        ),
    )
    assert Counter(statuses) == {302: 1, 409: 5}
    with app.app_context():
        rows = db.session.execute(
            select(ShiftAssignment.counselor_id, ShiftAssignment.status).where(
                ShiftAssignment.shift_id == shift_id
            )
        ).all()
        assert sorted(rows) == sorted([(a.id, "swapped"), (b.id, "active")])
        assert db.session.get(ShiftSwap, swap_id).status == "approved"


def test_two_schedulers_warn_about_a_gap_once(app, make_user):
    make_user("admin")
    make_user("admin")

    def sweep(_i):
        with app.app_context():
            try:
                return services.warn_gaps(NOW)["messages"]
            finally:
                db.session.remove()

    results = together(4, sweep)
    assert sum(results) == 2  # one message per admin, from whichever sweep won
    assert count(app, OutboxMessage, OutboxMessage.dedupe_key.like("hotline-gap:%")) == 2


def test_simultaneous_calls_from_several_counsellors_are_all_saved(app, terms, make_user, login_as):
    people = [make_user("counselor") for _ in range(6)]
    clients = signed_in_clients(app, login_as, people)
    started = services.local(utcnow() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "kind": "answered",
        "started_at": started,
        "duration_minutes": "15",
        "age_band": "unknown",
        "gender": "unknown",
        "topic_ids": [str(terms["topic"]["emotion"])],
        "action_id": str(terms["action"]["listened"]),
        "referral_id": "0",
        "follow_up_owner_id": "0",
        "handover_to_id": "0",
        "caller_number": "13512340001",
    }
    statuses = together(6, lambda i: clients[i].post("/hotline/console", data=form).status_code)
    assert statuses == [302] * 6
    with app.app_context():
        indexes = sorted(db.session.scalars(select(HotlineCall.repeat_index)))
    assert len(indexes) == 6


def test_two_purge_sweeps_anonymise_once(app, terms, make_user):
    counselor = make_user("counselor")
    with app.app_context():
        for _ in range(5):
            services.log_call(counselor, call_input(terms), now=NOW)
        db.session.execute(
            HotlineCall.__table__.update().values(
                started_at=NOW - timedelta(days=1200), ended_at=NOW - timedelta(days=1200)
            )
        )
        db.session.commit()

    def purge(_i):
        with app.app_context():
            try:
                return services.purge_expired(NOW)
            finally:
                db.session.remove()

    assert sum(together(3, purge)) == 5
    assert count(app, AuditEvent, AuditEvent.action == "hotline.retention_purge") == 1
