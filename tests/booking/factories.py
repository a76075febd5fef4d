"""Builders for booking tests: the service menu, stations with rooms, counsellors with
weekly templates. Call inside an app context; each builder commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from wellness.auth.models import User
from wellness.booking import slots as sl
from wellness.booking.models import (
    AvailabilityRule,
    CounselorProfile,
    CounselorStation,
    Room,
    Service,
    Station,
    StationHours,
)
from wellness.extensions import db

# Monday 7 December 2026, 08:00 in Beijing.
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
MONDAY = date(2026, 12, 7)
TUESDAY = MONDAY + timedelta(days=1)
NEXT_MONDAY = MONDAY + timedelta(days=7)

SERVICES = [
    # code, name, name_en, mode, room_kind, duration, buffer, capacity, voucher
    ("individual", "个体心理咨询", "Individual counselling", "individual", "individual", 50, 10, 1),
    ("group", "团体辅导", "Group session", "group", "group", 90, 15, 8),
    ("sand_table", "沙盘游戏", "Sand-table session", "individual", "sand_table", 50, 10, 1),
    ("relaxation", "放松室体验", "Relaxation room", "room", "relaxation", 50, 10, 1),
    ("phone", "电话咨询", "Phone counselling", "individual", None, 30, 0, 1),
    ("video", "视频咨询", "Video counselling", "individual", None, 50, 10, 1),
]


def bj(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=sl.LOCAL_TZ).astimezone(UTC)


def stamp(day: date, hh: int, mm: int = 0) -> str:
    return f"{day:%Y%m%d}{hh:02d}{mm:02d}"


def seed_services(**overrides) -> dict[str, int]:
    ids = {}
    for order, (code, name, name_en, mode, kind, duration, buffer, capacity) in enumerate(SERVICES):
        service = Service(
            code=code,
            name=name,
            name_en=name_en,
            mode=mode,
            room_kind=kind,
            duration_minutes=duration,
            buffer_minutes=buffer,
            capacity=capacity,
            min_notice_minutes=60,
            horizon_days=28,
            late_cancel_hours=24,
            voucher_required=False,
            sort_order=order,
        )
        for key, value in overrides.get(code, {}).items():
            setattr(service, key, value)
        db.session.add(service)
        db.session.flush()
        ids[code] = service.id
    db.session.commit()
    return ids


def add_station(
    name: str = "江北区职工心理服务站",
    district: str = "江北区",
    lat: float = 30.30,
    lon: float = 120.10,
    rooms: tuple = (
        ("咨询室一", "individual", 1),
        ("咨询室二", "individual", 1),
        ("团体活动室", "group", 12),
        ("沙盘室", "sand_table", 8),
        ("放松室", "relaxation", 4),
    ),
    phone: str = "0571-88880001",
) -> tuple[int, dict[str, int]]:
    station = Station(
        name=name,
        district=district,
        address=f"滨江市{district}人民路1号",
        latitude=lat,
        longitude=lon,
        phone=phone,
        opening_note="周一至周日 9:00-18:00",
    )
    db.session.add(station)
    db.session.flush()
    room_ids = {}
    for room_name, kind, capacity in rooms:
        room = Room(station_id=station.id, name=room_name, kind=kind, capacity=capacity)
        db.session.add(room)
        db.session.flush()
        room_ids[room_name] = room.id
    for weekday in range(7):
        db.session.add(
            StationHours(station_id=station.id, weekday=weekday, opens=time(9), closes=time(18))
        )
    db.session.commit()
    return station.id, room_ids


def add_counselor(
    user_id: int,
    station_ids: list[int],
    rules: list[tuple[int, str, str, int | None, str]] = (),
) -> None:
    """rules: (weekday, "09:00", "12:00", station_id or None, "work"|"break")."""
    db.session.add(
        CounselorProfile(
            user_id=user_id, gender="female", languages="普通话", specialties="职场压力"
        )
    )
    for station_id in station_ids:
        db.session.add(CounselorStation(counselor_id=user_id, station_id=station_id))
    for weekday, start, end, station_id, kind in rules:
        db.session.add(
            AvailabilityRule(
                counselor_id=user_id,
                station_id=station_id,
                weekday=weekday,
                starts=time.fromisoformat(start),
                ends=time.fromisoformat(end),
                kind=kind,
            )
        )
    db.session.commit()


def weekdays(station_id: int, start: str = "09:00", end: str = "17:30", days=range(5)):
    return [(d, start, end, station_id, "work") for d in days]


@dataclass
class World:
    services: dict[str, int]
    station: int
    rooms: dict[str, int]
    other_station: int
    other_rooms: dict[str, int]
    counselor: object  # detached User
    second: object  # works at both stations on Mondays
    workers: list = field(default_factory=list)


def attached(user) -> User:
    """The session's copy of a detached user from make_user."""
    found = db.session.get(User, user.id)
    assert found is not None
    return found
