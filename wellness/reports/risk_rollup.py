"""Keeping the monthly risk-flag rollup equal to ``risk_flags``.

Like the assessment rollup (``rollup.py``), a month is rebuilt inside the database in one
short transaction: delete its rows, then ``INSERT ... SELECT ... GROUP BY`` over the flags
raised that month. Each person counts once per month, at the unit of their latest flag of
the month (a window function), so people add up over units and the suppression equations
hold.

Unlike responses, flags change after they are raised: claimed, resolved, reopened,
escalated, raised to a higher level. Every such change moves ``risk_flags.updated_at``. The
cheap check, run on the request path at most every ``REPORTS_DATA_CHECK_SECONDS``, rebuilds
the months holding a flag with a higher id or a later ``updated_at`` than any month was
built from (two index ranges).

What it cannot see is left to ``verify``, the scheduler's sweep every 30 minutes, which
recomputes every month's figures and rebuilds any that differ: flags deleted with an
erased account, and a change committed after a later one was already folded in (it carries
an older ``updated_at`` than the watermark).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)

from wellness.database import utcnow
from wellness.extensions import db
from wellness.reports.models import RiskMonth, RiskRollupMonth
from wellness.reports.periods import month_end, month_of, month_start
from wellness.reports.rollup import lock_month, months_of_rows
from wellness.risk.models import RiskFlag

LOCK_NAMESPACE = 0x5249534B  # "RISK"
COLUMNS = ("people", "flags", "claimed", "claimed_in_time", "escalated")

flags = RiskFlag.__table__


def _in_month(month: int):
    return and_(flags.c.created_at >= month_start(month), flags.c.created_at < month_end(month))


def aggregate(where):
    """Per (unit, level) and per (unit, ``total``): people, flags, claimed, claimed before
    the deadline, escalated, for the flags matching ``where`` (one month's)."""
    c = flags.c
    latest_first = (c.created_at.desc(), c.id.desc())
    per_flag = (
        select(
            c.person_id,
            c.level,
            func.first_value(func.coalesce(c.org_unit_id, 0))
            .over(partition_by=c.person_id, order_by=latest_first)
            .label("unit"),
            case((c.claimed_at.is_not(None), 1), else_=0).label("claimed"),
            case((c.claimed_at <= c.due_at, 1), else_=0).label("in_time"),
            case((c.escalated_at.is_not(None), 1), else_=0).label("escalated"),
        )
        .where(where)
        .subquery("per_flag")
    )
    p = per_flag.c
    measures = (
        func.count(func.distinct(p.person_id)),
        func.count(),
        func.sum(p.claimed),
        func.sum(p.in_time),
        func.sum(p.escalated),
    )
    by_level = select(p.unit, p.level, *measures).group_by(p.unit, p.level)
    overall = select(p.unit, literal("total", String(10)), *measures).group_by(p.unit)
    return union_all(by_level, overall)


def _live(month: int) -> tuple[int, int, datetime | None]:
    row = db.session.execute(
        select(
            func.count(), func.coalesce(func.max(flags.c.id), 0), func.max(flags.c.updated_at)
        ).where(_in_month(month))
    ).one()
    return int(row[0]), int(row[1]), row[2]


def rebuild_month(month: int) -> None:
    """Rebuild one month of the rollup from the flags. Commits."""
    try:
        lock_month(month, LOCK_NAMESPACE)
        count, max_id, max_updated = _live(month)
        db.session.execute(delete(RiskMonth).where(RiskMonth.month == month))
        if count:
            rows = select(literal(month, Integer), *aggregate(_in_month(month)).subquery().c)
            db.session.execute(
                insert(RiskMonth).from_select(["month", "org_unit_id", "level", *COLUMNS], rows)
            )
        state = db.session.get(RiskRollupMonth, month, populate_existing=True)
        if state is None and count:
            db.session.add(
                RiskRollupMonth(
                    month=month, source_rows=count, max_id=max_id, max_updated_at=max_updated
                )
            )
        elif state is not None and not count:
            db.session.delete(state)
        elif state is not None:
            state.source_rows, state.max_id, state.max_updated_at = count, max_id, max_updated
            state.built_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _watermark(current: int) -> tuple[int, datetime | None]:
    row = db.session.execute(
        select(
            func.coalesce(func.max(RiskRollupMonth.max_id), 0),
            func.max(RiskRollupMonth.max_updated_at),
        ).where(RiskRollupMonth.month < current)
    ).one()
    return int(row[0]), row[1]


def _ended_months(current: int) -> list[int]:
    """Every ended month that has flags or a stored state (a month emptied by deletions
    must be rebuilt too, to drop its rows)."""
    months = set(months_of_rows(flags, flags.c.created_at < month_start(current), current))
    months |= set(
        db.session.scalars(select(RiskRollupMonth.month).where(RiskRollupMonth.month < current))
    )
    db.session.commit()
    return sorted(months)


def ensure_fresh(now: datetime | None = None) -> list[int]:
    """Rebuild every ended month holding a flag raised or changed since the rollup was
    built (a higher id, a later ``updated_at``); return the months rebuilt."""
    now = now or utcnow()
    current = month_of(now)
    max_id, max_updated = _watermark(current)
    months = set(months_of_rows(flags, flags.c.id > max_id, current))
    if max_updated is not None:
        months |= set(months_of_rows(flags, flags.c.updated_at > max_updated, current))
    db.session.commit()  # end the read transaction before any rebuild takes the write lock
    for month in sorted(months):
        rebuild_month(month)
    return sorted(months)


def stored_figures(first: int, last: int) -> dict[int, dict[tuple[int, str], list[int]]]:
    """The rollup's rows by month: {month: {(unit, level): [flags, people, claimed,
    claimed in time, escalated]}} (the order the dashboard's risk grid uses)."""
    r = RiskMonth.__table__.c
    out: dict[int, dict[tuple[int, str], list[int]]] = {}
    for row in db.session.execute(
        select(
            r.month,
            r.org_unit_id,
            r.level,
            r.flags,
            r.people,
            r.claimed,
            r.claimed_in_time,
            r.escalated,
        ).where(r.month >= first, r.month <= last)
    ):
        out.setdefault(int(row[0]), {})[(int(row[1]), row[2])] = [int(v) for v in row[3:]]
    return out


def verify(now: datetime | None = None) -> list[int]:
    """The thorough check (scheduler): recompute every ended month's figures from the flags
    and rebuild each month whose stored figures differ."""
    now = now or utcnow()
    rebuilt = set(ensure_fresh(now))
    months = _ended_months(month_of(now))
    stored = stored_figures(months[0], months[-1]) if months else {}
    for month in months:
        fresh = {
            (int(unit), level): [int(flags_), int(people), int(c), int(t), int(e)]
            for unit, level, people, flags_, c, t, e in db.session.execute(
                aggregate(_in_month(month))
            )
        }
        db.session.commit()
        if fresh != stored.get(month, {}):
            rebuild_month(month)
            rebuilt.add(month)
    return sorted(rebuilt)


def rebuild_all(now: datetime | None = None) -> int:
    """Rebuild every ended month from scratch (after a bulk load). Returns months built."""
    months = _ended_months(month_of(now or utcnow()))
    for month in months:
        rebuild_month(month)
    return len(months)


def data_version(now: datetime | None = None) -> tuple:
    """What the rollup was built from (flags, highest id, latest change, months): part of
    the cache key of the risk section."""
    now = now or utcnow()
    row = db.session.execute(
        select(
            func.coalesce(func.sum(RiskRollupMonth.source_rows), 0),
            func.coalesce(func.max(RiskRollupMonth.max_id), 0),
            func.max(RiskRollupMonth.max_updated_at),
            func.count(RiskRollupMonth.month),
            func.max(RiskRollupMonth.built_at),
        ).where(RiskRollupMonth.month < month_of(now))
    ).one()
    return tuple(row)
