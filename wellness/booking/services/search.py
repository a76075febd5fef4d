"""Finding times: stations near a position, and the slot search with its per-process
cache of a day's slots (``_load_day`` reads what the slot arithmetic needs; ``_openings``
applies it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, cast, func, literal, null, or_, select, true, union_all

from wellness.auth.models import OrgUnit, Role, User
from wellness.booking import slots as sl
from wellness.booking import stamps
from wellness.booking.models import (
    AvailabilityException,
    AvailabilityRule,
    BookingCell,
    CellKind,
    CounselorProfile,
    CounselorStation,
    GroupSession,
    GroupSessionStatus,
    Room,
    Service,
    ServiceMode,
    Station,
    StationClosure,
    StationHours,
    TimeOff,
)
from wellness.booking.services.common import (
    get_service,
    get_station,
    local_today,
    slot_id_for_counselor,
    slot_id_for_group,
    slot_id_for_room,
)
from wellness.database import utcnow
from wellness.errors import InvalidInput, NotFound
from wellness.extensions import db

# ============================================================================ stations near me


@dataclass(frozen=True)
class NearStation:
    station: Station
    distance_km: float | None


def stations_near(
    lat: float | None = None, lon: float | None = None, district: str | None = None
) -> list[NearStation]:
    """Active stations, nearest first when a position is known (haversine), else by
    district and name. ``district`` filters."""
    stmt = select(Station).where(Station.active.is_(True))
    if district:
        stmt = stmt.where(Station.district == district)
    stations = list(db.session.scalars(stmt))
    if lat is not None and lon is not None:
        found = [
            NearStation(s, sl.haversine_km(lat, lon, s.latitude, s.longitude)) for s in stations
        ]
        return sorted(found, key=lambda n: (n.distance_km, n.station.id))
    return [
        NearStation(s, None) for s in sorted(stations, key=lambda s: (s.district, s.name, s.id))
    ]


def districts() -> list[str]:
    return list(
        db.session.scalars(
            select(Station.district)
            .where(Station.active.is_(True))
            .group_by(Station.district)
            .order_by(Station.district)
        )
    )


def check_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Both or neither, within range."""
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None or not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        raise InvalidInput(
            str(_l("Give both latitude and longitude, in degrees.")),
            {"lat" if lat is None or not -90 <= lat <= 90 else "lon": "invalid"},
        )
    return lat, lon


# ============================================================================ slot search


@dataclass(frozen=True)
class CounselorCard:
    id: int
    name: str
    gender: str | None
    languages: str
    specialties: str


@dataclass(frozen=True)
class SlotView:
    id: str
    kind: str  # "counselor", "room", "group"
    starts_at: datetime
    ends_at: datetime
    remaining: int
    capacity: int
    counselor: CounselorCard | None = None
    title: str | None = None
    group_session_id: int | None = None
    members_only: str | None = None  # org unit name when a group session is restricted


@dataclass
class SlotSearch:
    station: Station
    service: Service
    day: date
    slots: list[SlotView] = field(default_factory=list)
    bookable_day: bool = True  # inside notice and horizon at all


@dataclass
class _DayData:
    counselors: dict[int, CounselorCard]
    rules: dict[int, list[sl.WeeklyRule]]
    exceptions: dict[int, list[sl.DayException]]
    time_off: dict[int, list[sl.Span]]
    closures: list[sl.Span]
    rooms: list[sl.RoomSeats]
    busy: sl.Busy
    room_objects: dict[int, Room] = field(default_factory=dict)


# Statements built once (with bound parameters) and reused: building a select and its cache
# key costs more than running it on a small table. Each read below is one statement.

_COUNSELORS_AT = (
    select(
        User.id,
        User.name,
        CounselorProfile.gender,
        CounselorProfile.languages,
        CounselorProfile.specialties,
    )
    .join(CounselorStation, CounselorStation.counselor_id == User.id)
    .outerjoin(CounselorProfile, CounselorProfile.user_id == User.id)
    .where(
        CounselorStation.station_id == bindparam("station_id"),
        User.active.is_(True),
        User.role == Role.COUNSELOR.value,
        or_(CounselorProfile.id.is_(None), CounselorProfile.accepts_bookings.is_(True)),
    )
    .order_by(User.id)
)
_ONE_COUNSELOR_AT = _COUNSELORS_AT.where(User.id == bindparam("counselor_id"))

_NULL_TIME = cast(null(), AvailabilityRule.starts.type)
_NULL_MOMENT = cast(null(), TimeOff.starts_at.type)
_IDS = bindparam("ids", expanding=True)
# Weekly rules, date exceptions, time off and station closures for one day, in one query:
# (kind, counsellor, station, from, until, rule kind, from instant, until instant).
_AVAILABILITY = union_all(
    select(
        literal("rule").label("k"),
        AvailabilityRule.counselor_id.label("c"),
        AvailabilityRule.station_id.label("s"),
        AvailabilityRule.starts.label("t1"),
        AvailabilityRule.ends.label("t2"),
        AvailabilityRule.kind.label("rk"),
        _NULL_MOMENT.label("d1"),
        _NULL_MOMENT.label("d2"),
    ).where(
        AvailabilityRule.counselor_id.in_(_IDS), AvailabilityRule.weekday == bindparam("weekday")
    ),
    select(
        literal("exception"),
        AvailabilityException.counselor_id,
        AvailabilityException.station_id,
        AvailabilityException.starts,
        AvailabilityException.ends,
        null(),
        null(),
        null(),
    ).where(
        AvailabilityException.counselor_id.in_(_IDS), AvailabilityException.day == bindparam("day")
    ),
    select(
        literal("time_off"),
        TimeOff.counselor_id,
        null(),
        null(),
        null(),
        null(),
        TimeOff.starts_at,
        TimeOff.ends_at,
    ).where(
        TimeOff.counselor_id.in_(_IDS),
        TimeOff.starts_at < bindparam("day_end"),
        TimeOff.ends_at > bindparam("day_start"),
    ),
    select(
        literal("closure"),
        null(),
        StationClosure.station_id,
        null(),
        null(),
        null(),
        StationClosure.starts_at,
        StationClosure.ends_at,
    ).where(
        StationClosure.station_id == bindparam("station_id"),
        StationClosure.starts_at < bindparam("day_end"),
        StationClosure.ends_at > bindparam("day_start"),
    ),
)
_ROOMS_OF_KIND = (
    select(Room)
    .where(
        Room.station_id == bindparam("station_id"),
        Room.kind == bindparam("kind"),
        Room.active.is_(True),
    )
    .order_by(Room.id)
)
# Taken cells as one run per booking and resource (a booking's cells are consecutive): a
# handful of rows per booking whatever its length.
_TAKEN_CELLS = (
    select(
        BookingCell.resource,
        BookingCell.resource_id,
        BookingCell.seat,
        func.min(BookingCell.cell),
        func.max(BookingCell.cell),
    )
    .where(
        or_(
            and_(
                BookingCell.resource == CellKind.COUNSELOR.value,
                BookingCell.resource_id.in_(bindparam("counselor_ids", expanding=True)),
            ),
            and_(
                BookingCell.resource == CellKind.ROOM.value,
                BookingCell.resource_id.in_(bindparam("room_ids", expanding=True)),
            ),
        ),
        BookingCell.cell >= bindparam("cell_from"),
        BookingCell.cell < bindparam("cell_to"),
    )
    .group_by(
        BookingCell.resource,
        BookingCell.resource_id,
        BookingCell.seat,
        BookingCell.appointment_id,
        BookingCell.group_session_id,
    )
)
# One row each (a deliberate cross join of two primary-key lookups).
_STATION_AND_SERVICE = (
    select(Station, Service, stamps.STATION_STAMP, stamps.COUNSELOR_STAMPS)
    .join(Service, true())
    .where(Station.id == bindparam("station_id"), Service.id == bindparam("service_id"))
)
_STATION_AND_SERVICE_CODE = (
    select(Station, Service, stamps.STATION_STAMP, stamps.COUNSELOR_STAMPS)
    .join(Service, true())
    .where(Station.id == bindparam("station_id"), Service.code == bindparam("code"))
)
_STATION_HOURS_ON = select(StationHours.weekday, StationHours.opens, StationHours.closes).where(
    StationHours.station_id == bindparam("station_id"),
    StationHours.weekday == bindparam("weekday"),
)


def _counselors_at(station_id: int, counselor_id: int | None = None) -> dict[int, CounselorCard]:
    if counselor_id is None:
        rows = _rows(_COUNSELORS_AT, {"station_id": station_id})
    else:
        rows = _rows(_ONE_COUNSELOR_AT, {"station_id": station_id, "counselor_id": counselor_id})
    return {
        row.id: CounselorCard(
            row.id, row.name, row.gender, row.languages or "", row.specialties or ""
        )
        for row in rows
    }


def _load_day(
    station: Station,
    service: Service,
    day: date,
    counselor_id: int | None = None,
    window: sl.Span | None = None,
) -> _DayData:
    """Everything the slot arithmetic needs for one station, service and day, in four
    statements whatever the number of bookings: the counsellors, their availability with
    the station's closures, the rooms, and the taken cells. ``window`` narrows the cells
    read to one time (a booking checks only its own slot)."""
    span = sl.local_day_span(day)
    counselors: dict[int, CounselorCard] = {}
    if service.mode == ServiceMode.INDIVIDUAL.value:
        counselors = _counselors_at(station.id, counselor_id)
    ids = list(counselors)
    rules: dict[int, list[sl.WeeklyRule]] = defaultdict(list)
    exceptions: dict[int, list[sl.DayException]] = defaultdict(list)
    time_off: dict[int, list[sl.Span]] = defaultdict(list)
    closures: list[sl.Span] = []
    weekday = day.weekday()
    for k, c, s, t1, t2, rk, d1, d2 in _rows(
        _AVAILABILITY,
        {
            "ids": ids,
            "weekday": weekday,
            "day": day,
            "station_id": station.id,
            "day_start": span.start,
            "day_end": span.end,
        },
    ):
        if k == "rule":
            rules[c].append(sl.WeeklyRule(s, weekday, t1, t2, rk))
        elif k == "exception":
            exceptions[c].append(sl.DayException(s, t1, t2))
        elif k == "time_off":
            time_off[c].append(sl.Span(d1, d2))
        else:
            closures.append(sl.Span(d1, d2))
    rooms: list[sl.RoomSeats] = []
    room_objects: dict[int, Room] = {}
    if service.room_kind is not None:
        seated = service.mode == ServiceMode.ROOM.value
        for room in db.session.scalars(
            _ROOMS_OF_KIND, {"station_id": station.id, "kind": service.room_kind}
        ):
            room_objects[room.id] = room
            rooms.append(sl.RoomSeats(room.id, room.capacity if seated else 1, not seated))
    busy = sl.Busy()
    if ids or rooms:
        first, last = (window.start, window.end) if window else (span.start, span.end)
        busy = sl.Busy(
            _rows(
                _TAKEN_CELLS,
                {
                    "counselor_ids": ids,
                    "room_ids": list(room_objects),
                    "cell_from": sl.cell_index(first),
                    # a late session's buffer may run past midnight
                    "cell_to": sl.cell_index(last) + (0 if window else 48),
                },
            )
        )
    return _DayData(counselors, rules, exceptions, time_off, closures, rooms, busy, room_objects)


def _bounds(service: Service, day: date, now: datetime) -> tuple[datetime, datetime]:
    """Earliest and latest start that notice and horizon allow on ``day``."""
    earliest = now + timedelta(minutes=service.min_notice_minutes)
    last_day = local_today(now) + timedelta(days=service.horizon_days)
    latest = min(sl.local_day_span(day).end, sl.local_day_span(last_day).end) - sl.CELL
    return earliest, latest


def _openings(
    station: Station, service: Service, day: date, data: _DayData, earliest: datetime
) -> list[sl.Opening]:
    """Open times on ``day`` that start at ``earliest`` or later (the notice; the horizon
    is the caller's: it decides whether the day is bookable at all)."""
    duration = timedelta(minutes=service.duration_minutes)
    buffer = timedelta(minutes=service.buffer_minutes)
    latest = sl.local_day_span(day).end - sl.CELL
    if service.mode == ServiceMode.ROOM.value:
        hours = db.session.execute(
            _STATION_HOURS_ON, {"station_id": station.id, "weekday": day.weekday()}
        ).all()
        spans = sl.opening_spans(day, [tuple(h) for h in hours], data.closures)
        return sl.room_openings(spans, data.busy, data.rooms, duration, buffer, earliest, latest)
    if service.mode != ServiceMode.INDIVIDUAL.value:
        return []
    rooms = None if service.room_kind is None else data.rooms
    if rooms is not None and not rooms:
        return []
    out: list[sl.Opening] = []
    step = timedelta(minutes=service.step_minutes)
    for counselor_id in data.counselors:
        spans = sl.working_spans(
            day,
            station.id,
            data.rules.get(counselor_id, []),
            data.exceptions.get(counselor_id, []),
            data.time_off.get(counselor_id, []),
            data.closures,
        )
        out.extend(
            sl.counselor_openings(
                counselor_id, spans, data.busy, rooms, duration, buffer, step, earliest, latest
            )
        )
    return sorted(out, key=lambda o: (o.start, o.counselor_id or 0))


_GROUP_SESSIONS_ON = (
    select(
        GroupSession.id,
        GroupSession.starts_at,
        GroupSession.ends_at,
        GroupSession.capacity,
        GroupSession.seats_taken,
        GroupSession.title,
        OrgUnit.name.label("unit_name"),
    )
    .outerjoin(OrgUnit, OrgUnit.id == GroupSession.org_unit_id)
    .where(
        GroupSession.station_id == bindparam("station_id"),
        GroupSession.service_id == bindparam("service_id"),
        GroupSession.status == GroupSessionStatus.SCHEDULED.value,
        GroupSession.starts_at >= bindparam("day_start"),
        GroupSession.starts_at < bindparam("day_end"),
    )
    .order_by(GroupSession.starts_at, GroupSession.id)
)


def _rows(statement, params: dict[str, Any]):
    """Run a column select on the session's connection (no ORM entities to build)."""
    return db.session.connection().execute(statement, params)


def _group_slots(station_id: int, service: Service, day: date) -> tuple[SlotView, ...]:
    """The day's scheduled group sessions of the service, past ones included (the caller
    drops those)."""
    span = sl.local_day_span(day)
    rows = _rows(
        _GROUP_SESSIONS_ON,
        {
            "station_id": station_id,
            "service_id": service.id,
            "day_start": span.start,
            "day_end": span.end,
        },
    )
    return tuple(
        SlotView(
            id=slot_id_for_group(row.id),
            kind="group",
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            remaining=row.capacity - row.seats_taken,
            capacity=row.capacity,
            title=row.title,
            group_session_id=row.id,
            members_only=row.unit_name,
        )
        for row in rows
    )


def _slot_views(station: Station, service: Service, day: date) -> tuple[SlotView, ...]:
    data = _load_day(station, service, day)
    start_of_day = sl.local_day_span(day).start
    views = []
    for opening in _openings(station, service, day, data, start_of_day):
        if opening.counselor_id is None:
            views.append(
                SlotView(
                    id=slot_id_for_room(station.id, service.id, opening.start),
                    kind="room",
                    starts_at=opening.start,
                    ends_at=opening.end,
                    remaining=opening.remaining,
                    capacity=sum(r.seats for r in data.rooms),
                )
            )
        else:
            views.append(
                SlotView(
                    id=slot_id_for_counselor(
                        opening.counselor_id, station.id, service.id, opening.start
                    ),
                    kind="counselor",
                    starts_at=opening.start,
                    ends_at=opening.end,
                    remaining=1,
                    capacity=1,
                    counselor=data.counselors[opening.counselor_id],
                )
            )
    return tuple(views)


def _openings_cache() -> stamps.OpeningsCache | None:
    """The app's cache of computed slots (None when ``SLOT_CACHE_SIZE`` is 0)."""
    extensions = current_app.extensions
    cache = extensions.get("slot_openings")
    if cache is None:
        size = current_app.config.get("SLOT_CACHE_SIZE", 0)
        cache = stamps.OpeningsCache(size) if size else False
        extensions.setdefault("slot_openings", cache)
    return cache or None


@dataclass(frozen=True)
class _DaySlots:
    """A day's slots whatever the time now: counsellor and room slots from the start of
    the day, and the day's scheduled group sessions."""

    openings: tuple[SlotView, ...]
    groups: tuple[SlotView, ...]


def _compute_day_slots(station: Station, service: Service, day: date) -> _DaySlots:
    openings: tuple[SlotView, ...] = ()
    if service.mode != ServiceMode.GROUP.value:
        openings = _slot_views(station, service, day)
    groups: tuple[SlotView, ...] = ()
    if service.room_kind is not None:  # group sessions need a room
        groups = _group_slots(station.id, service, day)
    return _DaySlots(openings, groups)


def _day_slots(
    station: Station, service: Service, day: date, stamped: tuple[int, int] | None
) -> _DaySlots:
    """The day's slots, kept per process under the stamps of the station and its
    counsellors (``stamps.py``): while no trigger has changed them, nothing the answer
    depends on has changed, and the answer is reused. The caller applies the time now."""
    cache = _openings_cache()
    key = (
        station.id,
        day,
        service.id,
        service.mode,
        service.room_kind,
        service.duration_minutes,
        service.buffer_minutes,
        service.step_minutes,
    )
    if cache is None or stamped is None:
        return _compute_day_slots(station, service, day)
    slots = cache.get(key, stamped)
    if slots is None:
        slots = _compute_day_slots(station, service, day)
        cache.put(key, stamped, slots)
    return slots


def search_slots(
    station_id: int, service_code: str, day: date, now: datetime | None = None
) -> SlotSearch:
    """Open times for a service at a station on a local day, with remaining capacity."""
    now = now or utcnow()
    found = db.session.execute(
        _STATION_AND_SERVICE_CODE, {"station_id": station_id, "code": service_code}
    ).first()
    if found is None or not found[0].active or not found[1].active:
        get_station(station_id, active_only=True)  # raises the right error
        get_service(service_code)
        raise NotFound(str(_l("No such station.")))
    station, service, station_stamp, counselor_stamps = found
    result = SlotSearch(station, service, day)
    earliest, latest = _bounds(service, day, now)
    span = sl.local_day_span(day)
    result.bookable_day = latest >= span.start and earliest < span.end
    day_slots = _day_slots(
        station, service, day, stamps.fingerprint(station_stamp, counselor_stamps)
    )
    if result.bookable_day:
        result.slots.extend(s for s in day_slots.openings if s.starts_at >= earliest)
    result.slots.extend(s for s in day_slots.groups if s.starts_at > now)
    result.slots.sort(key=lambda s: (s.starts_at, s.kind, s.id))
    return result


def bookable_days(service: Service, now: datetime, count: int = 14) -> list[date]:
    today = local_today(now)
    return [today + timedelta(days=i) for i in range(min(count, service.horizon_days + 1))]
