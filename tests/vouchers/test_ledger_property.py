"""Random sequences of voucher operations against the real services and database.

A hypothesis RuleBasedStateMachine drives claim, reserve, release, consume, forfeit,
station use, revoke, the passing of time and the expiry sweep, and keeps a plain Python
model of what each operation should do. After every step:

* each voucher in the database equals the model (status, owner, every bucket);
* the ledger balances, per batch::

      issued sessions (the issue rows)
        = remaining + reserved + consumed + forfeited + expired + revoked

  where each bucket is computed twice: replayed from the ledger rows (each kind moves
  ``sessions`` from one bucket to another, see ``services.FLOWS``) and summed from the
  vouchers' counters; both must agree and add up to what was issued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.vouchers.conftest import NOW, spec
from wellness.auth.models import User
from wellness.auth.passwords import hash_password
from wellness.errors import WellnessError
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.models import Voucher

APP = None
_phones = count(1)
_appointments = count(1)
USERS = 3
MEMBER_SESSIONS = 3
LAST_DAY = date(2027, 1, 30)  # 2 months after NOW; close_while_booked jumps to it
BEARER = 3
SCOPE = ("individual", "sand_table")
BUCKETS = ("remaining", "reserved", "consumed", "forfeited", "expired", "revoked")


@dataclass
class ModelVoucher:
    id: int
    batch_id: int
    code: str
    owner: int | None
    status: str
    buckets: dict[str, int] = field(default_factory=dict)
    counted: bool = False  # counts against its owner's per-member limit


class VoucherMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ctx = APP.app_context()
        self.ctx.push()
        password = hash_password("not-used-here-1")
        self.users = []
        for _ in range(USERS):
            user = User(
                phone=f"+86136{next(_phones):08d}",
                name="成员",
                role="worker",
                password_hash=password,
            )
            db.session.add(user)
            self.users.append(user)
        db.session.commit()
        self.user_ids = [u.id for u in self.users]
        self.now = NOW
        members = services.issue_batch_now(
            None,
            spec(sessions=MEMBER_SESSIONS, service_codes=list(SCOPE), valid_until=LAST_DAY),
            members=[u.phone for u in self.users],
            now=NOW,
        ).batch
        bearer = services.issue_batch_now(
            None,
            spec(name="印刷券", sessions=1, service_codes=list(SCOPE), valid_until=LAST_DAY),
            bearer_count=BEARER,
            now=NOW,
        ).batch
        self.batch_ids = [members.id, bearer.id]
        self.valid_until = members.valid_until
        self.vouchers: list[ModelVoucher] = []
        for row in db.session.scalars(
            db.select(Voucher).where(Voucher.batch_id.in_(self.batch_ids)).order_by(Voucher.id)
        ):
            self.vouchers.append(
                ModelVoucher(
                    id=row.id,
                    batch_id=row.batch_id,
                    code=row.code,
                    owner=row.user_id,
                    status=row.status,
                    buckets={b: (row.sessions if b == "remaining" else 0) for b in BUCKETS},
                    counted=row.user_id is not None,
                )
            )
        self.holds: dict[int, tuple[int, str]] = {}  # appointment -> (voucher index, state)

    def teardown(self) -> None:
        db.session.remove()
        self.ctx.pop()

    # ------------------------------------------------------------------ model helpers

    def usable_now(self, v: ModelVoucher) -> bool:
        return self.now < self.valid_until and v.status in ("active", "unassigned")

    def held_by(self, user: int, batch_id: int) -> int:
        return sum(
            1 for v in self.vouchers if v.owner == user and v.batch_id == batch_id and v.counted
        )

    def attempt(self, action) -> bool:
        try:
            action()
            db.session.commit()
            return True
        except WellnessError:
            db.session.rollback()
            return False

    def move(self, v: ModelVoucher, source: str, target: str) -> None:
        v.buckets[source] -= 1
        v.buckets[target] += 1

    # ------------------------------------------------------------------ rules

    @rule(
        u=st.integers(0, USERS - 1),
        i=st.integers(0, USERS + BEARER - 1),
        svc=st.sampled_from(["individual", "individual", "sand_table", "group"]),
        own=st.booleans(),
    )
    def reserve(self, u, i, svc, own):
        user = self.user_ids[u]
        mine = [n for n, v in enumerate(self.vouchers) if v.owner == user]
        if own and mine:
            i = mine[i % len(mine)]
        v = self.vouchers[i]
        appointment = next(_appointments)
        claimable = (
            v.owner is None and v.status == "unassigned" and self.held_by(user, v.batch_id) < 1
        )
        expected = (
            self.usable_now(v)
            and svc in SCOPE
            and v.buckets["remaining"] > 0
            and (v.owner == user or claimable)
        )
        ok = self.attempt(
            lambda: services.reserve_for_appointment(user, v.code, svc, appointment, self.now)
        )
        assert ok == expected, (ok, expected, v, user, svc, self.now)
        if ok:
            if v.owner is None:
                v.owner, v.status, v.counted = user, "active", True
            self.move(v, "remaining", "reserved")
            self.holds[appointment] = (i, "reserved")

    @precondition(lambda self: any(v.status == "unassigned" for v in self.vouchers))
    @rule(u=st.integers(0, USERS - 1), i=st.integers(0, USERS + BEARER - 1), any_code=st.booleans())
    def claim(self, u, i, any_code):
        user = self.users[u]
        if not any_code:  # usually a code that is still on the sheet
            unassigned = [n for n, v in enumerate(self.vouchers) if v.status == "unassigned"]
            i = unassigned[i % len(unassigned)]
        v = self.vouchers[i]
        expected = (
            v.owner is None
            and v.status == "unassigned"
            and self.now < self.valid_until
            and self.held_by(user.id, v.batch_id) < 1
        )
        ok = self.attempt(lambda: services.claim_code(user, v.code, self.now))
        assert ok == expected, (ok, expected, v)
        if ok:
            v.owner, v.status, v.counted = user.id, "active", True

    def _settle(self, pick: int, kind: str, again: bool) -> None:
        # Reserved holds, those on withdrawn or expired vouchers first (the rarer paths).
        open_holds = sorted(
            (a for a, (_i, state) in self.holds.items() if state == "reserved"),
            key=lambda a: (self.vouchers[self.holds[a][0]].status in ("active", "unassigned"), a),
        )
        pool = sorted(self.holds) if again or not open_holds else open_holds
        appointment = pool[pick % len(pool)]
        i, state = self.holds[appointment]
        v = self.vouchers[i]
        action = {
            "release": lambda: services.release_for_appointment(appointment, self.now, "test"),
            "consume": lambda: services.consume_for_appointment(appointment, self.now),
            "forfeit": lambda: services.forfeit_for_appointment(appointment, self.now),
        }[kind]
        assert self.attempt(action)  # idempotent: never an error
        if state != "reserved":
            return
        if kind == "release":
            target = {"expired": "expired", "revoked": "revoked"}.get(v.status, "remaining")
        else:
            target = "consumed" if kind == "consume" else "forfeited"
        self.move(v, "reserved", target)
        self.holds[appointment] = (i, kind)

    @precondition(lambda self: self.holds)
    @rule(
        pick=st.integers(0, 50),
        kind=st.sampled_from(["release", "release", "consume", "forfeit"]),
        again=st.integers(0, 4).map(lambda n: n == 0),  # now and then settle a settled one
    )
    def settle(self, pick, kind, again):
        self._settle(pick, kind, again)

    @rule(i=st.integers(0, USERS + BEARER - 1), svc=st.sampled_from(["individual", "group"]))
    def use_at_station(self, i, svc):
        v = self.vouchers[i]
        expected = self.usable_now(v) and svc in SCOPE and v.buckets["remaining"] > 0
        ok = self.attempt(lambda: services.consume_at_station(None, v.code, svc, self.now))
        assert ok == expected, (ok, expected, v)
        if ok:
            self.move(v, "remaining", "consumed")

    @rule(i=st.integers(0, USERS + BEARER - 1), dice=st.integers(0, 3))
    def revoke(self, i, dice):
        if dice:  # withdrawals are rare in life; keep most vouchers alive for the other rules
            return
        self._revoke(self.vouchers[i])

    def _revoke(self, v: ModelVoucher) -> None:
        expected = v.status in ("active", "unassigned")
        ok = self.attempt(lambda: services.revoke_voucher(None, v.id, "测试收回", self.now))
        assert ok == expected
        if ok:
            v.status = "revoked"
            v.buckets["revoked"] += v.buckets["remaining"]
            v.buckets["remaining"] = 0
            v.counted = False

    @precondition(lambda self: any(state == "reserved" for _i, state in self.holds.values()))
    @rule(pick=st.integers(0, 50), how=st.sampled_from(["revoke", "expire"]))
    def close_while_booked(self, pick, how):
        """A voucher is withdrawn, or runs out, while a session of it is booked."""
        booked = sorted({i for i, state in self.holds.values() if state == "reserved"})
        v = self.vouchers[booked[pick % len(booked)]]
        if how == "revoke":
            self._revoke(v)
        else:
            self.now = max(self.now, self.valid_until)
            self.expiry_sweep()

    @rule(days=st.integers(1, 10))
    def time_passes(self, days):
        self.now += timedelta(days=days)

    @rule()
    def expiry_sweep(self):
        services.expire_due(self.now)
        services.expire_due(self.now)  # a second run changes nothing
        for v in self.vouchers:
            if self.now >= self.valid_until and v.status in ("active", "unassigned"):
                v.status = "expired"
                v.buckets["expired"] += v.buckets["remaining"]
                v.buckets["remaining"] = 0

    # ------------------------------------------------------------------ invariants

    @invariant()
    def database_matches_the_model(self):
        rows = {
            r.id: r
            for r in db.session.scalars(
                db.select(Voucher)
                .where(Voucher.batch_id.in_(self.batch_ids))
                .execution_options(populate_existing=True)
            )
        }
        for v in self.vouchers:
            row = rows[v.id]
            assert (row.status, row.user_id) == (v.status, v.owner), (row, v)
            actual = {b: getattr(row, f"{b}_sessions") for b in BUCKETS}
            assert actual == v.buckets, (actual, v)
        db.session.rollback()

    @invariant()
    def ledger_balances(self):
        for batch_id in self.batch_ids:
            balance = services.ledger_balance(batch_id)
            issued = balance["issued"]["ledger"]
            assert issued == balance["issued"]["vouchers"], balance
            assert balance["ledger"] == balance["vouchers"], balance
            assert sum(balance["ledger"].values()) == issued, balance
            assert min(balance["ledger"].values()) >= 0, balance
        db.session.rollback()


def test_random_operation_sequences_keep_the_ledger_balanced(app):
    global APP
    APP = app
    run_state_machine_as_test(
        VoucherMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=40,
            deadline=None,
            database=None,
            derandomize=True,  # the same sequences on every run and in CI
            suppress_health_check=list(HealthCheck),
        ),
    )
