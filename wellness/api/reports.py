"""Report summary for admins' tools: the same suppressed figures as the dashboard."""

from __future__ import annotations

from pydantic import BaseModel, Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Out, Query, api_spec, responses
from wellness.reports import services


class SummaryQuery(Query):
    from_: str | None = Field(
        None, alias="from", max_length=10, description="YYYY-MM or YYYY-MM-DD"
    )
    to: str | None = Field(None, max_length=10, description="YYYY-MM or YYYY-MM-DD")
    org_unit_id: int | None = Field(None, ge=0, le=2_147_483_647)
    children: bool = True
    instrument: str | None = Field(None, max_length=20)


class InstrumentFigures(BaseModel):
    instrument: str
    screenings: int | None = Field(description="people, once per month; null when hidden")
    assessments: int | None
    moderate_or_worse: int | None
    share_moderate_or_worse: float | None
    mean_score: float | None


class RiskFigures(BaseModel):
    level: str
    flags: int | None
    claimed: int | None
    claimed_in_time_percent: float | None
    escalated: int | None
    median_minutes_to_claim: float | None
    median_minutes_to_resolve: float | None


class AppointmentFigures(BaseModel):
    booked: int | None
    attended: int | None
    no_show: int | None
    cancelled: int | None
    not_yet_marked: int | None
    room_use_percent: float | None


class VoucherFigures(BaseModel):
    vouchers_issued: int | None
    sessions_issued: int | None
    sessions_used: int | None
    sessions_expired: int | None


class SummaryOut(Out):
    first_month: str = Field(description="YYYY-MM, the first whole month counted")
    last_month: str = Field(description="YYYY-MM, the last whole month counted (it has ended)")
    org_unit_id: int | None
    with_children: bool
    k: int = Field(description="figures resting on fewer than k people are null")
    assessments: list[InstrumentFigures]
    risk_flags: list[RiskFigures]
    appointments: AppointmentFigures | None
    vouchers: VoucherFigures | None
    hotline_calls: int | None
    hidden_cells: int = Field(description="how many figures of the dashboard are hidden")


@bp.get("/reports/summary")
@api_auth("admin")
@api_spec.validate(
    query=SummaryQuery, resp=responses("HTTP_200", SummaryOut, "HTTP_422"), tags=["reports"]
)
def reports_summary(query: SummaryQuery):
    """Totals over whole months for an organisation (with its children by default).

    Every figure resting on fewer than k distinct people, or that would let one be worked
    out, is null: the same suppression as the dashboard, tables and CSV files.
    """
    filters = services.build_filters(
        start=query.from_,
        end=query.to,
        org_unit_id=query.org_unit_id,
        with_children=query.children,
        instrument=query.instrument,
    )
    return SummaryOut.model_validate(services.summary(filters))
