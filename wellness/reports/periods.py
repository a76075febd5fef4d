"""Calendar months in Beijing time (pure: no Flask, no database).

Reports count whole calendar months: a month is an ``int`` ``yyyymm`` (202611), its
boundaries are Beijing midnights stored as aware UTC datetimes. Only months that have ended
are reported, so a figure never moves while the month is still filling up (a reader who
refreshes the page cannot watch one person's result arrive).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_MONTHS = 60  # five years

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")


def month_of(moment: datetime) -> int:
    """The Beijing calendar month of an aware datetime."""
    local = moment.astimezone(BEIJING)
    return local.year * 100 + local.month


def month_start(month: int) -> datetime:
    """Beijing midnight on the 1st of ``month``, as aware UTC."""
    year, mon = divmod(month, 100)
    return datetime(year, mon, 1, tzinfo=BEIJING).astimezone(UTC)


def add_months(month: int, n: int) -> int:
    year, mon = divmod(month, 100)
    index = year * 12 + (mon - 1) + n
    return (index // 12) * 100 + index % 12 + 1


def month_end(month: int) -> datetime:
    """The exclusive end of ``month`` (the start of the next), aware UTC."""
    return month_start(add_months(month, 1))


def months_between(first: int, last: int) -> list[int]:
    """Every month from ``first`` to ``last``, both included (empty when inverted)."""
    months, current = [], first
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def span(first: int, last: int) -> int:
    """How many months ``first..last`` covers."""
    return (last // 100 - first // 100) * 12 + (last % 100 - first % 100) + 1


def last_complete_month(now: datetime) -> int:
    return add_months(month_of(now), -1)


def label(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def first_day(month: int) -> date:
    return date(month // 100, month % 100, 1)


def parse_month(text: str) -> int:
    """``"2026-03"`` or ``"2026-03-17"`` -> 202603. Raises ValueError on anything else."""
    match = _MONTH.match(text or "")
    if not match:
        raise ValueError("not a month")
    year, mon = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2100 and 1 <= mon <= 12):
        raise ValueError("out of range")
    if match.group(3) is not None:
        date(year, mon, int(match.group(3)))  # a real day, or ValueError
    return year * 100 + mon
