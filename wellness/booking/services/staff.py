"""The counsellor's side: agenda, appointments, attendance, group rosters, private notes,
and the calendar feed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from wellness import audit
from wellness.auth.models import Role, User
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    AppointmentStatus,
    CalendarFeed,
    GroupSession,
    GroupSessionStatus,
    Room,
    Service,
    SessionNote,
    Station,
)
from wellness.booking.services.claims import _vouchers
from wellness.booking.services.common import _audited_read, _write, service_name
from wellness.booking.services.groups import get_group_session
from wellness.booking.services.views import AppointmentView, appointment_view
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db

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


# ============================================================================ pages' helpers


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
