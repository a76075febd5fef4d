"""The functions booking calls: reserve, release, consume, forfeit, usable_vouchers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.vouchers.conftest import NOW, balance_ok, later
from wellness.audit import AuditEvent
from wellness.errors import Conflict, InvalidInput
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.codes import display
from wellness.vouchers.models import Voucher, VoucherEntry, VoucherHold


def fresh(voucher_id: int) -> Voucher:
    return db.session.get(Voucher, voucher_id, populate_existing=True)


def ledger_kinds(voucher_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(VoucherEntry.kind)
            .where(VoucherEntry.voucher_id == voucher_id)
            .order_by(VoucherEntry.id)
        )
    )


def test_reserve_then_consume_moves_one_session(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=3)
    with app.app_context():
        got = services.reserve_for_appointment(worker.id, voucher.code, "individual", 101, NOW)
        db.session.commit()
        assert got.id == voucher.id
        assert (got.remaining_sessions, got.reserved_sessions) == (2, 1)
        services.consume_for_appointment(101, later(1))
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.remaining_sessions, v.reserved_sessions, v.consumed_sessions) == (2, 0, 1)
        assert ledger_kinds(voucher.id) == ["reserve", "consume"]
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"vouchers.reserve", "vouchers.consume", "vouchers.issue"} <= actions
        balance_ok(voucher.batch_id)


def test_display_form_and_lower_case_are_accepted(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=2)
    with app.app_context():
        services.reserve_for_appointment(
            worker.id, display(voucher.code).lower(), "individual", 7, NOW
        )
        db.session.commit()
        assert fresh(voucher.id).reserved_sessions == 1


def test_release_gives_the_session_back_and_is_idempotent(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 5, NOW)
        db.session.commit()
        services.release_for_appointment(5, later(1), "cancelled 2 days ahead")
        services.release_for_appointment(5, later(1), "again")  # no-op
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.remaining_sessions, v.reserved_sessions) == (1, 0)
        assert ledger_kinds(voucher.id) == ["reserve", "release"]
        hold = db.session.scalar(select(VoucherHold).where(VoucherHold.appointment_id == 5))
        assert hold.status == "released"
        # The session can be reserved again for another appointment.
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 6, later(2))
        db.session.commit()
        balance_ok(voucher.batch_id)


def test_forfeit_on_no_show(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=2)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "sand_table", 9, NOW)
        services.forfeit_for_appointment(9, later(1))
        services.forfeit_for_appointment(9, later(1))  # idempotent
        services.consume_for_appointment(9, later(1))  # no longer reserved: nothing
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.remaining_sessions, v.forfeited_sessions, v.consumed_sessions) == (1, 1, 0)
        balance_ok(voucher.batch_id)


def test_calls_for_appointments_without_a_voucher_do_nothing(app):
    with app.app_context():
        services.release_for_appointment(404, NOW, "x")
        services.consume_for_appointment(404, NOW)
        services.forfeit_for_appointment(404, NOW)
        db.session.commit()
        assert db.session.scalar(select(func.count(VoucherEntry.id))) == 0


@pytest.mark.parametrize(
    ("mangle", "kind", "error"),
    [
        (lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"), "check", InvalidInput),
        (lambda c: c[:5], "format", InvalidInput),
        (lambda c: "0" + c[1:], "format", InvalidInput),
    ],
)
def test_typos_are_caught_before_a_lookup(app, make_user, issue, mangle, kind, error):
    worker = make_user("worker")
    (voucher,) = issue(worker)
    with app.app_context():
        with pytest.raises(error) as caught:
            services.reserve_for_appointment(worker.id, mangle(voucher.code), "individual", 1, NOW)
        assert caught.value.fields == {"voucher_code": kind}
        db.session.rollback()
        assert fresh(voucher.id).remaining_sessions == 1


def test_unknown_code(app, make_user):
    from wellness.vouchers.codes import generate_codes

    worker = make_user("worker")
    with app.app_context(), pytest.raises(InvalidInput) as caught:
        services.reserve_for_appointment(worker.id, generate_codes(1)[0], "individual", 1, NOW)
    assert caught.value.fields == {"voucher_code": "unknown"}


def test_another_members_voucher_is_refused_and_unchanged(app, make_user, issue):
    owner, other = make_user("worker"), make_user("worker")
    (voucher,) = issue(owner)
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.reserve_for_appointment(other.id, voucher.code, "individual", 1, NOW)
        assert caught.value.fields == {"voucher_code": "not_yours"}
        db.session.rollback()
        assert fresh(voucher.id).remaining_sessions == 1
        assert db.session.scalar(select(func.count(VoucherHold.id))) == 0


def test_service_outside_the_scope_is_refused(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, service_codes=["individual"])
    with app.app_context():
        for service in ("group", "no-such-service"):
            with pytest.raises(InvalidInput) as caught:
                services.reserve_for_appointment(worker.id, voucher.code, service, 1, NOW)
            assert caught.value.fields == {"voucher_code": "wrong_service"}
            db.session.rollback()
        assert fresh(voucher.id).remaining_sessions == 1


def test_expired_exhausted_and_revoked(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)
    with app.app_context():
        after_end = fresh(voucher.id).valid_until
        with pytest.raises(Conflict) as caught:
            services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, after_end)
        assert caught.value.fields == {"voucher_code": "expired"}
        db.session.rollback()

        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, NOW)
        db.session.commit()
        with pytest.raises(Conflict) as caught:
            services.reserve_for_appointment(worker.id, voucher.code, "individual", 2, NOW)
        assert caught.value.fields == {"voucher_code": "exhausted"}
        db.session.rollback()

        services.revoke_voucher(None, voucher.id, "member left the union", later(1))
        with pytest.raises(Conflict) as caught:
            services.reserve_for_appointment(worker.id, voucher.code, "individual", 3, later(1))
        assert caught.value.fields == {"voucher_code": "revoked"}
        db.session.rollback()
        # The reservation made before the withdrawal is released into "revoked".
        services.release_for_appointment(1, later(2), "cancelled")
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.remaining_sessions, v.reserved_sessions, v.revoked_sessions) == (0, 0, 1)
        assert ledger_kinds(voucher.id) == ["reserve", "revoke", "release", "revoke"]
        balance_ok(voucher.batch_id)


def test_not_yet_valid(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, valid_from=date(2027, 1, 1))
    with app.app_context(), pytest.raises(Conflict) as caught:
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, NOW)
    assert caught.value.fields == {"voucher_code": "not_yet_valid"}


def test_one_appointment_holds_one_voucher(app, make_user, issue):
    worker = make_user("worker")
    first = issue(worker, sessions=2)[0]
    second = issue(worker, sessions=2, name="第二批")[0]
    with app.app_context():
        services.reserve_for_appointment(worker.id, first.code, "individual", 77, NOW)
        db.session.commit()
        with pytest.raises(Conflict) as caught:
            services.reserve_for_appointment(worker.id, second.code, "individual", 77, NOW)
        assert caught.value.fields == {"voucher_code": "already_reserved"}
        db.session.rollback()
        assert fresh(second.id).remaining_sessions == 2  # the savepoint undid the move
        assert fresh(first.id).reserved_sessions == 1


def test_an_error_leaves_the_callers_transaction_usable(app, make_user, issue):
    """Booking calls us inside its own transaction: our failure must not poison it."""
    from wellness.auth.models import OrgUnit

    owner, other = make_user("worker"), make_user("worker")
    (voucher,) = issue(owner)
    with app.app_context():
        db.session.add(OrgUnit(name="调用方的改动", kind="enterprise"))
        db.session.flush()
        with pytest.raises(InvalidInput):
            services.reserve_for_appointment(other.id, voucher.code, "individual", 1, NOW)
        db.session.commit()
        assert db.session.scalar(select(OrgUnit).where(OrgUnit.name == "调用方的改动"))


def test_release_after_expiry_goes_to_expired(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=2)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, NOW)
        db.session.commit()
        end = fresh(voucher.id).valid_until
        services.expire_due(end)
        v = fresh(voucher.id)
        assert (v.status, v.remaining_sessions, v.reserved_sessions, v.expired_sessions) == (
            "expired",
            0,
            1,
            1,
        )
        services.release_for_appointment(1, end, "cancelled")
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.reserved_sessions, v.expired_sessions, v.remaining_sessions) == (0, 2, 0)
        balance_ok(voucher.batch_id)


def test_consume_after_expiry_still_counts_the_visit(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, NOW)
        db.session.commit()
        end = fresh(voucher.id).valid_until
        services.expire_due(end)
        services.consume_for_appointment(1, end)
        db.session.commit()
        assert fresh(voucher.id).consumed_sessions == 1
        balance_ok(voucher.batch_id)


def test_usable_vouchers(app, make_user, issue):
    worker = make_user("worker")
    soon = issue(worker, sessions=2, valid_until=date(2027, 1, 31))[0]
    later_one = issue(worker, sessions=1, name="第二批")[0]
    group_only = issue(worker, name="团体辅导券", service_codes=["group"])[0]
    used = issue(worker, name="已用完", sessions=1)[0]
    with app.app_context():
        services.reserve_for_appointment(worker.id, used.code, "individual", 1, NOW)
        db.session.commit()
        found = services.usable_vouchers(worker.id, "individual", NOW)
        assert [v.id for v in found] == [soon.id, later_one.id]
        assert found[0].remaining_sessions == 2 and found[0].valid_until > NOW
        assert [v.id for v in services.usable_vouchers(worker.id, "group", NOW)] == [group_only.id]
        assert services.usable_vouchers(worker.id, "individual", found[1].valid_until) == []
        assert services.usable_vouchers(worker.id, "bogus", NOW) == []


def test_an_unclaimed_bearer_code_is_claimed_when_booking(app, make_user, issue):
    worker = make_user("worker")
    voucher = issue(bearer=1, sessions=2)[0]
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 3, NOW)
        db.session.commit()
        v = fresh(voucher.id)
        assert (v.user_id, v.status, v.reserved_sessions) == (worker.id, "active", 1)
        assert ledger_kinds(voucher.id) == ["assign", "reserve"]
