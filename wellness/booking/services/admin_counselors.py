"""Admin and counsellors: counsellor profiles, the stations they work at, and their
availability (weekly rules, date exceptions, time off).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from wellness import audit
from wellness.auth.models import Role, User
from wellness.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    AvailabilityException,
    AvailabilityKind,
    AvailabilityRule,
    CounselorProfile,
    CounselorStation,
    Station,
    TimeOff,
)
from wellness.booking.services.admin_stations import _order, _text, _wall
from wellness.booking.services.common import _aware, _write, local_today
from wellness.booking.services.views import AppointmentView, _views
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db

# ---------------------------------------------------------------------------- counsellors


def list_counselors() -> list[tuple[User, CounselorProfile | None, list[str]]]:
    users = list(
        db.session.scalars(
            select(User).where(User.role == Role.COUNSELOR.value).order_by(User.name, User.id)
        )
    )
    profiles = {p.user_id: p for p in db.session.scalars(select(CounselorProfile))}
    stations: dict[int, list[str]] = defaultdict(list)
    for counselor_id, name in db.session.execute(
        select(CounselorStation.counselor_id, Station.name)
        .join(Station, Station.id == CounselorStation.station_id)
        .order_by(Station.name)
    ):
        stations[counselor_id].append(name)
    return [(u, profiles.get(u.id), stations.get(u.id, [])) for u in users]


def get_counselor(counselor_id: int) -> User:
    user = db.session.get(User, counselor_id)
    if user is None or user.role != Role.COUNSELOR.value:
        raise NotFound(str(_l("No such counsellor.")))
    return user


def check_may_edit(actor: User, counselor: User) -> None:
    """Counsellors edit their own profile and availability; admins edit everyone's."""
    if actor.role == Role.ADMIN.value or actor.id == counselor.id:
        return
    raise NotPermitted(str(_l("You can only change your own schedule.")))


def profile_of(counselor_id: int) -> CounselorProfile | None:
    return db.session.scalar(
        select(CounselorProfile).where(CounselorProfile.user_id == counselor_id)
    )


def save_profile(actor: User, counselor: User, **fields: Any) -> CounselorProfile:
    check_may_edit(actor, counselor)
    gender = fields.get("gender") or None
    if gender not in (None, "female", "male"):
        raise InvalidInput(str(_l("Choose a value from the list.")), {"gender": "invalid"})
    languages = _text(fields.get("languages"), "languages", 120)
    specialties = _text(fields.get("specialties"), "specialties", 255, False) or ""
    bio = _text(fields.get("bio"), "bio", 2000, False)
    with _write():
        profile = profile_of(counselor.id)
        if profile is None:
            profile = CounselorProfile(user_id=counselor.id)
            db.session.add(profile)
        profile.gender, profile.languages, profile.specialties, profile.bio = (
            gender,
            languages,
            specialties,
            bio,
        )  # type: ignore[assignment]
        profile.accepts_bookings = bool(fields.get("accepts_bookings", True))
        db.session.flush()
        audit.record(actor, "booking.profile_save", ("users", counselor.id))
    return profile


def stations_of(counselor_id: int) -> list[Station]:
    return list(
        db.session.scalars(
            select(Station)
            .join(CounselorStation, CounselorStation.station_id == Station.id)
            .where(CounselorStation.counselor_id == counselor_id)
            .order_by(Station.name)
        )
    )


def set_counselor_stations(actor: User, counselor: User, station_ids: Iterable[int]) -> None:
    """Admins assign the stations a counsellor works at."""
    if actor.role != Role.ADMIN.value:
        raise NotPermitted(str(_l("Only administrators assign stations.")))
    wanted = set(station_ids)
    with _write():
        known = set(db.session.scalars(select(Station.id).where(Station.id.in_(wanted or {0}))))
        if wanted - known:
            raise InvalidInput(str(_l("Choose stations from the list.")), {"stations": "unknown"})
        current = set(
            db.session.scalars(
                select(CounselorStation.station_id).where(
                    CounselorStation.counselor_id == counselor.id
                )
            )
        )
        for station_id in wanted - current:
            db.session.add(CounselorStation(counselor_id=counselor.id, station_id=station_id))
        if current - wanted:
            db.session.execute(
                delete(CounselorStation).where(
                    CounselorStation.counselor_id == counselor.id,
                    CounselorStation.station_id.in_(current - wanted),
                )
            )
        audit.record(
            actor,
            "booking.counselor_stations",
            ("users", counselor.id),
            {"stations": sorted(wanted)},
        )


@dataclass
class Availability:
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]
    time_off: list[TimeOff]
    stations: dict[int, str]


def availability_of(counselor: User, now: datetime) -> Availability:
    stations = {s.id: s.name for s in stations_of(counselor.id)}
    rules = list(
        db.session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.counselor_id == counselor.id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.starts, AvailabilityRule.id)
        )
    )
    exceptions = list(
        db.session.scalars(
            select(AvailabilityException)
            .where(
                AvailabilityException.counselor_id == counselor.id,
                AvailabilityException.day >= local_today(now),
            )
            .order_by(AvailabilityException.day, AvailabilityException.starts)
        )
    )
    time_off = list(
        db.session.scalars(
            select(TimeOff)
            .where(TimeOff.counselor_id == counselor.id, TimeOff.ends_at > now)
            .order_by(TimeOff.starts_at)
        )
    )
    return Availability(rules, exceptions, time_off, stations)


def _own_station(counselor: User, station_id: int | None) -> int | None:
    if station_id is None:
        return None
    works = db.session.scalar(
        select(CounselorStation.id).where(
            CounselorStation.counselor_id == counselor.id,
            CounselorStation.station_id == station_id,
        )
    )
    if not works:
        raise InvalidInput(
            str(_l("Choose one of the stations this counsellor works at.")),
            {"station_id": "not_assigned"},
        )
    return station_id


def add_rule(
    actor: User,
    counselor: User,
    *,
    weekday: int,
    starts: time,
    ends: time,
    kind: str,
    station_id: int | None,
) -> AvailabilityRule:
    check_may_edit(actor, counselor)
    if weekday not in range(7):
        raise InvalidInput(str(_l("Choose a weekday.")), {"weekday": "invalid"})
    if kind not in {k.value for k in AvailabilityKind}:
        raise InvalidInput(str(_l("Choose a value from the list.")), {"kind": "invalid"})
    starts, ends = _wall(starts, "starts"), _wall(ends, "ends")
    _order(starts, ends)
    with _write():
        if kind == AvailabilityKind.WORK.value:
            if station_id is None:
                raise InvalidInput(
                    str(_l("Choose one of the stations this counsellor works at.")),
                    {"station_id": "required"},
                )
            _own_station(counselor, station_id)
            overlap = db.session.scalar(
                select(AvailabilityRule.id).where(
                    AvailabilityRule.counselor_id == counselor.id,
                    AvailabilityRule.weekday == weekday,
                    AvailabilityRule.kind == AvailabilityKind.WORK.value,
                    AvailabilityRule.starts < ends,
                    AvailabilityRule.ends > starts,
                )
            )
            if overlap:
                raise Conflict(
                    str(_l("This overlaps working hours already set for that day.")),
                    {"starts": "overlap"},
                )
        else:
            station_id = None
        rule = AvailabilityRule(
            counselor_id=counselor.id,
            station_id=station_id,
            weekday=weekday,
            starts=starts,
            ends=ends,
            kind=kind,
        )
        db.session.add(rule)
        db.session.flush()
        audit.record(actor, "booking.rule_add", ("users", counselor.id))
    return rule


def add_exception(
    actor: User,
    counselor: User,
    *,
    day: date,
    station_id: int | None,
    starts: time | None,
    ends: time | None,
    note: str | None,
    now: datetime | None = None,
) -> AvailabilityException:
    """A date that replaces the template: windows at a station, or (no times) a day off."""
    now = now or utcnow()
    check_may_edit(actor, counselor)
    if day is None or day < local_today(now):
        raise InvalidInput(str(_l("Choose today or a later date.")), {"day": "past"})
    if (starts is None) != (ends is None):
        raise InvalidInput(
            str(_l("Give both times, or neither for a day off.")), {"ends": "required"}
        )
    if starts is not None and ends is not None:
        starts, ends = _wall(starts, "starts"), _wall(ends, "ends")
        _order(starts, ends)
        if station_id is None:
            raise InvalidInput(
                str(_l("Choose one of the stations this counsellor works at.")),
                {"station_id": "required"},
            )
    else:
        station_id = None
    with _write():
        _own_station(counselor, station_id)
        row = AvailabilityException(
            counselor_id=counselor.id,
            day=day,
            station_id=station_id,
            starts=starts,
            ends=ends,
            note=_text(note, "note", 200, False),
        )
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "booking.exception_add", ("users", counselor.id))
    return row


def add_time_off(
    actor: User,
    counselor: User,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
) -> tuple[TimeOff, list[AppointmentView]]:
    """Time off; returns the booked appointments inside it so they can be moved."""
    check_may_edit(actor, counselor)
    if starts_at is None or ends_at is None:
        raise InvalidInput(str(_l("Enter a time.")), {"starts_at": "required"})
    starts_at, ends_at = _aware(starts_at), _aware(ends_at)
    if ends_at <= starts_at:
        raise InvalidInput(str(_l("The end must be after the start.")), {"ends_at": "before_start"})
    with _write():
        row = TimeOff(
            counselor_id=counselor.id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=_text(reason, "reason", 200, False),
        )
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "booking.time_off_add", ("users", counselor.id))
    clashes = _views(
        select(Appointment)
        .where(
            Appointment.counselor_id == counselor.id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return row, clashes


def delete_availability(actor: User, counselor: User, kind: str, row_id: int) -> None:
    check_may_edit(actor, counselor)
    model = {"rule": AvailabilityRule, "exception": AvailabilityException, "time_off": TimeOff}.get(
        kind
    )
    if model is None:
        raise NotFound(str(_l("Not found.")))
    with _write():
        row = db.session.get(model, row_id)
        if row is None or row.counselor_id != counselor.id:
            raise NotFound(str(_l("Not found.")))
        db.session.delete(row)
        audit.record(actor, f"booking.{kind}_delete", ("users", counselor.id))
