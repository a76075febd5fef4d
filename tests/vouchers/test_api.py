"""GET /api/v1/vouchers (own) and POST /api/v1/vouchers/batches (admin)."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.vouchers.conftest import spec
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.models import Voucher, VoucherBatch

EN = {"Accept-Language": "en"}


def body(**overrides):
    data = {"name": "2027年度关爱券", "sessions": 3, "valid_until": "2030-06-30"}
    data.update(overrides)
    return data


def test_members_see_only_their_own_vouchers(app, api, token_for, make_user):
    me, other = make_user("worker"), make_user("worker")
    with app.app_context():
        services.issue_batch_now(None, spec(sessions=2), members=[me.phone, other.phone])
        services.issue_batch_now(None, spec(name="第二批"), members=[me.phone])
        mine = set(db.session.scalars(select(Voucher.code).where(Voucher.user_id == me.id)))
    response = api("GET", "/vouchers", token_for(me))
    assert response.status_code == 200
    items = response.json["items"]
    assert {i["code"].replace("-", "") for i in items} == mine
    assert response.json["meta"]["total"] == 2
    first = items[0]
    assert first["status"] == "active" and first["service_codes"] == ["individual", "sand_table"]
    assert first["last_day"] == "2027-06-30"
    assert first["qr_content"].endswith("/vouchers/v/" + first["code"])
    paged = api("GET", "/vouchers?per_page=1&page=2", token_for(me)).json
    assert len(paged["items"]) == 1 and paged["meta"]["pages"] == 2


def test_admin_issues_to_members(app, api, token_for, make_user):
    admin = make_user("admin")
    members = [make_user("worker") for _ in range(3)]
    response = api(
        "POST",
        "/vouchers/batches",
        token_for(admin),
        json=body(members=[m.phone[3:] for m in members], service_codes=["individual"]),
    )
    assert response.status_code == 201, response.json
    assert response.json["issued"] == 3
    with app.app_context():
        batch = db.session.get(VoucherBatch, response.json["id"])
        assert batch.created_by_id == admin.id and batch.service_codes == ["individual"]
        assert batch.status == "issued"


def test_bad_members_refuse_the_whole_request(app, api, token_for, make_user):
    admin, worker = make_user("admin"), make_user("worker")
    response = api(
        "POST",
        "/vouchers/batches",
        token_for(admin),
        json=body(members=[worker.phone, "13912345678", "=1+2", worker.phone]),
        headers=EN,
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "members.1": "unknown",
        "members.2": "invalid",
        "members.3": "duplicate",
    }
    assert "nothing was issued" in response.json["error"]["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count(VoucherBatch.id))) == 0


def test_bearer_and_org_unit_and_choice_errors(app, api, token_for, make_user, make_org_unit):
    admin = make_user("admin")
    unit = make_org_unit("某公司工会")
    make_user("worker", org_unit_id=unit.id)
    token = token_for(admin)
    assert api("POST", "/vouchers/batches", token, json=body(bearer_count=5)).json["issued"] == 5
    assert (
        api("POST", "/vouchers/batches", token, json=body(org_unit_id=unit.id)).json["issued"] == 1
    )
    for bad, field in [
        (body(), "members"),
        (body(bearer_count=2, org_unit_id=unit.id), "members"),
        (body(org_unit_id=99999), "org_unit_id"),
        (body(bearer_count=2, valid_until="2020-01-01"), "valid_until"),
        (body(bearer_count=2, valid_until="not a date"), "valid_until"),
        (body(bearer_count=2, sessions="3"), "sessions"),
        (body(bearer_count=2, service_codes=["massage"]), "service_codes.0"),
        (body(bearer_count=2, surprise=1), "surprise"),
    ]:
        response = api("POST", "/vouchers/batches", token, json=bad)
        assert response.status_code == 422, (bad, response.json)
        assert field in response.json["error"]["fields"], (bad, response.json)


def test_roles(api, token_for, make_user):
    worker, counselor = make_user("worker"), make_user("counselor")
    assert (
        api("POST", "/vouchers/batches", token_for(worker), json=body(bearer_count=1)).status_code
        == 403
    )
    assert api("GET", "/vouchers", token_for(counselor)).status_code == 403
    assert api("GET", "/vouchers").status_code == 401
