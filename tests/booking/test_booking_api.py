"""JSON API v1 for booking: stations, services, slots, appointments, cancel."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import func, select

from tests.booking.factories import MONDAY, NOW, TUESDAY, bj
from wellness.booking.models import Appointment, Service
from wellness.extensions import db

EN = {"Accept-Language": "en"}


@pytest.fixture
def member(make_user, token_for):
    user = make_user("worker", name="赵磊")
    return user, token_for(user)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True):
        yield


def appointments(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count(Appointment.id)))
        db.session.remove()
    return n


def test_stations_sorted_by_distance_and_validated(api, world, member):
    _, token = member
    body = api("GET", "/stations?lat=30.21&lon=120.21", token).json
    assert [s["district"] for s in body["items"]] == ["高新区", "江北区"]
    assert body["items"][0]["distance_km"] < 2 and body["meta"]["total"] == 2
    by_name = api("GET", "/stations", token).json["items"]
    assert all(s["distance_km"] is None for s in by_name)
    assert api("GET", "/stations?district=江北区", token).json["meta"]["total"] == 1
    page = api("GET", "/stations?per_page=1&page=2", token).json
    assert len(page["items"]) == 1 and page["meta"]["pages"] == 2
    bad = api("GET", "/stations?lat=30", token, headers=EN)
    assert bad.status_code == 422 and "lon" in bad.json["error"]["fields"]
    assert api("GET", "/stations?lat=91&lon=1", token).status_code == 422


def test_services_with_their_policy(api, world, member):
    _, token = member
    items = api("GET", "/services", token, headers=EN).json["items"]
    individual = next(s for s in items if s["code"] == "individual")
    assert individual["name"] == "Individual counselling" and individual["late_cancel_hours"] == 24
    assert [s["code"] for s in items] == [
        "individual", "group", "sand_table", "relaxation", "phone", "video",
    ]  # fmt: skip
    assert next(s for s in items if s["code"] == "phone")["remote"] is True


def test_slots_book_list_and_cancel(app, api, world, member, frozen):
    _, token = member
    found = api("GET", f"/slots?station={world.station}&service=individual&date={TUESDAY}", token)
    assert found.status_code == 200
    slots = found.json["items"]
    first = slots[0]
    assert first["remaining"] == 1 and first["counselor"]["name"] == "王静"
    assert first["starts_at"].startswith("2026-12-08T01:00")  # 09:00 Beijing
    created = api("POST", "/appointments", token, json={"slot_id": first["id"]}, headers=EN)
    assert created.status_code == 201
    appointment = created.json
    assert appointment["status"] == "booked" and appointment["can_cancel"] is True
    assert "0571-88880001" in appointment["policy"] and appointment["room_name"] == "咨询室一"
    again = api("GET", f"/slots?station={world.station}&service=individual&date={TUESDAY}", token)
    assert first["id"] not in [s["id"] for s in again.json["items"]]

    listed = api("GET", "/appointments", token).json
    assert [a["id"] for a in listed["items"]] == [appointment["id"]]
    assert (
        api("GET", f"/appointments/{appointment['id']}", token).json["reference"]
        == (appointment["reference"])
    )
    cancelled = api("POST", f"/appointments/{appointment['id']}/cancel", token, json={})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    repeat = api("POST", f"/appointments/{appointment['id']}/cancel", token, json={})
    assert repeat.status_code == 200


def test_full_slot_is_409_and_idempotency_key_repeats(
    app, api, world, member, make_user, token_for, frozen
):
    _, token = member
    other = token_for(make_user("worker"))
    slot_id = f"c{world.counselor.id}-{world.station}-{world.services['individual']}-202612081000"
    key = {"Idempotency-Key": "abc-123"}
    first = api("POST", "/appointments", token, json={"slot_id": slot_id}, headers=key)
    repeat = api("POST", "/appointments", token, json={"slot_id": slot_id}, headers=key)
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert first.json["id"] == repeat.json["id"]
    taken = api("POST", "/appointments", other, json={"slot_id": slot_id}, headers=EN)
    assert taken.status_code == 409
    assert taken.json["error"]["fields"] == {"slot_id": "full"}
    assert appointments(app) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slot_id": "c1-1-1-202612070700"}, "slot_id"),  # past
        ({"slot_id": "bogus"}, "slot_id"),
        ({"slot_id": 5}, "slot_id"),
        ({}, "slot_id"),
        ({"slot_id": "g1", "extra": 1}, "extra"),
    ],
)
def test_bad_bookings_are_422(app, api, world, member, frozen, body, field):
    _, token = member
    response = api("POST", "/appointments", token, json=body)
    assert response.status_code == 422 and field in response.json["error"]["fields"]
    assert appointments(app) == 0


def test_voucher_required_service_asks_for_a_code(app, api, world, member, frozen):
    _, token = member
    with app.app_context():
        db.session.get(Service, world.services["individual"]).voucher_required = True
        db.session.commit()
        db.session.remove()
    slot_id = f"c{world.counselor.id}-{world.station}-{world.services['individual']}-202612081000"
    response = api("POST", "/appointments", token, json={"slot_id": slot_id}, headers=EN)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"voucher_code": "required"}
    assert appointments(app) == 0


def test_late_cancel_is_409_naming_the_station(app, api, world, member):
    _, token = member
    with time_machine.travel(NOW, tick=False):
        slot_id = (
            f"c{world.counselor.id}-{world.station}-{world.services['individual']}-202612081000"
        )
        appointment_id = api("POST", "/appointments", token, json={"slot_id": slot_id}).json["id"]
    with time_machine.travel(bj(TUESDAY, 9), tick=False):
        late = api("POST", f"/appointments/{appointment_id}/cancel", token, json={}, headers=EN)
    assert late.status_code == 409
    assert late.json["error"]["fields"] == {"appointment": "late"}
    assert "0571-88880001" in late.json["error"]["message"]


def test_other_members_appointments_are_404_and_staff_cannot_book(
    app, api, world, member, make_user, token_for, frozen
):
    _, token = member
    slot_id = f"c{world.counselor.id}-{world.station}-{world.services['individual']}-202612081000"
    appointment_id = api("POST", "/appointments", token, json={"slot_id": slot_id}).json["id"]
    stranger = token_for(make_user("worker"))
    assert api("GET", f"/appointments/{appointment_id}", stranger).status_code == 404
    assert (
        api("POST", f"/appointments/{appointment_id}/cancel", stranger, json={}).status_code == 404
    )
    assert api("GET", "/appointments", stranger).json["items"] == []
    counselor = token_for(world.counselor)
    assert api("POST", "/appointments", counselor, json={"slot_id": slot_id}).status_code == 403
    assert api("GET", "/stations", counselor).status_code == 200


def test_group_slot_joins_or_waitlists(app, api, world, member, make_user, token_for, frozen):
    from wellness.auth.models import User
    from wellness.booking import services

    admin = make_user("admin")
    with app.app_context():
        session = services.schedule_group_session(
            db.session.get(User, admin.id), service_code="group", room_id=world.rooms["团体活动室"],
            counselor_id=world.counselor.id, starts_at=bj(MONDAY, 14), title="减压团辅",
            capacity=1, now=NOW,
        )  # fmt: skip
        slot_id = f"g{session.id}"
        db.session.remove()
    _, token = member
    listed = api("GET", f"/slots?station={world.station}&service=group&date={MONDAY}", token)
    assert [s["id"] for s in listed.json["items"]] == [slot_id]
    assert api("POST", "/appointments", token, json={"slot_id": slot_id}).status_code == 201
    late_comer = token_for(make_user("worker"))
    assert api("POST", "/appointments", late_comer, json={"slot_id": slot_id}).status_code == 409
    waiting = api("POST", "/appointments", late_comer, json={"slot_id": slot_id, "waitlist": True})
    assert waiting.status_code == 202 and waiting.json["position"] == 1


def test_slots_query_errors(api, world, member):
    _, token = member
    assert (
        api("GET", f"/slots?station={world.station}&service=x&date=2026-12-08", token).status_code
        == 422
    )
    assert (
        api("GET", "/slots?station=999&service=individual&date=2026-12-08", token).status_code
        == 404
    )
    assert (
        api(
            "GET", f"/slots?station={world.station}&service=individual&date=soon", token
        ).status_code
        == 422
    )
    assert (
        api("GET", f"/slots?station={world.station}&service=individual", token).status_code == 422
    )
