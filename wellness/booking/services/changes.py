"""Cancelling and rescheduling: by the member, by the station, and on account deletion."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from wellness import audit
from wellness.auth.models import User
from wellness.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    BookingCell,
    Service,
    SessionNote,
    Station,
    WaitlistEntry,
    WaitlistStatus,
)
from wellness.booking.services.appointments import _book_slot
from wellness.booking.services.claims import _existing_for_key, _RepeatedKey, _slot_taken, _vouchers
from wellness.booking.services.common import _write, parse_slot_id
from wellness.booking.services.groups import _expire_hold, _offer_freed, _release
from wellness.booking.services.messages import _announce_booking, _announce_cancel
from wellness.booking.services.staff import _check_staff_access
from wellness.booking.services.views import _late_notice, _own_appointment, can_change
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db

# ============================================================================ cancel / reschedule


def _mark_cancelled(
    appointment: Appointment, actor: User | None, now: datetime, reason: str | None
) -> bool:
    done = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status.in_(ACTIVE_STATUSES))
        .values(
            status=AppointmentStatus.CANCELLED.value,
            cancelled_at=now,
            cancelled_by_id=actor.id if actor is not None else appointment.user_id,
            cancel_reason=(reason or "")[:200] or None,
            sequence=Appointment.sequence + 1,
            hold_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        db.session.refresh(appointment)
    return bool(done)


def cancel_appointment(
    user: User, appointment_id: int, now: datetime | None = None, reason: str | None = None
) -> Appointment:
    """A member cancels before the late-cancel window. Idempotent: a second cancel of the
    same appointment changes nothing. The voucher is released; the time is offered to the
    waitlist."""
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        if appointment.status in (
            AppointmentStatus.CANCELLED.value,
            AppointmentStatus.EXPIRED.value,
        ):
            return appointment
        service = db.session.get(Service, appointment.service_id)
        station = db.session.get(Station, appointment.station_id)
        assert service is not None and station is not None
        if appointment.status == AppointmentStatus.HELD.value:
            _expire_hold(appointment, now, force=True)
            return appointment
        if appointment.status != AppointmentStatus.BOOKED.value:
            raise Conflict(
                str(_l("This appointment has already taken place.")), {"appointment": "past"}
            )
        if not can_change(appointment, service, now):
            raise _late_notice(service, station)
        if not _mark_cancelled(appointment, user, now, reason):
            return appointment
        if appointment.voucher_code:
            _vouchers().release_for_appointment(appointment.id, now, "cancelled")
        _release(appointment, now)
        _announce_cancel(user, appointment, service, station, now, by_staff=False)
    return appointment


def staff_cancel(
    actor: User, appointment_id: int, reason: str, now: datetime | None = None
) -> Appointment:
    """The station cancels (any time before the start); the voucher goes back."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(str(_l("Give a reason for the member.")), {"reason": "required"})
    with _write():
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(str(_l("No such appointment.")))
        _check_staff_access(actor, appointment)
        if appointment.status not in ACTIVE_STATUSES:
            return appointment
        service = db.session.get(Service, appointment.service_id)
        station = db.session.get(Station, appointment.station_id)
        assert service is not None and station is not None
        if not _mark_cancelled(appointment, actor, now, reason):
            return appointment
        if appointment.voucher_code:
            _vouchers().release_for_appointment(appointment.id, now, "cancelled_by_station")
        _release(appointment, now)
        member = db.session.get(User, appointment.user_id)
        if member is not None:
            _announce_cancel(member, appointment, service, station, now, by_staff=True)
        audit.record(actor, "booking.staff_cancel", appointment, {"reason": reason[:200]})
    return appointment


def reschedule(
    user: User,
    appointment_id: int,
    new_slot_id: str,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> Appointment:
    """Move an appointment to another time of the same service, in one transaction: if the
    new time cannot be had, the old appointment stays exactly as it was."""
    now = now or utcnow()
    ref = parse_slot_id(new_slot_id)
    if ref.kind == "group":
        raise InvalidInput(
            str(_l("Choose a time for the same service.")), {"slot_id": "other_service"}
        )
    key = (idempotency_key or "").strip()[:64] or None
    try:
        with _write():
            existing = _existing_for_key(user.id, key)
            if existing is not None:
                return existing
            old = _own_appointment(user, appointment_id)
            service = db.session.get(Service, old.service_id)
            station = db.session.get(Station, old.station_id)
            assert service is not None and station is not None
            if old.group_session_id is not None:
                raise InvalidInput(
                    str(_l("Group sessions cannot be moved. Cancel and join another one.")),
                    {"appointment": "group"},
                )
            if old.status != AppointmentStatus.BOOKED.value:
                raise Conflict(
                    str(_l("This appointment cannot be changed any more.")),
                    {"appointment": old.status},
                )
            if not can_change(old, service, now):
                raise _late_notice(service, station)
            if not _mark_cancelled(old, user, now, "rescheduled"):
                raise Conflict(
                    str(_l("This appointment cannot be changed any more.")),
                    {"appointment": "changed"},
                )
            voucher_code = old.voucher_code
            if voucher_code:
                _vouchers().release_for_appointment(old.id, now, "rescheduled")
            db.session.execute(
                delete(BookingCell)
                .where(BookingCell.appointment_id == old.id)
                .execution_options(synchronize_session=False)
            )
            new, _view = _book_slot(
                user,
                ref,
                now,
                voucher_code=voucher_code,
                idempotency_key=key,
                actor=user,
                expected_service_id=service.id,
            )
            new.rescheduled_from_id = old.id
            _offer_freed(old, now)
            _announce_booking(user, new, now, rescheduled=True)
    except _RepeatedKey:
        existing = _existing_for_key(user.id, key)
        if existing is None:
            raise _slot_taken() from None
        return existing
    return new


# ============================================================================ pages' helpers


def cancel_ahead_for_erasure(user_id: int, now: datetime) -> int:
    """Account deletion: cancel what is still ahead (voucher sessions go back, the times
    go to the waitlist) and leave the waitlists. Joins the caller's transaction."""
    ahead = db.session.scalars(
        select(Appointment).where(
            Appointment.user_id == user_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.ends_at > now,
        )
    ).all()
    count = 0
    for appointment in ahead:
        if _mark_cancelled(appointment, None, now, "account deleted"):
            count += 1
            if appointment.voucher_code:
                _vouchers().release_for_appointment(appointment.id, now, "account_deleted")
            _release(appointment, now)
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
        .values(status=WaitlistStatus.LEFT.value, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(SessionNote)
        .where(
            SessionNote.appointment_id.in_(
                select(Appointment.id).where(Appointment.user_id == user_id)
            )
        )
        .execution_options(synchronize_session=False)
    )
    return count
