"""Care plans from the app: the member's plan; a counsellor opens a plan and books it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, api_spec, responses
from wellness.care import services
from wellness.care.models import GOALS_MAX, MAX_SESSIONS


class SessionOut(Out):
    number: int
    starts_at: datetime
    appointment_id: int | None


class PlanOut(Out):
    id: int
    status: str
    counselor_name: str | None
    goals: str
    planned_sessions: int
    measures: list[str]
    opened_at: datetime
    closed_at: datetime | None
    sessions: list[SessionOut]


class DueOut(Out):
    instrument: str
    due_at: datetime


class MyPlansOut(Out):
    plans: list[PlanOut]
    questionnaires_due: list[DueOut]


class NewPlan(Body):
    person_id: int = Field(ge=1, le=2_000_000_000)
    goals: str = Field(min_length=1, max_length=GOALS_MAX)
    planned_sessions: int = Field(6, ge=1, le=MAX_SESSIONS)
    measures: list[str] = Field(default_factory=lambda: ["phq9", "gad7"], max_length=6)
    source: Literal["flag", "call", "conversation", "booking", "manual"] = "manual"
    source_id: str | None = Field(None, max_length=40)


class BookSessions(Body):
    slot_ids: list[str] = Field(min_length=1, max_length=MAX_SESSIONS)
    voucher_code: str | None = Field(None, max_length=40)


def plan_out(episode, counselor_name: str | None) -> PlanOut:
    return PlanOut(
        id=episode.id,
        status=episode.status,
        counselor_name=counselor_name,
        goals=episode.goals,
        planned_sessions=episode.planned_sessions,
        measures=episode.measure_codes,
        opened_at=episode.opened_at,
        closed_at=episode.closed_at,
        sessions=[
            SessionOut(number=s.number, starts_at=s.starts_at, appointment_id=s.appointment_id)
            for s in services.sessions_of(episode.id)
        ],
    )


@bp.get("/care/mine")
@api_auth("worker")
@api_spec.validate(resp=responses("HTTP_200", MyPlansOut), tags=["care"])
def my_care_plans():
    """My care plans (open first) and the questionnaires my counsellor asked for."""
    member = current_user._get_current_object()
    plans = services.plans_for_member(member)
    return MyPlansOut(
        plans=[plan_out(p.episode, p.counselor.name if p.counselor else None) for p in plans],
        questionnaires_due=[
            DueOut(instrument=a.instrument, due_at=a.due_at)
            for a in services.due_for_member(member)
        ],
    )


@bp.post("/care/episodes")
@api_auth("counselor")
@api_spec.validate(
    json=NewPlan, resp=responses("HTTP_201", PlanOut, "HTTP_409", "HTTP_422"), tags=["care"]
)
def open_care_plan(json: NewPlan):
    """Open a care plan for a member (409 when you already have an open one for them)."""
    me = current_user._get_current_object()
    episode = services.open_episode(
        me,
        json.person_id,
        json.goals,
        json.planned_sessions,
        json.measures,
        json.source,
        json.source_id,
    )
    return plan_out(episode, me.name), 201


@bp.post("/care/episodes/<int:episode_id>/sessions")
@api_auth("counselor")
@api_spec.validate(
    json=BookSessions,
    resp=responses("HTTP_201", PlanOut, "HTTP_403", "HTTP_409", "HTTP_422"),
    tags=["care"],
)
def book_care_sessions(episode_id: int, json: BookSessions):
    """Book the plan's next sessions at these slot ids (your own times, in order). A time
    that was just taken stops the series with 409 naming ``slot_ids.N``; the sessions
    before it stay booked."""
    me = current_user._get_current_object()
    services.book_sessions(me, episode_id, json.slot_ids, json.voucher_code)
    return plan_out(services.get_episode(episode_id), me.name), 201
