"""The counsellor queue for the app: list, claim, resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, PageMeta, PageQuery, api_spec, page_of, responses
from wellness.auth.phones import mask_phone
from wellness.database import utcnow
from wellness.risk import services, transfers


class FlagOut(Out):
    id: int
    level: str
    status: str
    rule: str
    source: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    escalated: bool
    person_name: str | None
    person_phone_masked: str | None
    claimed_by_id: int | None
    claimed_by_me: bool
    callback_preference: str | None


class CaseloadOut(Out):
    counselor_id: int
    name: str
    open_cases: int


class QueueOut(Out):
    items: list[FlagOut]
    meta: PageMeta
    caseload: list[CaseloadOut]


TransferReasonCode = Literal["workload", "expertise", "availability", "person_asked", "unclaimed"]


class TransferRequest(Body):
    to_user_id: int
    reason: TransferReasonCode
    note: str = Field("", max_length=1000)


class QueueQuery(PageQuery):
    level: str | None = Field(None, pattern="^(critical|high|elevated)$")
    mine: bool = False


OutcomeCode = Literal[
    "safety_plan",
    "appointment_booked",
    "referred_hospital",
    "referred_hotline",
    "not_reachable",
    "no_risk",
]


class ResolveRequest(Body):
    outcome: OutcomeCode
    note: str = Field("", max_length=4000)
    follow_up_days: int | None = Field(None, ge=1, le=365)
    follow_up_kind: Literal["contact", "reassessment"] | None = None


def flag_out(flag, people: dict, now: datetime) -> FlagOut:
    person = people.get(flag.person_id)
    return FlagOut(
        id=flag.id,
        level=flag.level,
        status=flag.status,
        rule=flag.rule,
        source=flag.source,
        created_at=flag.created_at,
        due_at=flag.due_at,
        overdue=flag.status == "open" and flag.due_at <= now,
        escalated=flag.escalated_at is not None,
        person_name=person.name if person else None,
        person_phone_masked=mask_phone(person.phone) if person else None,
        claimed_by_id=flag.claimed_by_id,
        claimed_by_me=flag.claimed_by_id == current_user.id,
        callback_preference=flag.callback_preference,
    )


@bp.get("/risk/queue")
@api_auth("counselor")
@api_spec.validate(
    query=QueueQuery, resp=responses("HTTP_200", QueueOut, "HTTP_422"), tags=["risk"]
)
def risk_queue(query: QueueQuery):
    """Unresolved flags, most severe first, then by claim deadline."""
    stmt = services.queue_stmt(
        current_user, services.QueueFilter(level=query.level, mine=query.mine)
    )
    flags, meta = page_of(stmt, query)
    people = services.people_by_id(f.person_id for f in flags)
    now = utcnow()
    loads = transfers.caseloads()
    caseload = [
        CaseloadOut(counselor_id=c.id, name=c.name, open_cases=loads.get(c.id, 0))
        for c in transfers.active_counselors()
    ]
    return QueueOut(items=[flag_out(f, people, now) for f in flags], meta=meta, caseload=caseload)


@bp.post("/risk/flags/<int:flag_id>/claim")
@api_auth("counselor")
@api_spec.validate(resp=responses("HTTP_200", FlagOut, "HTTP_409"), tags=["risk"])
def claim_flag(flag_id: int):
    """Claim a flag; 409 names the counsellor who already holds it."""
    flag = services.claim(current_user._get_current_object(), flag_id)
    return flag_out(flag, services.people_by_id([flag.person_id]), utcnow())


@bp.post("/risk/flags/<int:flag_id>/resolve")
@api_auth("counselor")
@api_spec.validate(
    json=ResolveRequest, resp=responses("HTTP_200", FlagOut, "HTTP_409", "HTTP_422"), tags=["risk"]
)
def resolve_flag(flag_id: int, json: ResolveRequest):
    """Resolve a flag you hold, with a required outcome and an optional follow-up."""
    flag = services.resolve(
        current_user._get_current_object(),
        flag_id,
        json.outcome,
        json.note,
        json.follow_up_days,
        json.follow_up_kind or ("contact" if json.follow_up_days else None),
    )
    return flag_out(flag, services.people_by_id([flag.person_id]), utcnow())


@bp.post("/risk/flags/<int:flag_id>/transfer")
@api_auth("counselor", "admin")
@api_spec.validate(
    json=TransferRequest,
    resp=responses("HTTP_200", FlagOut, "HTTP_403", "HTTP_409", "HTTP_422"),
    tags=["risk"],
)
def transfer_flag(flag_id: int, json: TransferRequest):
    """Hand a case to another counsellor: the holder transfers, a supervisor (admin)
    assigns or reassigns. 409 when someone else handed it over first or the target already
    holds it; 422 names ``to_user_id`` for an inactive user or a non-counsellor."""
    flag = transfers.transfer(
        current_user._get_current_object(), flag_id, json.to_user_id, json.reason, json.note
    )
    return flag_out(flag, services.people_by_id([flag.person_id]), utcnow())
