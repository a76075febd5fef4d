"""Keeping the monthly rollup exactly equal to ``assessment_responses``.

A month of the rollup is rebuilt inside the database in one short transaction: delete the
month's rows, then ``INSERT ... SELECT ... GROUP BY`` over the month's responses, keeping
each person's latest result per instrument (a window function). The month's state row
records how many responses went in and the highest id seen.

Finding months to rebuild is cheap when nothing changed: new ids name their months directly
(one index range over the ids above the highest one built). What new ids cannot show (a
member deleted their data, or a transaction that took an id early committed late) is found
by ``verify``, the scheduler's sweep every 30 minutes, which compares every month's count,
highest id and sum of ids with its state. Only months that have ended are rolled up.

Concurrency: on PostgreSQL a transaction-level advisory lock per month serialises rebuilds
(the second one re-checks and usually finds nothing to do); on SQLite every write
transaction takes the write lock at BEGIN (``wellness/sqlite.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, cast, delete, func, insert, literal, select, text

from wellness.assessments.models import AssessmentResponse
from wellness.database import utcnow
from wellness.extensions import db
from wellness.reports.models import AssessmentMonth, RollupMonth
from wellness.reports.periods import month_end, month_of, month_start

LOCK_NAMESPACE = 0x52505254  # "RPRT"

responses = AssessmentResponse.__table__


def dialect() -> str:
    return db.engine.dialect.name


def month_expr(column):
    """The Beijing calendar month (yyyymm) of a UTC timestamp column, in SQL."""
    if dialect() == "postgresql":
        local = func.timezone("Asia/Shanghai", column)
        return cast(func.to_char(local, "YYYYMM"), Integer)
    return cast(func.strftime("%Y%m", column, "+8 hours"), Integer)


def duration_minutes(later, earlier):
    """Minutes between two timestamp columns, in SQL (fractional)."""
    if dialect() == "postgresql":
        # date_part gives a double; EXTRACT gives numeric, which is slower to divide
        return func.date_part("epoch", later - earlier) / 60.0
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


def lock_month(month: int, namespace: int = LOCK_NAMESPACE) -> None:
    """Serialise rebuilds of one month until the transaction ends (PostgreSQL; SQLite's
    write transactions are serial already)."""
    if dialect() == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :month)"),
            {"ns": namespace, "month": month},
        )


def _live(month: int) -> tuple[int, int]:
    row = db.session.execute(
        select(func.count(), func.coalesce(func.max(responses.c.id), 0)).where(
            responses.c.created_at >= month_start(month),
            responses.c.created_at < month_end(month),
        )
    ).one()
    return int(row[0]), int(row[1])


def _id_sum(month: int, max_id: int | None = None) -> int:
    where = [
        responses.c.created_at >= month_start(month),
        responses.c.created_at < month_end(month),
    ]
    if max_id is not None:
        where.append(responses.c.id <= max_id)
    return int(db.session.scalar(select(func.coalesce(func.sum(responses.c.id), 0)).where(*where)))


def _aggregate(month: int, max_id: int):
    """Each person's latest result per instrument in the month, grouped by unit and band."""
    c = responses.c
    person = (c.user_id, c.instrument)
    ranked = (
        select(
            c.instrument,
            func.coalesce(c.org_unit_id, 0).label("unit"),
            c.band,
            c.total,
            func.row_number()
            .over(partition_by=person, order_by=(c.created_at.desc(), c.id.desc()))
            .label("rank"),
            func.count().over(partition_by=person).label("taken"),
        )
        .where(
            c.created_at >= month_start(month),
            c.created_at < month_end(month),
            c.id <= max_id,
        )
        .subquery("ranked")
    )
    return (
        select(
            literal(month, Integer),
            ranked.c.instrument,
            ranked.c.unit,
            ranked.c.band,
            func.count(),
            func.sum(ranked.c.taken),
            func.sum(ranked.c.total),
        )
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.instrument, ranked.c.unit, ranked.c.band)
    )


def rebuild_month(month: int, *, force: bool = False) -> bool:
    """Rebuild one month when its source changed (or always with ``force``). Commits.

    Returns True when the month was rebuilt.
    """
    try:
        lock_month(month)
        count, max_id = _live(month)
        state = db.session.scalar(
            select(RollupMonth)
            .where(RollupMonth.month == month)
            .execution_options(populate_existing=True)
        )
        if not force and state is not None and (state.source_rows, state.max_id) == (count, max_id):
            db.session.commit()
            return False
        db.session.execute(delete(AssessmentMonth).where(AssessmentMonth.month == month))
        if count:
            db.session.execute(
                insert(AssessmentMonth).from_select(
                    [
                        "month",
                        "instrument",
                        "org_unit_id",
                        "band",
                        "people",
                        "assessments",
                        "score_sum",
                    ],
                    _aggregate(month, max_id),
                )
            )
        built = int(
            db.session.scalar(
                select(func.coalesce(func.sum(AssessmentMonth.assessments), 0)).where(
                    AssessmentMonth.month == month
                )
            )
        )
        id_sum = _id_sum(month, max_id)
        if state is None and count:
            db.session.add(
                RollupMonth(month=month, source_rows=built, max_id=max_id, id_sum=id_sum)
            )
        elif state is not None and not count:
            db.session.delete(state)
        elif state is not None:
            state.source_rows, state.max_id, state.id_sum = built, max_id, id_sum
            state.built_at = utcnow()
        db.session.commit()
        return True
    except Exception:
        db.session.rollback()
        raise


def _stored_max_id(current: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.max(RollupMonth.max_id), 0)).where(
                RollupMonth.month < current
            )
        )
    )


def ensure_fresh(now: datetime | None = None) -> list[int]:
    """The cheap check on the request path: fold into the rollup every ended month that
    received rows with a higher id than any month was built from (one index range over the
    newest ids); return the months rebuilt (usually none).

    Deletions (a member erasing their data) and a row committed late under an older id are
    left to ``verify``, the scheduler's sweep, so a page never counts the whole table."""
    now = now or utcnow()
    current = month_of(now)
    months = months_of_rows(responses, responses.c.id > _stored_max_id(current), current)
    db.session.commit()  # end the read transaction before any rebuild takes the write lock
    return [month for month in months if rebuild_month(month)]


def months_of_rows(table, where, current: int) -> list[int]:
    """The ended months (before ``current``) of the rows matching ``where``.

    ``where`` is the only condition in SQL, so the planner walks its index range (new ids,
    recent changes); filtering on ``created_at`` too would tempt SQLite into the much
    longer ``created_at`` range instead."""
    found = db.session.scalars(select(month_expr(table.c.created_at)).where(where).distinct())
    return sorted(int(m) for m in found if int(m) < current)


def verify(now: datetime | None = None) -> list[int]:
    """The thorough check (the scheduler's sweep, off the request path): every ended
    month's count, highest id and sum of ids against its state; rebuild the ones that
    differ. Catches what the cheap check cannot: deleted rows, and rows committed late
    under an older id (even when a deletion in the same month leaves the count and the
    highest id unchanged)."""
    now = now or utcnow()
    rebuilt = ensure_fresh(now)
    current = month_of(now)
    live = {
        int(m): (int(n), int(top), int(total))
        for m, n, top, total in db.session.execute(
            select(
                month_expr(responses.c.created_at).label("m"),
                func.count(),
                func.max(responses.c.id),
                func.sum(responses.c.id),
            )
            .where(responses.c.created_at < month_start(current))
            .group_by("m")
        )
    }
    states = {
        s.month: (s.source_rows, s.max_id, s.id_sum)
        for s in db.session.scalars(select(RollupMonth).where(RollupMonth.month < current))
    }
    db.session.commit()
    for month in sorted(set(live) | set(states)):
        if live.get(month) != states.get(month) and rebuild_month(month, force=True):
            rebuilt.append(month)
    return sorted(set(rebuilt))


def rebuild_all(now: datetime | None = None) -> int:
    """Rebuild every ended month from scratch (after a bulk load). Returns months built."""
    now = now or utcnow()
    current = month_of(now)
    months = db.session.scalars(
        select(month_expr(responses.c.created_at).label("m"))
        .where(responses.c.created_at < month_start(current))
        .distinct()
    ).all()
    stale = db.session.scalars(select(RollupMonth.month)).all()
    db.session.commit()
    for month in sorted(set(int(m) for m in months) | set(stale)):
        rebuild_month(month, force=True)
    return len(months)


def data_version(now: datetime | None = None) -> tuple[int, int, int, int]:
    """What the rollup was built from: (responses, highest id, months, sum of ids). Changes
    whenever a reported month changes; part of every cache key of the assessment sections."""
    now = now or utcnow()
    row = db.session.execute(
        select(
            func.coalesce(func.sum(RollupMonth.source_rows), 0),
            func.coalesce(func.max(RollupMonth.max_id), 0),
            func.count(RollupMonth.month),
            func.coalesce(func.sum(RollupMonth.id_sum), 0),
        ).where(RollupMonth.month < month_of(now))
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def month_states(first: int, last: int) -> dict[int, tuple[int, int]]:
    return {
        s.month: (s.source_rows, s.max_id)
        for s in db.session.scalars(
            select(RollupMonth).where(RollupMonth.month >= first, RollupMonth.month <= last)
        )
    }
