"""Real threads released together by a Barrier, each with its own session/connection.

Runs on the SQLite file database and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select

from tests.vouchers.conftest import NOW, balance_ok, spec
from wellness.errors import WellnessError
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.models import Voucher, VoucherEntry, VoucherHold, VoucherQuota

THREADS = 20


def race(app, n: int, work: Callable[[int], str]) -> Counter:
    """Run ``work(i)`` in ``n`` threads released at once; count the outcomes."""
    barrier = threading.Barrier(n)
    results: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                outcome = work(i)
            except WellnessError as error:
                db.session.rollback()
                outcome = next(iter(error.fields.values()), error.code)
            except Exception as error:  # noqa: BLE001 - reported as a failure below
                db.session.rollback()
                outcome = f"crash: {type(error).__name__}: {error}"
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(results)


def test_twenty_reservations_of_a_one_session_voucher_exactly_one_wins(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)

    def reserve(i: int) -> str:
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1000 + i, NOW)
        db.session.commit()
        return "ok"

    outcomes = race(app, THREADS, reserve)
    assert outcomes == Counter({"ok": 1, "exhausted": THREADS - 1}), outcomes
    with app.app_context():
        v = db.session.get(Voucher, voucher.id)
        assert (v.remaining_sessions, v.reserved_sessions) == (0, 1)
        assert db.session.scalar(select(func.count(VoucherHold.id))) == 1
        assert (
            db.session.scalar(
                select(func.count(VoucherEntry.id)).where(VoucherEntry.kind == "reserve")
            )
            == 1
        )
        balance_ok(voucher.batch_id)


def test_twenty_reservations_of_a_three_session_voucher_exactly_three_win(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=3)

    def reserve(i: int) -> str:
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 2000 + i, NOW)
        db.session.commit()
        return "ok"

    outcomes = race(app, THREADS, reserve)
    assert outcomes == Counter({"ok": 3, "exhausted": THREADS - 3}), outcomes
    with app.app_context():
        balance_ok(voucher.batch_id)


def test_concurrent_consume_and_release_of_one_hold_settle_once(app, make_user, issue):
    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 1, NOW)
        db.session.commit()

    def settle(i: int) -> str:
        if i % 2:
            services.consume_for_appointment(1, NOW)
        else:
            services.release_for_appointment(1, NOW, "cancel")
        db.session.commit()
        return "done"

    outcomes = race(app, 10, settle)
    assert outcomes == Counter({"done": 10}), outcomes
    with app.app_context():
        v = db.session.get(Voucher, voucher.id)
        assert v.reserved_sessions == 0
        assert v.consumed_sessions + v.remaining_sessions == 1
        kinds = Counter(db.session.scalars(select(VoucherEntry.kind)))
        assert kinds["consume"] + kinds["release"] == 1
        balance_ok(voucher.batch_id)


def test_twenty_claims_of_one_bearer_code_one_wallet_gets_it(app, make_user, issue):
    workers = [make_user("worker") for _ in range(THREADS)]
    (voucher,) = issue(bearer=1)

    def claim(i: int) -> str:
        services.claim_code(workers[i], voucher.code, NOW)
        return "ok"

    outcomes = race(app, THREADS, claim)
    assert outcomes == Counter({"ok": 1, "claimed": THREADS - 1}), outcomes
    with app.app_context():
        v = db.session.get(Voucher, voucher.id)
        assert v.user_id in {w.id for w in workers}
        assert (
            db.session.scalar(
                select(func.count(VoucherEntry.id)).where(VoucherEntry.kind == "assign")
            )
            == 1
        )


def test_per_member_limit_holds_when_claiming_many_codes_at_once(app, make_user, issue):
    worker = make_user("worker")
    vouchers = issue(bearer=10, per_member_limit=2)

    def claim(i: int) -> str:
        services.claim_code(worker, vouchers[i].code, NOW)
        return "ok"

    outcomes = race(app, 10, claim)
    assert outcomes == Counter({"ok": 2, "limit": 8}), outcomes
    with app.app_context():
        assert (
            db.session.scalar(select(func.count(Voucher.id)).where(Voucher.user_id == worker.id))
            == 2
        )
        assert db.session.scalar(select(VoucherQuota.issued)) == 2


def test_two_admins_confirming_one_batch_issue_it_once(app, make_user):
    members = [make_user("worker") for _ in range(30)]
    with app.app_context():
        batch = services.prepare_bearer_batch(None, spec(), 50, NOW)
        batch_id = batch.id
        del members

    def confirm(i: int) -> str:
        services.confirm_batch(None, batch_id, NOW)
        return "ok"

    outcomes = race(app, 4, confirm)
    assert outcomes == Counter({"ok": 1, "issued": 3}), outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count(Voucher.id))) == 50
        balance_ok(batch_id)


def test_two_expiry_sweeps_at_once_expire_each_voucher_once(app, make_user, issue):
    workers = [make_user("worker") for _ in range(5)]
    vouchers = issue(*workers, sessions=2)
    with app.app_context():
        end = db.session.get(Voucher, vouchers[0].id).valid_until

    def sweep(i: int) -> str:
        return str(services.expire_due(end)["vouchers"])

    outcomes = race(app, 2, sweep)
    assert sum(int(k) * v for k, v in outcomes.items()) == 5, outcomes  # 5 in all, not 10
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(VoucherEntry.id)).where(VoucherEntry.kind == "expire")
            )
            == 5
        )
        balance_ok(vouchers[0].batch_id)
