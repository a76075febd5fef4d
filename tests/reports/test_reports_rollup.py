"""The monthly rollup stays exactly equal to a direct computation from the responses."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import delete, select, update

from tests.reports.conftest import NOW, add_result, make_workers
from wellness.assessments.models import AssessmentResponse
from wellness.extensions import db
from wellness.reports import periods, rollup
from wellness.reports.models import AssessmentMonth, RollupMonth


def expected() -> dict[tuple, tuple[int, int, int]]:
    """Straight from the rows (in the test, Python may count): each person's latest
    result per month and instrument."""
    rows = db.session.scalars(select(AssessmentResponse)).all()
    latest: dict[tuple, AssessmentResponse] = {}
    taken: dict[tuple, int] = defaultdict(int)
    current = periods.month_of(NOW)
    for r in rows:
        month = periods.month_of(r.created_at)
        if month >= current:
            continue
        key = (r.user_id, r.instrument, month)
        taken[key] += 1
        best = latest.get(key)
        if best is None or (r.created_at, r.id) > (best.created_at, best.id):
            latest[key] = r
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, r in latest.items():
        cell = out[(key[2], r.instrument, r.org_unit_id or 0, r.band)]
        cell[0] += 1
        cell[1] += taken[key]
        cell[2] += r.total
    return {k: tuple(v) for k, v in out.items()}


def stored() -> dict[tuple, tuple[int, int, int]]:
    return {
        (r.month, r.instrument, r.org_unit_id, r.band): (r.people, r.assessments, r.score_sum)
        for r in db.session.scalars(select(AssessmentMonth))
    }


def test_rollup_counts_each_person_once_per_month_with_their_latest_result(app, org):
    with app.app_context():
        a1, a2 = org["a1"], org["a2"]
        (first, second, third) = make_workers(a1, 3)
        add_result(first, a1, "mild", 202610, day=3)
        add_result(first, a1, "severe", 202610, day=20)  # latest of October counts
        add_result(first, a1, "minimal", 202611, day=2)
        add_result(second, a1, "moderate", 202610, day=5)
        add_result(second, a2, "moderate", 202610, day=25)  # moved: counted at the new unit
        add_result(third, None, "mild", 202609)  # no unit
        add_result(third, None, "severe", 202612)  # current month: not reported yet
        db.session.commit()
        assert rollup.ensure_fresh(NOW) == [202609, 202610, 202611]
        assert stored() == expected()
        assert stored()[(202610, "phq9", a1, "severe")] == (1, 2, 22)
        assert stored()[(202610, "phq9", a2, "moderate")] == (1, 2, 12)
        assert (202610, "phq9", a1, "moderate") not in stored()
        assert not [k for k in stored() if k[0] == 202612]
        assert rollup.ensure_fresh(NOW) == []  # nothing changed: nothing rebuilt


def test_new_backdated_and_deleted_rows_are_picked_up(app, org):
    with app.app_context():
        people = make_workers(org["b1"], 6)
        for i, user in enumerate(people):
            add_result(user, org["b1"], "mild" if i % 2 else "moderate", 202608 + i % 3)
        db.session.commit()
        rollup.ensure_fresh(NOW)
        assert stored() == expected()
        # a new row in an old month (higher id), and a member deleting their data
        add_result(people[0], org["b1"], "severe", 202607)
        db.session.execute(
            delete(AssessmentResponse).where(AssessmentResponse.user_id == people[1])
        )
        db.session.commit()
        # the new id is folded in by the next page; the deletion by the scheduler's sweep
        assert rollup.ensure_fresh(NOW) == [202607]
        assert stored() != expected()
        assert rollup.verify(NOW) == [202609]
        assert stored() == expected()
        # the month ends: November's rows were there all along, and are now reported
        later = NOW + timedelta(days=31)
        add_result(people[2], org["b1"], "severe", 202612)
        db.session.commit()
        assert rollup.ensure_fresh(later) == [202612]


def test_a_late_commit_with_a_lower_id_is_caught(app, org):
    """Ids are handed out before commit: a row can appear with an id below the highest one
    already rolled up. The request path cannot see it; the sweep's count tells, and the
    month is rebuilt."""
    with app.app_context():
        people = make_workers(org["a1"], 3)
        for user in people:
            add_result(user, org["a1"], "mild", 202610)
        db.session.commit()
        rollup.ensure_fresh(NOW)
        hidden = db.session.scalar(select(AssessmentResponse).order_by(AssessmentResponse.id))
        row_id, user_id = hidden.id, hidden.user_id
        db.session.execute(delete(AssessmentResponse).where(AssessmentResponse.id == row_id))
        db.session.commit()
        assert rollup.verify(NOW) == [202610]  # the sweep saw the deletion
        add_result(user_id, org["a1"], "severe", 202610)
        db.session.flush()
        # the "late" row takes the old, lower id
        newest = db.session.scalar(select(func_max_id()))
        db.session.execute(
            update(AssessmentResponse).where(AssessmentResponse.id == newest).values(id=row_id)
        )
        db.session.commit()
        assert rollup.ensure_fresh(NOW) == []
        assert rollup.verify(NOW) == [202610]
        assert stored() == expected()


def func_max_id():
    from sqlalchemy import func

    return func.max(AssessmentResponse.id)


def test_verify_catches_a_swap_that_keeps_count_and_highest_id(app, org):
    with app.app_context():
        people = make_workers(org["a2"], 4)
        for user in people:
            add_result(user, org["a2"], "mild", 202605)
        db.session.flush()
        rows = db.session.scalars(select(AssessmentResponse).order_by(AssessmentResponse.id))
        for n, row in enumerate(rows.all(), start=1):
            row.id = n * 10  # ids 10, 20, 30, 40
        db.session.commit()
        rollup.ensure_fresh(NOW)
        # one May row deleted, another committed late into May with id 25: the count and
        # the highest id stay the same, so the cheap check on the request path cannot tell
        db.session.execute(delete(AssessmentResponse).where(AssessmentResponse.id == 20))
        add_result(people[1], org["a2"], "severe", 202605)
        db.session.flush()
        newest = db.session.scalar(select(func_max_id()).where(AssessmentResponse.id > 40))
        db.session.execute(
            update(AssessmentResponse).where(AssessmentResponse.id == newest).values(id=25)
        )
        db.session.commit()
        assert rollup.ensure_fresh(NOW) == []
        assert stored() != expected()
        assert rollup.verify(NOW) == [202605]  # the scheduler's sweep
        assert stored() == expected()


def test_concurrent_rebuilds_of_one_month_agree(app, org):
    """Two processes rebuilding the same month at once (the job and a page): no error, one
    consistent result (advisory lock on PostgreSQL, the write lock on SQLite)."""
    with app.app_context():
        people = make_workers(org["a1"], 20)
        for i, user in enumerate(people):
            add_result(user, org["a1"], ["mild", "moderate", "severe"][i % 3], 202611)
        db.session.commit()
    barrier = threading.Barrier(4)
    errors = []

    def work():
        with app.app_context():
            try:
                barrier.wait()
                rollup.rebuild_month(202611, force=True)
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
        state = db.session.get(RollupMonth, 202611)
        assert state.source_rows == 20
