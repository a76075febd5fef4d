"""Hotline demo data: the standard taxonomies, a 24-hour seated roster (three 8-hour shifts
of two seats, which six counsellors can just staff) with a few real gaps (one
across the Sunday -> Monday boundary), four weeks of calls and three crisis interventions.
Idempotent: every part looks before it inserts; nothing is committed here."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from wellness.auth.models import Role, User
from wellness.database import utcnow
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import (
    AgeBand,
    CallKind,
    CrisisRecord,
    Gender,
    HotlineCall,
    HotlineTerm,
    Shift,
    ShiftAssignment,
    ShiftMode,
    ShiftTemplate,
    TermKind,
)
from wellness.hotline.roster import ALL_DAYS
from wellness.risk import services as risk_services

TEMPLATES = [
    # name, start, minutes, seats, mode
    ("夜间坐席", time(0, 0), 480, 2, ShiftMode.SEATED.value),
    ("日间坐席", time(8, 0), 480, 2, ShiftMode.SEATED.value),
    ("晚间坐席", time(16, 0), 480, 2, ShiftMode.SEATED.value),
]
HISTORY_DAYS = 35
STAFFED_DAYS_AHEAD = 10

SUMMARIES = {
    "work_stress": (
        "夜班连续加班一个月，感觉身心俱疲，担心被考核淘汰。倾听后一起梳理了可求助的渠道。"
    ),
    "family": "与爱人因孩子教育问题频繁争吵，情绪低落。建议预约服务站面询，一起想了沟通办法。",
    "emotion": "近两周情绪低落、兴趣减退，睡眠差。做了情绪评估，建议做一次自测并到服务站面询。",
    "labour_rights": "工资拖欠两个月，焦虑失眠。提供工会维权服务电话，并做了情绪疏导。",
    "sleep_health": "长期失眠，白天精神差，担心影响安全生产。介绍了睡眠卫生知识，建议就医。",
    "relationships": "与班组长关系紧张，觉得被针对。帮助来电者分析情况，讨论了沟通方式。",
    "money": "企业裁员后找工作不顺，房贷压力大。倾听并介绍了再就业服务信息。",
    "grief": "父亲上月去世，常常哭泣，无法专心工作。给予哀伤陪伴，建议后续面询。",
}


def _term(kind: str, code: str) -> HotlineTerm | None:
    return db.session.scalar(
        select(HotlineTerm).where(HotlineTerm.kind == kind, HotlineTerm.code == code)
    )


def _templates(now: datetime, summary) -> list[ShiftTemplate]:
    since = now - timedelta(days=HISTORY_DAYS)
    found = []
    for name, start, minutes, seats, mode in TEMPLATES:
        template = db.session.scalar(select(ShiftTemplate).where(ShiftTemplate.name == name))
        if template is None:
            template = ShiftTemplate(
                name=name,
                start_time=start,
                duration_minutes=minutes,
                weekdays=ALL_DAYS,
                seats_needed=seats,
                mode=mode,
                valid_from=services.local(since).date(),
            )
            db.session.add(template)
            db.session.flush()
            summary.add("hotline shift templates")
        created = services.materialise_template(template, since, now + timedelta(weeks=4))
        if created:
            summary.add("hotline shifts", created)
        found.append(template)
    return found


def _staff(now: datetime, counselors: list[User], summary) -> None:
    """Rotate the counsellors through the seated shifts; leave a few seats open so the
    coverage view has gaps to show (a weekend night across the week boundary, and the
    days after the first ten are left for sign-up)."""
    if db.session.scalar(select(func.count(ShiftAssignment.id))):
        return
    start = services.local(now - timedelta(days=HISTORY_DAYS)).replace(hour=0, minute=0)
    horizon = now + timedelta(days=STAFFED_DAYS_AHEAD)
    shifts = list(
        db.session.scalars(
            select(Shift)
            .where(Shift.starts_at >= start, Shift.starts_at < horizon)
            .order_by(Shift.starts_at, Shift.id)
        )
    )
    busy: dict[int, list[tuple[datetime, datetime]]] = {c.id: [] for c in counselors}
    n = len(counselors)
    count = 0
    for shift in shifts:
        day = services.local(shift.starts_at)
        day_index = (day.date() - start.date()).days
        future = shift.starts_at > now
        for seat in range(shift.seats_needed):
            # Open seats on purpose: Sunday evening into Monday night (week boundary), a
            # Wednesday night seat, and one night twelve days ago (for the compliance figure).
            if seat == 1 and (
                (future and day.weekday() == 6 and day.hour == 16)
                or (future and day.weekday() == 0 and day.hour == 0)
                or (future and day.weekday() == 2 and day.hour == 0)
                or (not future and day_index == HISTORY_DAYS - 12 and day.hour == 0)
            ):
                continue
            for offset in range(n):
                counselor = counselors[(day_index * 2 + day.hour // 8 * 2 + seat + offset) % n]
                spans = busy[counselor.id]
                if any(a < shift.ends_at and shift.starts_at < b for a, b in spans):
                    continue
                if any(a.counselor_id == counselor.id for a in shift.assignments):
                    continue
                db.session.add(
                    ShiftAssignment(
                        shift_id=shift.id, counselor_id=counselor.id, created_at=shift.created_at
                    )
                )
                shift.filled += 1
                spans.append((shift.starts_at, shift.ends_at))
                count += 1
                break
        db.session.flush()
        db.session.refresh(shift)
    summary.add("hotline shift assignments", count)


def _on_shift(at: datetime) -> tuple[Shift | None, int | None]:
    shift = db.session.scalar(
        select(Shift)
        .join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
        .where(
            Shift.starts_at <= at,
            Shift.ends_at > at,
            Shift.mode == ShiftMode.SEATED.value,
            ShiftAssignment.status == "active",
        )
        .limit(1)
    )
    if shift is None:
        return None, None
    staff = [a.counselor_id for a in shift.assignments if a.status == "active"]
    return shift, staff[int(at.timestamp()) % len(staff)]


def _calls(now: datetime, counselors: list[User], summary) -> None:
    if db.session.scalar(select(func.count(HotlineCall.id))):
        return
    rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not security
    topics = {t.code: t for t in services.list_terms(TermKind.TOPIC.value)}
    actions = {t.code: t for t in services.list_terms(TermKind.ACTION.value)}
    referrals = {t.code: t for t in services.list_terms(TermKind.REFERRAL.value)}
    common = [code for code in SUMMARIES if code in topics]
    repeat_numbers = ["13512340001", "13687650002", "02588881234"]
    hours = [0, 1, 2, 8, 9, 10, 12, 14, 16, 19, 20, 20, 21, 21, 22, 22, 23, 23]
    created = 0
    for index in range(84):
        day = rng.randrange(1, 28)
        local_start = services.local(now - timedelta(days=day)).replace(
            hour=rng.choice(hours), minute=rng.randrange(60), second=0, microsecond=0
        )
        started = local_start.astimezone(now.tzinfo)
        shift, counselor_id = _on_shift(started)
        if counselor_id is None:
            counselor_id = counselors[index % len(counselors)].id
        roll = rng.random()
        kind = (
            CallKind.ABANDONED.value
            if roll < 0.07
            else CallKind.SILENT.value
            if roll < 0.15
            else CallKind.ANSWERED.value
        )
        number = rng.choice(repeat_numbers) if rng.random() < 0.15 else None
        key = services.caller_key(services.caller_digits(number))
        minutes = rng.randrange(8, 55) if kind == CallKind.ANSWERED.value else rng.randrange(0, 3)
        call = HotlineCall(
            counselor_id=counselor_id,
            shift_id=shift.id if shift else None,
            outside_shift=shift is None,
            kind=kind,
            started_at=started,
            ended_at=started + timedelta(minutes=minutes),
            duration_seconds=minutes * 60,
            wait_seconds=rng.randrange(3, 90) if rng.random() < 0.6 else None,
            caller_key=key,
            age_band=rng.choice([a.value for a in AgeBand][1:]),
            gender=rng.choice([Gender.FEMALE.value, Gender.MALE.value, Gender.UNKNOWN.value]),
            created_at=started + timedelta(minutes=minutes + 2),
        )
        if kind == CallKind.ANSWERED.value and common:
            code = rng.choice(common)
            chosen = [topics[code]]
            if rng.random() < 0.3:
                chosen.append(topics[rng.choice(common)])
            call.topics = list({t.id: t for t in chosen}.values())
            call.summary = SUMMARIES[code]
            if rng.random() < 0.25 and "referred_station" in actions:
                call.action_id = actions["referred_station"].id
                call.referral_id = referrals["station"].id if "station" in referrals else None
            elif "listened" in actions:
                call.action_id = actions["listened"].id
        db.session.add(call)
        db.session.flush()
        call.repeat_index = services._repeat_index(key, None, started)
        created += 1
    summary.add("hotline calls", created)


def _crisis_call(started, counselor_id, member, topics, actions, minutes, summary_text):
    call = HotlineCall(
        counselor_id=counselor_id,
        kind=CallKind.ANSWERED.value,
        started_at=started,
        ended_at=started + timedelta(minutes=minutes),
        duration_seconds=minutes * 60,
        caller_member_id=member.id if member else None,
        member_consent=member is not None,
        caller_key=services._member_key(member) if member else None,
        age_band=AgeBand.A30_39.value,
        gender=Gender.MALE.value if member else Gender.FEMALE.value,
        summary=summary_text,
        action_id=actions["emergency"].id if "emergency" in actions else None,
        is_risk=True,
        created_at=started + timedelta(minutes=minutes),
    )
    shift, on_duty = _on_shift(started)
    call.shift_id = shift.id if shift else None
    call.outside_shift = shift is None
    call.counselor_id = on_duty or counselor_id
    call.topics = [t for code, t in topics.items() if code in ("suicide_risk", "emotion")]
    db.session.add(call)
    db.session.flush()
    return call


def _crises(now, counselors, summary) -> int:
    if db.session.scalar(select(func.count(CrisisRecord.id))):
        return 0
    topics = {t.code: t for t in services.list_terms(TermKind.TOPIC.value)}
    actions = {t.code: t for t in services.list_terms(TermKind.ACTION.value)}
    owner, colleague = counselors[0], counselors[1 % len(counselors)]
    member = db.session.scalar(
        select(User).where(User.phone == "+8613900000003", User.role == Role.WORKER.value)
    )
    # 1. A member, linked with consent, three hours ago: high risk, flag in the risk queue.
    started = now - timedelta(hours=3)
    call = _crisis_call(
        started,
        owner.id,
        member,
        topics,
        actions,
        40,
        "来电者近期失业、负债，说“活着没意思”，有过自杀念头但无具体计划。已做安全计划并约定明早回访。",
    )
    record = CrisisRecord(
        call_id=call.id, ideation=2, plan=1, means=0, attempts=0, hopelessness=3,
        score=6, computed_level="high", level="high",
        contact_reached_at=started + timedelta(minutes=35), contact_note="妻子（来电者同意）",
        follow_up_owner_id=owner.id, follow_up_due_at=now + timedelta(hours=18),
        follow_up_plan="明早9点电话回访，确认安全计划执行情况，协助预约服务站面询。",
        handover_to_id=colleague.id, handover_note="来电者已同意明早接听回访电话。",
        handed_over_at=started + timedelta(minutes=45),
        created_by_id=call.counselor_id, created_at=started + timedelta(minutes=40),
    )  # fmt: skip
    db.session.add(record)
    db.session.flush()
    if member is not None:
        flag = risk_services.raise_flag(
            member.id, source="hotline", source_id=call.id, level="high",
            rule="hotline:I2P1M0A0H3", now=started + timedelta(minutes=40),
        )  # fmt: skip
        record.risk_flag_id = flag.id
    # 2. Anonymous, nine days ago: critical, 120 called, help confirmed, follow-up done.
    started = now - timedelta(days=9, hours=2)
    call = _crisis_call(
        started,
        colleague.id,
        None,
        topics,
        actions,
        55,
        "来电者在江边，称已写好遗书。稳定情绪并确认位置，同时联动120和110，全程保持通话至救护人员到达。",
    )
    db.session.add(
        CrisisRecord(
            call_id=call.id, ideation=3, plan=2, means=2, attempts=1, hopelessness=3,
            in_progress=True, score=11, computed_level="critical", level="critical",
            police_called_at=started + timedelta(minutes=6),
            ambulance_called_at=started + timedelta(minutes=7),
            help_arrived_at=started + timedelta(minutes=31), help_note="民警到场后回电确认",
            follow_up_owner_id=colleague.id, follow_up_due_at=started + timedelta(hours=4),
            follow_up_done_at=started + timedelta(hours=3),
            follow_up_done_by_id=colleague.id,
            follow_up_note="医院急诊回复：来电者已接受治疗，情况稳定，已转介市精神卫生中心。",
            created_by_id=call.counselor_id, created_at=started + timedelta(minutes=55),
        )
    )  # fmt: skip
    # 3. Anonymous, two days ago: elevated, follow-up still open and overdue.
    started = now - timedelta(days=2, hours=5)
    call = _crisis_call(
        started,
        owner.id,
        None,
        topics,
        actions,
        25,
        "来电者偶有“不想活了”的想法，否认计划。约定两天后再次来电，留下了回拨时间。",
    )
    call.action_id = actions["listened"].id if "listened" in actions else None
    db.session.add(
        CrisisRecord(
            call_id=call.id, ideation=1, plan=0, means=0, attempts=0, hopelessness=2,
            score=3, computed_level="elevated", level="elevated",
            follow_up_owner_id=owner.id, follow_up_due_at=now - timedelta(hours=3),
            follow_up_plan="来电者同意周四晚8点再次来电，值班人员留意。",
            created_by_id=call.counselor_id, created_at=started + timedelta(minutes=25),
        )
    )  # fmt: skip
    db.session.flush()
    summary.add("hotline crisis records", 3)
    return 3


def seed(summary) -> None:
    now = utcnow()
    created = services.ensure_builtin_terms()
    if created:
        summary.add("hotline terms", created)
    counselors = list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.COUNSELOR.value, User.active.is_(True))
            .order_by(User.phone)
        )
    )
    if not counselors:
        return
    _templates(now, summary)
    _staff(now, counselors, summary)
    _calls(now, counselors, summary)
    _crises(now, counselors, summary)
