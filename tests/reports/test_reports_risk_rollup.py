"""The monthly risk-flag rollup stays equal to a direct count of the flags, through every
change a flag goes through after it is raised."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import delete, select, update

from tests.reports.conftest import NOW, make_workers
from wellness.auth.models import User
from wellness.extensions import db
from wellness.reports import periods, risk_rollup
from wellness.reports.models import RiskMonth, RiskRollupMonth
from wellness.risk import services as risk
from wellness.risk.models import RiskFlag


def expected() -> dict[tuple, tuple[int, ...]]:
    """Straight from the rows (Python may count in a test): each person once per month, at
    the unit of their latest flag of that month."""
    current = periods.month_of(NOW)
    by_person: dict[tuple, list[RiskFlag]] = defaultdict(list)
    for f in db.session.scalars(select(RiskFlag)):
        month = periods.month_of(f.created_at)
        if month < current:
            by_person[(f.person_id, month)].append(f)
    cells: dict[tuple, list] = defaultdict(lambda: [set(), 0, 0, 0, 0])
    for (person, month), rows in by_person.items():
        unit = max(rows, key=lambda f: (f.created_at, f.id)).org_unit_id or 0
        for f in rows:
            for level in (f.level, "total"):
                cell = cells[(month, unit, level)]
                cell[0].add(person)
                cell[1] += 1
                cell[2] += f.claimed_at is not None
                cell[3] += f.claimed_at is not None and f.claimed_at <= f.due_at
                cell[4] += f.escalated_at is not None
    return {key: (len(c[0]), *c[1:]) for key, c in cells.items()}


def stored() -> dict[tuple, tuple[int, ...]]:
    return {
        (r.month, r.org_unit_id, r.level): (
            r.people,
            r.flags,
            r.claimed,
            r.claimed_in_time,
            r.escalated,
        )
        for r in db.session.scalars(select(RiskMonth))
    }


def at(month: int, day: int = 10, hours: int = 3):
    return periods.month_start(month) + timedelta(days=day - 1, hours=hours)


def raise_(person: int, level: str, when) -> RiskFlag:
    flag = risk.raise_flag(person, source="manual", source_id=None, level=level, rule="t", now=when)
    db.session.commit()
    return flag


def counsellor() -> User:
    user = User(phone="+8613600000777", name="王静", role="counselor", password_hash="x")
    db.session.add(user)
    db.session.commit()
    return user


def test_each_person_counts_once_at_the_unit_of_their_latest_flag(app, org):
    with app.app_context():
        first, second = make_workers(org["a1"], 2)
        (third,) = make_workers(None, 1)
        staff = counsellor()
        flag = raise_(first, "high", at(202610, 2))
        risk.claim(staff, flag.id, now=at(202610, 2, hours=4))
        risk.resolve(staff, flag.id, "no_risk", now=at(202610, 3))
        # the member moves to another unit and is flagged again the same month
        db.session.get(User, first).org_unit_id = org["b1"]
        db.session.commit()
        raise_(first, "critical", at(202610, 20))
        raise_(second, "elevated", at(202610, 5))
        raise_(third, "critical", at(202609, 1))
        raise_(second, "critical", at(202612, 1))  # the current month: not reported yet
        assert risk_rollup.ensure_fresh(NOW) == [202609, 202610]
        assert stored() == expected()
        rows = stored()
        # both of the first member's October flags, at the unit of the latest one
        assert rows[(202610, org["b1"], "total")] == (1, 2, 1, 1, 0)
        assert rows[(202610, org["b1"], "high")] == (1, 1, 1, 1, 0)
        assert (202610, org["a1"], "high") not in rows
        assert rows[(202609, 0, "critical")][:2] == (1, 1)  # no unit: 0
        assert not [key for key in rows if key[0] == 202612]
        assert risk_rollup.ensure_fresh(NOW) == []  # nothing changed, nothing rebuilt


def test_the_unit_is_kept_from_when_the_flag_was_raised(app, org):
    with app.app_context():
        (person,) = make_workers(org["a1"], 1)
        flag = raise_(person, "high", at(202611))
        db.session.get(User, person).org_unit_id = org["b1"]
        db.session.commit()
        assert db.session.get(RiskFlag, flag.id).org_unit_id == org["a1"]


def test_claims_resolutions_escalations_and_new_levels_are_picked_up(app, org):
    with app.app_context():
        people = make_workers(org["a2"], 4)
        staff = counsellor()
        flags = [raise_(p, "elevated", at(202608 + i % 2, 3)) for i, p in enumerate(people)]
        risk_rollup.ensure_fresh(NOW)
        assert stored() == expected()

        risk.claim(staff, flags[0].id, now=at(202608, 3, hours=5))
        assert risk_rollup.ensure_fresh(NOW) == [202608]
        assert stored() == expected()

        risk.resolve(staff, flags[0].id, "no_risk", now=at(202608, 4))
        risk.reopen(staff, flags[0].id, now=at(202608, 6))
        assert risk_rollup.ensure_fresh(NOW) == [202608]
        assert stored() == expected()

        # a later, graver result raises the open flag's level: counted at its new level
        risk.raise_flag(
            people[1], source="manual", source_id=None, level="critical", rule="t", now=NOW
        )
        db.session.commit()
        assert risk_rollup.ensure_fresh(NOW) == [202609]
        assert stored()[(202609, org["a2"], "critical")][:2] == (1, 1)
        assert stored() == expected()

        assert risk.escalate_overdue(now=NOW) == 3  # the three still open
        assert risk_rollup.ensure_fresh(NOW) == [202608, 202609]
        assert stored() == expected()
        assert risk_rollup.ensure_fresh(NOW) == []


def test_an_erased_member_leaves_the_rollup(app, org):
    with app.app_context():
        people = make_workers(org["b1"], 3)
        for p in people:
            raise_(p, "high", at(202607))
        risk_rollup.ensure_fresh(NOW)
        assert stored()[(202607, org["b1"], "total")][:2] == (3, 3)
        # deleting the account removes the person's flags (ON DELETE CASCADE)
        db.session.execute(delete(RiskFlag).where(RiskFlag.person_id == people[0]))
        db.session.commit()
        # the request path's check cannot see a deletion; the scheduler's sweep does
        assert risk_rollup.ensure_fresh(NOW) == []
        assert risk_rollup.verify(NOW) == [202607]
        assert stored()[(202607, org["b1"], "total")][:2] == (2, 2)
        assert stored() == expected()
        for p in people[1:]:
            db.session.execute(delete(RiskFlag).where(RiskFlag.person_id == p))
        db.session.commit()
        assert risk_rollup.verify(NOW) == [202607]
        assert stored() == {} == expected()
        assert db.session.get(RiskRollupMonth, 202607) is None


def test_verify_catches_a_change_that_committed_behind_the_watermark(app, org):
    with app.app_context():
        people = make_workers(org["a1"], 2)
        staff = counsellor()
        flags = [raise_(p, "high", at(202606)) for p in people]
        risk_rollup.ensure_fresh(NOW)
        # a claim whose transaction stamped its change before the last one folded in
        risk.claim(staff, flags[0].id, now=at(202606, 11))
        state = db.session.get(RiskRollupMonth, 202606, populate_existing=True)
        db.session.execute(
            update(RiskFlag)
            .where(RiskFlag.id == flags[0].id)
            .values(updated_at=state.max_updated_at - timedelta(seconds=1))
        )
        db.session.commit()
        assert risk_rollup.ensure_fresh(NOW) == []
        assert stored() != expected()
        assert risk_rollup.verify(NOW) == [202606]  # the scheduler's sweep
        assert stored() == expected()
        assert risk_rollup.verify(NOW) == []


def test_the_dashboard_reads_the_rollup_and_sees_changes(app, org):
    from wellness.reports import services

    with app.app_context():
        people = make_workers(org["a1"], 6)
        first_flag = raise_(people[0], "critical", at(202611, 2)).id
        for p in people[1:]:
            raise_(p, "critical", at(202611, 2))
    with app.test_request_context(headers={"Accept-Language": "en"}):
        staff = counsellor()
        filters = services.build_filters(start="2026-11", end="2026-11", now=NOW)
        rows = {r.key: r.values for r in services.dashboard(filters, NOW).risk.table.rows}
        assert rows["critical"]["flags"] == 6 and rows["critical"]["claimed"] == 0
        risk.claim(staff, first_flag, now=at(202611, 2, hours=4))
        rows = {r.key: r.values for r in services.dashboard(filters, NOW).risk.table.rows}
        assert rows["critical"]["claimed"] == 1
        assert rows["critical"]["claim"] == 60


def test_concurrent_refreshes_agree(app, org):
    with app.app_context():
        for i, p in enumerate(make_workers(org["a1"], 12)):
            raise_(p, ["elevated", "high", "critical"][i % 3], at(202611, 1 + i))
    barrier = threading.Barrier(4)
    errors = []

    def work():
        with app.app_context():
            try:
                barrier.wait()
                risk_rollup.ensure_fresh(NOW)
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context():
        assert stored() == expected()
        assert db.session.get(RiskRollupMonth, 202611).source_rows == 12
