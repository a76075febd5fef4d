"""Care-plan use cases. One commit per use case; booking goes through the booking
services (which commit each appointment themselves), so a session series is booked one
session at a time: a session whose time was just taken stops the series with a clear error
naming it, and the sessions booked before it stay booked and linked (nothing is lost).

Who may act: the episode's counsellor changes it; admins read it (supervision). Members
see their own plan without scores other than their own results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, exists, select, update

from wellness import audit
from wellness.assessments.instruments import get_instrument, list_instruments
from wellness.assessments.models import AssessmentResponse
from wellness.auth.models import Role, User
from wellness.booking import services as booking
from wellness.booking import slots as sl
from wellness.care.models import (
    GOALS_MAX,
    MAX_SESSIONS,
    NOTE_MAX,
    CareEpisode,
    CareSession,
    EpisodeSource,
    EpisodeStatus,
    MeasureAssignment,
    Outcome,
)
from wellness.care.progress import Progress, Score, progress_of
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted, WellnessError
from wellness.extensions import db
from wellness.notify import services as notify

OPEN = EpisodeStatus.OPEN.value
MAX_REPEATS = 26


def _lead() -> timedelta:
    return timedelta(hours=current_app.config["CARE_MEASURE_LEAD_HOURS"])


def known_instruments() -> set[str]:
    return {inst.code for inst in list_instruments()}


def _check_counselor(actor: User) -> None:
    if actor.role != Role.COUNSELOR.value:
        raise NotPermitted(str(_l("Only counsellors can do this.")))


def _member(person_id: int | None) -> User:
    person = db.session.get(User, person_id) if person_id else None
    if person is None or person.role != Role.WORKER.value or not person.active:
        raise InvalidInput(str(_l("Choose an active member.")), {"person_id": "invalid"})
    return person


def _measures(codes) -> list[str]:
    wanted = [str(c).strip() for c in (codes or []) if str(c).strip()]
    unknown = [c for c in wanted if c not in known_instruments()]
    if unknown:
        raise InvalidInput(
            str(_l("Unknown questionnaire: %(codes)s.", codes=", ".join(unknown))),
            {"measures": "unknown"},
        )
    return list(dict.fromkeys(wanted))


# ------------------------------------------------------------------------------ episodes


def open_episode(
    counselor: User,
    person_id: int | None,
    goals: str | None,
    planned_sessions: int | None = 6,
    measures=("phq9", "gad7"),
    source: str = EpisodeSource.MANUAL.value,
    source_id: str | int | None = None,
    now: datetime | None = None,
) -> CareEpisode:
    now = now or utcnow()
    _check_counselor(counselor)
    person = _member(person_id)
    text = (goals or "").strip()
    if not text:
        raise InvalidInput(str(_l("Write the goals of the plan.")), {"goals": "required"})
    if len(text) > GOALS_MAX:
        raise InvalidInput(
            str(_l("The goals can be at most %(n)s characters.", n=GOALS_MAX)),
            {"goals": "too_long"},
        )
    if not isinstance(planned_sessions, int) or not 1 <= planned_sessions <= MAX_SESSIONS:
        raise InvalidInput(
            str(_l("Plan between 1 and %(n)s sessions.", n=MAX_SESSIONS)),
            {"planned_sessions": "out_of_range"},
        )
    if source not in {s.value for s in EpisodeSource}:
        raise InvalidInput(str(_l("Unknown source of the plan.")), {"source": "invalid"})
    codes = _measures(measures)
    if db.session.scalar(
        select(CareEpisode.id).where(
            CareEpisode.person_id == person.id,
            CareEpisode.counselor_id == counselor.id,
            CareEpisode.status == OPEN,
        )
    ):
        raise Conflict(
            str(_l("You already have an open care plan for this person.")),
            {"person_id": "open_plan"},
        )
    episode = CareEpisode(
        person_id=person.id,
        counselor_id=counselor.id,
        source=source,
        source_id=str(source_id)[:40] if source_id not in (None, "") else None,
        goals=text,
        planned_sessions=planned_sessions,
        measures=",".join(codes),
        status=OPEN,
        opened_at=now,
    )
    db.session.add(episode)
    db.session.flush()
    audit.record(counselor, "care.open", episode, {"person": person.id, "source": source})
    with force_locale(person.locale or "zh"):
        notify.queue(
            person,
            _("Your counsellor made a care plan with you"),
            _("Sign in to see your plan and your next sessions."),
            link="/care/mine",
            dedupe_key=f"care.open:{episode.id}",
            sms_text=_("[Workers' wellbeing] Your counsellor made a care plan with you."),
            now=now,
        )
    db.session.commit()
    return episode


def get_episode(episode_id: int) -> CareEpisode:
    episode = db.session.get(CareEpisode, episode_id)
    if episode is None:
        raise NotFound(str(_l("No such care plan.")))
    return episode


def episode_for_staff(actor: User, episode_id: int) -> CareEpisode:
    """The episode's counsellor, or an admin (read-only); audited read."""
    episode = get_episode(episode_id)
    if actor.role == Role.ADMIN.value or actor.id == episode.counselor_id:
        audit.record(actor, "care.read", episode)
        db.session.commit()
        return episode
    raise NotPermitted(str(_l("Only the counsellor of this care plan can open it.")))


def _own_open(counselor: User, episode_id: int) -> CareEpisode:
    episode = get_episode(episode_id)
    if episode.counselor_id != counselor.id:
        raise NotPermitted(str(_l("Only the counsellor of this care plan can change it.")))
    if episode.status != OPEN:
        raise Conflict(str(_l("This care plan is closed.")), {"episode": "closed"})
    return episode


def my_episodes(counselor: User) -> list[CareEpisode]:
    return list(
        db.session.scalars(
            select(CareEpisode)
            .where(CareEpisode.counselor_id == counselor.id, CareEpisode.status == OPEN)
            .order_by(CareEpisode.opened_at.desc())
        )
    )


def sessions_of(episode_id: int) -> list[CareSession]:
    return list(
        db.session.scalars(
            select(CareSession)
            .where(CareSession.episode_id == episode_id)
            .order_by(CareSession.number)
        )
    )


def close_episode(
    counselor: User, episode_id: int, outcome: str | None, note: str | None = None, now=None
) -> CareEpisode:
    now = now or utcnow()
    episode = _own_open(counselor, episode_id)
    if outcome not in {o.value for o in Outcome}:
        raise InvalidInput(str(_l("Choose the outcome of the plan.")), {"outcome": "invalid"})
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise InvalidInput(
            str(_l("The note can be at most %(n)s characters.", n=NOTE_MAX)), {"note": "too_long"}
        )
    done = db.session.execute(
        update(CareEpisode)
        .where(CareEpisode.id == episode.id, CareEpisode.status == OPEN)
        .values(
            status=EpisodeStatus.CLOSED.value, closed_at=now, outcome=outcome, outcome_note=note
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        db.session.rollback()
        raise Conflict(str(_l("This care plan is closed.")), {"episode": "closed"})
    # Measures not yet sent for sessions that will not happen are withdrawn.
    db.session.execute(
        delete(MeasureAssignment).where(
            MeasureAssignment.episode_id == episode.id, MeasureAssignment.sent_at.is_(None)
        )
    )
    audit.record(counselor, "care.close", episode, {"outcome": outcome})
    db.session.commit()
    db.session.refresh(episode)
    return episode


# ------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class Proposal:
    number: int
    day: date
    slot: object | None  # booking's SlotView, or None when the counsellor has no time then


def propose_series(
    counselor: User,
    episode: CareEpisode,
    station_id: int,
    service_code: str,
    first_day: date,
    at: time,
    now: datetime | None = None,
) -> list[Proposal]:
    """For each remaining session, week by week from ``first_day``: the counsellor's first
    open slot at or after ``at`` (Beijing time) on that day."""
    now = now or utcnow()
    booked = len(sessions_of(episode.id))
    out = []
    for offset in range(max(0, episode.planned_sessions - booked)):
        day = first_day + timedelta(weeks=offset)
        found = booking.search_slots(station_id, service_code, day, now=now)
        mine = [
            s
            for s in found.slots
            if s.counselor is not None
            and s.counselor.id == counselor.id
            and s.starts_at.astimezone(sl.LOCAL_TZ).time() >= at
        ]
        out.append(Proposal(booked + offset + 1, day, mine[0] if mine else None))
    return out


def book_sessions(
    counselor: User,
    episode_id: int,
    slot_ids: list[str],
    voucher_code: str | None = None,
    now: datetime | None = None,
) -> list[CareSession]:
    """Book the next sessions of the plan at the given slots, in order."""
    now = now or utcnow()
    episode = _own_open(counselor, episode_id)
    ids = [str(s).strip() for s in slot_ids if str(s).strip()]
    existing = sessions_of(episode.id)
    if not ids:
        raise InvalidInput(str(_l("Choose a time for each session.")), {"slot_ids": "required"})
    if len(existing) + len(ids) > episode.planned_sessions:
        raise InvalidInput(
            str(_l("The plan has %(n)s sessions.", n=episode.planned_sessions)),
            {"slot_ids": "too_many"},
        )
    if len(set(ids)) != len(ids):
        raise InvalidInput(str(_l("Each session needs its own time.")), {"slot_ids": "repeated"})
    member = db.session.get(User, episode.person_id)
    summaries = []
    for index, slot_id in enumerate(ids):
        field = f"slot_ids.{index}"
        try:
            summary = booking.describe_slot(slot_id)
        except WellnessError:
            raise InvalidInput(
                str(_l("Session %(n)s: that time does not exist.", n=len(existing) + index + 1)),
                {field: "invalid"},
            ) from None
        if summary.counselor is None or summary.counselor.id != counselor.id:
            raise InvalidInput(
                str(
                    _l("Session %(n)s: choose one of your own times.", n=len(existing) + index + 1)
                ),
                {field: "not_yours"},
            )
        summaries.append(summary)
    made: list[CareSession] = []
    for index, (slot_id, summary) in enumerate(zip(ids, summaries, strict=True)):
        number = len(existing) + index + 1
        try:
            result = booking.book(
                member,
                slot_id,
                now=now,
                voucher_code=voucher_code or None,
                idempotency_key=f"care:{episode.id}:{number}",
                actor=counselor,
            )
        except WellnessError as error:
            db.session.rollback()
            booked = (
                _("Sessions %(a)s-%(b)s are booked.", a=len(existing) + 1, b=number - 1)
                if made
                else ""
            )
            raise Conflict(
                " ".join(
                    part
                    for part in (
                        str(_l("Session %(n)s could not be booked:", n=number)),
                        error.message,
                        booked,
                    )
                    if part
                ),
                {f"slot_ids.{index}": "taken"},
            ) from None
        session = CareSession(
            episode_id=episode.id,
            number=number,
            appointment_id=result.appointment.id,
            starts_at=summary.starts_at,
        )
        db.session.add(session)
        db.session.flush()
        for code in episode.measure_codes:
            db.session.add(
                MeasureAssignment(
                    member_id=episode.person_id,
                    counselor_id=counselor.id,
                    episode_id=episode.id,
                    session_id=session.id,
                    instrument=code,
                    due_at=summary.starts_at,
                    opens_at=summary.starts_at - _lead(),
                    created_at=now,
                )
            )
        audit.record(counselor, "care.book_session", episode, {"number": number})
        db.session.commit()
        made.append(session)
    return made


# ------------------------------------------------------------------------------ measures


def assign(
    counselor: User,
    member_id: int | None,
    instrument: str | None,
    first_due: datetime,
    every_days: int | None = None,
    times: int = 1,
    now: datetime | None = None,
) -> list[MeasureAssignment]:
    """Ask a client to fill in ``instrument`` by ``first_due``, then every ``every_days``
    days, ``times`` in all."""
    now = now or utcnow()
    _check_counselor(counselor)
    member = _member(member_id)
    if instrument not in known_instruments():
        raise InvalidInput(str(_l("Choose a questionnaire.")), {"instrument": "unknown"})
    if first_due <= now:
        raise InvalidInput(str(_l("Choose a date in the future.")), {"first_due": "past"})
    if not isinstance(times, int) or not 1 <= times <= MAX_REPEATS:
        raise InvalidInput(
            str(_l("Repeat between 1 and %(n)s times.", n=MAX_REPEATS)), {"times": "out_of_range"}
        )
    if times > 1 and (not isinstance(every_days, int) or not 1 <= every_days <= 90):
        raise InvalidInput(str(_l("Repeat every 1 to 90 days.")), {"every_days": "out_of_range"})
    made = []
    for k in range(times):
        due = first_due + timedelta(days=(every_days or 0) * k)
        row = MeasureAssignment(
            member_id=member.id,
            counselor_id=counselor.id,
            instrument=instrument,
            due_at=due,
            # The first is open at once; the rest open a lead time before they are due.
            opens_at=now if k == 0 else max(now, due - _lead()),
            created_at=now,
        )
        db.session.add(row)
        made.append(row)
    db.session.flush()
    audit.record(
        counselor, "care.assign", ("users", member.id), {"instrument": instrument, "times": times}
    )
    db.session.commit()
    return made


def _completed():
    """SQL: the member submitted the instrument inside the assignment's window."""
    return exists().where(
        AssessmentResponse.user_id == MeasureAssignment.member_id,
        AssessmentResponse.instrument == MeasureAssignment.instrument,
        AssessmentResponse.created_at >= MeasureAssignment.opens_at,
    )


def overdue_for(counselor: User, now: datetime | None = None) -> list[MeasureAssignment]:
    """The counsellor's clients who did not fill in a questionnaire that is past due."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(MeasureAssignment)
            .where(
                MeasureAssignment.counselor_id == counselor.id,
                MeasureAssignment.due_at < now,
                ~_completed(),
            )
            .order_by(MeasureAssignment.due_at)
            .limit(300)
        )
    )


def due_for_member(member: User, now: datetime | None = None) -> list[MeasureAssignment]:
    """Questionnaires the member was asked for and has not filled in yet."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(MeasureAssignment)
            .where(
                MeasureAssignment.member_id == member.id,
                MeasureAssignment.opens_at <= now,
                MeasureAssignment.due_at >= now - timedelta(days=7),
                ~_completed(),
            )
            .order_by(MeasureAssignment.due_at)
        )
    )


def send_due_measures(now: datetime | None = None, limit: int = 500) -> int:
    """Invite members to questionnaires whose window has opened; each invitation once
    (a conditional UPDATE claims it; the outbox dedupe key backs it up)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(MeasureAssignment.id)
            .where(
                MeasureAssignment.sent_at.is_(None),
                MeasureAssignment.opens_at <= now,
                MeasureAssignment.due_at > now,
            )
            .limit(limit)
        )
    )
    sent = 0
    for row_id in due:
        won = db.session.execute(
            update(MeasureAssignment)
            .where(MeasureAssignment.id == row_id, MeasureAssignment.sent_at.is_(None))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not won:
            continue
        row = db.session.get(MeasureAssignment, row_id)
        member = db.session.get(User, row.member_id)
        if member is None or not member.active:
            continue
        inst = get_instrument(row.instrument)
        lang = member.locale or "zh"
        with force_locale(lang):
            notify.queue(
                member,
                _("Your counsellor asks you to fill in %(name)s", name=inst.short_name),
                _("It takes a few minutes and helps your counsellor prepare your next session."),
                link=f"/assessments/{row.instrument}",
                dedupe_key=f"care.measure:{row.id}",
                sms_text=_(
                    "[Workers' wellbeing] Your counsellor asks you to fill in a short "
                    "questionnaire. Please sign in."
                ),
                now=now,
            )
        sent += 1
    db.session.commit()
    return sent


# ------------------------------------------------------------------------------ progress


def progress(episode: CareEpisode) -> list[Progress]:
    """Each measure's scores since the episode opened, with reliable change."""
    out = []
    for code in episode.measure_codes:
        rows = db.session.execute(
            select(AssessmentResponse.created_at, AssessmentResponse.total).where(
                AssessmentResponse.user_id == episode.person_id,
                AssessmentResponse.instrument == code,
                AssessmentResponse.created_at >= episode.opened_at - timedelta(days=14),
                *(
                    [AssessmentResponse.created_at <= episode.closed_at]
                    if episode.closed_at
                    else []
                ),
            )
        ).all()
        out.append(progress_of(get_instrument(code), [Score(at, total) for at, total in rows]))
    return out


# ------------------------------------------------------------------------------ members


@dataclass(frozen=True)
class MemberPlan:
    episode: CareEpisode
    counselor: User | None
    sessions: list[CareSession]


def plans_for_member(member: User) -> list[MemberPlan]:
    episodes = db.session.scalars(
        select(CareEpisode)
        .where(CareEpisode.person_id == member.id)
        .order_by(and_(CareEpisode.status == OPEN).desc(), CareEpisode.opened_at.desc())
        .limit(10)
    ).all()
    return [
        MemberPlan(e, db.session.get(User, e.counselor_id), sessions_of(e.id)) for e in episodes
    ]


def people_by_id(ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def delete_for(person_id: int) -> None:
    """Erase a member's plans and questionnaires (joins the caller's transaction)."""
    ids = list(db.session.scalars(select(CareEpisode.id).where(CareEpisode.person_id == person_id)))
    db.session.execute(delete(MeasureAssignment).where(MeasureAssignment.member_id == person_id))
    if ids:
        db.session.execute(delete(CareSession).where(CareSession.episode_id.in_(ids)))
        db.session.execute(delete(CareEpisode).where(CareEpisode.id.in_(ids)))
