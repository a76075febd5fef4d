"""Group sessions and waitlists: taking a seat, joining and leaving a waitlist, and the
offers (holds) that give a freed time to the next member waiting.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, update

from wellness.auth.models import OrgUnit, User
from wellness.booking import slots as sl
from wellness.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    BookingCell,
    GroupSession,
    GroupSessionStatus,
    Service,
    ServiceMode,
    Station,
    WaitlistEntry,
    WaitlistStatus,
)
from wellness.booking.services.claims import (
    BookingResult,
    _claim_client,
    _existing_for_key,
    _new_appointment,
    _occupy_individual,
    _RepeatedKey,
    _reserve_voucher,
    _slot_taken,
)
from wellness.booking.services.common import (
    _add_and_flush,
    _savepoint,
    _write,
    get_service,
    get_station,
    local_today,
)
from wellness.booking.services.messages import (
    _announce_booking,
    _announce_offer,
    _announce_waitlist,
)
from wellness.booking.services.search import _load_day
from wellness.booking.services.views import _own_appointment
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted, WellnessError
from wellness.extensions import db

# ============================================================================ group sessions


def get_group_session(session_id: int) -> GroupSession:
    session = db.session.get(GroupSession, session_id)
    if session is None:
        raise NotFound(str(_l("No such group session.")))
    return session


def _check_member_of(user: User, session: GroupSession) -> None:
    if session.org_unit_id is None:
        return
    from wellness.auth import services as auth_services

    allowed = set(auth_services.descendant_ids(session.org_unit_id))
    if user.org_unit_id not in allowed:
        unit = db.session.get(OrgUnit, session.org_unit_id)
        raise NotPermitted(
            str(
                _l(
                    "This group session is only open to members of %(unit)s.",
                    unit=unit.name if unit else "",
                )
            ),
            {"slot_id": "members_only"},
        )


def _active_group_appointment(session_id: int, user_id: int) -> Appointment | None:
    return db.session.scalar(
        select(Appointment).where(
            Appointment.group_session_id == session_id,
            Appointment.user_id == user_id,
            Appointment.status.in_(ACTIVE_STATUSES),
        )
    )


def _active_group_entry(session_id: int, user_id: int) -> WaitlistEntry | None:
    return db.session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.group_session_id == session_id,
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
    )


def join_group_session(
    user: User,
    session_id: int,
    *,
    now: datetime | None = None,
    waitlist: bool = False,
    voucher_code: str | None = None,
    idempotency_key: str | None = None,
    actor: User | None = None,
) -> BookingResult:
    """Take a seat (conditional UPDATE of ``seats_taken``), or join the waitlist when the
    session is full and ``waitlist`` is set; otherwise a full session is a Conflict."""
    now = now or utcnow()
    try:
        with _write():
            existing = _existing_for_key(user.id, idempotency_key)
            if existing is not None:
                return BookingResult(existing, existing=True)
            session = get_group_session(session_id)
            service = db.session.get(Service, session.service_id)
            assert service is not None
            if session.status != GroupSessionStatus.SCHEDULED.value:
                raise Conflict(
                    str(_l("This group session has been cancelled.")), {"slot_id": "cancelled"}
                )
            if session.starts_at <= now:
                raise InvalidInput(
                    str(_l("This time has already passed. Please choose a later time.")),
                    {"slot_id": "past"},
                )
            _check_member_of(user, session)
            mine = _active_group_appointment(session.id, user.id)
            if mine is not None:
                return BookingResult(mine, existing=True)
            entry = _active_group_entry(session.id, user.id)
            if entry is not None:
                return BookingResult(waitlist_entry=entry, existing=True)
            taken = db.session.execute(
                update(GroupSession)
                .where(
                    GroupSession.id == session.id,
                    GroupSession.status == GroupSessionStatus.SCHEDULED.value,
                    GroupSession.seats_taken < GroupSession.capacity,
                )
                .values(seats_taken=GroupSession.seats_taken + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not taken:
                if not waitlist:
                    raise Conflict(
                        str(_l("Sorry, this group session is full. You can join the waitlist.")),
                        {"slot_id": "full"},
                    )
                entry = _add_waitlist_entry(
                    user, session.station_id, service.id, None, session.id, now
                )
                _announce_waitlist(user, entry, service, session.starts_at, now)
                return BookingResult(waitlist_entry=entry)
            appointment = _new_appointment(
                user,
                service,
                session.station_id,
                session.starts_at,
                session.ends_at,
                now,
                counselor_id=session.counselor_id,
                group_session_id=session.id,
                actor=actor,
                idempotency_key=idempotency_key,
            )
            appointment.room_id = session.room_id
            _claim_client(appointment)
            _reserve_voucher(user, service, appointment, voucher_code, now)
            _announce_booking(user, appointment, now)
    except _RepeatedKey:
        existing = _existing_for_key(user.id, idempotency_key)
        if existing is None:
            raise _slot_taken() from None
        return BookingResult(existing, existing=True)
    return BookingResult(appointment)


def _add_waitlist_entry(
    user: User,
    station_id: int,
    service_id: int,
    day: date | None,
    group_session_id: int | None,
    now: datetime,
) -> WaitlistEntry:
    entry = WaitlistEntry(
        user_id=user.id,
        station_id=station_id,
        service_id=service_id,
        day=day,
        group_session_id=group_session_id,
        created_at=now,
    )
    ok, _ = _savepoint(lambda: _add_and_flush(entry))
    if not ok:
        raise Conflict(str(_l("You are already on this waitlist.")), {"waitlist": "exists"})
    return entry


def waitlist_position(entry: WaitlistEntry) -> int:
    """1-based place in the queue (waiting entries created before it, plus one)."""
    stmt = select(func.count(WaitlistEntry.id)).where(
        WaitlistEntry.status == WaitlistStatus.WAITING.value,
        or_(
            WaitlistEntry.created_at < entry.created_at,
            and_(WaitlistEntry.created_at == entry.created_at, WaitlistEntry.id < entry.id),
        ),
    )
    if entry.group_session_id is not None:
        stmt = stmt.where(WaitlistEntry.group_session_id == entry.group_session_id)
    else:
        stmt = stmt.where(
            WaitlistEntry.group_session_id.is_(None),
            WaitlistEntry.station_id == entry.station_id,
            WaitlistEntry.service_id == entry.service_id,
            WaitlistEntry.day == entry.day,
        )
    return (db.session.scalar(stmt) or 0) + 1


def join_day_waitlist(
    user: User, station_id: int, service_code: str, day: date, now: datetime | None = None
) -> WaitlistEntry:
    """Wait for any time of a service at a station on a day; offered when one frees up."""
    now = now or utcnow()
    with _write():
        station = get_station(station_id, active_only=True)
        service = get_service(service_code)
        if service.mode == ServiceMode.GROUP.value:
            raise InvalidInput(str(_l("Choose a service from the list.")), {"service": "group"})
        if day < local_today(now) or day > local_today(now) + timedelta(days=service.horizon_days):
            raise InvalidInput(
                str(_l("You can book up to %(days)s days ahead.", days=service.horizon_days)),
                {"date": "out_of_range"},
            )
        entry = _add_waitlist_entry(user, station.id, service.id, day, None, now)
        _announce_waitlist(user, entry, service, None, now)
    return entry


def leave_waitlist(user: User, entry_id: int, now: datetime | None = None) -> WaitlistEntry:
    now = now or utcnow()
    with _write():
        entry = db.session.get(WaitlistEntry, entry_id)
        if entry is None or entry.user_id != user.id:
            raise NotFound(str(_l("No such waitlist entry.")))
        db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.WAITING.value
            )
            .values(status=WaitlistStatus.LEFT.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
    return entry


# ============================================================================ offers (holds)


def _hold_minutes() -> int:
    return int(current_app.config.get("BOOKING_HOLD_MINUTES", 120))


def _waiting_entries(appointment: Appointment) -> list[WaitlistEntry]:
    stmt = select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING.value)
    if appointment.group_session_id is not None:
        stmt = stmt.where(WaitlistEntry.group_session_id == appointment.group_session_id)
    else:
        stmt = stmt.where(
            WaitlistEntry.group_session_id.is_(None),
            WaitlistEntry.station_id == appointment.station_id,
            WaitlistEntry.service_id == appointment.service_id,
            WaitlistEntry.day == sl.to_local(appointment.starts_at).date(),
        )
    return list(db.session.scalars(stmt.order_by(WaitlistEntry.created_at, WaitlistEntry.id)))


def _offer_freed(freed: Appointment, now: datetime) -> Appointment | None:
    """Offer what ``freed`` held (its cells were released, or its group seat is still
    counted) to the first waiting member who can take it: a HELD appointment that keeps
    it for them for BOOKING_HOLD_MINUTES. None when nobody can take it."""
    service = db.session.get(Service, freed.service_id)
    assert service is not None
    if freed.starts_at < now + timedelta(minutes=service.min_notice_minutes):
        return None
    station = db.session.get(Station, freed.station_id)
    assert station is not None
    hold_until = min(now + timedelta(minutes=_hold_minutes()), freed.starts_at)
    for entry in _waiting_entries(freed):
        claimed = db.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.WAITING.value
            )
            .values(status=WaitlistStatus.OFFERED.value, offered_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        member = db.session.get(User, entry.user_id)
        if member is None or not member.active:
            continue

        def take(member: User = member, entry: WaitlistEntry = entry) -> Appointment:
            held = _new_appointment(
                member,
                service,
                freed.station_id,
                freed.starts_at,
                freed.ends_at,
                now,
                counselor_id=freed.counselor_id,
                group_session_id=freed.group_session_id,
                status=AppointmentStatus.HELD.value,
                hold_expires_at=hold_until,
            )
            held.waitlist_entry_id = entry.id
            if freed.group_session_id is not None:
                held.room_id = freed.room_id
                _claim_client(held)
                return held
            data = _load_day(
                station,
                service,
                sl.to_local(freed.starts_at).date(),
                freed.counselor_id,
                window=sl.Span(
                    freed.starts_at,
                    freed.ends_at + timedelta(minutes=service.buffer_minutes),
                ),
            )
            _occupy_individual(held, service, data, freed.counselor_id)
            return held

        try:
            ok, held = _savepoint(take)
        except WellnessError:
            ok, held = False, None
        if not ok or held is None:
            # They cannot take it (another appointment at that time): keep their place.
            db.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == entry.id)
                .values(status=WaitlistStatus.WAITING.value, offered_at=None)
                .execution_options(synchronize_session=False)
            )
            continue
        _announce_offer(member, held, service, station, now)
        return held
    return None


def _release(appointment: Appointment, now: datetime) -> None:
    """Free what a cancelled or expired appointment held, offering it to the waitlist."""
    db.session.execute(
        delete(BookingCell)
        .where(BookingCell.appointment_id == appointment.id)
        .execution_options(synchronize_session=False)
    )
    offered = _offer_freed(appointment, now)
    if appointment.group_session_id is not None and offered is None:
        db.session.execute(
            update(GroupSession)
            .where(GroupSession.id == appointment.group_session_id, GroupSession.seats_taken > 0)
            .values(seats_taken=GroupSession.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )


def accept_offer(
    user: User, appointment_id: int, *, now: datetime | None = None, voucher_code: str | None = None
) -> Appointment:
    """The waitlisted member takes the held time (before the hold expires)."""
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        if appointment.status == AppointmentStatus.BOOKED.value:
            return appointment
        service = db.session.get(Service, appointment.service_id)
        assert service is not None
        done = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.status == AppointmentStatus.HELD.value,
                Appointment.hold_expires_at > now,
            )
            .values(status=AppointmentStatus.BOOKED.value, hold_expires_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not done:
            raise Conflict(str(_l("Sorry, this offer has expired.")), {"appointment": "expired"})
        db.session.refresh(appointment)
        _reserve_voucher(user, service, appointment, voucher_code, now)
        if appointment.waitlist_entry_id:
            db.session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.id == appointment.waitlist_entry_id)
                .values(status=WaitlistStatus.ACCEPTED.value, resolved_at=now)
                .execution_options(synchronize_session=False)
            )
        _announce_booking(user, appointment, now)
    return appointment


def decline_offer(user: User, appointment_id: int, now: datetime | None = None) -> Appointment:
    now = now or utcnow()
    with _write():
        appointment = _own_appointment(user, appointment_id)
        _expire_hold(appointment, now, force=True)
    return appointment


def _expire_hold(appointment: Appointment, now: datetime, force: bool = False) -> bool:
    conditions = [
        Appointment.id == appointment.id,
        Appointment.status == AppointmentStatus.HELD.value,
    ]
    if not force:
        conditions.append(Appointment.hold_expires_at <= now)
    done = db.session.execute(
        update(Appointment)
        .where(*conditions)
        .values(status=AppointmentStatus.EXPIRED.value, cancelled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        return False
    if appointment.waitlist_entry_id:
        db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == appointment.waitlist_entry_id)
            .values(status=WaitlistStatus.EXPIRED.value, resolved_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(appointment)
    _release(appointment, now)
    return True


def expire_holds(now: datetime | None = None, limit: int = 200) -> int:
    """Sweep: offers not accepted in time go to the next member in line. Idempotent."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(Appointment.id)
            .where(
                Appointment.status == AppointmentStatus.HELD.value,
                Appointment.hold_expires_at <= now,
            )
            .order_by(Appointment.hold_expires_at, Appointment.id)
            .limit(limit)
        )
    )
    count = 0
    for appointment_id in ids:
        with _write():
            appointment = db.session.get(Appointment, appointment_id)
            if appointment is not None and _expire_hold(appointment, now):
                count += 1
    return count


# ============================================================================ pages' helpers


def waitlisted_message(position: int) -> str:
    return str(
        _l(
            "The session is full. You are number %(n)s on the waitlist; we will tell you "
            "when a seat frees up.",
            n=position,
        )
    )
