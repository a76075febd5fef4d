"""What every booking path shares: a new appointment, the cells it claims (the UNIQUE
constraint on ``booking_cells`` decides who wins), the booking's errors, and the vouchers
hook.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from wellness.auth.models import User
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    AppointmentStatus,
    BookingCell,
    CellKind,
    Service,
    WaitlistEntry,
)
from wellness.booking.services.common import _add_and_flush, _savepoint, local_today
from wellness.booking.services.search import _DayData
from wellness.booking.services.views import AppointmentInfo
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput
from wellness.extensions import db

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


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

    The cells go in one multi-row INSERT. On SQLite a statement that fails is undone by
    itself and the transaction goes on, so no savepoint is needed (and one statement costs
    a fifth of ``executemany``, which runs the insert and its triggers row by row).
    PostgreSQL aborts the whole transaction on an error, so there it runs in a savepoint;
    one statement matters there too: the slot stamps' statement trigger then runs once,
    after every cell has passed the UNIQUE check, so a booking never holds a stamp row
    while it waits for another booking's cell (row by row, two overlapping bookings of one
    counsellor could each wait for the other until the deadlock detector ended one).
    A claim too large for one statement falls back to ``executemany`` in a savepoint."""
    if not rows:
        return True
    connection = db.session.connection()
    dialect = connection.dialect
    if len(rows) * len(_CELL_COLUMNS) > _MAX_PARAMETERS.get(dialect.name, 0):
        ok, _ = _savepoint(lambda: db.session.connection().execute(_INSERT_CELLS, rows))
        return ok
    statement = _cells_insert(len(rows), "?" if dialect.paramstyle == "qmark" else "%s")
    params = tuple(row[column] for row in rows for column in _CELL_COLUMNS)
    if dialect.name == "sqlite":
        try:
            connection.exec_driver_sql(statement, params)
        except IntegrityError:
            return False
        return True
    ok, _ = _savepoint(lambda: db.session.connection().exec_driver_sql(statement, params))
    return ok


_CELL_COLUMNS = ("resource", "resource_id", "seat", "cell", "appointment_id", "group_session_id")
# Bound parameters one statement may carry (999 is the smallest limit an SQLite build may
# have; PostgreSQL allows 65,535).
_MAX_PARAMETERS = {"sqlite": 999, "postgresql": 65_535}


@lru_cache(maxsize=64)
def _cells_insert(count: int, placeholder: str) -> str:
    """One INSERT of ``count`` cell rows with positional parameters."""
    row = "(" + ", ".join(placeholder for _ in _CELL_COLUMNS) + ")"
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
