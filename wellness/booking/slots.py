"""Pure slot arithmetic: working time, busy cells and bookable starts.

No Flask and no database here: the service loads rows, turns them into the plain values
below, and asks these functions which times are open. Everything is an aware datetime;
weekly templates and date exceptions are Beijing wall-clock times turned into instants for
one local day.

Time is cut into CELL-sized cells (5 minutes), numbered from the Unix epoch (cell n starts
at n * 300 seconds). An appointment occupies the cells of ``[start, end + buffer)`` for its
counsellor and its room, and the cells of ``[start, end)`` for its client; the database
holds one row per occupied cell with a UNIQUE constraint per resource, which is what
guarantees that nothing overlaps. Durations, buffers and template times must therefore be
whole multiples of the cell.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from math import asin, cos, radians, sin, sqrt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CELL_MINUTES = 5
CELL = timedelta(minutes=CELL_MINUTES)

WORK = "work"
BREAK = "break"


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open interval ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Span needs aware datetimes")

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """One row of a weekly template: work at a station, or a break (any station)."""

    station_id: int | None
    weekday: int  # Monday 0 .. Sunday 6
    starts: time
    ends: time
    kind: str = WORK


@dataclass(frozen=True, slots=True)
class DayException:
    """Replaces the template for one date. No times: the counsellor does not work that day."""

    station_id: int | None
    starts: time | None
    ends: time | None


# ----------------------------------------------------------------------------- spans


def normalise(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping and touching spans merged."""
    ordered = sorted((s for s in spans if s.end > s.start), key=lambda s: s.start)
    merged: list[Span] = []
    for span in ordered:
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end)
        else:
            merged.append(span)
    return merged


def subtract(spans: Iterable[Span], cuts: Iterable[Span]) -> list[Span]:
    """``spans`` minus every part covered by ``cuts``."""
    result = normalise(spans)
    for cut in normalise(cuts):
        next_result: list[Span] = []
        for span in result:
            if not span.overlaps(cut):
                next_result.append(span)
                continue
            if span.start < cut.start:
                next_result.append(Span(span.start, cut.start))
            if cut.end < span.end:
                next_result.append(Span(cut.end, span.end))
        result = next_result
    return result


def local_day_span(day: date, tz: ZoneInfo = LOCAL_TZ) -> Span:
    """The instants of one local calendar day."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return Span(start.astimezone(UTC), end.astimezone(UTC))


def at(day: date, wall: time, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """The UTC instant of a local wall-clock time on a local day (24:00 is not allowed)."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def to_local(moment: datetime, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    return moment.astimezone(tz)


# ----------------------------------------------------------------------------- working time


def working_spans(
    day: date,
    station_id: int,
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[DayException],
    time_off: Iterable[Span] = (),
    closures: Iterable[Span] = (),
    tz: ZoneInfo = LOCAL_TZ,
) -> list[Span]:
    """When one counsellor works at one station on one local day.

    A date exception replaces the whole day's template (its breaks too): its windows at
    this station are the working time, and an exception without times is a day off.
    Otherwise the weekly work windows at this station minus the weekly breaks (breaks hold
    at every station). Time off and station closures are cut out last.
    """
    if exceptions:
        work = [
            Span(at(day, e.starts, tz), at(day, e.ends, tz))
            for e in exceptions
            if e.station_id == station_id and e.starts is not None and e.ends is not None
        ]
        breaks: list[Span] = []
    else:
        weekday = day.weekday()
        work = [
            Span(at(day, r.starts, tz), at(day, r.ends, tz))
            for r in rules
            if r.kind == WORK and r.weekday == weekday and r.station_id == station_id
        ]
        breaks = [
            Span(at(day, r.starts, tz), at(day, r.ends, tz))
            for r in rules
            if r.kind == BREAK and r.weekday == weekday
        ]
    return subtract(work, [*breaks, *time_off, *closures])


def opening_spans(
    day: date,
    hours: Iterable[tuple[int, time, time]],
    closures: Iterable[Span] = (),
    tz: ZoneInfo = LOCAL_TZ,
) -> list[Span]:
    """A station's opening hours on a local day, ``hours`` as (weekday, opens, closes)."""
    weekday = day.weekday()
    spans = [Span(at(day, o, tz), at(day, c, tz)) for w, o, c in hours if w == weekday]
    return subtract(spans, closures)


# ----------------------------------------------------------------------------- cells


CELL_SECONDS = CELL_MINUTES * 60


def is_aligned(moment: datetime) -> bool:
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % CELL_MINUTES == 0


def cell_index(moment: datetime) -> int:
    """The number of the cell that starts at ``moment`` (an aligned, aware datetime)."""
    return int(moment.timestamp()) // CELL_SECONDS


def ceil_to_cell(moment: datetime) -> datetime:
    """The first cell boundary at or after ``moment``."""
    if is_aligned(moment):
        return moment
    return cell_start(cell_index(moment) + 1)


def cell_start(index: int) -> datetime:
    return datetime.fromtimestamp(index * CELL_SECONDS, tz=UTC)


def cells(start: datetime, end: datetime) -> range:
    """The numbers of the cells covering ``[start, end)``; both ends must be aligned."""
    if not (is_aligned(start) and is_aligned(end)):
        raise ValueError("times must be whole multiples of the cell")
    return range(cell_index(start), cell_index(end))


class Busy:
    """Taken cells per resource key, e.g. ("c", 7, 1) or ("r", 3, 2), as runs of cell
    numbers: one booking's cells of one resource are always consecutive."""

    __slots__ = ("_runs",)

    def __init__(self, rows: Iterable[tuple[str, int, int, int, int]] = ()) -> None:
        """``rows``: (kind, id, seat, first cell, last cell) of each booking."""
        self._runs: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        for kind, ident, seat, first, last in rows:
            self._runs.setdefault((kind, ident, seat), []).append((first, last + 1))

    def add(self, key: tuple[str, int, int], index: int) -> None:
        self._runs.setdefault(key, []).append((index, index + 1))

    def free(self, key: tuple[str, int, int], start: datetime, end: datetime) -> bool:
        span = cells(start, end)
        return self.free_cells(key, span.start, span.stop)

    def free_cells(self, key: tuple[str, int, int], first: int, stop: int) -> bool:
        """Are cells ``first`` .. ``stop - 1`` all free? (cell numbers, no datetimes)"""
        runs = self._runs.get(key)
        return not runs or all(end <= first or begin >= stop for begin, end in runs)


# ----------------------------------------------------------------------------- candidates


def candidate_starts(
    spans: Iterable[Span], duration: timedelta, step: timedelta
) -> Iterator[datetime]:
    """Starts on a grid from each span's start (rounded up to a cell boundary), every
    ``step``, while the session fits."""
    if step <= timedelta(0) or duration <= timedelta(0):
        raise ValueError("duration and step must be positive")
    for span in normalise(spans):
        moment = ceil_to_cell(span.start)
        while moment + duration <= span.end:
            yield moment
            moment += step


def fits(spans: Sequence[Span], start: datetime, end: datetime) -> bool:
    """Is ``[start, end)`` inside one of the (normalised) spans?"""
    starts = [s.start for s in spans]
    index = bisect_left(starts, start)
    for candidate in (index - 1, index):
        if 0 <= candidate < len(spans) and spans[candidate].contains(start, end):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Opening:
    """A bookable time for one counsellor (or none) with the free room seats behind it."""

    start: datetime
    end: datetime
    counselor_id: int | None
    rooms: tuple[tuple[int, int], ...]  # (room_id, seat) pairs free for the whole time

    @property
    def remaining(self) -> int:
        return len(self.rooms) if self.counselor_id is None else 1


@dataclass(frozen=True, slots=True)
class RoomSeats:
    room_id: int
    seats: int  # 1 for rooms used exclusively; capacity for rooms booked by the seat
    exclusive: bool  # an individual booking takes the whole room


def _cell_count(length: timedelta) -> int:
    if length % CELL:
        raise ValueError("durations must be whole multiples of the cell")
    return length // CELL


def free_room_seats(
    rooms: Sequence[RoomSeats], busy: Busy, start: datetime, end: datetime
) -> tuple[tuple[int, int], ...]:
    """(room, seat) pairs that can take a booking for ``[start, end)``.

    An exclusive room offers seat 1 only when every seat is free; a room booked by the
    seat offers each free seat.
    """
    span = cells(start, end)
    return _free_seats(rooms, busy, span.start, span.stop)


def _free_seats(
    rooms: Sequence[RoomSeats], busy: Busy, first: int, stop: int
) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for room in rooms:
        free = [
            s
            for s in range(1, room.seats + 1)
            if busy.free_cells(("r", room.room_id, s), first, stop)
        ]
        if room.exclusive:
            if len(free) == room.seats:
                out.append((room.room_id, 1))
        else:
            out.extend((room.room_id, s) for s in free)
    return tuple(out)


def counselor_openings(
    counselor_id: int,
    spans: Sequence[Span],
    busy: Busy,
    rooms: Sequence[RoomSeats] | None,
    duration: timedelta,
    buffer: timedelta,
    step: timedelta,
    earliest: datetime,
    latest: datetime,
) -> list[Opening]:
    """Open times for one counsellor: inside working time, counsellor free for the
    session plus its buffer, and (unless ``rooms`` is None, a remote service) a room free
    for the same time. ``earliest``/``latest`` bound the start (notice and horizon)."""
    out = []
    length = _cell_count(duration + buffer)
    key = ("c", counselor_id, 1)
    for start in candidate_starts(spans, duration, step):
        if start < earliest or start > latest:
            continue
        first = cell_index(start)
        if not busy.free_cells(key, first, first + length):
            continue
        free_rooms: tuple[tuple[int, int], ...] = ()
        if rooms is not None:
            free_rooms = _free_seats(rooms, busy, first, first + length)
            if not free_rooms:
                continue
        out.append(Opening(start, start + duration, counselor_id, free_rooms))
    return out


def room_openings(
    spans: Sequence[Span],
    busy: Busy,
    rooms: Sequence[RoomSeats],
    duration: timedelta,
    buffer: timedelta,
    earliest: datetime,
    latest: datetime,
) -> list[Opening]:
    """Open times for a room-only service (a relaxation-room visit): fixed blocks of
    ``duration + buffer`` from opening time, with the seats still free."""
    out = []
    length = _cell_count(duration + buffer)
    for start in candidate_starts(spans, duration, duration + buffer):
        if start < earliest or start > latest:
            continue
        first = cell_index(start)
        free_rooms = _free_seats(rooms, busy, first, first + length)
        if free_rooms:
            out.append(Opening(start, start + duration, None, free_rooms))
    return out


# ----------------------------------------------------------------------------- distance

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = radians(lat1), radians(lat2)
    d_phi = radians(lat2 - lat1)
    d_lambda = radians(lon2 - lon1)
    a = sin(d_phi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


def week_days(day: date) -> list[date]:
    """Monday to Sunday of the week that contains ``day``."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]
