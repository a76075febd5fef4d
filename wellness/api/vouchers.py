"""Vouchers in the JSON API: a member's own vouchers, and batch issuance for admins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from flask import url_for
from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, PageMeta, PageQuery, api_spec, page_of, responses
from wellness.vouchers import services

ServiceCode = Literal["individual", "group", "sand_table", "relaxation", "phone", "video"]
Day = Annotated[date, Field(strict=False, description="A Beijing calendar day, YYYY-MM-DD.")]


class VoucherOut(Out):
    code: str = Field(description="Grouped for reading aloud, e.g. 7KQD-M3XH-PW2A-9RTC.")
    status: Literal["unassigned", "active", "used_up", "expired", "revoked"]
    batch_name: str
    sessions: int
    remaining_sessions: int
    reserved_sessions: int
    service_codes: list[str]
    valid_from: datetime
    valid_until: datetime = Field(description="Exclusive: usable while now < valid_until.")
    last_day: date = Field(description="The last Beijing calendar day it can be used.")
    qr_content: str = Field(description="The link the wallet's QR code holds.")


class VoucherPage(Out):
    items: list[VoucherOut]
    meta: PageMeta


class BatchIn(Body):
    name: str = Field(min_length=1, max_length=120)
    sessions: int = Field(ge=1, le=services.MAX_SESSIONS)
    valid_until: Day
    valid_from: Day | None = None
    service_codes: list[ServiceCode] | None = Field(None, min_length=1, max_length=6)
    members: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, min_length=1, max_length=50_000, description="Mobile numbers or member ids."
    )
    org_unit_id: int | None = Field(
        None, ge=1, description="Issue to every member of this unit and the units below it."
    )
    bearer_count: int | None = Field(None, ge=1, le=services.MAX_BEARER)
    issuing_org_unit_id: int | None = Field(None, ge=1, description="Default: yours.")
    per_member_limit: int | None = Field(1, ge=1, le=100)
    limit_period: Literal["batch", "month", "quarter", "year"] = "batch"
    notes: str | None = Field(None, max_length=2000)


class BatchCreated(Out):
    id: int
    issued: int


def voucher_out(voucher) -> VoucherOut:
    return VoucherOut(
        code=voucher.display_code,
        status=voucher.state,
        batch_name=voucher.batch.name,
        sessions=voucher.sessions,
        remaining_sessions=voucher.remaining_sessions,
        reserved_sessions=voucher.reserved_sessions,
        service_codes=voucher.service_codes,
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        last_day=services.last_valid_day(voucher.valid_until),
        qr_content=url_for("vouchers.open_code", code=voucher.display_code, _external=True),
    )


@bp.get("/vouchers")
@api_auth("worker")
@api_spec.validate(
    query=PageQuery, resp=responses("HTTP_200", VoucherPage, "HTTP_422"), tags=["vouchers"]
)
def list_vouchers(query: PageQuery):
    """The member's own vouchers, soonest expiry first."""
    items, meta = page_of(services.own_vouchers_stmt(current_user.id), query)
    return VoucherPage(items=[voucher_out(v) for v in items], meta=meta)


@bp.post("/vouchers/batches")
@api_auth("admin")
@api_spec.validate(
    json=BatchIn,
    resp=responses("HTTP_201", BatchCreated, "HTTP_409", "HTTP_422"),
    tags=["vouchers"],
)
def create_voucher_batch(json: BatchIn):
    """Issue a batch at once, all or nothing: to members, to an org unit, or bearer codes.

    Give exactly one of ``members``, ``org_unit_id`` or ``bearer_count``. Any member that
    cannot get a voucher (unknown, duplicate, over the limit) refuses the whole request
    with 422 and the positions at fault in ``fields`` (``members.3``).
    """
    admin = current_user._get_current_object()
    spec = services.BatchSpec(
        name=json.name,
        sessions=json.sessions,
        valid_until=json.valid_until,
        valid_from=json.valid_from,
        service_codes=list(json.service_codes) if json.service_codes else None,
        org_unit_id=json.issuing_org_unit_id or admin.org_unit_id,
        per_member_limit=json.per_member_limit,
        limit_period=json.limit_period,
        notes=json.notes,
    )
    result = services.issue_batch_now(
        admin,
        spec,
        members=json.members,
        org_unit_id=json.org_unit_id,
        bearer_count=json.bearer_count,
    )
    return BatchCreated(id=result.batch.id, issued=result.issued), 201
