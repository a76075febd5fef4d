"""A member's bookings, for ``wellness.privacy``: export them; on a deletion request cancel
what is still ahead (the time goes to the waitlist, a reserved voucher session goes back),
leave the waitlists, and delete counsellors' notes about the member. Past appointments are
kept, tied only to the anonymised account, so that stations can count their visits."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from wellness.booking import services
from wellness.booking.models import Appointment, WaitlistEntry
from wellness.extensions import db


def export_for(user_id: int) -> dict:
    """Appointments and waitlist places. Counsellors' private notes are not included."""
    views = services.views_for(
        list(
            db.session.scalars(
                select(Appointment.id)
                .where(Appointment.user_id == user_id)
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
    )
    entries = db.session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.user_id == user_id)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    return {
        "appointments": [
            {
                "reference": v.appointment.reference,
                "service": v.service.code,
                "station": v.station.name,
                "room": v.room.name if v.room else None,
                "counsellor": v.counselor_name,
                "group_session": v.group_title,
                "starts_at": v.appointment.starts_at.isoformat(timespec="minutes"),
                "ends_at": v.appointment.ends_at.isoformat(timespec="minutes"),
                "status": v.appointment.status,
                "voucher_code": v.appointment.voucher_code,
                "booked_at": v.appointment.created_at.isoformat(timespec="seconds"),
                "cancelled_at": v.appointment.cancelled_at.isoformat(timespec="seconds")
                if v.appointment.cancelled_at
                else None,
            }
            for v in views
        ],
        "waitlist": [
            {
                "station_id": e.station_id,
                "service_id": e.service_id,
                "group_session_id": e.group_session_id,
                "day": e.day.isoformat() if e.day else None,
                "status": e.status,
                "joined_at": e.created_at.isoformat(timespec="seconds"),
            }
            for e in entries
        ],
    }


def erase_for(user_id: int, now: datetime):
    """Joins the caller's transaction and does not commit; a notice or None."""
    cancelled = services.cancel_ahead_for_erasure(user_id, now)
    if not cancelled:
        return None
    return _l(
        "%(n)s upcoming appointment(s) were cancelled. Past visits are kept for the "
        "station's statistics without your name.",
        n=cancelled,
    )
