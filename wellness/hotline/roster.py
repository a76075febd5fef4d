"""Pure coverage arithmetic for the hotline roster (no Flask, no database).

Shifts go in as ``Span`` values (aware datetimes, any zone); out come per-hour seat counts in
Beijing wall-clock hours (Asia/Shanghai), the gaps where fewer seats are staffed than
required, week grids for the coverage page and a compliance figure for supervisors.

Rules (see docs in the hotline package):

* **Required seats** for an hour: the larger of the standing minimum (``min_seats``, 2 by the
  2021 NHC hotline guideline) when the hour is inside the service hours, and the seats that
  the shifts running in that hour ask for. Seated and on-call seats are counted separately:
  an on-call counsellor is reachable, not sitting at a line, so they never fill a seat.
* **Staffed seats** for an hour: the *smallest* number of distinct counsellors present at any
  moment of the hour. A shift that starts at 08:30 does not staff 08:00-09:00 fully; the hour
  shows the dip. Coverage is therefore never overstated.
* An hour is a **gap** when seated staff < seated required, or on-call staff < on-call required.
  Consecutive gap hours merge into one ``Gap``, also across midnight and across the Sunday ->
  Monday week boundary.

Asia/Shanghai has had no daylight saving time since 1991, so Beijing hour boundaries are UTC
hour boundaries; the code still walks hours in UTC and labels them in local time, which stays
correct for any zone whose offset is a whole number of hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
SEATED = "seated"
ON_CALL = "on_call"
ALL_DAYS = 0b1111111  # bit 0 = Monday ... bit 6 = Sunday


@dataclass(frozen=True)
class Span:
    """One shift: when it runs, how many people it needs, and who is on it."""

    start: datetime
    end: datetime
    seats_needed: int = 0
    mode: str = SEATED
    staff: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class HourCoverage:
    start: datetime  # the hour's start in Beijing time (aware)
    required: int
    staffed: int
    on_call_required: int = 0
    on_call_staffed: int = 0

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @property
    def missing(self) -> int:
        """Seats (seated plus on-call) short of the requirement in this hour."""
        return max(self.required - self.staffed, 0) + max(
            self.on_call_required - self.on_call_staffed, 0
        )

    @property
    def is_gap(self) -> bool:
        return self.missing > 0


@dataclass(frozen=True)
class Gap:
    start: datetime  # Beijing time
    end: datetime
    worst_missing: int

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)


@dataclass(frozen=True)
class Week:
    monday: date
    days: tuple[date, ...]
    rows: tuple[tuple[HourCoverage | None, ...], ...]  # 24 rows (hour of day) x 7 days


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def floor_hour(value: datetime, tz: ZoneInfo = BEIJING) -> datetime:
    """The start of the local hour containing ``value``, in ``tz``."""
    local = _aware(value, "value").astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0)


def in_service_hours(local_hour: int, service_hours: tuple[int, int]) -> bool:
    """``service_hours=(8, 2)`` means 08:00 to 02:00 the next day; ``(0, 24)`` is all day."""
    opens, closes = service_hours
    if opens == closes or (opens, closes) == (0, 24):
        return True
    if opens < closes:
        return opens <= local_hour < closes
    return local_hour >= opens or local_hour < closes


def hour_starts(start: datetime, end: datetime, tz: ZoneInfo = BEIJING) -> list[datetime]:
    """Local hour starts covering [start, end)."""
    _aware(start, "start")
    _aware(end, "end")
    hours: list[datetime] = []
    cursor = floor_hour(start, tz).astimezone(UTC)
    stop = end.astimezone(UTC)
    while cursor < stop:
        hours.append(cursor.astimezone(tz))
        cursor += HOUR
    return hours


def _segments(spans: Sequence[Span], lo: datetime, hi: datetime) -> list[list[Span]]:
    """Split [lo, hi) at every span boundary; return the spans active in each piece."""
    cuts = {lo, hi}
    for span in spans:
        for point in (span.start, span.end):
            if lo < point < hi:
                cuts.add(point)
    ordered = sorted(cuts)
    pieces = []
    for left, right in zip(ordered, ordered[1:], strict=False):
        pieces.append([s for s in spans if s.start <= left and s.end >= right])
    return pieces


def hourly_coverage(
    spans: Iterable[Span],
    start: datetime,
    end: datetime,
    *,
    min_seats: int = 2,
    service_hours: tuple[int, int] = (0, 24),
    tz: ZoneInfo = BEIJING,
) -> list[HourCoverage]:
    """Seats required and staffed for every local hour overlapping [start, end)."""
    usable = sorted(
        (s for s in spans if s.end > s.start),
        key=lambda s: s.start,
    )
    for span in usable:
        _aware(span.start, "span.start")
        _aware(span.end, "span.end")
    result: list[HourCoverage] = []
    # Sweep: hours ascend, spans are sorted by start; keep only those still running.
    waiting = 0
    running: list[Span] = []
    for hour in hour_starts(start, end, tz):
        lo, hi = hour, hour + HOUR
        while waiting < len(usable) and usable[waiting].start < hi:
            running.append(usable[waiting])
            waiting += 1
        running = [s for s in running if s.end > lo]
        here = running
        baseline = min_seats if in_service_hours(hour.hour, service_hours) else 0
        need_seated = need_on_call = 0
        staffed = on_call = None
        for active in _segments(here, lo, hi):
            seated_spans = [s for s in active if s.mode != ON_CALL]
            on_call_spans = [s for s in active if s.mode == ON_CALL]
            need_seated = max(need_seated, sum(s.seats_needed for s in seated_spans))
            need_on_call = max(need_on_call, sum(s.seats_needed for s in on_call_spans))
            seated_people = frozenset().union(*(s.staff for s in seated_spans))
            on_call_people = frozenset().union(*(s.staff for s in on_call_spans)) - seated_people
            staffed = len(seated_people) if staffed is None else min(staffed, len(seated_people))
            on_call = len(on_call_people) if on_call is None else min(on_call, len(on_call_people))
        result.append(
            HourCoverage(
                start=hour,
                required=max(baseline, need_seated),
                staffed=staffed or 0,
                on_call_required=need_on_call,
                on_call_staffed=on_call or 0,
            )
        )
    return result


def find_gaps(hours: Iterable[HourCoverage]) -> list[Gap]:
    """Merge consecutive under-staffed hours into gaps (across midnight and week ends too)."""
    gaps: list[Gap] = []
    current: Gap | None = None
    for hour in hours:
        if not hour.is_gap:
            if current is not None:
                gaps.append(current)
                current = None
            continue
        if current is not None and current.end == hour.start:
            current = Gap(current.start, hour.end, max(current.worst_missing, hour.missing))
        else:
            if current is not None:
                gaps.append(current)
            current = Gap(hour.start, hour.end, hour.missing)
    if current is not None:
        gaps.append(current)
    return gaps


def compliance(hours: Sequence[HourCoverage]) -> dict[str, float | int]:
    """Hours with a requirement, hours below it, and the share that was fully staffed."""
    required = [h for h in hours if h.required or h.on_call_required]
    below = [h for h in required if h.is_gap]
    total = len(required)
    return {
        "hours": total,
        "below": len(below),
        "seat_hours_missing": sum(h.missing for h in below),
        "percent_covered": round(100.0 * (total - len(below)) / total, 1) if total else 100.0,
    }


def week_grid(hours: Iterable[HourCoverage], tz: ZoneInfo = BEIJING) -> list[Week]:
    """Arrange hours into Monday-first weeks of 24 rows x 7 days (None where no data)."""
    by_slot: dict[tuple[date, int], HourCoverage] = {}
    mondays: set[date] = set()
    for hour in hours:
        local = hour.start.astimezone(tz)
        by_slot[(local.date(), local.hour)] = hour
        mondays.add(local.date() - timedelta(days=local.weekday()))
    weeks = []
    for monday in sorted(mondays):
        days = tuple(monday + timedelta(days=i) for i in range(7))
        rows = tuple(tuple(by_slot.get((day, hour)) for day in days) for hour in range(24))
        weeks.append(Week(monday=monday, days=days, rows=rows))
    return weeks


def weekday_mask(days: Iterable[int]) -> int:
    """Days as 0 (Monday) ... 6 (Sunday) -> a bit mask."""
    mask = 0
    for day in days:
        if not 0 <= int(day) <= 6:
            raise ValueError(f"weekday {day} out of range")
        mask |= 1 << int(day)
    return mask


def mask_days(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


def occurrences(
    start_time: time,
    duration: timedelta,
    weekdays: int,
    window_start: datetime,
    window_end: datetime,
    *,
    valid_from: date | None = None,
    valid_until: date | None = None,
    tz: ZoneInfo = BEIJING,
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of every occurrence of a weekly template overlapping the window.

    A shift belongs to the local day it starts on: a Sunday 22:00 + 10 h template runs
    into Monday of the next week, and it is found when the window starts on that Monday.
    ``valid_from``/``valid_until`` are inclusive local dates of the starting day.
    """
    _aware(window_start, "window_start")
    _aware(window_end, "window_end")
    if duration <= timedelta(0):
        return []
    reach_back = timedelta(days=duration.days + 1)
    first_day = (window_start.astimezone(tz) - reach_back).date()
    last_day = window_end.astimezone(tz).date()
    found = []
    day = first_day
    while day <= last_day:
        if (
            weekdays & (1 << day.weekday())
            and (valid_from is None or day >= valid_from)
            and (valid_until is None or day <= valid_until)
        ):
            begins = datetime.combine(day, start_time, tzinfo=tz).astimezone(UTC)
            ends = begins + duration
            if ends > window_start and begins < window_end:
                found.append((begins, ends))
        day += timedelta(days=1)
    return found
