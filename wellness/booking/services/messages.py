"""Messages to members about their appointments, and the reminder sweeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from wellness.auth.models import User
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    AppointmentStatus,
    BookingCell,
    Service,
    Station,
    WaitlistEntry,
)
from wellness.booking.services.common import _write, fmt_when, service_name
from wellness.booking.services.views import policy_text
from wellness.database import utcnow
from wellness.extensions import db
from wellness.notify import services as notify

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
