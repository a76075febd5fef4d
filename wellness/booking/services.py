"""Booking use cases: slot search, booking, group sessions, waitlists, cancellation,
rescheduling, attendance, notes, reminders, calendar feeds, and the admin side.

Slots are computed on demand (``slots.py``) from templates minus breaks, exceptions, time
off, closures and the cells already taken; nothing is materialised ahead. A booking
re-validates its slot and then claims the cells of its counsellor, client and room seat
in savepoints: the UNIQUE constraint on ``booking_cells`` decides who wins, the loser
gets a 409 and nothing of its attempt is kept. Group seats move by conditional UPDATE.

Every public use case that writes runs inside ``_write()``: it commits once at the end
and rolls back on any error.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import current_app
from flask_babel import force_locale, format_date, format_time, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import aliased

from wellness import audit
from wellness.auth.models import OrgUnit, Role, User
from wellness.booking import slots as sl
from wellness.booking import stamps
from wellness.booking.models import (
    ACTIVE_STATUSES,
    AppointmentStatus,
    AvailabilityException,
    AvailabilityKind,
    AvailabilityRule,
    BookingCell,
    CalendarFeed,
    CellKind,
    CounselorProfile,
    CounselorStation,
    GroupSession,
    GroupSessionStatus,
    Room,
    RoomKind,
    Service,
    ServiceMode,
    SessionNote,
    Station,
    StationClosure,
    StationHours,
    TimeOff,
    WaitlistEntry,
    WaitlistStatus,
)
from wellness.booking.models import Appointment as Appointment
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted, WellnessError
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.transactions import writing

T = TypeVar("T")

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SLOT_ID_MAX = 60

# ============================================================================ transactions


@contextmanager
def _write() -> Iterator[None]:
    """One use case: commit once at the end, or roll back everything on any error.

    On SQLite a request that may write begins its transaction IMMEDIATE
    (``wellness/sqlite.py``), so a use case that reads before it writes queues for the write
    lock instead of failing; a GET that writes declares it (``wellness.transactions.writes``).
    In a ``reads_first`` request (booking) the request has only read so far: ``writing()``
    ends that read transaction, and the use case's own transaction takes the write lock.
    On PostgreSQL unique indexes and row locks serialise the writers.
    """
    with writing():
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()


def _audited_read(view: Callable[..., T]) -> Callable[..., T]:
    """A staff read of someone's record: the reads and their audit row in one transaction.
    A GET view that calls one is declared ``@writes`` (``wellness/transactions.py``)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> T:
        with _write():
            return view(*args, **kwargs)

    return wrapped


def _savepoint(work: Callable[[], T]) -> tuple[bool, T | None]:
    """Run ``work`` in a savepoint; (False, None) when a constraint refused it."""
    try:
        with db.session.begin_nested():
            return True, work()
    except IntegrityError:
        return False, None
    except DBAPIError as error:  # PostgreSQL: a deadlock or serialisation failure
        if getattr(getattr(error, "orig", None), "sqlstate", None) in ("40P01", "40001"):
            return False, None
        raise


# ============================================================================ time helpers


def local_today(now: datetime) -> date:
    return sl.to_local(now).date()


def fmt_when(moment: datetime) -> str:
    """Date and time in the user's language, Beijing time."""
    return f"{format_date(moment, 'medium')} {format_time(moment, 'short')}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ============================================================================ lookups


def get_station(station_id: int, *, active_only: bool = False) -> Station:
    station = db.session.get(Station, station_id)
    if station is None or (active_only and not station.active):
        raise NotFound(str(_l("No such station.")))
    return station


def get_service(code: str, *, active_only: bool = True) -> Service:
    service = db.session.scalar(select(Service).where(Service.code == code))
    if service is None or (active_only and not service.active):
        raise InvalidInput(str(_l("Choose a service from the list.")), {"service": "unknown"})
    return service


def get_service_by_id(service_id: int) -> Service:
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound(str(_l("No such service.")))
    return service


def list_services(*, active_only: bool = True) -> list[Service]:
    stmt = select(Service).order_by(Service.sort_order, Service.id)
    if active_only:
        stmt = stmt.where(Service.active.is_(True))
    return list(db.session.scalars(stmt))


def service_name(service: Service, locale: str | None = None) -> str:
    lang = locale or str(get_locale() or "zh")
    return service.name_en if lang.startswith("en") and service.name_en else service.name


def list_rooms(station_id: int, *, active_only: bool = False) -> list[Room]:
    stmt = select(Room).where(Room.station_id == station_id).order_by(Room.name, Room.id)
    if active_only:
        stmt = stmt.where(Room.active.is_(True))
    return list(db.session.scalars(stmt))


def station_hours(station_id: int) -> list[StationHours]:
    return list(
        db.session.scalars(
            select(StationHours)
            .where(StationHours.station_id == station_id)
            .order_by(StationHours.weekday, StationHours.opens)
        )
    )


_SERVICES_AT = (
    select(Service)
    .where(
        Service.active.is_(True),
        or_(
            Service.room_kind.is_(None),
            Service.room_kind.in_(
                select(Room.kind).where(
                    Room.station_id == bindparam("station_id"), Room.active.is_(True)
                )
            ),
        ),
    )
    .order_by(Service.sort_order, Service.id)
)


def services_at(station_id: int) -> list[Service]:
    """Services a station can offer: remote ones, and those whose room kind it has."""
    return list(db.session.scalars(_SERVICES_AT, {"station_id": station_id}))


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


# ============================================================================ slot ids

_COUNSELOR_SLOT = re.compile(r"^c(\d{1,9})-(\d{1,9})-(\d{1,9})-(\d{12})$")
_ROOM_SLOT = re.compile(r"^r(\d{1,9})-(\d{1,9})-(\d{12})$")
_GROUP_SLOT = re.compile(r"^g(\d{1,9})$")


@dataclass(frozen=True)
class SlotRef:
    kind: str  # "counselor", "room", "group"
    station_id: int | None = None
    service_id: int | None = None
    counselor_id: int | None = None
    start: datetime | None = None
    group_session_id: int | None = None


def _stamp(moment: datetime) -> str:
    return sl.to_local(moment).strftime("%Y%m%d%H%M")


def slot_id_for_counselor(counselor_id: int, station_id: int, service_id: int, start: datetime):
    return f"c{counselor_id}-{station_id}-{service_id}-{_stamp(start)}"


def slot_id_for_room(station_id: int, service_id: int, start: datetime) -> str:
    return f"r{station_id}-{service_id}-{_stamp(start)}"


def slot_id_for_group(group_session_id: int) -> str:
    return f"g{group_session_id}"


def _invalid_slot() -> InvalidInput:
    return InvalidInput(
        str(_l("This time slot is not valid. Please choose a time from the list.")),
        {"slot_id": "invalid"},
    )


def _parse_stamp(raw: str) -> datetime:
    try:
        local = datetime.strptime(raw, "%Y%m%d%H%M").replace(tzinfo=sl.LOCAL_TZ)
    except ValueError:
        raise _invalid_slot() from None
    moment = local.astimezone(UTC)
    if not sl.is_aligned(moment):
        raise _invalid_slot()
    return moment


def parse_slot_id(slot_id: str) -> SlotRef:
    """A stable slot id back into its parts; the booking re-validates everything."""
    raw = (slot_id or "").strip()
    if len(raw) > SLOT_ID_MAX:
        raise _invalid_slot()
    if match := _COUNSELOR_SLOT.match(raw):
        counselor, station, service, stamp = match.groups()
        return SlotRef("counselor", int(station), int(service), int(counselor), _parse_stamp(stamp))
    if match := _ROOM_SLOT.match(raw):
        station, service, stamp = match.groups()
        return SlotRef("room", int(station), int(service), None, _parse_stamp(stamp))
    if match := _GROUP_SLOT.match(raw):
        return SlotRef("group", group_session_id=int(match.group(1)))
    raise _invalid_slot()


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


# ============================================================================ booking


@dataclass
class BookingResult:
    appointment: Appointment | None = None
    waitlist_entry: WaitlistEntry | None = None
    existing: bool = False  # an idempotent repeat: nothing new was created
    info: AppointmentInfo | None = None  # taken before the commit


def _new_reference() -> str:
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _slot_taken() -> Conflict:
    return Conflict(
        str(_l("Sorry, this time has just been taken. Please choose another time.")),
        {"slot_id": "full"},
    )


def _client_overlap() -> Conflict:
    return Conflict(
        str(_l("You already have an appointment at this time.")), {"slot_id": "overlap"}
    )


def _check_time(service: Service, start: datetime, now: datetime) -> None:
    if start <= now:
        raise InvalidInput(
            str(_l("This time has already passed. Please choose a later time.")),
            {"slot_id": "past"},
        )
    if start < now + timedelta(minutes=service.min_notice_minutes):
        raise InvalidInput(
            str(
                _l(
                    "This time is too soon. Please book at least %(minutes)s minutes ahead.",
                    minutes=service.min_notice_minutes,
                )
            ),
            {"slot_id": "too_soon"},
        )
    last_day = local_today(now) + timedelta(days=service.horizon_days)
    if sl.to_local(start).date() > last_day:
        raise InvalidInput(
            str(_l("You can book up to %(days)s days ahead.", days=service.horizon_days)),
            {"slot_id": "too_far"},
        )


def _existing_for_key(user_id: int, key: str | None) -> Appointment | None:
    if not key:
        return None
    return db.session.scalar(
        select(Appointment).where(
            Appointment.user_id == user_id, Appointment.idempotency_key == key
        )
    )


def _cell_rows(
    kind: str,
    resource_id: int,
    start: datetime,
    end: datetime,
    *,
    seats: Iterable[int] = (1,),
    appointment_id: int | None = None,
    group_session_id: int | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "resource": kind,
            "resource_id": resource_id,
            "seat": seat,
            "cell": cell,
            "appointment_id": appointment_id,
            "group_session_id": group_session_id,
        }
        for seat in seats
        for cell in sl.cells(start, end)
    ]


_INSERT_CELLS = insert(BookingCell.__table__)


def _claim(rows: list[dict[str, Any]]) -> bool:
    """Insert cells, all or none; False when any of them is already taken.

    On SQLite the cells go in one multi-row INSERT: a statement that fails there is undone
    by itself and the transaction goes on, so no savepoint is needed (and one statement
    costs a fifth of ``executemany``, which runs the insert and its triggers row by row).
    PostgreSQL aborts the whole transaction on an error, so there (and for a claim too
    large for one SQLite statement) the insert runs in a savepoint."""
    if not rows:
        return True
    connection = db.session.connection()
    # (999 parameters is the smallest limit an SQLite build may have)
    if connection.dialect.name == "sqlite" and len(rows) * len(_CELL_COLUMNS) <= 999:
        params = tuple(row[column] for row in rows for column in _CELL_COLUMNS)
        try:
            connection.exec_driver_sql(_sqlite_cells_insert(len(rows)), params)
        except IntegrityError:
            return False
        return True
    ok, _ = _savepoint(lambda: db.session.connection().execute(_INSERT_CELLS, rows))
    return ok


_CELL_COLUMNS = ("resource", "resource_id", "seat", "cell", "appointment_id", "group_session_id")


@lru_cache(maxsize=64)
def _sqlite_cells_insert(count: int) -> str:
    """One INSERT of ``count`` cell rows with positional parameters (SQLite)."""
    row = "(" + ", ".join("?" for _ in _CELL_COLUMNS) + ")"
    return (
        f"INSERT INTO booking_cells ({', '.join(_CELL_COLUMNS)}) VALUES "  # noqa: S608 - constants
        + ", ".join(row for _ in range(count))
    )


def _claim_client(appointment: Appointment) -> None:
    rows = _cell_rows(
        CellKind.CLIENT.value,
        appointment.user_id,
        appointment.starts_at,
        appointment.ends_at,
        appointment_id=appointment.id,
    )
    if not _claim(rows):
        raise _client_overlap()


def _claim_room(
    appointment: Appointment,
    candidates: Iterable[tuple[sl.RoomSeats, int]],
    end_with_buffer: datetime,
) -> None:
    for room, seat in candidates:
        seats = range(1, room.seats + 1) if room.exclusive else (seat,)
        rows = _cell_rows(
            CellKind.ROOM.value,
            room.room_id,
            appointment.starts_at,
            end_with_buffer,
            seats=seats,
            appointment_id=appointment.id,
        )
        if _claim(rows):
            appointment.room_id = room.room_id
            return
    raise _slot_taken()


def _new_appointment(
    user: User,
    service: Service,
    station_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    counselor_id: int | None = None,
    group_session_id: int | None = None,
    actor: User | None = None,
    idempotency_key: str | None = None,
    status: str = AppointmentStatus.BOOKED.value,
    hold_expires_at: datetime | None = None,
    room_id: int | None = None,
) -> Appointment:
    appointment = Appointment(
        room_id=room_id,
        reference=_new_reference(),
        user_id=user.id,
        service_id=service.id,
        station_id=station_id,
        counselor_id=counselor_id,
        group_session_id=group_session_id,
        starts_at=start,
        ends_at=end,
        status=status,
        created_at=now,
        created_by_id=(actor or user).id,
        idempotency_key=idempotency_key,
        hold_expires_at=hold_expires_at,
    )
    # A booking made inside a reminder's window does not get that reminder late.
    if start - now <= timedelta(hours=24):
        appointment.reminder_24h_at = now
    if start - now <= timedelta(hours=2):
        appointment.reminder_2h_at = now
    if idempotency_key is None:
        _add_and_flush(appointment)
        return appointment
    ok, _ = _savepoint(lambda: _add_and_flush(appointment))
    if not ok:
        # The same idempotency key committed meanwhile (a double click on PostgreSQL).
        raise _RepeatedKey()
    return appointment


def _add_and_flush(obj: Any) -> Any:
    db.session.add(obj)
    db.session.flush()
    return obj


class _RepeatedKey(Exception):
    pass


def _free_rooms(
    service: Service, data: _DayData, start: datetime, end: datetime
) -> tuple[tuple[int, int], ...]:
    if service.room_kind is None:
        return ()
    buffer = timedelta(minutes=service.buffer_minutes)
    return sl.free_room_seats(data.rooms, data.busy, start, end + buffer)


def _occupy_individual(
    appointment: Appointment,
    service: Service,
    data: _DayData,
    counselor_id: int | None,
) -> None:
    """Claim counsellor, client and room cells for an individual or room booking.

    Fast path: all of them in one statement with the first free room. Only when that is
    refused, claim them one by one to tell which was taken and to try the other rooms.
    """
    buffer = timedelta(minutes=service.buffer_minutes)
    end_with_buffer = appointment.ends_at + buffer
    by_id = {r.room_id: r for r in data.rooms}
    free = _free_rooms(service, data, appointment.starts_at, appointment.ends_at)
    rows = _cell_rows(
        CellKind.CLIENT.value,
        appointment.user_id,
        appointment.starts_at,
        appointment.ends_at,
        appointment_id=appointment.id,
    )
    if counselor_id is not None:
        rows += _cell_rows(
            CellKind.COUNSELOR.value,
            counselor_id,
            appointment.starts_at,
            end_with_buffer,
            appointment_id=appointment.id,
        )
    if service.room_kind is not None and free:
        room = by_id[free[0][0]]
        seats = range(1, room.seats + 1) if room.exclusive else (free[0][1],)
        rows += _cell_rows(
            CellKind.ROOM.value,
            room.room_id,
            appointment.starts_at,
            end_with_buffer,
            seats=seats,
            appointment_id=appointment.id,
        )
    if (service.room_kind is None or free) and _claim(rows):
        if service.room_kind is not None and appointment.room_id != free[0][0]:
            appointment.room_id = free[0][0]
        return
    if counselor_id is not None:
        rows = _cell_rows(
            CellKind.COUNSELOR.value,
            counselor_id,
            appointment.starts_at,
            end_with_buffer,
            appointment_id=appointment.id,
        )
        if not _claim(rows):
            raise _slot_taken()
    _claim_client(appointment)
    if service.room_kind is None:
        return
    candidates = [(by_id[room_id], seat) for room_id, seat in free]
    _claim_room(appointment, candidates, end_with_buffer)


def _validate_individual(
    ref: SlotRef, service: Service, station: Station, now: datetime
) -> tuple[_DayData, datetime, datetime]:
    """Is this still a real opening? Returns the day data and the session's times."""
    assert ref.start is not None
    start = ref.start
    end = start + timedelta(minutes=service.duration_minutes)
    _check_time(service, start, now)
    day = sl.to_local(start).date()
    window = sl.Span(start, end + timedelta(minutes=service.buffer_minutes))
    if ref.kind == "counselor":
        if service.mode != ServiceMode.INDIVIDUAL.value:
            raise _invalid_slot()
        data = _load_day(station, service, day, counselor_id=ref.counselor_id, window=window)
        if ref.counselor_id not in data.counselors:
            raise _invalid_slot()
        spans = sl.working_spans(
            day,
            station.id,
            data.rules.get(ref.counselor_id, []),
            data.exceptions.get(ref.counselor_id, []),
            data.time_off.get(ref.counselor_id, []),
            data.closures,
        )
        if not sl.fits(spans, start, end):
            raise Conflict(
                str(_l("The counsellor is not available at this time. Please choose another.")),
                {"slot_id": "unavailable"},
            )
        if service.room_kind is not None and not data.rooms:
            raise _invalid_slot()
        return data, start, end
    if service.mode != ServiceMode.ROOM.value:
        raise _invalid_slot()
    data = _load_day(station, service, day, window=window)
    hours = db.session.execute(
        _STATION_HOURS_ON, {"station_id": station.id, "weekday": day.weekday()}
    ).all()
    spans = sl.opening_spans(day, [tuple(h) for h in hours], data.closures)
    if not sl.fits(spans, start, end) or not data.rooms:
        raise Conflict(
            str(_l("The station is not open at this time. Please choose another.")),
            {"slot_id": "unavailable"},
        )
    return data, start, end


@dataclass(frozen=True)
class _Checked:
    """A counsellor or room slot found bookable, with what the check read and the stamps
    (``stamps.py``) it read it under."""

    station: Station
    service: Service
    data: _DayData
    start: datetime
    end: datetime
    stamped: tuple[int, int] | None


_STAMPS_OF_STATION = select(stamps.STATION_STAMP, stamps.COUNSELOR_STAMPS)


def _check_slot(ref: SlotRef, now: datetime, expected_service_id: int | None = None) -> _Checked:
    """Is this slot bookable? Raises the error to show when it is not."""
    found = db.session.execute(
        _STATION_AND_SERVICE, {"station_id": ref.station_id, "service_id": ref.service_id}
    ).first()
    if found is None:
        raise _invalid_slot()
    station, service, station_stamp, counselor_stamps = found
    if not station.active or not service.active:
        raise _invalid_slot()
    if expected_service_id is not None and service.id != expected_service_id:
        raise InvalidInput(
            str(_l("Choose a time for the same service.")), {"slot_id": "other_service"}
        )
    data, start, end = _validate_individual(ref, service, station, now)
    return _Checked(
        station, service, data, start, end, stamps.fingerprint(station_stamp, counselor_stamps)
    )


def _recheck(checked: _Checked, ref: SlotRef, now: datetime) -> _Checked:
    """Inside the booking's transaction: a check made before it began still holds while
    the stamps of the station and its counsellors are unchanged (nothing the check read
    has changed); otherwise check again. One statement when nothing changed."""
    row = _rows(_STAMPS_OF_STATION, {"station_id": checked.station.id}).one()
    if checked.stamped is not None and stamps.fingerprint(*row) == checked.stamped:
        return checked
    data, start, end = _validate_individual(ref, checked.service, checked.station, now)
    return replace(checked, data=data, start=start, end=end)


def _book_slot(
    user: User,
    ref: SlotRef,
    now: datetime,
    *,
    voucher_code: str | None,
    idempotency_key: str | None,
    actor: User | None,
    expected_service_id: int | None = None,
    checked: _Checked | None = None,
) -> tuple[Appointment, AppointmentView]:
    """Book a counsellor or room slot inside the caller's transaction. ``checked`` is the
    slot's check made before the transaction began (``_check_slot``); without it the slot
    is checked here."""
    if checked is None:
        checked = _check_slot(ref, now, expected_service_id)
    else:
        checked = _recheck(checked, ref, now)
    station, service, data = checked.station, checked.service, checked.data
    start, end = checked.start, checked.end
    free = _free_rooms(service, data, start, end)
    appointment = _new_appointment(
        user,
        service,
        station.id,
        start,
        end,
        now,
        counselor_id=ref.counselor_id,
        actor=actor,
        idempotency_key=idempotency_key,
        room_id=free[0][0] if free else None,
    )
    _occupy_individual(appointment, service, data, ref.counselor_id)
    _reserve_voucher(user, service, appointment, voucher_code, now)
    card = data.counselors.get(ref.counselor_id or 0)
    view = AppointmentView(
        appointment,
        service,
        station,
        data.room_objects.get(appointment.room_id or 0),
        card.name if card else None,
        None,
    )
    return appointment, view


def book(
    user: User,
    slot_id: str,
    *,
    now: datetime | None = None,
    voucher_code: str | None = None,
    idempotency_key: str | None = None,
    actor: User | None = None,
    waitlist: bool = False,
) -> BookingResult:
    """Book a slot by its id: a counsellor slot, a room seat, or a seat in a group session.

    A repeated ``idempotency_key`` returns the first booking and changes nothing. A slot
    that was just taken raises Conflict (409); the caller offers other times.
    """
    now = now or utcnow()
    ref = parse_slot_id(slot_id)
    key = (idempotency_key or "").strip()[:64] or None
    if ref.kind == "group":
        assert ref.group_session_id is not None
        return join_group_session(
            user,
            ref.group_session_id,
            now=now,
            waitlist=waitlist,
            voucher_code=voucher_code,
            idempotency_key=key,
            actor=actor,
        )
    # Checked first, before the write transaction (in a ``reads_first`` request this runs
    # without the write lock); inside it, one statement confirms nothing has changed.
    existing = _existing_for_key(user.id, key)
    if existing is not None:
        return BookingResult(existing, existing=True)
    checked = _check_slot(ref, now)
    try:
        with _write():
            existing = _existing_for_key(user.id, key)
            if existing is not None:
                return BookingResult(existing, existing=True)
            appointment, view = _book_slot(
                user,
                ref,
                now,
                voucher_code=voucher_code,
                idempotency_key=key,
                actor=actor,
                checked=checked,
            )
            _announce_booking(user, appointment, now, service=view.service, station=view.station)
            if actor is not None and actor.id != user.id:
                audit.record(actor, "booking.book_for_client", appointment)
            # A snapshot for the caller's answer: after the commit, reading the ORM objects
            # again would cost a query each.
            info = appointment_info(view, now)
    except _RepeatedKey:
        existing = _existing_for_key(user.id, key)
        if existing is None:
            raise _slot_taken() from None
        return BookingResult(existing, existing=True)
    return BookingResult(appointment, info=info)


# ---------------------------------------------------------------------------- vouchers


def _vouchers():
    """The vouchers package's services (booking -> vouchers is an allowed arrow)."""
    from wellness.vouchers import services as voucher_services

    return voucher_services


def _reserve_voucher(
    user: User, service: Service, appointment: Appointment, code: str | None, now: datetime
) -> None:
    if not service.voucher_required:
        return
    code = (code or "").strip()
    if not code:
        raise InvalidInput(
            str(_l("This service needs a voucher. Enter your voucher code.")),
            {"voucher_code": "required"},
        )
    voucher = _vouchers().reserve_for_appointment(user.id, code, service.code, appointment.id, now)
    appointment.voucher_code = getattr(voucher, "code", code)


def usable_vouchers(user: User, service: Service, now: datetime | None = None) -> list[Any]:
    if not service.voucher_required:
        return []
    return list(_vouchers().usable_vouchers(user.id, service.code, now or utcnow()))


# ============================================================================ group sessions


def get_group_session(session_id: int) -> GroupSession:
    session = db.session.get(GroupSession, session_id)
    if session is None:
        raise NotFound(str(_l("No such group session.")))
    return session


def _check_member_of(user: User, session: GroupSession) -> None:
    if session.org_unit_id is None:
        return
    from wellness.auth import services as auth_services

    allowed = set(auth_services.descendant_ids(session.org_unit_id))
    if user.org_unit_id not in allowed:
        unit = db.session.get(OrgUnit, session.org_unit_id)
        raise NotPermitted(
            str(
                _l(
                    "This group session is only open to members of %(unit)s.",
                    unit=unit.name if unit else "",
                )
            ),
            {"slot_id": "members_only"},
        )


def _active_group_appointment(session_id: int, user_id: int) -> Appointment | None:
    return db.session.scalar(
        select(Appointment).where(
            Appointment.group_session_id == session_id,
            Appointment.user_id == user_id,
            Appointment.status.in_(ACTIVE_STATUSES),
        )
    )


def _active_group_entry(session_id: int, user_id: int) -> WaitlistEntry | None:
    return db.session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.group_session_id == session_id,
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
    )


def join_group_session(
    user: User,
    session_id: int,
    *,
    now: datetime | None = None,
    waitlist: bool = False,
    voucher_code: str | None = None,
    idempotency_key: str | None = None,
    actor: User | None = None,
) -> BookingResult:
    """Take a seat (conditional UPDATE of ``seats_taken``), or join the waitlist when the
    session is full and ``waitlist`` is set; otherwise a full session is a Conflict."""
    now = now or utcnow()
    try:
        with _write():
            existing = _existing_for_key(user.id, idempotency_key)
            if existing is not None:
                return BookingResult(existing, existing=True)
            session = get_group_session(session_id)
            service = db.session.get(Service, session.service_id)
            assert service is not None
            if session.status != GroupSessionStatus.SCHEDULED.value:
                raise Conflict(
                    str(_l("This group session has been cancelled.")), {"slot_id": "cancelled"}
                )
            if session.starts_at <= now:
                raise InvalidInput(
                    str(_l("This time has already passed. Please choose a later time.")),
                    {"slot_id": "past"},
                )
            _check_member_of(user, session)
            mine = _active_group_appointment(session.id, user.id)
            if mine is not None:
                return BookingResult(mine, existing=True)
            entry = _active_group_entry(session.id, user.id)
            if entry is not None:
                return BookingResult(waitlist_entry=entry, existing=True)
            taken = db.session.execute(
                update(GroupSession)
                .where(
                    GroupSession.id == session.id,
                    GroupSession.status == GroupSessionStatus.SCHEDULED.value,
                    GroupSession.seats_taken < GroupSession.capacity,
                )
                .values(seats_taken=GroupSession.seats_taken + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not taken:
                if not waitlist:
                    raise Conflict(
                        str(_l("Sorry, this group session is full. You can join the waitlist.")),
                        {"slot_id": "full"},
                    )
                entry = _add_waitlist_entry(
                    user, session.station_id, service.id, None, session.id, now
                )
                _announce_waitlist(user, entry, service, session.starts_at, now)
                return BookingResult(waitlist_entry=entry)
            appointment = _new_appointment(
                user,
                service,
                session.station_id,
                session.starts_at,
                session.ends_at,
                now,
                counselor_id=session.counselor_id,
                group_session_id=session.id,
                actor=actor,
                idempotency_key=idempotency_key,
            )
            appointment.room_id = session.room_id
            _claim_client(appointment)
            _reserve_voucher(user, service, appointment, voucher_code, now)
            _announce_booking(user, appointment, now)
    except _RepeatedKey:
        existing = _existing_for_key(user.id, idempotency_key)
        if existing is None:
            raise _slot_taken() from None
        return BookingResult(existing, existing=True)
    return BookingResult(appointment)


def _add_waitlist_entry(
    user: User,
    station_id: int,
    service_id: int,
    day: date | None,
    group_session_id: int | None,
    now: datetime,
) -> WaitlistEntry:
    entry = WaitlistEntry(
        user_id=user.id,
        station_id=station_id,
        service_id=service_id,
        day=day,
        group_session_id=group_session_id,
        created_at=now,
    )
    ok, _ = _savepoint(lambda: _add_and_flush(entry))
    if not ok:
        raise Conflict(str(_l("You are already on this waitlist.")), {"waitlist": "exists"})
    return entry


def waitlist_position(entry: WaitlistEntry) -> int:
    """1-based place in the queue (waiting entries created before it, plus one)."""
    stmt = select(func.count(WaitlistEntry.id)).where(
        WaitlistEntry.status == WaitlistStatus.WAITING.value,
        or_(
            WaitlistEntry.created_at < entry.created_at,
            and_(WaitlistEntry.created_at == entry.created_at, WaitlistEntry.id < entry.id),
        ),
    )
    if entry.group_session_id is not None:
        stmt = stmt.where(WaitlistEntry.group_session_id == entry.group_session_id)
    else:
        stmt = stmt.where(
            WaitlistEntry.group_session_id.is_(None),
            WaitlistEntry.station_id == entry.station_id,
            WaitlistEntry.service_id == entry.service_id,
            WaitlistEntry.day == entry.day,
        )
    return (db.session.scalar(stmt) or 0) + 1


def join_day_waitlist(
    user: User, station_id: int, service_code: str, day: date, now: datetime | None = None
) -> WaitlistEntry:
    """Wait for any time of a service at a station on a day; offered when one frees up."""
    now = now or utcnow()
    with _write():
        station = get_station(station_id, active_only=True)
        service = get_service(service_code)
        if service.mode == ServiceMode.GROUP.value:
            raise InvalidInput(str(_l("Choose a service from the list.")), {"service": "group"})
        if day < local_today(now) or day > local_today(now) + timedelta(days=service.horizon_days):
            raise InvalidInput(
                str(_l("You can book up to %(days)s days ahead.", days=service.horizon_days)),
                {"date": "out_of_range"},
            )
        entry = _add_waitlist_entry(user, station.id, service.id, day, None, now)
        _announce_waitlist(user, entry, service, None, now)
    return entry


def leave_waitlist(user: User, entry_id: int, now: datetime | None = None) -> WaitlistEntry:
    now = now or utcnow()
    with _write():
        entry = db.session.get(WaitlistEntry, entry_id)
        if entry is None or entry.user_id != user.id:
            raise NotFound(str(_l("No such waitlist entry.")))
        db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.WAITING.value
            )
            .values(status=WaitlistStatus.LEFT.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
    return entry


# ============================================================================ offers (holds)


def _hold_minutes() -> int:
    return int(current_app.config.get("BOOKING_HOLD_MINUTES", 120))


def _waiting_entries(appointment: Appointment) -> list[WaitlistEntry]:
    stmt = select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING.value)
    if appointment.group_session_id is not None:
        stmt = stmt.where(WaitlistEntry.group_session_id == appointment.group_session_id)
    else:
        stmt = stmt.where(
            WaitlistEntry.group_session_id.is_(None),
            WaitlistEntry.station_id == appointment.station_id,
            WaitlistEntry.service_id == appointment.service_id,
            WaitlistEntry.day == sl.to_local(appointment.starts_at).date(),
        )
    return list(db.session.scalars(stmt.order_by(WaitlistEntry.created_at, WaitlistEntry.id)))


def _offer_freed(freed: Appointment, now: datetime) -> Appointment | None:
    """Offer what ``freed`` held (its cells were released, or its group seat is still
    counted) to the first waiting member who can take it: a HELD appointment that keeps
    it for them for BOOKING_HOLD_MINUTES. None when nobody can take it."""
    service = db.session.get(Service, freed.service_id)
    assert service is not None
    if freed.starts_at < now + timedelta(minutes=service.min_notice_minutes):
        return None
    station = db.session.get(Station, freed.station_id)
    assert station is not None
    hold_until = min(now + timedelta(minutes=_hold_minutes()), freed.starts_at)
    for entry in _waiting_entries(freed):
        claimed = db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.WAITING.value
            )
            .values(status=WaitlistStatus.OFFERED.value, offered_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        member = db.session.get(User, entry.user_id)
        if member is None or not member.active:
            continue

        def take(member: User = member, entry: WaitlistEntry = entry) -> Appointment:
            held = _new_appointment(
                member,
                service,
                freed.station_id,
                freed.starts_at,
                freed.ends_at,
                now,
                counselor_id=freed.counselor_id,
                group_session_id=freed.group_session_id,
                status=AppointmentStatus.HELD.value,
                hold_expires_at=hold_until,
            )
            held.waitlist_entry_id = entry.id
            if freed.group_session_id is not None:
                held.room_id = freed.room_id
                _claim_client(held)
                return held
            data = _load_day(
                station,
                service,
                sl.to_local(freed.starts_at).date(),
                freed.counselor_id,
                window=sl.Span(
                    freed.starts_at,
                    freed.ends_at + timedelta(minutes=service.buffer_minutes),
                ),
            )
            _occupy_individual(held, service, data, freed.counselor_id)
            return held

        try:
            ok, held = _savepoint(take)
        except WellnessError:
            ok, held = False, None
        if not ok or held is None:
            # They cannot take it (another appointment at that time): keep their place.
            db.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == entry.id)
                .values(status=WaitlistStatus.WAITING.value, offered_at=None)
                .execution_options(synchronize_session=False)
            )
            continue
        _announce_offer(member, held, service, station, now)
        return held
    return None


def _release(appointment: Appointment, now: datetime) -> None:
    """Free what a cancelled or expired appointment held, offering it to the waitlist."""
    db.session.execute(
        delete(BookingCell)
        .where(BookingCell.appointment_id == appointment.id)
        .execution_options(synchronize_session=False)
    )
    offered = _offer_freed(appointment, now)
    if appointment.group_session_id is not None and offered is None:
        db.session.execute(
            update(GroupSession)
            .where(GroupSession.id == appointment.group_session_id, GroupSession.seats_taken > 0)
            .values(seats_taken=GroupSession.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )


def accept_offer(
    user: User, appointment_id: int, *, now: datetime | None = None, voucher_code: str | None = None
) -> Appointment:
    """The waitlisted member takes the held time (before the hold expires)."""
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        if appointment.status == AppointmentStatus.BOOKED.value:
            return appointment
        service = db.session.get(Service, appointment.service_id)
        assert service is not None
        done = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.status == AppointmentStatus.HELD.value,
                Appointment.hold_expires_at > now,
            )
            .values(status=AppointmentStatus.BOOKED.value, hold_expires_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not done:
            raise Conflict(str(_l("Sorry, this offer has expired.")), {"appointment": "expired"})
        db.session.refresh(appointment)
        _reserve_voucher(user, service, appointment, voucher_code, now)
        if appointment.waitlist_entry_id:
            db.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == appointment.waitlist_entry_id)
                .values(status=WaitlistStatus.ACCEPTED.value, resolved_at=now)
                .execution_options(synchronize_session=False)
            )
        _announce_booking(user, appointment, now)
    return appointment


def decline_offer(user: User, appointment_id: int, now: datetime | None = None) -> Appointment:
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        _expire_hold(appointment, now, force=True)
    return appointment


def _expire_hold(appointment: Appointment, now: datetime, force: bool = False) -> bool:
    conditions = [
        Appointment.id == appointment.id,
        Appointment.status == AppointmentStatus.HELD.value,
    ]
    if not force:
        conditions.append(Appointment.hold_expires_at <= now)
    done = db.session.execute(
        update(Appointment)
        .where(*conditions)
        .values(status=AppointmentStatus.EXPIRED.value, cancelled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        return False
    if appointment.waitlist_entry_id:
        db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == appointment.waitlist_entry_id)
            .values(status=WaitlistStatus.EXPIRED.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(appointment)
    _release(appointment, now)
    return True


def expire_holds(now: datetime | None = None, limit: int = 200) -> int:
    """Sweep: offers not accepted in time go to the next member in line. Idempotent."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(Appointment.id)
            .where(
                Appointment.status == AppointmentStatus.HELD.value,
                Appointment.hold_expires_at <= now,
            )
            .order_by(Appointment.hold_expires_at, Appointment.id)
            .limit(limit)
        )
    )
    count = 0
    for appointment_id in ids:
        with _write():
            appointment = db.session.get(Appointment, appointment_id)
            if appointment is not None and _expire_hold(appointment, now):
                count += 1
    return count


# ============================================================================ my appointments


def _own_appointment(user: User, appointment_id: int) -> Appointment:
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.user_id != user.id:
        raise NotFound(str(_l("No such appointment.")))
    return appointment


def get_own_appointment(user: User, appointment_id: int) -> Appointment:
    return _own_appointment(user, appointment_id)


@dataclass(frozen=True)
class AppointmentView:
    appointment: Appointment
    service: Service
    station: Station
    room: Room | None
    counselor_name: str | None
    group_title: str | None

    @property
    def id(self) -> int:
        return self.appointment.id


@dataclass(frozen=True)
class AppointmentInfo:
    """A plain snapshot of an appointment as members see it (pages and the API)."""

    id: int
    reference: str
    status: str
    service_code: str
    service_name: str
    station_id: int
    station_name: str
    address: str
    station_phone: str
    counselor_name: str | None
    room_name: str | None
    group_session_id: int | None
    starts_at: datetime
    ends_at: datetime
    hold_expires_at: datetime | None
    voucher_code: str | None
    can_cancel: bool
    cancel_deadline: datetime
    policy: str


def appointment_info(view: AppointmentView, now: datetime) -> AppointmentInfo:
    a, service, station = view.appointment, view.service, view.station
    return AppointmentInfo(
        id=a.id,
        reference=a.reference,
        status=a.status,
        service_code=service.code,
        service_name=service_name(service),
        station_id=station.id,
        station_name=station.name,
        address=station.address,
        station_phone=station.phone,
        counselor_name=view.counselor_name,
        room_name=view.room.name if view.room else None,
        group_session_id=a.group_session_id,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        hold_expires_at=a.hold_expires_at,
        voucher_code=a.voucher_code,
        can_cancel=can_change(a, service, now),
        cancel_deadline=cancel_deadline(a, service),
        policy=policy_text(service, station, a),
    )


def _views(stmt) -> list[AppointmentView]:
    counselor = aliased(User)
    rows = db.session.execute(
        stmt.add_columns(Service, Station, Room, counselor.name, GroupSession.title)
        .join(Service, Service.id == Appointment.service_id)
        .join(Station, Station.id == Appointment.station_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .outerjoin(counselor, counselor.id == Appointment.counselor_id)
        .outerjoin(GroupSession, GroupSession.id == Appointment.group_session_id)
    ).all()
    return [AppointmentView(*row) for row in rows]


def appointment_view(appointment: Appointment) -> AppointmentView:
    return _views(select(Appointment).where(Appointment.id == appointment.id))[0]


def my_appointments(user: User, now: datetime | None = None) -> dict[str, list[AppointmentView]]:
    """Offers, upcoming and past appointments of a member."""
    now = now or utcnow()
    views = _views(
        select(Appointment)
        .where(Appointment.user_id == user.id)
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(200)
    )
    out: dict[str, list[AppointmentView]] = {"offers": [], "upcoming": [], "past": []}
    for view in views:
        a = view.appointment
        if a.status == AppointmentStatus.HELD.value and (a.hold_expires_at or now) > now:
            out["offers"].append(view)
        elif a.status == AppointmentStatus.BOOKED.value and a.ends_at > now:
            out["upcoming"].append(view)
        elif a.status != AppointmentStatus.HELD.value:
            out["past"].append(view)
    out["upcoming"].reverse()
    return out


def my_waitlist(user: User) -> list[tuple[WaitlistEntry, Service, Station, GroupSession | None]]:
    rows = db.session.execute(
        select(WaitlistEntry, Service, Station, GroupSession)
        .join(Service, Service.id == WaitlistEntry.service_id)
        .join(Station, Station.id == WaitlistEntry.station_id)
        .outerjoin(GroupSession, GroupSession.id == WaitlistEntry.group_session_id)
        .where(
            WaitlistEntry.user_id == user.id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def list_appointments_query(user: User):
    """A select of the member's appointments for the API (stable order ending in id)."""
    return (
        select(Appointment)
        .where(Appointment.user_id == user.id)
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
    )


# ============================================================================ policy


def cancel_deadline(appointment: Appointment, service: Service) -> datetime:
    return appointment.starts_at - timedelta(hours=service.late_cancel_hours)


def can_change(appointment: Appointment, service: Service, now: datetime) -> bool:
    return appointment.status == AppointmentStatus.BOOKED.value and now < cancel_deadline(
        appointment, service
    )


def policy_text(service: Service, station: Station, appointment: Appointment | None = None) -> str:
    """The cancellation policy, quoted on the confirmation and in reminders."""
    if appointment is not None:
        return str(
            _l(
                "You can cancel or change this appointment online until %(deadline)s "
                "(%(hours)s hours before it starts). After that, please contact the station "
                "on %(phone)s.",
                deadline=fmt_when(cancel_deadline(appointment, service)),
                hours=service.late_cancel_hours,
                phone=station.phone,
            )
        )
    return str(
        _l(
            "You can cancel or change an appointment online until %(hours)s hours before it "
            "starts. After that, please contact the station on %(phone)s.",
            hours=service.late_cancel_hours,
            phone=station.phone,
        )
    )


def _late_notice(service: Service, station: Station) -> Conflict:
    return Conflict(
        str(
            _l(
                "It is less than %(hours)s hours before the appointment, so it can no longer "
                "be cancelled or changed online. Please contact the station on %(phone)s.",
                hours=service.late_cancel_hours,
                phone=station.phone,
            )
        ),
        {"appointment": "late"},
    )


# ============================================================================ cancel / reschedule


def _mark_cancelled(
    appointment: Appointment, actor: User | None, now: datetime, reason: str | None
) -> bool:
    done = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status.in_(ACTIVE_STATUSES))
        .values(
            status=AppointmentStatus.CANCELLED.value,
            cancelled_at=now,
            cancelled_by_id=actor.id if actor is not None else appointment.user_id,
            cancel_reason=(reason or "")[:200] or None,
            sequence=Appointment.sequence + 1,
            hold_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        db.session.refresh(appointment)
    return bool(done)


def cancel_appointment(
    user: User, appointment_id: int, now: datetime | None = None, reason: str | None = None
) -> Appointment:
    """A member cancels before the late-cancel window. Idempotent: a second cancel of the
    same appointment changes nothing. The voucher is released; the time is offered to the
    waitlist."""
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        if appointment.status in (
            AppointmentStatus.CANCELLED.value,
            AppointmentStatus.EXPIRED.value,
        ):
            return appointment
        service = db.session.get(Service, appointment.service_id)
        station = db.session.get(Station, appointment.station_id)
        assert service is not None and station is not None
        if appointment.status == AppointmentStatus.HELD.value:
            _expire_hold(appointment, now, force=True)
            return appointment
        if appointment.status != AppointmentStatus.BOOKED.value:
            raise Conflict(
                str(_l("This appointment has already taken place.")), {"appointment": "past"}
            )
        if not can_change(appointment, service, now):
            raise _late_notice(service, station)
        if not _mark_cancelled(appointment, user, now, reason):
            return appointment
        if appointment.voucher_code:
            _vouchers().release_for_appointment(appointment.id, now, "cancelled")
        _release(appointment, now)
        _announce_cancel(user, appointment, service, station, now, by_staff=False)
    return appointment


def staff_cancel(
    actor: User, appointment_id: int, reason: str, now: datetime | None = None
) -> Appointment:
    """The station cancels (any time before the start); the voucher goes back."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(str(_l("Give a reason for the member.")), {"reason": "required"})
    with _write():
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(str(_l("No such appointment.")))
        _check_staff_access(actor, appointment)
        if appointment.status not in ACTIVE_STATUSES:
            return appointment
        service = db.session.get(Service, appointment.service_id)
        station = db.session.get(Station, appointment.station_id)
        assert service is not None and station is not None
        if not _mark_cancelled(appointment, actor, now, reason):
            return appointment
        if appointment.voucher_code:
            _vouchers().release_for_appointment(appointment.id, now, "cancelled_by_station")
        _release(appointment, now)
        member = db.session.get(User, appointment.user_id)
        if member is not None:
            _announce_cancel(member, appointment, service, station, now, by_staff=True)
        audit.record(actor, "booking.staff_cancel", appointment, {"reason": reason[:200]})
    return appointment


def reschedule(
    user: User,
    appointment_id: int,
    new_slot_id: str,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> Appointment:
    """Move an appointment to another time of the same service, in one transaction: if the
    new time cannot be had, the old appointment stays exactly as it was."""
    now = now or utcnow()
    ref = parse_slot_id(new_slot_id)
    if ref.kind == "group":
        raise InvalidInput(
            str(_l("Choose a time for the same service.")), {"slot_id": "other_service"}
        )
    key = (idempotency_key or "").strip()[:64] or None
    try:
        with _write():
            existing = _existing_for_key(user.id, key)
            if existing is not None:
                return existing
            old = _own_appointment(user, appointment_id)
            service = db.session.get(Service, old.service_id)
            station = db.session.get(Station, old.station_id)
            assert service is not None and station is not None
            if old.group_session_id is not None:
                raise InvalidInput(
                    str(_l("Group sessions cannot be moved. Cancel and join another one.")),
                    {"appointment": "group"},
                )
            if old.status != AppointmentStatus.BOOKED.value:
                raise Conflict(
                    str(_l("This appointment cannot be changed any more.")),
                    {"appointment": old.status},
                )
            if not can_change(old, service, now):
                raise _late_notice(service, station)
            if not _mark_cancelled(old, user, now, "rescheduled"):
                raise Conflict(
                    str(_l("This appointment cannot be changed any more.")),
                    {"appointment": "changed"},
                )
            voucher_code = old.voucher_code
            if voucher_code:
                _vouchers().release_for_appointment(old.id, now, "rescheduled")
            db.session.execute(
                delete(BookingCell)
                .where(BookingCell.appointment_id == old.id)
                .execution_options(synchronize_session=False)
            )
            new, _view = _book_slot(
                user,
                ref,
                now,
                voucher_code=voucher_code,
                idempotency_key=key,
                actor=user,
                expected_service_id=service.id,
            )
            new.rescheduled_from_id = old.id
            _offer_freed(old, now)
            _announce_booking(user, new, now, rescheduled=True)
    except _RepeatedKey:
        existing = _existing_for_key(user.id, key)
        if existing is None:
            raise _slot_taken() from None
        return existing
    return new


# ============================================================================ notifications


def appointment_link(appointment_id: int) -> str:
    return f"/booking/appointments/{appointment_id}"


def _locale_of(user: User) -> str:
    return user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")


def _summary(appointment: Appointment, service: Service, station: Station, locale: str) -> str:
    return str(
        _l(
            "%(service)s at %(station)s, %(when)s. Address: %(address)s. Reference: %(ref)s.",
            service=service_name(service, locale),
            station=station.name,
            when=fmt_when(appointment.starts_at),
            address=station.address,
            ref=appointment.reference,
        )
    )


def _announce_booking(
    user: User,
    appointment: Appointment,
    now: datetime,
    rescheduled: bool = False,
    *,
    service: Service | None = None,
    station: Station | None = None,
) -> None:
    service = service or db.session.get(Service, appointment.service_id)
    station = station or db.session.get(Station, appointment.station_id)
    assert service is not None and station is not None
    subject = (
        _l("Your appointment has been moved") if rescheduled else _l("Your appointment is booked")
    )
    _tell_member(user, appointment, service, station, subject=subject, key="booked", now=now)


def _tell_member(
    user: User,
    appointment: Appointment,
    service: Service,
    station: Station,
    *,
    subject,
    key: str,
    now: datetime,
    policy: bool = True,
    extra=None,
) -> None:
    """Queue one message about an appointment in the member's language (once per ``key``)."""
    with force_locale(_locale_of(user)):
        body = _summary(appointment, service, station, _locale_of(user))
        if policy:
            body += "\n" + policy_text(service, station, appointment)
        if extra:
            body += "\n" + str(extra)
        title = str(subject)
    notify.queue(
        user,
        title,
        body,
        link=appointment_link(appointment.id),
        dedupe_key=f"booking:{appointment.id}:{key}",
        now=now,
    )


def _announce_cancel(
    user: User,
    appointment: Appointment,
    service: Service,
    station: Station,
    now: datetime,
    by_staff: bool,
) -> None:
    subject = (
        _l("The station has cancelled your appointment")
        if by_staff
        else _l("Your appointment is cancelled")
    )
    extra = (
        _l("Reason: %(reason)s", reason=appointment.cancel_reason)
        if by_staff and appointment.cancel_reason
        else None
    )
    _tell_member(
        user,
        appointment,
        service,
        station,
        subject=subject,
        key="cancelled",
        now=now,
        policy=False,
        extra=extra,
    )


def _announce_waitlist(
    user: User, entry: WaitlistEntry, service: Service, starts_at: datetime | None, now: datetime
) -> None:
    locale = _locale_of(user)
    with force_locale(locale):
        subject = str(_l("You are on the waitlist"))
        body = str(
            _l(
                "We will tell you here as soon as a place for %(service)s frees up. "
                "You will then have a limited time to accept it.",
                service=service_name(service, locale),
            )
        )
    notify.queue(
        user,
        subject,
        body,
        link="/booking/appointments",
        dedupe_key=f"booking:waitlist:{entry.id}",
        now=now,
    )


def _announce_offer(
    user: User, held: Appointment, service: Service, station: Station, now: datetime
) -> None:
    locale = _locale_of(user)
    with force_locale(locale):
        subject = str(_l("A place has freed up for you"))
        body = (
            _summary(held, service, station, locale)
            + "\n"
            + str(
                _l(
                    "It is held for you until %(until)s. Accept it in My appointments, "
                    "or it goes to the next person waiting.",
                    until=fmt_when(held.hold_expires_at or now),
                )
            )
        )
    notify.queue(
        user,
        subject,
        body,
        link=appointment_link(held.id),
        dedupe_key=f"booking:{held.id}:offer",
        now=now,
    )


# ============================================================================ reminders

REMINDERS = (("24h", timedelta(hours=24)), ("2h", timedelta(hours=2)))


def send_reminders(now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Sweep: each booked appointment gets its 24 h and its 2 h reminder once.

    Each reminder is claimed by a conditional UPDATE of its column (``IS NULL`` ->
    now), in the same transaction as the outbox row whose unique ``dedupe_key`` stands
    behind it; two schedulers running at once send each reminder once.
    """
    now = now or utcnow()
    counts = {"24h": 0, "2h": 0}
    for label, ahead in REMINDERS:
        column = Appointment.reminder_24h_at if label == "24h" else Appointment.reminder_2h_at
        ids = list(
            db.session.scalars(
                select(Appointment.id)
                .where(
                    Appointment.status == AppointmentStatus.BOOKED.value,
                    column.is_(None),
                    Appointment.starts_at > now,
                    Appointment.starts_at <= now + ahead,
                )
                .order_by(Appointment.starts_at, Appointment.id)
                .limit(limit)
            )
        )
        for appointment_id in ids:
            with _write():
                values: dict[str, Any] = {column.key: now}
                if label == "2h":  # never send the 24 h one after the 2 h one
                    values["reminder_24h_at"] = func.coalesce(Appointment.reminder_24h_at, now)
                claimed = db.session.execute(
                    update(Appointment)
                    .where(
                        Appointment.id == appointment_id,
                        column.is_(None),
                        Appointment.status == AppointmentStatus.BOOKED.value,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not claimed:
                    continue
                appointment = db.session.get(Appointment, appointment_id)
                assert appointment is not None
                db.session.refresh(appointment)
                _queue_reminder(appointment, label, now)
                counts[label] += 1
    return counts


def _queue_reminder(appointment: Appointment, label: str, now: datetime) -> None:
    user = db.session.get(User, appointment.user_id)
    service = db.session.get(Service, appointment.service_id)
    station = db.session.get(Station, appointment.station_id)
    if user is None or service is None or station is None:
        return
    subject = (
        _l("Reminder: your appointment is tomorrow")
        if label == "24h"
        else _l("Reminder: your appointment starts in 2 hours")
    )
    _tell_member(
        user, appointment, service, station, subject=subject, key=f"reminder:{label}", now=now
    )


def prune_cells(now: datetime | None = None, keep_days: int = 2) -> int:
    """Sweep: cells of times long past protect nothing any more; delete them."""
    now = now or utcnow()
    with _write():
        count = db.session.execute(
            delete(BookingCell)
            .where(BookingCell.cell < sl.cell_index(now - timedelta(days=keep_days)))
            .execution_options(synchronize_session=False)
        ).rowcount
    return count


# ============================================================================ counsellor side


def _check_staff_access(actor: User, appointment: Appointment) -> None:
    """Counsellors act on their own appointments and sessions; admins on all."""
    if actor.role == Role.ADMIN.value:
        return
    if actor.role == Role.COUNSELOR.value and appointment.counselor_id == actor.id:
        return
    raise NotFound(str(_l("No such appointment.")))


def check_staff_appointment(actor: User, appointment_id: int) -> Appointment:
    """404 unless the actor may act on this appointment (no audit: nothing is shown)."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(str(_l("No such appointment.")))
    _check_staff_access(actor, appointment)
    return appointment


@dataclass(frozen=True)
class AgendaItem:
    starts_at: datetime
    ends_at: datetime
    kind: str  # "appointment" or "group"
    appointment: Appointment | None
    group_session: GroupSession | None
    client_name: str | None
    service: Service
    station: Station
    room: Room | None


def _counselor_appointments(counselor_id: int, start: datetime, end: datetime):
    """One-to-one appointments of a counsellor starting in [start, end), with the client's
    name, service, station and room (one query, no per-row lookups)."""
    client = aliased(User)
    return (
        select(Appointment, client.name, Service, Station, Room)
        .join(client, client.id == Appointment.user_id)
        .join(Service, Service.id == Appointment.service_id)
        .join(Station, Station.id == Appointment.station_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(
            Appointment.counselor_id == counselor_id,
            Appointment.group_session_id.is_(None),
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
    )


@_audited_read
def counselor_agenda(
    counselor: User, first_day: date, days: int = 1, actor: User | None = None
) -> list[AgendaItem]:
    """Appointments and group sessions of a counsellor over ``days`` local days, across
    stations. Reading it is audited (it names clients)."""
    start = sl.local_day_span(first_day).start
    end = sl.local_day_span(first_day + timedelta(days=days - 1)).end
    rows = db.session.execute(
        _counselor_appointments(counselor.id, start, end).where(
            Appointment.status.in_(
                [
                    AppointmentStatus.BOOKED.value,
                    AppointmentStatus.ATTENDED.value,
                    AppointmentStatus.NO_SHOW.value,
                    AppointmentStatus.HELD.value,
                ]
            ),
        )
    ).all()
    items = [
        AgendaItem(a.starts_at, a.ends_at, "appointment", a, None, name, service, station, room)
        for a, name, service, station, room in rows
    ]
    for session, service, station, room in db.session.execute(
        select(GroupSession, Service, Station, Room)
        .join(Service, Service.id == GroupSession.service_id)
        .join(Station, Station.id == GroupSession.station_id)
        .join(Room, Room.id == GroupSession.room_id)
        .where(
            GroupSession.counselor_id == counselor.id,
            GroupSession.status == GroupSessionStatus.SCHEDULED.value,
            GroupSession.starts_at >= start,
            GroupSession.starts_at < end,
        )
    ).all():
        items.append(
            AgendaItem(
                session.starts_at,
                session.ends_at,
                "group",
                None,
                session,
                None,
                service,
                station,
                room,
            )
        )
    items.sort(key=lambda i: (i.starts_at, i.kind))
    audit.record(
        actor or counselor,
        "booking.agenda_read",
        counselor,
        {"from": first_day.isoformat(), "days": days, "items": len(items)},
    )
    return items


@_audited_read
def staff_appointment(actor: User, appointment_id: int) -> AppointmentView:
    """A counsellor (own) or admin opens one appointment; audited."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(str(_l("No such appointment.")))
    _check_staff_access(actor, appointment)
    view = appointment_view(appointment)
    audit.record(actor, "booking.appointment_read", appointment)
    return view


def client_of(appointment: Appointment) -> User:
    user = db.session.get(User, appointment.user_id)
    assert user is not None
    return user


def mark_attendance(
    actor: User, appointment_id: int, outcome: str, now: datetime | None = None
) -> Appointment:
    """attended (the voucher is consumed) or no_show (the voucher is forfeited), once the
    session has started. Only from ``booked``: a second click changes nothing."""
    now = now or utcnow()
    if outcome not in (AppointmentStatus.ATTENDED.value, AppointmentStatus.NO_SHOW.value):
        raise InvalidInput(str(_l("Choose attended or no-show.")), {"outcome": "invalid"})
    with _write():
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(str(_l("No such appointment.")))
        if actor.role != Role.ADMIN.value:
            session = (
                db.session.get(GroupSession, appointment.group_session_id)
                if appointment.group_session_id
                else None
            )
            counselor_id = session.counselor_id if session else appointment.counselor_id
            if counselor_id != actor.id:
                raise NotFound(str(_l("No such appointment.")))
        if appointment.status == outcome:
            return appointment
        if appointment.starts_at > now:
            raise Conflict(
                str(_l("Attendance can be marked once the session has started.")),
                {"outcome": "too_early"},
            )
        done = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.status == AppointmentStatus.BOOKED.value,
            )
            .values(status=outcome, attendance_marked_at=now, attendance_marked_by_id=actor.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not done:
            raise Conflict(
                str(_l("Attendance has already been marked for this appointment.")),
                {"outcome": "already"},
            )
        db.session.refresh(appointment)
        if appointment.voucher_code:
            if outcome == AppointmentStatus.ATTENDED.value:
                _vouchers().consume_for_appointment(appointment.id, now)
            else:
                _vouchers().forfeit_for_appointment(appointment.id, now)
        audit.record(actor, f"booking.{outcome}", appointment)
    return appointment


@_audited_read
def group_roster(
    actor: User, session_id: int
) -> tuple[GroupSession, list[tuple[Appointment, str]]]:
    session = get_group_session(session_id)
    if actor.role != Role.ADMIN.value and session.counselor_id != actor.id:
        raise NotFound(str(_l("No such group session.")))
    rows = db.session.execute(
        select(Appointment, User.name)
        .join(User, User.id == Appointment.user_id)
        .where(
            Appointment.group_session_id == session.id,
            Appointment.status.in_(
                [
                    AppointmentStatus.BOOKED.value,
                    AppointmentStatus.HELD.value,
                    AppointmentStatus.ATTENDED.value,
                    AppointmentStatus.NO_SHOW.value,
                ]
            ),
        )
        .order_by(Appointment.created_at, Appointment.id)
    ).all()
    audit.record(actor, "booking.roster_read", session)
    return session, [(a, name) for a, name in rows]


# ---------------------------------------------------------------------------- notes


def _may_read_notes(actor: User, client_id: int) -> bool:
    """The author's colleagues on the same case: counsellors who have (had) a session
    with this client."""
    if actor.role != Role.COUNSELOR.value:
        return False
    return bool(
        db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.user_id == client_id,
                Appointment.counselor_id == actor.id,
                Appointment.status.in_(
                    [
                        AppointmentStatus.BOOKED.value,
                        AppointmentStatus.ATTENDED.value,
                        AppointmentStatus.NO_SHOW.value,
                    ]
                ),
            )
        )
    )


@_audited_read
def notes_for_client(actor: User, client_id: int) -> list[tuple[SessionNote, str, Appointment]]:
    """Private notes about a client, for the counsellors on the case; audited."""
    if not _may_read_notes(actor, client_id):
        return []
    rows = db.session.execute(
        select(SessionNote, User.name, Appointment)
        .join(Appointment, Appointment.id == SessionNote.appointment_id)
        .join(User, User.id == SessionNote.author_id)
        .where(Appointment.user_id == client_id)
        .order_by(SessionNote.created_at.desc(), SessionNote.id.desc())
    ).all()
    if rows:
        audit.record(actor, "booking.notes_read", ("users", client_id), {"notes": len(rows)})
    return [tuple(row) for row in rows]  # type: ignore[misc]


def add_note(
    actor: User, appointment_id: int, body: str, now: datetime | None = None
) -> SessionNote:
    now = now or utcnow()
    body = (body or "").strip()
    if not body or len(body) > 5000:
        raise InvalidInput(str(_l("Write a note of 1 to 5000 characters.")), {"body": "invalid"})
    with _write():
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None or actor.role != Role.COUNSELOR.value:
            raise NotFound(str(_l("No such appointment.")))
        _check_staff_access(actor, appointment)
        note = SessionNote(
            appointment_id=appointment.id, author_id=actor.id, body=body, created_at=now
        )
        db.session.add(note)
        db.session.flush()
        audit.record(actor, "booking.note_add", appointment)
    return note


# ---------------------------------------------------------------------------- calendar feed


def _feed_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def feed_status(user: User) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def rotate_feed(user: User, now: datetime | None = None) -> str:
    """A new secret feed URL token (the old one stops working). Shown once."""
    now = now or utcnow()
    token = secrets.token_urlsafe(24)
    with _write():
        feed = feed_status(user)
        if feed is None:
            feed = CalendarFeed(user_id=user.id, created_at=now)
            db.session.add(feed)
        feed.token_hash = _feed_digest(token)
        feed.created_at = now
        feed.revoked_at = None
        audit.record(user, "booking.feed_rotate", user)
    return token


def revoke_feed(user: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    with _write():
        feed = feed_status(user)
        if feed is not None:
            feed.token_hash = None
            feed.revoked_at = now
            audit.record(user, "booking.feed_revoke", user)


def feed_owner(token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    feed = db.session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == _feed_digest(token))
    )
    if feed is None or feed.revoked_at is not None:
        return None
    user = db.session.get(User, feed.user_id)
    if user is None or not user.active or user.role != Role.COUNSELOR.value:
        return None
    return user


def feed_items(counselor: User, now: datetime, days_back: int = 14, days_ahead: int = 60):
    """What the counsellor's feed shows: appointments (incl. cancelled, so calendars
    remove them) and group sessions in a window around today."""
    start = now - timedelta(days=days_back)
    end = now + timedelta(days=days_ahead)
    appointments = db.session.execute(
        _counselor_appointments(counselor.id, start, end)
        .where(
            Appointment.status != AppointmentStatus.EXPIRED.value,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    sessions = db.session.execute(
        select(GroupSession, Service, Station, Room)
        .join(Service, Service.id == GroupSession.service_id)
        .join(Station, Station.id == GroupSession.station_id)
        .join(Room, Room.id == GroupSession.room_id)
        .where(
            GroupSession.counselor_id == counselor.id,
            GroupSession.starts_at >= start,
            GroupSession.starts_at < end,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    ).all()
    return appointments, sessions


# ============================================================================ admin: stations


def _text(value: str | None, name: str, maximum: int, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(str(_l("This field is required.")), {name: "required"})
        return None
    if len(value) > maximum:
        raise InvalidInput(str(_l("Use at most %(n)s characters.", n=maximum)), {name: "too_long"})
    return value


def _coords(lat: float | None, lon: float | None) -> tuple[float, float]:
    if lat is None or not -90 <= lat <= 90:
        raise InvalidInput(str(_l("Enter a latitude between -90 and 90.")), {"latitude": "invalid"})
    if lon is None or not -180 <= lon <= 180:
        raise InvalidInput(
            str(_l("Enter a longitude between -180 and 180.")), {"longitude": "invalid"}
        )
    return lat, lon


def save_station(actor: User, station_id: int | None = None, **fields: Any) -> Station:
    """Create (station None) or update a station."""
    name = _text(fields.get("name"), "name", 120)
    district = _text(fields.get("district"), "district", 60)
    address = _text(fields.get("address"), "address", 255)
    phone = _text(fields.get("phone"), "phone", 30)
    lat, lon = _coords(fields.get("latitude"), fields.get("longitude"))
    with _write():
        clash = db.session.scalar(
            select(Station.id).where(Station.name == name, Station.id != (station_id or 0))
        )
        if clash:
            raise Conflict(str(_l("A station with this name already exists.")), {"name": "taken"})
        if station_id is None:
            station = Station()
            db.session.add(station)
        else:
            station = get_station(station_id)
        station.name, station.district, station.address = name, district, address
        station.latitude, station.longitude, station.phone = lat, lon, phone
        station.opening_note = _text(fields.get("opening_note"), "opening_note", 255, False)
        station.accessibility = _text(fields.get("accessibility"), "accessibility", 2000, False)
        station.active = bool(fields.get("active", True))
        db.session.flush()
        audit.record(actor, "booking.station_save", station)
    return station


def list_stations_admin() -> list[tuple[Station, int]]:
    rows = db.session.execute(
        select(Station, func.count(Room.id))
        .outerjoin(Room, Room.station_id == Station.id)
        .group_by(Station.id)
        .order_by(Station.district, Station.name, Station.id)
    ).all()
    return [(s, n) for s, n in rows]


def save_room(
    actor: User,
    station_id: int,
    *,
    name: str,
    kind: str,
    capacity: int | None,
    active: bool = True,
    room_id: int | None = None,
) -> Room:
    name_ok = _text(name, "name", 80)
    if kind not in {k.value for k in RoomKind}:
        raise InvalidInput(str(_l("Choose a kind of room.")), {"kind": "invalid"})
    if capacity is None or not 1 <= capacity <= 200:
        raise InvalidInput(str(_l("Enter a capacity from 1 to 200.")), {"capacity": "invalid"})
    with _write():
        station = get_station(station_id)
        clash = db.session.scalar(
            select(Room.id).where(
                Room.station_id == station.id, Room.name == name_ok, Room.id != (room_id or 0)
            )
        )
        if clash:
            raise Conflict(
                str(_l("This station already has a room with this name.")), {"name": "taken"}
            )
        if room_id is None:
            room = Room(station_id=station.id)
            db.session.add(room)
        else:
            room = db.session.get(Room, room_id)
            if room is None or room.station_id != station.id:
                raise NotFound(str(_l("No such room.")))
        room.name, room.kind, room.capacity, room.active = name_ok, kind, capacity, active
        db.session.flush()
        audit.record(actor, "booking.room_save", room)
    return room


def _wall(value: time | None, name: str) -> time:
    if value is None:
        raise InvalidInput(str(_l("Enter a time.")), {name: "required"})
    if value.minute % sl.CELL_MINUTES or value.second:
        raise InvalidInput(
            str(_l("Use times on a %(n)s-minute grid.", n=sl.CELL_MINUTES)), {name: "grid"}
        )
    return value


def _order(starts: time, ends: time) -> None:
    if ends <= starts:
        raise InvalidInput(str(_l("The end must be after the start.")), {"ends": "before_start"})


def set_station_hours(
    actor: User, station_id: int, weekday: int, opens: time, closes: time
) -> StationHours:
    if weekday not in range(7):
        raise InvalidInput(str(_l("Choose a weekday.")), {"weekday": "invalid"})
    opens, closes = _wall(opens, "opens"), _wall(closes, "closes")
    if closes <= opens:
        raise InvalidInput(str(_l("The end must be after the start.")), {"closes": "before_start"})
    with _write():
        station = get_station(station_id)
        row = StationHours(station_id=station.id, weekday=weekday, opens=opens, closes=closes)
        ok, _ = _savepoint(lambda: _add_and_flush(row))
        if not ok:
            raise Conflict(str(_l("These hours are already listed.")), {"opens": "taken"})
        audit.record(actor, "booking.hours_add", station)
    return row


def delete_station_hours(actor: User, station_id: int, hours_id: int) -> None:
    with _write():
        row = db.session.get(StationHours, hours_id)
        if row is None or row.station_id != station_id:
            raise NotFound(str(_l("No such opening hours.")))
        db.session.delete(row)
        audit.record(actor, "booking.hours_delete", ("stations", station_id))


def add_closure(
    actor: User, station_id: int, first_day: date, last_day: date, reason: str
) -> StationClosure:
    """Close a station for whole local days (a holiday). Lists nothing: booked members at
    those times are shown to the admin, who cancels with a reason."""
    reason_ok = _text(reason, "reason", 200)
    if first_day is None or last_day is None:
        raise InvalidInput(str(_l("Enter the dates.")), {"first_day": "required"})
    if last_day < first_day:
        raise InvalidInput(
            str(_l("The last day must not be before the first.")), {"last_day": "before_start"}
        )
    with _write():
        station = get_station(station_id)
        closure = StationClosure(
            station_id=station.id,
            starts_at=sl.local_day_span(first_day).start,
            ends_at=sl.local_day_span(last_day).end,
            reason=reason_ok,
        )
        db.session.add(closure)
        db.session.flush()
        audit.record(actor, "booking.closure_add", station, {"reason": reason_ok})
    return closure


def delete_closure(actor: User, station_id: int, closure_id: int) -> None:
    with _write():
        row = db.session.get(StationClosure, closure_id)
        if row is None or row.station_id != station_id:
            raise NotFound(str(_l("No such closure.")))
        db.session.delete(row)
        audit.record(actor, "booking.closure_delete", ("stations", station_id))


def closures_of(station_id: int, now: datetime) -> list[StationClosure]:
    return list(
        db.session.scalars(
            select(StationClosure)
            .where(StationClosure.station_id == station_id, StationClosure.ends_at > now)
            .order_by(StationClosure.starts_at)
        )
    )


def appointments_in(station_id: int, span: sl.Span) -> list[AppointmentView]:
    """Active appointments at a station in a span (for closures and the station desk)."""
    return _views(
        select(Appointment)
        .where(
            Appointment.station_id == station_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < span.end,
            Appointment.ends_at > span.start,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )


# ---------------------------------------------------------------------------- services menu


def save_service(actor: User, service_id: int, **fields: Any) -> Service:
    """Update a service's policy (codes are fixed; the menu is seeded)."""
    name = _text(fields.get("name"), "name", 80)
    name_en = _text(fields.get("name_en"), "name_en", 80)
    numbers = {}
    for key, low, high in (
        ("duration_minutes", 5, 600),
        ("buffer_minutes", 0, 120),
        ("capacity", 1, 200),
        ("min_notice_minutes", 0, 60 * 24 * 14),
        ("horizon_days", 1, 365),
        ("late_cancel_hours", 0, 24 * 14),
    ):
        value = fields.get(key)
        if value is None or not low <= value <= high:
            raise InvalidInput(
                str(_l("Enter a number from %(low)s to %(high)s.", low=low, high=high)),
                {key: "range"},
            )
        numbers[key] = value
    for key in ("duration_minutes", "buffer_minutes"):
        if numbers[key] % sl.CELL_MINUTES:
            raise InvalidInput(
                str(_l("Use whole multiples of %(n)s minutes.", n=sl.CELL_MINUTES)), {key: "grid"}
            )
    with _write():
        service = get_service_by_id(service_id)
        service.name, service.name_en = name, name_en
        service.description = _text(fields.get("description"), "description", 2000, False)
        for key, value in numbers.items():
            setattr(service, key, value)
        service.voucher_required = bool(fields.get("voucher_required"))
        service.active = bool(fields.get("active", True))
        audit.record(actor, "booking.service_save", service)
    return service


# ---------------------------------------------------------------------------- counsellors


def list_counselors() -> list[tuple[User, CounselorProfile | None, list[str]]]:
    users = list(
        db.session.scalars(
            select(User).where(User.role == Role.COUNSELOR.value).order_by(User.name, User.id)
        )
    )
    profiles = {p.user_id: p for p in db.session.scalars(select(CounselorProfile))}
    stations: dict[int, list[str]] = defaultdict(list)
    for counselor_id, name in db.session.execute(
        select(CounselorStation.counselor_id, Station.name)
        .join(Station, Station.id == CounselorStation.station_id)
        .order_by(Station.name)
    ):
        stations[counselor_id].append(name)
    return [(u, profiles.get(u.id), stations.get(u.id, [])) for u in users]


def get_counselor(counselor_id: int) -> User:
    user = db.session.get(User, counselor_id)
    if user is None or user.role != Role.COUNSELOR.value:
        raise NotFound(str(_l("No such counsellor.")))
    return user


def check_may_edit(actor: User, counselor: User) -> None:
    """Counsellors edit their own profile and availability; admins edit everyone's."""
    if actor.role == Role.ADMIN.value or actor.id == counselor.id:
        return
    raise NotPermitted(str(_l("You can only change your own schedule.")))


def profile_of(counselor_id: int) -> CounselorProfile | None:
    return db.session.scalar(
        select(CounselorProfile).where(CounselorProfile.user_id == counselor_id)
    )


def save_profile(actor: User, counselor: User, **fields: Any) -> CounselorProfile:
    check_may_edit(actor, counselor)
    gender = fields.get("gender") or None
    if gender not in (None, "female", "male"):
        raise InvalidInput(str(_l("Choose a value from the list.")), {"gender": "invalid"})
    languages = _text(fields.get("languages"), "languages", 120)
    specialties = _text(fields.get("specialties"), "specialties", 255, False) or ""
    bio = _text(fields.get("bio"), "bio", 2000, False)
    with _write():
        profile = profile_of(counselor.id)
        if profile is None:
            profile = CounselorProfile(user_id=counselor.id)
            db.session.add(profile)
        profile.gender, profile.languages, profile.specialties, profile.bio = (
            gender,
            languages,
            specialties,
            bio,
        )  # type: ignore[assignment]
        profile.accepts_bookings = bool(fields.get("accepts_bookings", True))
        db.session.flush()
        audit.record(actor, "booking.profile_save", ("users", counselor.id))
    return profile


def stations_of(counselor_id: int) -> list[Station]:
    return list(
        db.session.scalars(
            select(Station)
            .join(CounselorStation, CounselorStation.station_id == Station.id)
            .where(CounselorStation.counselor_id == counselor_id)
            .order_by(Station.name)
        )
    )


def set_counselor_stations(actor: User, counselor: User, station_ids: Iterable[int]) -> None:
    """Admins assign the stations a counsellor works at."""
    if actor.role != Role.ADMIN.value:
        raise NotPermitted(str(_l("Only administrators assign stations.")))
    wanted = set(station_ids)
    with _write():
        known = set(db.session.scalars(select(Station.id).where(Station.id.in_(wanted or {0}))))
        if wanted - known:
            raise InvalidInput(str(_l("Choose stations from the list.")), {"stations": "unknown"})
        current = set(
            db.session.scalars(
                select(CounselorStation.station_id).where(
                    CounselorStation.counselor_id == counselor.id
                )
            )
        )
        for station_id in wanted - current:
            db.session.add(CounselorStation(counselor_id=counselor.id, station_id=station_id))
        if current - wanted:
            db.session.execute(
                delete(CounselorStation).where(
                    CounselorStation.counselor_id == counselor.id,
                    CounselorStation.station_id.in_(current - wanted),
                )
            )
        audit.record(
            actor,
            "booking.counselor_stations",
            ("users", counselor.id),
            {"stations": sorted(wanted)},
        )


@dataclass
class Availability:
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]
    time_off: list[TimeOff]
    stations: dict[int, str]


def availability_of(counselor: User, now: datetime) -> Availability:
    stations = {s.id: s.name for s in stations_of(counselor.id)}
    rules = list(
        db.session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.counselor_id == counselor.id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.starts, AvailabilityRule.id)
        )
    )
    exceptions = list(
        db.session.scalars(
            select(AvailabilityException)
            .where(
                AvailabilityException.counselor_id == counselor.id,
                AvailabilityException.day >= local_today(now),
            )
            .order_by(AvailabilityException.day, AvailabilityException.starts)
        )
    )
    time_off = list(
        db.session.scalars(
            select(TimeOff)
            .where(TimeOff.counselor_id == counselor.id, TimeOff.ends_at > now)
            .order_by(TimeOff.starts_at)
        )
    )
    return Availability(rules, exceptions, time_off, stations)


def _own_station(counselor: User, station_id: int | None) -> int | None:
    if station_id is None:
        return None
    works = db.session.scalar(
        select(CounselorStation.id).where(
            CounselorStation.counselor_id == counselor.id,
            CounselorStation.station_id == station_id,
        )
    )
    if not works:
        raise InvalidInput(
            str(_l("Choose one of the stations this counsellor works at.")),
            {"station_id": "not_assigned"},
        )
    return station_id


def add_rule(
    actor: User,
    counselor: User,
    *,
    weekday: int,
    starts: time,
    ends: time,
    kind: str,
    station_id: int | None,
) -> AvailabilityRule:
    check_may_edit(actor, counselor)
    if weekday not in range(7):
        raise InvalidInput(str(_l("Choose a weekday.")), {"weekday": "invalid"})
    if kind not in {k.value for k in AvailabilityKind}:
        raise InvalidInput(str(_l("Choose a value from the list.")), {"kind": "invalid"})
    starts, ends = _wall(starts, "starts"), _wall(ends, "ends")
    _order(starts, ends)
    with _write():
        if kind == AvailabilityKind.WORK.value:
            if station_id is None:
                raise InvalidInput(
                    str(_l("Choose one of the stations this counsellor works at.")),
                    {"station_id": "required"},
                )
            _own_station(counselor, station_id)
            overlap = db.session.scalar(
                select(AvailabilityRule.id).where(
                    AvailabilityRule.counselor_id == counselor.id,
                    AvailabilityRule.weekday == weekday,
                    AvailabilityRule.kind == AvailabilityKind.WORK.value,
                    AvailabilityRule.starts < ends,
                    AvailabilityRule.ends > starts,
                )
            )
            if overlap:
                raise Conflict(
                    str(_l("This overlaps working hours already set for that day.")),
                    {"starts": "overlap"},
                )
        else:
            station_id = None
        rule = AvailabilityRule(
            counselor_id=counselor.id,
            station_id=station_id,
            weekday=weekday,
            starts=starts,
            ends=ends,
            kind=kind,
        )
        db.session.add(rule)
        db.session.flush()
        audit.record(actor, "booking.rule_add", ("users", counselor.id))
    return rule


def add_exception(
    actor: User,
    counselor: User,
    *,
    day: date,
    station_id: int | None,
    starts: time | None,
    ends: time | None,
    note: str | None,
    now: datetime | None = None,
) -> AvailabilityException:
    """A date that replaces the template: windows at a station, or (no times) a day off."""
    now = now or utcnow()
    check_may_edit(actor, counselor)
    if day is None or day < local_today(now):
        raise InvalidInput(str(_l("Choose today or a later date.")), {"day": "past"})
    if (starts is None) != (ends is None):
        raise InvalidInput(
            str(_l("Give both times, or neither for a day off.")), {"ends": "required"}
        )
    if starts is not None and ends is not None:
        starts, ends = _wall(starts, "starts"), _wall(ends, "ends")
        _order(starts, ends)
        if station_id is None:
            raise InvalidInput(
                str(_l("Choose one of the stations this counsellor works at.")),
                {"station_id": "required"},
            )
    else:
        station_id = None
    with _write():
        _own_station(counselor, station_id)
        row = AvailabilityException(
            counselor_id=counselor.id,
            day=day,
            station_id=station_id,
            starts=starts,
            ends=ends,
            note=_text(note, "note", 200, False),
        )
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "booking.exception_add", ("users", counselor.id))
    return row


def add_time_off(
    actor: User,
    counselor: User,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
) -> tuple[TimeOff, list[AppointmentView]]:
    """Time off; returns the booked appointments inside it so they can be moved."""
    check_may_edit(actor, counselor)
    if starts_at is None or ends_at is None:
        raise InvalidInput(str(_l("Enter a time.")), {"starts_at": "required"})
    starts_at, ends_at = _aware(starts_at), _aware(ends_at)
    if ends_at <= starts_at:
        raise InvalidInput(str(_l("The end must be after the start.")), {"ends_at": "before_start"})
    with _write():
        row = TimeOff(
            counselor_id=counselor.id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=_text(reason, "reason", 200, False),
        )
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "booking.time_off_add", ("users", counselor.id))
    clashes = _views(
        select(Appointment)
        .where(
            Appointment.counselor_id == counselor.id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return row, clashes


def delete_availability(actor: User, counselor: User, kind: str, row_id: int) -> None:
    check_may_edit(actor, counselor)
    model = {"rule": AvailabilityRule, "exception": AvailabilityException, "time_off": TimeOff}.get(
        kind
    )
    if model is None:
        raise NotFound(str(_l("Not found.")))
    with _write():
        row = db.session.get(model, row_id)
        if row is None or row.counselor_id != counselor.id:
            raise NotFound(str(_l("Not found.")))
        db.session.delete(row)
        audit.record(actor, f"booking.{kind}_delete", ("users", counselor.id))


# ---------------------------------------------------------------------------- group sessions


def schedule_group_session(
    actor: User,
    *,
    service_code: str,
    room_id: int,
    counselor_id: int,
    starts_at: datetime,
    title: str,
    capacity: int | None = None,
    description: str | None = None,
    org_unit_id: int | None = None,
    now: datetime | None = None,
) -> GroupSession:
    """Schedule a group session. It takes its counsellor's and its room's cells, so it can
    never overlap their other bookings."""
    now = now or utcnow()
    title_ok = _text(title, "title", 120)
    service = get_service(service_code)
    if starts_at is None:
        raise InvalidInput(str(_l("Enter a time.")), {"starts_at": "required"})
    starts_at = _aware(starts_at)
    if starts_at <= now:
        raise InvalidInput(
            str(_l("This time has already passed. Please choose a later time.")),
            {"starts_at": "past"},
        )
    if not sl.is_aligned(starts_at):
        raise InvalidInput(
            str(_l("Use times on a %(n)s-minute grid.", n=sl.CELL_MINUTES)), {"starts_at": "grid"}
        )
    with _write():
        room = db.session.get(Room, room_id)
        if room is None or not room.active:
            raise InvalidInput(str(_l("Choose a room.")), {"room_id": "unknown"})
        if service.room_kind is not None and room.kind != service.room_kind:
            raise InvalidInput(
                str(_l("This room is not suitable for the service.")), {"room_id": "kind"}
            )
        counselor = get_counselor(counselor_id)
        _own_station(counselor, room.station_id)
        size = capacity or min(service.capacity, room.capacity)
        if not 1 <= size <= room.capacity:
            raise InvalidInput(
                str(_l("Enter a capacity from 1 to %(n)s (the room's size).", n=room.capacity)),
                {"capacity": "range"},
            )
        if org_unit_id is not None and db.session.get(OrgUnit, org_unit_id) is None:
            raise InvalidInput(str(_l("Unknown organisation.")), {"org_unit_id": "unknown"})
        ends_at = starts_at + timedelta(minutes=service.duration_minutes)
        session = GroupSession(
            service_id=service.id,
            station_id=room.station_id,
            room_id=room.id,
            counselor_id=counselor.id,
            title=title_ok,
            description=_text(description, "description", 2000, False),
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=size,
            org_unit_id=org_unit_id,
            created_by_id=actor.id,
            created_at=now,
        )
        db.session.add(session)
        db.session.flush()
        with_buffer = ends_at + timedelta(minutes=service.buffer_minutes)
        if not _claim(
            _cell_rows(
                CellKind.COUNSELOR.value,
                counselor.id,
                starts_at,
                with_buffer,
                group_session_id=session.id,
            )
        ):
            raise Conflict(
                str(_l("The counsellor already has a booking at this time.")),
                {"counselor_id": "busy"},
            )
        if not _claim(
            _cell_rows(
                CellKind.ROOM.value,
                room.id,
                starts_at,
                with_buffer,
                seats=range(1, room.seats + 1),
                group_session_id=session.id,
            )
        ):
            raise Conflict(str(_l("The room is already booked at this time.")), {"room_id": "busy"})
        audit.record(actor, "booking.group_schedule", session)
    return session


def cancel_group_session(
    actor: User, session_id: int, reason: str, now: datetime | None = None
) -> GroupSession:
    """Cancel a whole session: every member is told, vouchers go back, cells are freed."""
    now = now or utcnow()
    reason_ok = _text(reason, "reason", 200)
    with _write():
        session = get_group_session(session_id)
        done = db.session.execute(
            update(GroupSession)
            .where(
                GroupSession.id == session.id,
                GroupSession.status == GroupSessionStatus.SCHEDULED.value,
            )
            .values(status=GroupSessionStatus.CANCELLED.value, cancelled_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not done:
            return session
        service = db.session.get(Service, session.service_id)
        station = db.session.get(Station, session.station_id)
        assert service is not None and station is not None
        members = list(
            db.session.scalars(
                select(Appointment).where(
                    Appointment.group_session_id == session.id,
                    Appointment.status.in_(ACTIVE_STATUSES),
                )
            )
        )
        for appointment in members:
            _mark_cancelled(appointment, actor, now, reason_ok)
            if appointment.voucher_code:
                _vouchers().release_for_appointment(appointment.id, now, "session_cancelled")
            member = db.session.get(User, appointment.user_id)
            if member is not None:
                _announce_cancel(member, appointment, service, station, now, by_staff=True)
        db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.group_session_id == session.id,
                WaitlistEntry.status.in_(
                    [WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]
                ),
            )
            .values(status=WaitlistStatus.EXPIRED.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(BookingCell)
            .where(
                or_(
                    BookingCell.group_session_id == session.id,
                    BookingCell.appointment_id.in_([a.id for a in members] or [0]),
                )
            )
            .execution_options(synchronize_session=False)
        )
        audit.record(actor, "booking.group_cancel", session, {"reason": reason_ok})
    return session


def upcoming_group_sessions(
    now: datetime, station_id: int | None = None
) -> list[tuple[GroupSession, Service, Station, str]]:
    counselor = aliased(User)
    stmt = (
        select(GroupSession, Service, Station, counselor.name)
        .join(Service, Service.id == GroupSession.service_id)
        .join(Station, Station.id == GroupSession.station_id)
        .join(counselor, counselor.id == GroupSession.counselor_id)
        .where(GroupSession.ends_at > now)
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    if station_id is not None:
        stmt = stmt.where(
            GroupSession.station_id == station_id,
            GroupSession.status == GroupSessionStatus.SCHEDULED.value,
        )
    return [tuple(row) for row in db.session.execute(stmt).all()]  # type: ignore[misc]


def views_for(appointment_ids: list[int]) -> list[AppointmentView]:
    """Views of these appointments in the given order (one query)."""
    if not appointment_ids:
        return []
    found = {
        v.appointment.id: v
        for v in _views(select(Appointment).where(Appointment.id.in_(appointment_ids)))
    }
    return [found[i] for i in appointment_ids if i in found]


# ============================================================================ pages' helpers


@dataclass(frozen=True)
class SlotSummary:
    slot_id: str
    kind: str
    station: Station
    service: Service
    starts_at: datetime
    ends_at: datetime
    counselor: CounselorCard | None = None
    group_session: GroupSession | None = None
    remaining: int | None = None
    members_only: str | None = None


def describe_slot(slot_id: str) -> SlotSummary:
    """What a slot id stands for, to show before booking (booking re-validates it)."""
    ref = parse_slot_id(slot_id)
    if ref.kind == "group":
        assert ref.group_session_id is not None
        session = get_group_session(ref.group_session_id)
        station = get_station(session.station_id)
        service = get_service_by_id(session.service_id)
        counselor = _counselors_at(station.id, session.counselor_id).get(session.counselor_id)
        unit = db.session.get(OrgUnit, session.org_unit_id) if session.org_unit_id else None
        return SlotSummary(
            slot_id,
            "group",
            station,
            service,
            session.starts_at,
            session.ends_at,
            counselor,
            session,
            session.capacity - session.seats_taken,
            unit.name if unit else None,
        )
    station = db.session.get(Station, ref.station_id)
    service = db.session.get(Service, ref.service_id)
    if station is None or service is None or not station.active or not service.active:
        raise _invalid_slot()
    assert ref.start is not None
    counselor = None
    if ref.kind == "counselor":
        counselor = _counselors_at(station.id, ref.counselor_id).get(ref.counselor_id or 0)
        if counselor is None:
            raise _invalid_slot()
    return SlotSummary(
        slot_id,
        ref.kind,
        station,
        service,
        ref.start,
        ref.start + timedelta(minutes=service.duration_minutes),
        counselor,
    )


def waitlisted_message(position: int) -> str:
    return str(
        _l(
            "The session is full. You are number %(n)s on the waitlist; we will tell you "
            "when a seat frees up.",
            n=position,
        )
    )


def appointment_calendar(view: AppointmentView, now: datetime, domain: str, url: str) -> bytes:
    """The .ics of one appointment: the same UID for its whole life, SEQUENCE counting
    changes, CANCEL once cancelled."""
    from wellness.booking import ics

    a, service, station = view.appointment, view.service, view.station
    cancelled = a.status in (AppointmentStatus.CANCELLED.value, AppointmentStatus.EXPIRED.value)
    description = [str(_l("Reference: %(ref)s", ref=a.reference))]
    if view.counselor_name:
        description.append(str(_l("Counsellor: %(name)s", name=view.counselor_name)))
    if view.room is not None:
        description.append(str(_l("Room: %(room)s", room=view.room.name)))
    description.append(str(_l("Station phone: %(phone)s", phone=station.phone)))
    description.append(policy_text(service, station, a))
    event = ics.IcsEvent(
        uid=ics.appointment_uid(a.id, domain),
        summary=f"{service_name(service)} · {station.name}",
        start=a.starts_at,
        end=a.ends_at,
        location=station.address,
        description="\n".join(description),
        sequence=a.sequence,
        cancelled=cancelled,
        geo=(station.latitude, station.longitude),
        url=url,
    )
    return ics.single(event, now)


def counselor_feed(counselor: User, now: datetime, domain: str) -> bytes:
    """A counsellor's subscription feed. Clients appear by surname initial only: the file
    leaves the system for calendar apps."""
    from wellness.booking import ics

    appointments, sessions = feed_items(counselor, now)
    events = []
    for a, client_name, service, station, room in appointments:
        initial = (client_name or "?")[0] + "*"
        events.append(
            ics.IcsEvent(
                uid=ics.appointment_uid(a.id, domain),
                summary=f"{service_name(service)} · {initial}",
                start=a.starts_at,
                end=a.ends_at,
                location=f"{station.name} {room.name if room else ''}".strip(),
                description=str(_l("Reference: %(ref)s", ref=a.reference)),
                sequence=a.sequence,
                cancelled=a.status == AppointmentStatus.CANCELLED.value,
                alarm_minutes=None,
            )
        )
    for session, _service, station, room in sessions:
        events.append(
            ics.IcsEvent(
                uid=ics.group_session_uid(session.id, domain),
                summary=f"{session.title} ({session.seats_taken}/{session.capacity})",
                start=session.starts_at,
                end=session.ends_at,
                location=f"{station.name} {room.name}",
                cancelled=session.status == GroupSessionStatus.CANCELLED.value,
                alarm_minutes=None,
            )
        )
    return ics.calendar(events, now, name=str(_l("My counselling schedule")))


def staff_link(appointment_id: int) -> str:
    return f"/booking/schedule/appointments/{appointment_id}"


def cancel_ahead_for_erasure(user_id: int, now: datetime) -> int:
    """Account deletion: cancel what is still ahead (voucher sessions go back, the times
    go to the waitlist) and leave the waitlists. Joins the caller's transaction."""
    ahead = db.session.scalars(
        select(Appointment).where(
            Appointment.user_id == user_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.ends_at > now,
        )
    ).all()
    count = 0
    for appointment in ahead:
        if _mark_cancelled(appointment, None, now, "account deleted"):
            count += 1
            if appointment.voucher_code:
                _vouchers().release_for_appointment(appointment.id, now, "account_deleted")
            _release(appointment, now)
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
        .values(status=WaitlistStatus.LEFT.value, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(SessionNote)
        .where(
            SessionNote.appointment_id.in_(
                select(Appointment.id).where(Appointment.user_id == user_id)
            )
        )
        .execution_options(synchronize_session=False)
    )
    return count
