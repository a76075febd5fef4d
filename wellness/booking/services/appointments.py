"""Booking a counsellor or room slot: check the slot, re-check it inside the write
transaction, claim its cells; and what a slot id stands for, shown before booking.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from wellness import audit
from wellness.auth.models import OrgUnit, User
from wellness.booking import slots as sl
from wellness.booking import stamps
from wellness.booking.models import Appointment, GroupSession, Service, ServiceMode, Station
from wellness.booking.services.claims import (
    BookingResult,
    _check_time,
    _existing_for_key,
    _free_rooms,
    _new_appointment,
    _occupy_individual,
    _RepeatedKey,
    _reserve_voucher,
    _slot_taken,
)
from wellness.booking.services.common import (
    SlotRef,
    _invalid_slot,
    _write,
    get_service_by_id,
    get_station,
    parse_slot_id,
)
from wellness.booking.services.groups import get_group_session, join_group_session
from wellness.booking.services.messages import _announce_booking
from wellness.booking.services.search import (
    _STATION_AND_SERVICE,
    _STATION_HOURS_ON,
    CounselorCard,
    _counselors_at,
    _DayData,
    _load_day,
    _rows,
)
from wellness.booking.services.views import AppointmentView, appointment_info
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput
from wellness.extensions import db


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
