"""Stations, rooms, services, counsellors' availability, appointments and the cells that
keep them from overlapping.

Integrity lives in the database:
- ``booking_cells``: one row per 5-minute cell that a counsellor (``c``), a room seat
  (``r``) or a client (``u``) is taken, UNIQUE per (resource, id, seat, cell). Two
  bookings that overlap anywhere collide on at least one cell, on SQLite and PostgreSQL.
- ``group_sessions.seats_taken`` moves only by a conditional UPDATE and is held between
  0 and ``capacity`` by a CHECK constraint.
- one active waitlist entry per person and session/day, one booking per idempotency key,
  one reminder per appointment and kind (claimed by a conditional UPDATE on its column,
  with the outbox's unique ``dedupe_key`` behind it).
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wellness.booking.stamp_ddl import create_triggers
from wellness.database import Base, utcnow


class RoomKind(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"
    SAND_TABLE = "sand_table"
    RELAXATION = "relaxation"
    ASSESSMENT = "assessment"


# Rooms of these kinds are booked by the seat (several visitors share the room).
SEATED_ROOM_KINDS = frozenset({RoomKind.RELAXATION.value})


class ServiceMode(StrEnum):
    INDIVIDUAL = "individual"  # one client with a counsellor (in a room, or by phone/video)
    ROOM = "room"  # a seat in a room, no counsellor (relaxation room)
    GROUP = "group"  # only through scheduled group sessions


class ServiceCode(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"
    SAND_TABLE = "sand_table"
    RELAXATION = "relaxation"
    PHONE = "phone"
    VIDEO = "video"


class AppointmentStatus(StrEnum):
    HELD = "held"  # offered to a waitlisted member, waiting for them to accept
    BOOKED = "booked"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # an offer that was not accepted in time, or declined
    ATTENDED = "attended"
    NO_SHOW = "no_show"


ACTIVE_STATUSES = (AppointmentStatus.HELD.value, AppointmentStatus.BOOKED.value)


class GroupSessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    LEFT = "left"


class CellKind(StrEnum):
    COUNSELOR = "c"
    ROOM = "r"
    CLIENT = "u"


class AvailabilityKind(StrEnum):
    WORK = "work"
    BREAK = "break"


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    district: Mapped[str] = mapped_column(String(60), index=True)
    address: Mapped[str] = mapped_column(String(255))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    phone: Mapped[str] = mapped_column(String(30))
    opening_note: Mapped[str | None] = mapped_column(String(255))  # e.g. "周一至周五 9:00-17:30"
    accessibility: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Station {self.id} {self.name}>"


class StationHours(Base):
    """Weekly opening hours (Beijing wall-clock times), one row per opening window."""

    __tablename__ = "station_hours"
    __table_args__ = (
        CheckConstraint("closes > opens", name="closes_after_opens"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        UniqueConstraint("station_id", "weekday", "opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]


class StationClosure(Base):
    """A holiday or other closure: no bookings at the station in ``[starts_at, ends_at)``."""

    __tablename__ = "station_closures"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        Index("ix_station_closures_station_time", "station_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("station_id", "name"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    capacity: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def seats(self) -> int:
        """Seats that bookings take one by one; 1 for rooms that are used exclusively."""
        return self.capacity if self.kind in SEATED_ROOM_KINDS else 1


class Service(Base):
    """An item on the service menu and its booking policy."""

    __tablename__ = "booking_services"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("buffer_minutes >= 0", name="buffer_not_negative"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(80))  # Simplified Chinese
    name_en: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(12), default=ServiceMode.INDIVIDUAL.value)
    room_kind: Mapped[str | None] = mapped_column(String(20))  # None: phone/video
    duration_minutes: Mapped[int] = mapped_column(default=50)
    buffer_minutes: Mapped[int] = mapped_column(default=10)
    slot_step_minutes: Mapped[int | None]  # default: duration + buffer
    capacity: Mapped[int] = mapped_column(default=1)  # default size of a group session
    min_notice_minutes: Mapped[int] = mapped_column(default=120)
    horizon_days: Mapped[int] = mapped_column(default=28)
    late_cancel_hours: Mapped[int] = mapped_column(default=24)
    voucher_required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    @property
    def remote(self) -> bool:
        return self.mode == ServiceMode.INDIVIDUAL.value and self.room_kind is None

    @property
    def step_minutes(self) -> int:
        return self.slot_step_minutes or (self.duration_minutes + self.buffer_minutes)


class CounselorProfile(Base):
    __tablename__ = "counselor_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    gender: Mapped[str | None] = mapped_column(String(10))  # "female", "male", or None
    languages: Mapped[str] = mapped_column(String(120), default="普通话")
    specialties: Mapped[str] = mapped_column(String(255), default="")
    bio: Mapped[str | None] = mapped_column(Text)
    accepts_bookings: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CounselorStation(Base):
    """A station a counsellor works at."""

    __tablename__ = "counselor_stations"
    __table_args__ = (UniqueConstraint("counselor_id", "station_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )


class AvailabilityRule(Base):
    """Weekly template row: work at a station, or a break (station empty: every station)."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("ends > starts", name="ends_after_starts"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        Index("ix_availability_rules_counselor_weekday", "counselor_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    starts: Mapped[time]
    ends: Mapped[time]
    kind: Mapped[str] = mapped_column(String(10), default=AvailabilityKind.WORK.value)


class AvailabilityException(Base):
    """Replaces one date's template. A row without times means: not working that day."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (
        CheckConstraint(
            "(starts IS NULL AND ends IS NULL) OR (ends > starts)", name="ends_after_starts"
        ),
        Index("ix_availability_exceptions_counselor_day", "counselor_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date]
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    starts: Mapped[time | None]
    ends: Mapped[time | None]
    note: Mapped[str | None] = mapped_column(String(200))


class TimeOff(Base):
    __tablename__ = "time_off_periods"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        Index("ix_time_off_periods_counselor_time", "counselor_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))


class GroupSession(Base):
    """A scheduled group session; members take seats until ``capacity``."""

    __tablename__ = "group_sessions"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"
        ),
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        Index("ix_group_sessions_station_time", "station_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("booking_services.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    counselor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    seats_taken: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(12), default=GroupSessionStatus.SCHEDULED.value)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # members only
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        Index("ix_appointments_user_time", "user_id", "starts_at"),
        Index("ix_appointments_counselor_time", "counselor_id", "starts_at"),
        Index("ix_appointments_status_time", "status", "starts_at"),
        Index("ix_appointments_status_hold", "status", "hold_expires_at"),
        # One seat per person in a group session.
        Index(
            "uq_appointments_group_member",
            "group_session_id",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('held', 'booked') AND group_session_id IS NOT NULL"),
            postgresql_where=text("status IN ('held', 'booked') AND group_session_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("booking_services.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    group_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_sessions.id"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=AppointmentStatus.BOOKED.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    voucher_code: Mapped[str | None] = mapped_column(String(40))
    hold_expires_at: Mapped[datetime | None]
    waitlist_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("waitlist_entries.id", ondelete="SET NULL")
    )
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    attendance_marked_at: Mapped[datetime | None]
    attendance_marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reminder_24h_at: Mapped[datetime | None]
    reminder_2h_at: Mapped[datetime | None]
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class BookingCell(Base):
    """One taken 5-minute cell of one resource. The UNIQUE constraint is the no-overlap rule.

    ``cell`` numbers the cell from the Unix epoch (``slots.cell_index``): a plain integer
    keeps the index small and the reads cheap.
    """

    __tablename__ = "booking_cells"
    __table_args__ = (
        UniqueConstraint("resource", "resource_id", "seat", "cell"),
        Index("ix_booking_cells_cell", "cell"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource: Mapped[str] = mapped_column(String(1))  # CellKind
    resource_id: Mapped[int]
    seat: Mapped[int] = mapped_column(default=1)
    cell: Mapped[int]
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    group_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="CASCADE"), index=True
    )


class WaitlistEntry(Base):
    """Waiting for a seat in a group session, or for any time of a service on a day."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_session_member",
            "group_session_id",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered') AND group_session_id IS NOT NULL"),
            postgresql_where=text(
                "status IN ('waiting', 'offered') AND group_session_id IS NOT NULL"
            ),
        ),
        Index(
            "uq_waitlist_entries_day_member",
            "station_id",
            "service_id",
            "day",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered') AND group_session_id IS NULL"),
            postgresql_where=text("status IN ('waiting', 'offered') AND group_session_id IS NULL"),
        ),
        Index("ix_waitlist_entries_queue", "group_session_id", "status", "created_at"),
        Index("ix_waitlist_entries_day_queue", "station_id", "service_id", "day", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_session_id: Mapped[int | None] = mapped_column(ForeignKey("group_sessions.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("booking_services.id"))
    day: Mapped[date | None]  # local date, for a day waitlist
    status: Mapped[str] = mapped_column(String(10), default=WaitlistStatus.WAITING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    offered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class SessionNote(Base):
    """A counsellor's private note on an appointment."""

    __tablename__ = "session_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarFeed(Base):
    """A counsellor's secret iCalendar feed URL; only the SHA-256 of the token is stored."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class SlotStamp(Base):
    """A random stamp per station (``s``) or counsellor (``c``), changed by triggers with
    everything a slot search reads about them (``stamps.py``, ``stamp_ddl.py``)."""

    __tablename__ = "slot_stamps"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    ref_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(BigInteger)


# The triggers come with the tables when the schema is built by create_all (tests, bench).
event.listen(Base.metadata, "after_create", create_triggers)
