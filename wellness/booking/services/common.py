"""Shared ground of the booking services: the transaction helpers (``_write``,
``_audited_read``, ``_savepoint``), local time, lookups of stations, services and rooms,
and stable slot ids with their parsing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, TypeVar

from flask_babel import format_date, format_time, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from wellness.booking import slots as sl
from wellness.booking.models import Room, Service, Station, StationHours
from wellness.errors import InvalidInput, NotFound
from wellness.extensions import db
from wellness.transactions import writing

log = logging.getLogger(__name__)
T = TypeVar("T")

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
            # Treated as "taken", but it cost the deadlock timeout (1 s): worth knowing.
            log.warning("booking claim ended by the database (%s)", error.orig.sqlstate)
            return False, None
        raise


def _add_and_flush(obj: Any) -> Any:
    db.session.add(obj)
    db.session.flush()
    return obj


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
