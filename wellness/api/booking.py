"""Stations, services, slots and appointments for the member app (DESIGN.md section 4).

The views call the same services as the pages. Slot ids are stable strings the API takes
back (``c<counsellor>-<station>-<service>-<yyyymmddhhmm>``, ``r...`` for a room seat,
``g<id>`` for a group session); booking re-validates them.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from flask import request
from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, PageMeta, PageQuery, api_spec, page_of, responses
from wellness.booking import services
from wellness.database import utcnow
from wellness.transactions import reads_first


class StationsQuery(PageQuery):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    district: str | None = Field(None, max_length=60)


class StationOut(Out):
    id: int
    name: str
    district: str
    address: str
    latitude: float
    longitude: float
    phone: str
    opening_note: str | None
    accessibility: str | None
    distance_km: float | None


class StationList(Out):
    items: list[StationOut]
    meta: PageMeta


class ServiceOut(Out):
    code: str
    name: str
    description: str | None
    mode: str
    remote: bool
    duration_minutes: int
    min_notice_minutes: int
    horizon_days: int
    late_cancel_hours: int
    voucher_required: bool


class ServiceList(Out):
    items: list[ServiceOut]
    meta: PageMeta


class SlotsQuery(PageQuery):
    station: int = Field(ge=1, le=2_000_000_000)
    service: str = Field(min_length=1, max_length=30)
    date: date


class CounselorOut(Out):
    id: int
    name: str
    gender: str | None
    languages: str
    specialties: str


class SlotOut(Out):
    id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    remaining: int
    capacity: int
    counselor: CounselorOut | None
    title: str | None
    members_only: str | None


class SlotList(Out):
    items: list[SlotOut]
    meta: PageMeta


class BookRequest(Body):
    slot_id: str = Field(min_length=1, max_length=60)
    voucher_code: str | None = Field(None, min_length=1, max_length=40)
    waitlist: bool = False


class AppointmentOut(Out):
    id: int
    reference: str
    status: str
    service: str
    service_name: str
    station_id: int
    station_name: str
    address: str
    station_phone: str
    counselor_name: str | None
    room_name: str | None
    group_session_id: int | None
    starts_at: datetime
    ends_at: datetime
    hold_expires_at: datetime | None
    voucher_code: str | None
    can_cancel: bool
    cancel_deadline: datetime
    policy: str


class AppointmentList(Out):
    items: list[AppointmentOut]
    meta: PageMeta


class WaitlistOut(Out):
    id: int
    status: str
    position: int
    group_session_id: int | None
    station_id: int
    created_at: datetime


class CancelRequest(Body):
    reason: str | None = Field(None, max_length=200)


def _page(items: list, query: PageQuery) -> tuple[list, PageMeta]:
    total = len(items)
    start = (query.page - 1) * query.per_page
    pages = (total + query.per_page - 1) // query.per_page
    meta = PageMeta(page=query.page, per_page=query.per_page, total=total, pages=pages)
    return items[start : start + query.per_page], meta


def appointment_out(info: services.AppointmentInfo) -> AppointmentOut:
    return AppointmentOut(
        id=info.id,
        reference=info.reference,
        status=info.status,
        service=info.service_code,
        service_name=info.service_name,
        station_id=info.station_id,
        station_name=info.station_name,
        address=info.address,
        station_phone=info.station_phone,
        counselor_name=info.counselor_name,
        room_name=info.room_name,
        group_session_id=info.group_session_id,
        starts_at=info.starts_at,
        ends_at=info.ends_at,
        hold_expires_at=info.hold_expires_at,
        voucher_code=info.voucher_code,
        can_cancel=info.can_cancel,
        cancel_deadline=info.cancel_deadline,
        policy=info.policy,
    )


def _out(appointment, now: datetime) -> AppointmentOut:
    return appointment_out(services.appointment_info(services.appointment_view(appointment), now))


@bp.get("/stations")
@api_auth()
@api_spec.validate(
    query=StationsQuery, resp=responses("HTTP_200", StationList, "HTTP_422"), tags=["booking"]
)
def list_stations(query: StationsQuery):
    """Service stations, nearest first when `lat` and `lon` are given (haversine), else by
    district and name; `district` filters."""
    lat, lon = services.check_position(query.lat, query.lon)
    found = services.stations_near(lat, lon, query.district)
    items, meta = _page(found, query)
    return StationList(
        items=[
            StationOut(
                **{
                    k: getattr(n.station, k)
                    for k in (
                        "id",
                        "name",
                        "district",
                        "address",
                        "latitude",
                        "longitude",
                        "phone",
                        "opening_note",
                        "accessibility",
                    )
                },  # fmt: skip
                distance_km=round(n.distance_km, 2) if n.distance_km is not None else None,
            )
            for n in items
        ],
        meta=meta,
    )


@bp.get("/services")
@api_auth()
@api_spec.validate(query=PageQuery, resp=responses("HTTP_200", ServiceList), tags=["booking"])
def list_services(query: PageQuery):
    """The service menu with each service's booking policy."""
    items, meta = _page(services.list_services(), query)
    return ServiceList(
        items=[
            ServiceOut(
                code=s.code,
                name=services.service_name(s),
                description=s.description_en
                if services.service_name(s) == s.name_en and s.description_en
                else s.description,
                mode=s.mode,
                remote=s.remote,
                duration_minutes=s.duration_minutes,
                min_notice_minutes=s.min_notice_minutes,
                horizon_days=s.horizon_days,
                late_cancel_hours=s.late_cancel_hours,
                voucher_required=s.voucher_required,
            )
            for s in items
        ],
        meta=meta,
    )


@bp.get("/slots")
@api_auth()
@api_spec.validate(
    query=SlotsQuery, resp=responses("HTTP_200", SlotList, "HTTP_422"), tags=["booking"]
)
def list_slots(query: SlotsQuery):
    """Open times for a service at a station on a date (Beijing), with remaining capacity.
    Group sessions are listed with `remaining` 0 when full (join their waitlist)."""
    found = services.search_slots(query.station, query.service, query.date)
    items, meta = _page(found.slots, query)
    return SlotList(items=[_slot_out(s) for s in items], meta=meta)


@lru_cache(maxsize=4096)
def _slot_out(s: services.SlotView) -> SlotOut:
    """A slot's JSON model; slot views are immutable and come from the slot cache, so the
    same view is answered many times."""
    return SlotOut(
        id=s.id,
        kind=s.kind,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        remaining=s.remaining,
        capacity=s.capacity,
        counselor=CounselorOut(**vars(s.counselor)) if s.counselor else None,
        title=s.title,
        members_only=s.members_only,
    )


def _booking_responses():
    declared = responses("HTTP_201", AppointmentOut, "HTTP_409", "HTTP_422")
    declared.add_model(200, AppointmentOut, description="A repeated Idempotency-Key")
    declared.add_model(202, WaitlistOut, description="On the waitlist of a full group session")
    return declared


@bp.post("/appointments")
@api_auth("worker")
@api_spec.validate(json=BookRequest, resp=_booking_responses(), tags=["booking"])
@reads_first  # the booking takes the write lock for its own transaction only
def create_appointment(json: BookRequest):
    """Book a slot: 201 with the appointment, 409 when it was just taken (or overlaps one
    of yours), 422 for a past or invalid slot. For a full group session, `waitlist: true`
    joins its waitlist instead: 202 with the entry and your place in the queue. An
    `Idempotency-Key` header makes a repeat return the first booking (200)."""
    now = utcnow()
    user = current_user._get_current_object()
    result = services.book(
        user,
        json.slot_id,
        now=now,
        voucher_code=json.voucher_code,
        idempotency_key=request.headers.get("Idempotency-Key"),
        waitlist=json.waitlist,
    )
    if result.appointment is None:
        entry = result.waitlist_entry
        assert entry is not None
        return (
            WaitlistOut(
                id=entry.id,
                status=entry.status,
                position=services.waitlist_position(entry),
                group_session_id=entry.group_session_id,
                station_id=entry.station_id,
                created_at=entry.created_at,
            ),
            202,
        )
    if result.info is not None:
        return appointment_out(result.info), 201
    return _out(result.appointment, now), 200 if result.existing else 201


@bp.get("/appointments")
@api_auth("worker")
@api_spec.validate(query=PageQuery, resp=responses("HTTP_200", AppointmentList), tags=["booking"])
def list_appointments(query: PageQuery):
    """Your appointments, latest first."""
    now = utcnow()
    user = current_user._get_current_object()
    rows, meta = page_of(services.list_appointments_query(user), query)
    views = services.views_for([a.id for a in rows])
    return AppointmentList(
        items=[appointment_out(services.appointment_info(v, now)) for v in views], meta=meta
    )


@bp.get("/appointments/<int:appointment_id>")
@api_auth("worker")
@api_spec.validate(resp=responses("HTTP_200", AppointmentOut), tags=["booking"])
def get_appointment(appointment_id: int):
    """One of your appointments (another member's id is 404)."""
    appointment = services.get_own_appointment(current_user._get_current_object(), appointment_id)
    return _out(appointment, utcnow())


@bp.post("/appointments/<int:appointment_id>/cancel")
@api_auth("worker")
@api_spec.validate(
    json=CancelRequest,
    resp=responses("HTTP_200", AppointmentOut, "HTTP_409", "HTTP_422"),
    tags=["booking"],
)
def cancel_appointment(appointment_id: int, json: CancelRequest):
    """Cancel before the late-cancel window (409 after it, with the station's number).
    Repeating it changes nothing."""
    now = utcnow()
    appointment = services.cancel_appointment(
        current_user._get_current_object(), appointment_id, now=now, reason=json.reason
    )
    return _out(appointment, now)
