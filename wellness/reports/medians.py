"""Median minutes from raising a risk flag to claiming it and to resolving it, found by
the database; a handful of rows comes back, whatever the number of flags.

PostgreSQL: ``percentile_cont(0.5)`` over the whole minutes, per level and over all levels
(``GROUP BY ROLLUP``), both kinds in one pass. SQLite has no percentile function: the flags
are counted per level and whole minute (over the report index of ``risk_flags``), and a
running sum over those counts picks the middle one or two values. Both give the mean of the
two middle values for an even count."""

from __future__ import annotations

from sqlalchemy import String, case, func, literal, select, union_all

from wellness.extensions import db
from wellness.reports import periods, rollup
from wellness.risk.models import RiskFlag

LEVELS = ("critical", "high", "elevated")
KINDS = ("claim", "resolve")

flags = RiskFlag.__table__


def middle_values_stmt(end, where):
    """Per level and over all levels (``total``): the values at the 0-based positions
    (n - 1) // 2 and n // 2 of the sorted whole minutes from creation to ``end``."""
    minute = func.round(rollup.duration_minutes(end, flags.c.created_at)).label("minute")
    per_level = (
        select(flags.c.level.label("level"), minute, func.count().label("n"))
        .where(*where, end.is_not(None))
        .group_by(flags.c.level, minute)
        .cte("per_level")
    )
    p = per_level.c
    overall = select(literal("total", String(10)), p.minute, func.sum(p.n)).group_by(p.minute)
    counted = union_all(select(p.level, p.minute, p.n), overall).subquery("counted")
    c = counted.c
    running = select(
        c.level,
        c.minute,
        func.sum(c.n).over(partition_by=c.level, order_by=c.minute).label("upto"),
        func.sum(c.n).over(partition_by=c.level).label("n"),
    ).subquery("running")
    r = running.c
    # the value at position p is the first whose running count exceeds p; with whole
    # counts, "exceeds (n - 1) / 2" and "exceeds n / 2" pick exactly those positions
    return select(
        r.level,
        func.min(case((r.upto > (r.n - 1) / 2, r.minute))),
        func.min(case((r.upto > r.n / 2, r.minute))),
    ).group_by(r.level)


def median_minutes(units: list[int] | None, first: int, last: int) -> dict[str, dict]:
    """{"claim"|"resolve": {level|"total": median whole minutes, or "" with no flags}} for
    flags raised from month ``first`` to ``last`` in ``units`` (their unit when raised;
    None: everyone)."""
    where = [
        flags.c.created_at >= periods.month_start(first),
        flags.c.created_at < periods.month_end(last),
    ]
    if units is not None:
        where.append(func.coalesce(flags.c.org_unit_id, 0).in_(units))
    if rollup.dialect() == "postgresql":
        return _percentiles(where)
    found: dict[str, dict] = {}
    for kind, end in zip(KINDS, (flags.c.claimed_at, flags.c.resolved_at), strict=True):
        values: dict[str, int | str] = dict.fromkeys((*LEVELS, "total"), "")
        for level, low, high in db.session.execute(middle_values_stmt(end, where)):
            values[level] = round((float(low) + float(high)) / 2)
        found[kind] = values
    return found


def _percentiles(where) -> dict[str, dict]:
    found: dict[str, dict] = {kind: dict.fromkeys((*LEVELS, "total"), "") for kind in KINDS}
    medians = [
        func.percentile_cont(0.5).within_group(
            func.round(rollup.duration_minutes(end, flags.c.created_at))
        )
        for end in (flags.c.claimed_at, flags.c.resolved_at)
    ]
    stmt = select(flags.c.level, *medians).where(*where).group_by(func.rollup(flags.c.level))
    for level, *values in db.session.execute(stmt):
        for kind, value in zip(KINDS, values, strict=True):
            if value is not None:
                found[kind][level or "total"] = round(float(value))
    return found
