"""Booking with the real vouchers service: reserve at booking, release on a timely
cancel, consume on attendance, forfeit on a no-show, nothing used when booking fails."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.booking.factories import MONDAY, NOW, TUESDAY, attached, bj, stamp
from wellness.booking import services
from wellness.booking.models import Service
from wellness.errors import Conflict, InvalidInput
from wellness.extensions import db
from wellness.vouchers import services as voucher_services
from wellness.vouchers.models import Voucher


@pytest.fixture
def voucher_world(app, world):
    with app.app_context():
        for code in ("individual", "sand_table"):
            db.session.get(Service, world.services[code]).voucher_required = True
        db.session.commit()
        db.session.remove()
    return world


def issue(app, user, sessions: int = 2) -> tuple[int, str]:
    with app.app_context():
        spec = voucher_services.BatchSpec(
            name="2026年度职工心理关爱券",
            sessions=sessions,
            valid_until=date(2027, 6, 30),
            service_codes=["individual", "sand_table"],
        )
        result = voucher_services.issue_batch_now(None, spec, members=[user.phone], now=NOW)
        voucher = db.session.scalar(select(Voucher).where(Voucher.batch_id == result.batch.id))
        found = (voucher.id, voucher.code)
        db.session.remove()
    return found


def sessions(voucher_id: int) -> tuple[int, int, int]:
    v = db.session.get(Voucher, voucher_id, populate_existing=True)
    return v.remaining_sessions, v.reserved_sessions, v.consumed_sessions


def slot(world, day, hh, mm=0):
    service = world.services["individual"]
    return f"c{world.counselor.id}-{world.station}-{service}-{stamp(day, hh, mm)}"


def test_reserve_release_consume_forfeit(app, voucher_world, make_user):
    worker = make_user("worker")
    voucher_id, code = issue(app, worker, sessions=3)
    with app.app_context():
        user = attached(worker)
        offered = services.usable_vouchers(
            user, db.session.get(Service, voucher_world.services["individual"]), NOW
        )
        assert [v.code for v in offered] == [code]
        with pytest.raises(InvalidInput) as error:
            services.book(user, slot(voucher_world, TUESDAY, 9), now=NOW)
        assert error.value.fields == {"voucher_code": "required"}

        first = services.book(
            user, slot(voucher_world, TUESDAY, 9), now=NOW, voucher_code=code
        ).appointment
        assert first.voucher_code == code and sessions(voucher_id) == (2, 1, 0)
        services.cancel_appointment(attached(worker), first.id, now=NOW)
        assert sessions(voucher_id) == (3, 0, 0)  # a timely cancel gives it back

        second = services.book(
            attached(worker), slot(voucher_world, MONDAY, 10), now=NOW, voucher_code=code
        ).appointment
        third = services.book(
            attached(worker), slot(voucher_world, MONDAY, 14, 30), now=NOW, voucher_code=code
        ).appointment
        assert sessions(voucher_id) == (1, 2, 0)
        services.mark_attendance(
            attached(voucher_world.counselor), second.id, "attended", now=bj(MONDAY, 11)
        )
        assert sessions(voucher_id) == (1, 1, 1)
        services.mark_attendance(
            attached(voucher_world.counselor), third.id, "no_show", now=bj(MONDAY, 15)
        )
        v = db.session.get(Voucher, voucher_id, populate_existing=True)
        assert v.reserved_sessions == 0 and v.remaining_sessions == 1  # forfeited: gone


def test_a_failed_booking_uses_no_voucher(app, voucher_world, make_user):
    first, second = make_user("worker"), make_user("worker")
    _, code_a = issue(app, first)
    voucher_b, code_b = issue(app, second)
    with app.app_context():
        services.book(
            attached(first), slot(voucher_world, TUESDAY, 10), now=NOW, voucher_code=code_a
        )
        with pytest.raises(Conflict):
            services.book(
                attached(second), slot(voucher_world, TUESDAY, 10), now=NOW, voucher_code=code_b
            )
        assert sessions(voucher_b) == (2, 0, 0)
        # Someone else's code is refused and nothing is booked.
        with pytest.raises((InvalidInput, Conflict)) as error:
            services.book(
                attached(second), slot(voucher_world, TUESDAY, 11), now=NOW, voucher_code=code_a
            )
        assert "voucher_code" in error.value.fields


def test_reschedule_keeps_one_reserved_session(app, voucher_world, make_user):
    worker = make_user("worker")
    voucher_id, code = issue(app, worker, sessions=1)
    with app.app_context():
        booked = services.book(
            attached(worker), slot(voucher_world, TUESDAY, 9), now=NOW, voucher_code=code
        ).appointment
        moved = services.reschedule(
            attached(worker), booked.id, slot(voucher_world, TUESDAY, 14, 30), now=NOW
        )
        assert moved.voucher_code == code
        assert sessions(voucher_id) == (0, 1, 0)


def test_staff_cancel_releases_the_voucher(app, voucher_world, make_user):
    worker, admin = make_user("worker"), make_user("admin")
    voucher_id, code = issue(app, worker, sessions=1)
    with app.app_context():
        booked = services.book(
            attached(worker), slot(voucher_world, TUESDAY, 9), now=NOW, voucher_code=code
        ).appointment
        services.staff_cancel(attached(admin), booked.id, "咨询师临时请假", now=NOW)
        assert sessions(voucher_id) == (1, 0, 0)


def test_confirm_page_offers_the_members_vouchers(app, client, voucher_world, make_user, login_as):
    import time_machine

    worker = make_user("worker")
    voucher_id, code = issue(app, worker, sessions=2)
    with time_machine.travel(NOW, tick=True):
        login_as(worker)
        wanted = slot(voucher_world, TUESDAY, 10)
        page = client.get(f"/booking/book?slot={wanted}", headers={"Accept-Language": "en"})
        assert "Your vouchers for this service" in page.get_data(as_text=True)
        missing = client.post(
            "/booking/book",
            data={"slot_id": wanted, "nonce": "v1"},
            headers={"Accept-Language": "en"},
        )
        assert missing.status_code == 422
        assert "needs a voucher" in missing.get_data(as_text=True)
        booked = client.post(
            "/booking/book", data={"slot_id": wanted, "nonce": "v2", "voucher_code": code}
        )
        assert booked.status_code == 302
    with app.app_context():
        assert sessions(voucher_id) == (1, 1, 0)
        db.session.remove()
