"""Instruments and self-assessments for the member app."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, PageMeta, PageQuery, api_spec, page_of, responses
from wellness.assessments import services
from wellness.assessments.instruments import Instrument
from wellness.errors import NotFound


class OptionOut(Out):
    value: int
    label: str


class ItemOut(Out):
    number: int
    text: str
    options: list[OptionOut]


class BandOut(Out):
    code: str
    min: int
    max: int
    label: str
    explanation: str


class InstrumentSummary(Out):
    code: str
    version: str
    name: str
    description: str
    minutes: int
    item_count: int


class InstrumentDetail(InstrumentSummary):
    instructions: str
    items: list[ItemOut]
    bands: list[BandOut]
    licence: str


class InstrumentList(Out):
    items: list[InstrumentSummary]


class SubmitRequest(Body):
    instrument: str = Field(min_length=1, max_length=20)
    answers: list[int] = Field(min_length=1, max_length=100)
    submission_key: str | None = Field(None, min_length=8, max_length=64)


class RiskOut(Out):
    flagged: bool
    level: str | None


class CrisisLine(Out):
    number: str
    label: str


class CrisisOut(Out):
    message: str
    lines: list[CrisisLine]


class AssessmentOut(Out):
    id: int
    instrument: str
    instrument_version: str
    language: str
    answers: list[int]
    total: int
    percent: int | None
    band: str
    band_label: str
    explanation: str
    created_at: datetime
    rescreen_due_at: datetime | None


class SubmitOut(AssessmentOut):
    risk: RiskOut
    crisis: CrisisOut | None


class AssessmentList(Out):
    items: list[AssessmentOut]
    meta: PageMeta


class AssessmentQuery(PageQuery):
    instrument: str | None = Field(None, max_length=20)


def _lang() -> str:
    return "en" if str(get_locale()) == "en" else "zh"


def _summary(inst: Instrument, lang: str) -> dict:
    return {
        "code": inst.code,
        "version": inst.version,
        "name": inst.text("name", lang),
        "description": inst.text("description", lang),
        "minutes": inst.minutes,
        "item_count": inst.item_count,
    }


def crisis_lines() -> list[CrisisLine]:
    lines = [
        CrisisLine(number="12356", label=_("National psychological assistance hotline (24 h)"))
    ]
    lines += [
        CrisisLine(number=line["number"], label=line["label"])
        for line in current_app.config["HOTLINE_NUMBERS"]
    ]
    lines += [
        CrisisLine(number="120", label=_("Medical emergency")),
        CrisisLine(number="110", label=_("Police")),
    ]
    return lines


def assessment_out(response, lang: str) -> dict:
    inst = services.instrument_or_404(response.instrument)
    band = inst.band(response.band)
    return {
        "id": response.id,
        "instrument": response.instrument,
        "instrument_version": response.instrument_version,
        "language": response.language,
        "answers": response.answers,
        "total": response.total,
        "percent": response.percent,
        "band": response.band,
        "band_label": band.label.get(lang) or band.label["zh"],
        "explanation": band.explanation.get(lang) or band.explanation["zh"],
        "created_at": response.created_at,
        "rescreen_due_at": response.rescreen_due_at,
    }


@bp.get("/instruments")
@api_auth()
@api_spec.validate(resp=responses("HTTP_200", InstrumentList), tags=["assessments"])
def list_instruments():
    """Questionnaires offered in the requested language (Accept-Language)."""
    lang = _lang()
    return InstrumentList(items=[_summary(i, lang) for i in services.available_instruments(lang)])


@bp.get("/instruments/<code>")
@api_auth()
@api_spec.validate(resp=responses("HTTP_200", InstrumentDetail), tags=["assessments"])
def get_instrument(code: str):
    """One questionnaire with its items, options and bands, localised."""
    lang = _lang()
    inst = services.instrument_or_404(code)
    if not inst.translation_verified(lang):
        raise NotFound(_("There is no questionnaire with this code."))
    return InstrumentDetail(
        **_summary(inst, lang),
        instructions=inst.text("instructions", lang),
        items=[
            {
                "number": item.number,
                "text": item.text.get(lang) or item.text["zh"],
                "options": [
                    {"value": o.value, "label": o.label.get(lang) or o.label["zh"]}
                    for o in item.options
                ],
            }
            for item in inst.items
        ],
        bands=[
            {
                "code": b.code,
                "min": b.min,
                "max": b.max,
                "label": b.label.get(lang) or b.label["zh"],
                "explanation": b.explanation.get(lang) or b.explanation["zh"],
            }
            for b in inst.bands
        ],
        licence=inst.licence,
    )


@bp.post("/assessments")
@api_auth("worker")
@api_spec.validate(
    json=SubmitRequest,
    resp=responses("HTTP_201", SubmitOut, "HTTP_409", "HTTP_422"),
    tags=["assessments"],
)
def submit(json: SubmitRequest):
    """Submit answers; the result says whether a counsellor will follow up, and carries the
    crisis lines when a critical item fired. Needs consent (403 consent_required)."""
    lang = _lang()
    submitted = services.submit_assessment(
        current_user._get_current_object(),
        json.instrument,
        json.answers,
        lang=lang,
        submission_key=json.submission_key,
    )
    response = submitted.response
    crisis = None
    if response.level == "critical":
        crisis = CrisisOut(
            message=_(
                "You do not have to go through this alone. If you might hurt yourself, "
                "please call now. A counsellor will contact you."
            ),
            lines=crisis_lines(),
        )
    flagged = response.risk or submitted.deteriorated
    level = response.level or ("elevated" if submitted.deteriorated else None)
    return SubmitOut(
        **assessment_out(response, lang), risk=RiskOut(flagged=flagged, level=level), crisis=crisis
    ), 201


@bp.get("/assessments")
@api_auth("worker")
@api_spec.validate(
    query=AssessmentQuery,
    resp=responses("HTTP_200", AssessmentList, "HTTP_422"),
    tags=["assessments"],
)
def list_assessments(query: AssessmentQuery):
    """My results, newest first."""
    stmt = services.responses_stmt(current_user.id)
    if query.instrument:
        from wellness.assessments.models import AssessmentResponse

        stmt = stmt.where(AssessmentResponse.instrument == query.instrument)
    items, meta = page_of(stmt, query)
    lang = _lang()
    return AssessmentList(items=[assessment_out(r, lang) for r in items], meta=meta)


@bp.get("/assessments/<int:response_id>")
@api_auth("worker")
@api_spec.validate(resp=responses("HTTP_200", AssessmentOut), tags=["assessments"])
def get_assessment(response_id: int):
    """One of my results (another member's id is 404)."""
    response = services.get_own_response(current_user._get_current_object(), response_id)
    return AssessmentOut(**assessment_out(response, _lang()))
