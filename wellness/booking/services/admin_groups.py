"""Admin: scheduling and cancelling group sessions, and listing the upcoming ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import aliased

from wellness import audit
from wellness.auth.models import OrgUnit, User
from wellness.booking import slots as sl
from wellness.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    BookingCell,
    CellKind,
    GroupSession,
    GroupSessionStatus,
    Room,
    Service,
    Station,
    WaitlistEntry,
    WaitlistStatus,
)
from wellness.booking.services.admin_counselors import _own_station, get_counselor
from wellness.booking.services.admin_stations import _text
from wellness.booking.services.changes import _mark_cancelled
from wellness.booking.services.claims import _cell_rows, _claim, _vouchers
from wellness.booking.services.common import _aware, _write, get_service
from wellness.booking.services.groups import get_group_session
from wellness.booking.services.messages import _announce_cancel
from wellness.booking.services.views import AppointmentView, _views
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput
from wellness.extensions import db

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
