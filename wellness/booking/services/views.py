"""Appointments as members see them (views, snapshots, the member's lists, the .ics of
one appointment) and the cancellation policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import aliased

from wellness.auth.models import User
from wellness.booking.models import (
    Appointment,
    AppointmentStatus,
    GroupSession,
    Room,
    Service,
    Station,
    WaitlistEntry,
    WaitlistStatus,
)
from wellness.booking.services.common import fmt_when, service_name
from wellness.database import utcnow
from wellness.errors import Conflict, NotFound
from wellness.extensions import db

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


# ============================================================================ pages' helpers


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
