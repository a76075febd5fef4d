"""Queue and case pages: who may see what."""

from __future__ import annotations

from sqlalchemy import select

from wellness.audit import AuditEvent
from wellness.extensions import db


def test_queue_orders_by_level_then_deadline(client, make_user, make_flag, login_as):
    make_flag("elevated")
    make_flag("critical")
    make_flag("high")
    login_as(make_user("counselor"))
    page = client.get("/risk/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert page.index("test:critical") < page.index("test:high") < page.index("test:elevated")


def test_claim_then_case_page_with_timeline_is_audited(app, client, make_user, make_flag, login_as):
    flag_id = make_flag()
    counselor = login_as(make_user("counselor"))
    response = client.post(f"/risk/flags/{flag_id}/claim")
    assert response.status_code == 302
    page = client.get(f"/risk/flags/{flag_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "求助者" in page.get_data(as_text=True) and "Timeline" in page.get_data(as_text=True)
    with app.app_context():
        views = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "risk.view_case", AuditEvent.actor_id == counselor.id
            )
        ).all()
    assert len(views) == 1


def test_other_counsellor_and_worker_cannot_open_the_case(
    app, client, make_user, make_flag, login_as
):
    person = make_user()
    flag_id = make_flag(person=person)
    holder = make_user("counselor", name="持有者")
    login_as(holder)
    client.post(f"/risk/flags/{flag_id}/claim")
    other = app.test_client()
    login_as(make_user("counselor"), on=other)
    denied = other.get(f"/risk/flags/{flag_id}", headers={"Accept-Language": "en"})
    assert denied.status_code == 403
    assert "求助者" not in denied.get_data(as_text=True)
    assert (
        other.post(f"/risk/flags/{flag_id}/resolve", data={"outcome": "no_risk"}).status_code == 303
    )
    worker = app.test_client()
    login_as(person, on=worker)
    assert worker.get(f"/risk/flags/{flag_id}").status_code == 403


def test_unclaimed_case_shows_no_personal_data(client, make_user, make_flag, login_as):
    flag_id = make_flag()
    login_as(make_user("counselor"))
    page = client.get(f"/risk/flags/{flag_id}").get_data(as_text=True)
    assert "求助者" not in page and ("Claim" in page or "认领" in page)


def test_resolve_without_outcome_is_a_field_error(app, client, make_user, make_flag, login_as):
    flag_id = make_flag()
    login_as(make_user("counselor"))
    client.post(f"/risk/flags/{flag_id}/claim")
    response = client.post(
        f"/risk/flags/{flag_id}/resolve",
        data={"outcome": ""},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Choose an outcome" in response.get_data(as_text=True)


def test_worker_sees_own_safety_plan(app, client, make_user, make_flag, login_as):
    person = make_user()
    flag_id = make_flag(person=person)
    counselor = app.test_client()
    login_as(make_user("counselor"), on=counselor)
    counselor.post(f"/risk/flags/{flag_id}/claim")
    counselor.post(
        f"/risk/flags/{flag_id}/safety-plan",
        data={"warning_signs": "连续失眠", "contacts": "12356"},
    )
    login_as(person)
    page = client.get("/risk/my-safety-plan").get_data(as_text=True)
    assert "连续失眠" in page


def test_api_queue_claim_resolve(app, api, make_user, make_flag, token_for):
    flag_id = make_flag("high")
    token = token_for(make_user("counselor"))
    queue = api("GET", "/risk/queue", token).json
    assert queue["items"][0]["id"] == flag_id and queue["items"][0]["person_phone_masked"]
    assert api("POST", f"/risk/flags/{flag_id}/claim", token).status_code == 200
    bad = api("POST", f"/risk/flags/{flag_id}/resolve", token, json={"note": "x"})
    assert bad.status_code == 422 and "outcome" in bad.json["error"]["fields"]
    done = api(
        "POST",
        f"/risk/flags/{flag_id}/resolve",
        token,
        json={"outcome": "no_risk", "follow_up_days": 3},
    )
    assert done.status_code == 200 and done.json["status"] == "resolved"


def test_api_claim_conflict_names_holder(api, make_user, make_flag, token_for):
    flag_id = make_flag()
    first = token_for(make_user("counselor", name="王静"))
    second = token_for(make_user("counselor"))
    api("POST", f"/risk/flags/{flag_id}/claim", first)
    response = api(
        "POST", f"/risk/flags/{flag_id}/claim", second, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 409 and "王静" in response.json["error"]["message"]


def test_supervision_page_for_admin(client, make_user, make_flag, login_as):
    make_flag("critical")
    login_as(make_user("admin"))
    page = client.get("/risk/supervision", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Median minutes to claim" in page.get_data(as_text=True)
    assert "求助者" not in page.get_data(as_text=True)


def test_api_outcome_codes_match_the_model():
    from typing import get_args

    from wellness.api.risk import OutcomeCode
    from wellness.risk.models import Outcome

    assert set(get_args(OutcomeCode)) == {o.value for o in Outcome}
