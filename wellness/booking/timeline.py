"""Appointments on a person's case timeline (for the counsellors on the case)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from wellness.booking import services
from wellness.booking.models import Appointment
from wellness.timeline import TimelineEvent


def _status(status: str) -> str:
    return {
        "held": _("Offered to you"),
        "booked": _("Booked"),
        "cancelled": _("Cancelled"),
        "expired": _("Expired"),
        "attended": _("Attended"),
        "no_show": _("No-show"),
    }.get(status, status)


def events_for(person_id: int) -> list[TimelineEvent]:
    ids = list(
        services.db.session.scalars(
            select(Appointment.id)
            .where(Appointment.user_id == person_id)
            .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
            .limit(100)
        )
    )
    events = []
    for view in services.views_for(ids):
        a = view.appointment
        title = f"{services.service_name(view.service)} · {view.station.name}"
        if view.counselor_name:
            title += f" · {view.counselor_name}"
        events.append(
            TimelineEvent(
                at=a.starts_at,
                kind="appointment",
                title=title,
                detail=f"{_status(a.status)} · {a.reference}",
                link=services.staff_link(a.id),
            )
        )
    return events
