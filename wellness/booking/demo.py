"""Demo booking data for 滨江市: four service stations in 江北区, 江南区 and 高新区 with
their rooms and opening hours, the service menu, counsellors' profiles and weekly
templates (李明华 works at two stations on the same day), a New Year closure, two group
sessions and a few appointments so that schedules are not empty.

Idempotent (everything is looked up before it is inserted) and never commits: the caller
(``flask --app wellness seed demo``) commits once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from wellness.auth.models import OrgUnit, User
from wellness.booking import services
from wellness.booking import slots as sl
from wellness.booking.models import (
    Appointment,
    AvailabilityKind,
    AvailabilityRule,
    BookingCell,
    CellKind,
    CounselorProfile,
    CounselorStation,
    GroupSession,
    Room,
    Service,
    Station,
    StationClosure,
    StationHours,
)
from wellness.database import utcnow
from wellness.extensions import db

SERVICES = [
    # code, name, name_en, mode, room kind, minutes, buffer, group size, voucher, notice, cancel h
    (
        "individual",
        "个体心理咨询",
        "Individual counselling",
        "individual",
        "individual",
        50,
        10,
        1,
        True,
        120,
        24,
        "一对一面谈，由持证心理咨询师接待，内容严格保密。",
        "One-to-one with a qualified counsellor, in confidence.",
    ),
    (
        "group",
        "团体心理辅导",
        "Group session",
        "group",
        "group",
        90,
        15,
        12,
        False,
        60,
        12,
        "以班组或工会为单位的团体辅导：压力管理、情绪调节、沟通协作。",
        "Group sessions for teams and unions: stress, emotions, working together.",
    ),
    (
        "sand_table",
        "沙盘游戏体验",
        "Sand-table session",
        "individual",
        "sand_table",
        50,
        10,
        6,
        True,
        120,
        24,
        "借助沙具表达内心感受，适合不擅长言语表达的职工。",
        "Express feelings with sand and figures; good when words are hard.",
    ),
    (
        "relaxation",
        "放松室体验",
        "Relaxation room visit",
        "room",
        "relaxation",
        45,
        15,
        1,
        False,
        30,
        2,
        "音乐放松椅、生物反馈放松训练，无需咨询师陪同。",
        "Music chairs and biofeedback relaxation; no counsellor needed.",
    ),
    (
        "phone",
        "电话心理咨询",
        "Phone counselling",
        "individual",
        None,
        30,
        0,
        1,
        False,
        60,
        4,
        "咨询师按预约时间拨打您的注册手机号。",
        "The counsellor calls your registered mobile number at the booked time.",
    ),
    (
        "video",
        "视频心理咨询",
        "Video counselling",
        "individual",
        None,
        50,
        10,
        1,
        False,
        120,
        24,
        "通过视频进行一对一咨询，会前发送会议链接。",
        "One-to-one by video; the link is sent before the session.",
    ),
]

STATIONS = [
    # name, district, address, lat, lon, phone, opening note, accessibility, rooms
    (
        "江北区职工心理服务中心",
        "江北区",
        "滨江市江北区人民路188号区职工服务中心三楼",
        30.2905,
        120.1380,
        "0571-86001201",
        "周一至周五 9:00-17:30，周六 9:00-12:00",
        "有无障碍电梯和无障碍卫生间；地铁2号线人民路站B口步行300米。",
        [
            ("个体咨询室一", "individual", 1),
            ("个体咨询室二", "individual", 1),
            ("个体咨询室三", "individual", 1),
            ("团体辅导室", "group", 16),
            ("沙盘治疗室", "sand_table", 8),
            ("音乐放松室", "relaxation", 4),
            ("心理测评室", "assessment", 6),
        ],
    ),
    (
        "江南区职工心理服务站",
        "江南区",
        "滨江市江南区江滨大道66号江南职工之家二楼",
        30.2420,
        120.1650,
        "0571-86001202",
        "周一至周五 9:00-17:30",
        "一楼有坡道，二楼可乘电梯。",
        [
            ("个体咨询室一", "individual", 1),
            ("个体咨询室二", "individual", 1),
            ("团体活动室", "group", 12),
            ("沙盘室", "sand_table", 6),
            ("放松室", "relaxation", 3),
        ],
    ),
    (
        "高新区软件园职工心理服务站",
        "高新区",
        "滨江市高新区创新路9号软件园C座一楼",
        30.1880,
        120.2020,
        "0571-86001203",
        "周一至周五 9:00-17:30，周六 9:00-12:00",
        "园区内无障碍通道直达；可预约手语协助。",
        [
            ("个体咨询室一", "individual", 1),
            ("个体咨询室二", "individual", 1),
            ("团体辅导室", "group", 20),
            ("沙盘室", "sand_table", 6),
            ("减压放松室", "relaxation", 6),
        ],
    ),
    (
        "城北物流园职工驿站心理服务点",
        "江北区",
        "滨江市江北区城北物流园综合楼一楼职工驿站",
        30.3240,
        120.1190,
        "0571-86001204",
        "周一、三、五 9:00-17:00",
        "一楼，门口无台阶。",
        [("个体咨询室", "individual", 1), ("放松室", "relaxation", 2)],
    ),
]

WEEKDAY_HOURS = [(d, time(9), time(17, 30)) for d in range(5)]
SATURDAY = [(5, time(9), time(12))]
HOURS = {
    "江北区职工心理服务中心": WEEKDAY_HOURS + SATURDAY,
    "江南区职工心理服务站": WEEKDAY_HOURS,
    "高新区软件园职工心理服务站": WEEKDAY_HOURS + SATURDAY,
    "城北物流园职工驿站心理服务点": [(d, time(9), time(17)) for d in (0, 2, 4)],
}

LUNCH = (time(12), time(13, 30))

# phone -> (gender, languages, specialties, bio, [(station, weekdays, start, end)])
COUNSELORS = {
    "+8613800138101": (
        "female",
        "普通话、粤语",
        "职场压力、情绪管理、睡眠问题",
        "国家二级心理咨询师，从事职工心理服务十年，擅长认知行为疗法。",
        [("江北区职工心理服务中心", range(5), time(9), time(17, 30))],
    ),
    "+8613800138102": (
        "male",
        "普通话",
        "家庭关系、亲子沟通",
        "婚姻家庭咨询师，周一、周三上午在江北、下午在江南。",
        [
            ("江北区职工心理服务中心", (0, 2), time(9), time(12)),
            ("江南区职工心理服务站", (0, 2), time(13, 30), time(17, 30)),
            ("江南区职工心理服务站", (4,), time(9), time(17, 30)),
        ],
    ),
    "+8613800138103": (
        "female",
        "普通话、英语",
        "沙盘游戏、青年职工成长",
        "沙盘游戏治疗师，专注新就业形态劳动者心理支持。",
        [("江南区职工心理服务站", (1, 2, 3), time(9), time(17, 30))],
    ),
    "+8613800138104": (
        "male",
        "普通话",
        "职业倦怠、危机干预",
        "精神科背景心理治疗师，参与市心理援助热线督导。",
        [
            ("高新区软件园职工心理服务站", range(5), time(9), time(17, 30)),
            ("高新区软件园职工心理服务站", (5,), time(9), time(12)),
        ],
    ),
    "+8613800138105": (
        "female",
        "普通话、闽南话",
        "女职工心理健康、孕产期情绪",
        "女职工心理关爱项目负责人。",
        [
            ("高新区软件园职工心理服务站", (1, 3), time(9), time(17, 30)),
            ("城北物流园职工驿站心理服务点", (0, 2, 4), time(9), time(17)),
        ],
    ),
    "+8613800138106": (
        "male",
        "普通话",
        "一线职工压力、酒精问题",
        "长期服务交通运输和物流行业职工。",
        [
            ("江北区职工心理服务中心", (1, 3), time(9), time(17, 30)),
            ("江北区职工心理服务中心", (5,), time(9), time(12)),
        ],
    ),
}


def _next_weekday(today: date, weekday: int, at_least: int = 2) -> date:
    day = today + timedelta(days=at_least)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def _services(summary) -> dict[str, Service]:
    found = {s.code: s for s in db.session.scalars(select(Service))}
    for order, row in enumerate(SERVICES):
        (
            code,
            name,
            name_en,
            mode,
            kind,
            minutes,
            buffer,
            size,
            voucher,
            notice,
            cancel,
            desc,
            desc_en,
        ) = row
        if code in found:
            continue
        service = Service(
            code=code,
            name=name,
            name_en=name_en,
            mode=mode,
            room_kind=kind,
            duration_minutes=minutes,
            buffer_minutes=buffer,
            capacity=size,
            voucher_required=voucher,
            min_notice_minutes=notice,
            horizon_days=28,
            late_cancel_hours=cancel,
            description=desc,
            description_en=desc_en,
            sort_order=order,
        )
        db.session.add(service)
        found[code] = service
        summary.add("booking services")
    db.session.flush()
    return found


def _stations(summary) -> dict[str, Station]:
    found = {s.name: s for s in db.session.scalars(select(Station))}
    for name, district, address, lat, lon, phone, note, access, rooms in STATIONS:
        station = found.get(name)
        if station is None:
            station = Station(
                name=name,
                district=district,
                address=address,
                latitude=lat,
                longitude=lon,
                phone=phone,
                opening_note=note,
                accessibility=access,
            )
            db.session.add(station)
            db.session.flush()
            found[name] = station
            summary.add("stations")
            for weekday, opens, closes in HOURS[name]:
                db.session.add(
                    StationHours(station_id=station.id, weekday=weekday, opens=opens, closes=closes)
                )
        existing = set(db.session.scalars(select(Room.name).where(Room.station_id == station.id)))
        for room_name, kind, capacity in rooms:
            if room_name not in existing:
                db.session.add(
                    Room(station_id=station.id, name=room_name, kind=kind, capacity=capacity)
                )
                summary.add("rooms")
    db.session.flush()
    return found


def _new_year_closure(stations: dict[str, Station], today: date, summary) -> None:
    new_year = date(today.year + 1, 1, 1)
    for station in stations.values():
        exists = db.session.scalar(
            select(StationClosure.id).where(
                StationClosure.station_id == station.id, StationClosure.reason == "元旦假期闭站"
            )
        )
        if not exists:
            db.session.add(
                StationClosure(
                    station_id=station.id,
                    starts_at=sl.local_day_span(new_year).start,
                    ends_at=sl.local_day_span(new_year).end,
                    reason="元旦假期闭站",
                )
            )
            summary.add("station closures")


def _counselors(stations: dict[str, Station], summary) -> dict[str, User]:
    users = {
        u.phone: u for u in db.session.scalars(select(User).where(User.phone.in_(list(COUNSELORS))))
    }
    for phone, (gender, languages, specialties, bio, plan) in COUNSELORS.items():
        user = users.get(phone)
        if user is None:
            continue
        if db.session.scalar(
            select(CounselorProfile.id).where(CounselorProfile.user_id == user.id)
        ):
            continue
        db.session.add(
            CounselorProfile(
                user_id=user.id,
                gender=gender,
                languages=languages,
                specialties=specialties,
                bio=bio,
            )
        )
        summary.add("counsellor profiles")
        for station_id in dict.fromkeys(stations[name].id for name, *_rest in plan):
            db.session.add(CounselorStation(counselor_id=user.id, station_id=station_id))
        weekdays: set[int] = set()
        for name, days, start, end in plan:
            for weekday in days:
                db.session.add(
                    AvailabilityRule(
                        counselor_id=user.id,
                        station_id=stations[name].id,
                        weekday=weekday,
                        starts=start,
                        ends=end,
                        kind=AvailabilityKind.WORK.value,
                    )
                )
                summary.add("availability rules")
                if start < LUNCH[0] and end > LUNCH[1]:
                    weekdays.add(weekday)
        for weekday in sorted(weekdays):
            db.session.add(
                AvailabilityRule(
                    counselor_id=user.id,
                    station_id=None,
                    weekday=weekday,
                    starts=LUNCH[0],
                    ends=LUNCH[1],
                    kind=AvailabilityKind.BREAK.value,
                )
            )
    db.session.flush()
    return users


def _claim(rows) -> bool:
    return services._claim(rows)


def _group_session(
    title: str,
    service: Service,
    room: Room,
    counselor: User,
    starts_at: datetime,
    capacity: int,
    description: str,
    org_unit_id: int | None,
    summary,
) -> GroupSession | None:
    existing = db.session.scalar(select(GroupSession).where(GroupSession.title == title))
    if existing is not None:
        return existing
    session = GroupSession(
        service_id=service.id,
        station_id=room.station_id,
        room_id=room.id,
        counselor_id=counselor.id,
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=service.duration_minutes),
        capacity=capacity,
        org_unit_id=org_unit_id,
    )
    db.session.add(session)
    db.session.flush()
    end = session.ends_at + timedelta(minutes=service.buffer_minutes)
    ok = _claim(
        services._cell_rows(
            CellKind.COUNSELOR.value, counselor.id, starts_at, end, group_session_id=session.id
        )
    ) and _claim(
        services._cell_rows(
            CellKind.ROOM.value,
            room.id,
            starts_at,
            end,
            seats=range(1, room.seats + 1),
            group_session_id=session.id,
        )
    )
    if not ok:
        db.session.execute(
            BookingCell.__table__.delete().where(BookingCell.group_session_id == session.id)
        )
        db.session.delete(session)
        db.session.flush()
        return None
    summary.add("group sessions")
    return session


def _appointment(
    user: User,
    service: Service,
    station: Station,
    start: datetime,
    key: str,
    summary,
    *,
    counselor: User | None = None,
    session: GroupSession | None = None,
    room: Room | None = None,
) -> None:
    if db.session.scalar(
        select(Appointment.id).where(
            Appointment.user_id == user.id, Appointment.idempotency_key == key
        )
    ):
        return
    end = start + timedelta(minutes=service.duration_minutes)
    appointment = Appointment(
        reference=services._new_reference(),
        user_id=user.id,
        service_id=service.id,
        station_id=station.id,
        counselor_id=counselor.id if counselor else (session.counselor_id if session else None),
        room_id=room.id if room else (session.room_id if session else None),
        group_session_id=session.id if session else None,
        starts_at=start,
        ends_at=end,
        idempotency_key=key,
        created_by_id=user.id,
    )
    db.session.add(appointment)
    db.session.flush()
    buffer_end = end + timedelta(minutes=service.buffer_minutes)
    rows = services._cell_rows(
        CellKind.CLIENT.value, user.id, start, end, appointment_id=appointment.id
    )
    if counselor is not None and session is None:
        rows += services._cell_rows(
            CellKind.COUNSELOR.value, counselor.id, start, buffer_end, appointment_id=appointment.id
        )
    if room is not None and session is None:
        rows += services._cell_rows(
            CellKind.ROOM.value, room.id, start, buffer_end, appointment_id=appointment.id
        )
    if not _claim(rows):
        db.session.delete(appointment)
        db.session.flush()
        return
    if session is not None:
        session.seats_taken += 1
    summary.add("appointments")


def seed(summary) -> None:
    now = utcnow()
    today = services.local_today(now)
    catalogue = _services(summary)
    stations = _stations(summary)
    _new_year_closure(stations, today, summary)
    counselors = _counselors(stations, summary)
    workers = list(
        db.session.scalars(
            select(User)
            .where(User.phone.like("+86139000000%"), User.role == "worker")
            .order_by(User.phone)
            .limit(12)
        )
    )
    wang = counselors.get("+8613800138101")
    chen = counselors.get("+8613800138104")
    if wang is None or chen is None or len(workers) < 8:
        return
    north = stations["江北区职工心理服务中心"]
    hi_tech = stations["高新区软件园职工心理服务站"]

    def room(station: Station, name: str) -> Room:
        found = db.session.scalar(
            select(Room).where(Room.station_id == station.id, Room.name == name)
        )
        assert found is not None
        return found

    wednesday = _next_weekday(today, 2)
    friday = _next_weekday(today, 4)
    stress = _group_session(
        "职场压力管理团体辅导",
        catalogue["group"],
        room(north, "团体辅导室"),
        wang,
        sl.at(wednesday, time(14)),
        12,
        "认识压力来源，学习呼吸放松和时间管理技巧，与同伴交流经验。",
        None,
        summary,
    )
    metro = db.session.scalar(select(OrgUnit).where(OrgUnit.name == "滨江地铁集团工会"))
    sand = _group_session(
        "沙盘团队协作体验（地铁集团工会专场）",
        catalogue["sand_table"],
        room(hi_tech, "沙盘室"),
        chen,
        sl.at(friday, time(14, 30)),
        6,
        "以班组为单位共同完成沙盘作品，增进团队沟通与互相支持。",
        metro.id if metro else None,
        summary,
    )
    if stress is not None:
        for index, worker in enumerate(workers[1:6]):
            _appointment(
                worker, catalogue["group"], north, stress.starts_at, f"demo-group-{index}",
                summary, session=stress,
            )  # fmt: skip
    if sand is not None and metro is not None:
        members = [w for w in workers if w.org_unit_id == metro.id][:2]
        for index, worker in enumerate(members):
            _appointment(
                worker, catalogue["sand_table"], hi_tech, sand.starts_at, f"demo-sand-{index}",
                summary, session=sand,
            )  # fmt: skip
    tuesday = _next_weekday(today, 1, at_least=1)
    _appointment(
        workers[6], catalogue["phone"], north, sl.at(tuesday, time(10)), "demo-phone",
        summary, counselor=wang,
    )  # fmt: skip
    _appointment(
        workers[7], catalogue["relaxation"], north, sl.at(tuesday, time(9)), "demo-relax",
        summary, room=room(north, "音乐放松室"),
    )  # fmt: skip
