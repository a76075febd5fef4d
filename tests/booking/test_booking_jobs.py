"""Booking sweeps through the scheduler, and two sweeps at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from tests.booking.factories import NEXT_MONDAY, NOW, attached, bj, stamp
from wellness import scheduler
from wellness.booking import services
from wellness.booking.jobs import JOBS
from wellness.booking.models import Appointment, BookingCell
from wellness.extensions import db
from wellness.notify.models import OutboxMessage


def slot(world, counselor, day, hh, station=None):
    service = world.services["individual"]
    return f"c{counselor.id}-{station or world.station}-{service}-{stamp(day, hh)}"


def test_jobs_are_registered_and_run_in_an_app_context(app, world, make_user):
    assert {j.id for j in JOBS} <= {j.id for j in scheduler.all_jobs()}
    worker = make_user("worker")
    with app.app_context():
        booked = services.book(
            attached(worker), slot(world, world.counselor, NEXT_MONDAY, 10), now=NOW
        )
        reference = booked.appointment.reference
        db.session.remove()
    by_id = {j.id: j for j in JOBS}
    with time_machine.travel(bj(NEXT_MONDAY, 10) - timedelta(hours=23), tick=False):
        assert scheduler.run_job(app, by_id["booking.send_reminders"]) == {"24h": 1, "2h": 0}
        assert scheduler.run_job(app, by_id["booking.send_reminders"]) == {"24h": 0, "2h": 0}
        assert scheduler.run_job(app, by_id["booking.expire_holds"]) == 0
    with time_machine.travel(bj(NEXT_MONDAY, 10) + timedelta(days=3), tick=False):
        assert scheduler.run_job(app, by_id["booking.prune_cells"]) == 34
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body).where(OutboxMessage.dedupe_key.like("%:reminder:24h"))
        )
        assert reference in body
        assert db.session.scalar(select(func.count(BookingCell.id))) == 0
        db.session.remove()


def test_two_reminder_sweeps_at_once_send_each_reminder_once(app, world, make_user):
    workers = [make_user("worker") for _ in range(6)]
    with app.app_context():
        for worker, hour in zip(workers, (9, 10, 11, 13, 14, 15), strict=True):
            minute_slot = slot(world, world.counselor, NEXT_MONDAY, hour)
            if hour >= 13:
                minute_slot = minute_slot[:-2] + "30"
            services.book(attached(worker), minute_slot, now=NOW)
        db.session.remove()
    moment = bj(NEXT_MONDAY, 8)  # every appointment is within 24 h, none within 2 h
    barrier = threading.Barrier(2)
    results = []

    def sweep():
        with app.app_context():
            barrier.wait()
            results.append(services.send_reminders(now=moment))
            db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r["24h"] for r in results) == 6
    with app.app_context():
        sent = db.session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.dedupe_key.like("%:reminder:24h")
            )
        )
        assert sent == 6
        assert (
            db.session.scalar(
                select(func.count(Appointment.id)).where(Appointment.reminder_24h_at.is_(None))
            )
            == 0
        )
        db.session.remove()
