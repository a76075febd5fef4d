"""Admin: stations, rooms, opening hours, closures and the services menu, with the
form checks the other admin modules share.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from wellness import audit
from wellness.auth.models import User
from wellness.booking import slots as sl
from wellness.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    Room,
    RoomKind,
    Service,
    Station,
    StationClosure,
    StationHours,
)
from wellness.booking.services.common import (
    _add_and_flush,
    _savepoint,
    _write,
    get_service_by_id,
    get_station,
)
from wellness.booking.services.views import AppointmentView, _views
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db

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
