"""Hotline pages: the public numbers page (also with the database down), the console,
records, roster, coverage, supervisor, taxonomy; status codes and nothing changed on bad
input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from wellness import create_app
from wellness.audit import AuditEvent
from wellness.config import TestingConfig
from wellness.database import utcnow
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import (
    CrisisRecord,
    HotlineCall,
    HotlineTerm,
    Shift,
    ShiftAssignment,
    ShiftSwap,
    ShiftTemplate,
)
from wellness.risk.models import RiskFlag

EN = {"Accept-Language": "en"}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def local_input(dt) -> str:
    return services.local(dt).strftime("%Y-%m-%dT%H:%M")


# ------------------------------------------------------------------------ public page


def test_public_page_lists_the_numbers_for_anyone(client):
    page = client.get("/hotline/", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for number in ("12356", "120", "110", "12351"):
        assert f'href="tel:{number}"' in html
    assert "Answered 24 hours a day" in html
    assert "Thoughts of suicide or self-harm" in html


def test_public_page_opens_no_database_connection(app, client):
    with app.app_context():
        engine = db.engine
    opened = []

    def on_checkout(*args):
        opened.append(args)

    event.listen(engine, "checkout", on_checkout)
    try:
        assert client.get("/hotline/").status_code == 200
    finally:
        event.remove(engine, "checkout", on_checkout)
    assert opened == []


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/hotline/down.sqlite",
        "postgresql+psycopg://nobody@127.0.0.1:1/down?connect_timeout=1",
    ],
)
def test_public_page_renders_with_the_database_down(url):
    down = create_app(
        TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "HOTLINE_NUMBERS": [
                {"label": "滨江职工心理热线", "number": "0571-88886666", "hours": "每天 8:00–22:00"}
            ],
        },
    )
    client = down.test_client()
    # The database really is unreachable for this app.
    assert client.get("/healthz").status_code == 503
    page = client.get("/hotline/", headers={"Accept-Language": "zh"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="tel:0571-88886666"' in html and "每天 8:00–22:00" in html
    assert 'href="tel:12356"' in html and 'href="tel:120"' in html
    with down.app_context():
        db.engine.dispose()


def test_service_hours_other_than_all_day_are_shown(make_app):
    other = make_app(HOTLINE_SERVICE_HOURS=(8, 22))
    html = other.test_client().get("/hotline/", headers=EN).get_data(as_text=True)
    assert "from 08:00 to 22:00" in html


# ---------------------------------------------------------------------------- console


@pytest.fixture
def staff(make_user, login_as, client, terms):
    people = {
        "counselor": make_user("counselor", name="王静"),
        "colleague": make_user("counselor", name="李明华"),
        "admin": make_user("admin", name="赵敏"),
        "member": make_user("worker", name="刘强", phone="+8613900000003"),
    }
    login_as(people["counselor"])
    return people


def call_form(terms, **changes) -> dict:
    now = utcnow()
    data = {
        "kind": "answered",
        "started_at": local_input(now - timedelta(minutes=25)),
        "duration_minutes": "20",
        "age_band": "30_39",
        "gender": "female",
        "topic_ids": [str(terms["topic"]["work_stress"]), str(terms["topic"]["family"])],
        "action_id": str(terms["action"]["listened"]),
        "referral_id": "0",
        "summary": "夜班压力大，和爱人常吵架。",
        "follow_up_owner_id": "0",
        "handover_to_id": "0",
        "judged_level": "",
    }
    data.update(changes)
    return data


def test_console_shows_the_call_form(client, staff):
    page = client.get("/hotline/console", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Log a call" in html and "Suicidal ideation" in html
    assert "You are not on a shift now" in html
    assert "Emotional distress" in html  # taxonomy labels in the viewer's language


def test_console_logs_a_call_outside_a_shift_and_says_so(app, client, staff, terms):
    response = client.post("/hotline/console", data=call_form(terms), headers=EN)
    assert response.status_code == 302
    assert count(app, HotlineCall) == 1
    with app.app_context():
        call = db.session.scalar(select(HotlineCall))
        assert call.outside_shift and len(call.topics) == 2 and call.gender == "female"
    page = client.get("/hotline/console", headers=EN).get_data(as_text=True)
    assert "marked" in page and "outside shift" in page


def test_console_bad_input_is_a_field_error_and_stores_nothing(app, client, staff, terms):
    response = client.post("/hotline/console", data=call_form(terms, topic_ids=[]), headers=EN)
    assert response.status_code == 422
    assert "Choose at least one topic." in response.get_data(as_text=True)
    response = client.post(
        "/hotline/console",
        data=call_form(terms, member_phone="13900000003"),
        headers=EN,
    )
    assert response.status_code == 422
    assert "only when the caller agrees" in response.get_data(as_text=True)
    response = client.post(
        "/hotline/console", data=call_form(terms, started_at="not a date"), headers=EN
    )
    assert response.status_code == 400
    assert count(app, HotlineCall) == 0


def test_console_crisis_call_for_a_member_raises_a_flag(app, client, staff, terms):
    data = call_form(
        terms,
        member_phone="139 0000 0003",
        member_consent="y",
        is_risk="y",
        ideation="3",
        plan="2",
        means="1",
        attempts="0",
        hopelessness="3",
        follow_up_owner_id=str(staff["colleague"].id),
        handover_to_id=str(staff["colleague"].id),
        handover_note="明早回访",
        action_id=str(terms["action"]["emergency"]),
        ambulance_called_at=local_input(utcnow() - timedelta(minutes=10)),
    )
    response = client.post("/hotline/console", data=data, headers=EN)
    assert response.status_code == 302
    assert "/hotline/crises/" in response.headers["Location"]
    with app.app_context():
        record = db.session.scalar(select(CrisisRecord))
        flag = db.session.get(RiskFlag, record.risk_flag_id)
        assert record.level == "critical" and flag.level == "critical"
        assert flag.person_id == staff["member"].id
    page = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert "not yet confirmed" in page and "Flag raised for the member" in page


def test_console_crisis_without_a_rating_names_the_fields(app, client, staff, terms):
    data = call_form(terms, is_risk="y", follow_up_owner_id="0")
    response = client.post("/hotline/console", data=data, headers=EN)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Rate every item of the suicide-risk rating." in html
    assert 'id="ideation-error"' in html and 'id="hopelessness-error"' in html
    data = call_form(
        terms, is_risk="y", ideation="2", plan="1", means="0", attempts="0", hopelessness="1"
    )
    response = client.post("/hotline/console", data=data, headers=EN)
    assert response.status_code == 422
    assert "Choose who follows this crisis up." in response.get_data(as_text=True)
    assert count(app, HotlineCall) == 0 and count(app, RiskFlag) == 0


def test_console_fault_mid_transaction_is_a_500_and_stores_nothing(
    app, client, staff, terms, monkeypatch
):
    real = services.audit.record

    def failing(actor, action, *args, **kwargs):
        if action == "hotline.call_logged":
            raise RuntimeError("disk full")
        return real(actor, action, *args, **kwargs)

    monkeypatch.setattr(services.audit, "record", failing)
    data = call_form(
        terms,
        member_phone="13900000003",
        member_consent="y",
        is_risk="y",
        ideation="2",
        plan="1",
        means="0",
        attempts="0",
        hopelessness="3",
        follow_up_owner_id=str(staff["counselor"].id),
    )
    response = client.post("/hotline/console", data=data, headers=EN)
    assert response.status_code == 500
    assert 'href="tel:12356"' in response.get_data(as_text=True)
    assert count(app, HotlineCall) == 0 and count(app, RiskFlag) == 0


def test_call_record_is_for_counsellors_only_and_every_view_is_audited(
    app, client, staff, terms, login_as
):
    client.post("/hotline/console", data=call_form(terms))
    with app.app_context():
        call_id = db.session.scalar(select(HotlineCall.id))
    page = client.get(f"/hotline/calls/{call_id}", headers=EN)
    assert page.status_code == 200 and "夜班压力大" in page.get_data(as_text=True)
    client.get(f"/hotline/calls/{call_id}")
    assert count(app, AuditEvent, AuditEvent.action == "hotline.call_viewed") == 2
    assert client.get("/hotline/calls/999999").status_code == 404
    for who in ("admin", "member"):
        other = app.test_client()
        login_as(staff[who], on=other)
        assert other.get(f"/hotline/calls/{call_id}").status_code == 403
    assert count(app, AuditEvent, AuditEvent.action == "hotline.call_viewed") == 2


def test_crisis_page_closing_needs_confirmed_help(app, client, staff, terms):
    with app.app_context():
        call = services.log_call(
            staff["counselor"],
            services.CallInput(
                started_at=utcnow() - timedelta(minutes=30),
                duration_minutes=20,
                topic_ids=[terms["topic"]["suicide_risk"]],
                action_id=terms["action"]["emergency"],
            ),
            services.CrisisInput(
                ideation=3, plan=2, means=2, attempts=0, hopelessness=3,
                police_called_at=utcnow() - timedelta(minutes=20),
                follow_up_owner_id=staff["counselor"].id,
            ),
        )  # fmt: skip
        crisis_id = call.crisis.id
    url = f"/hotline/crises/{crisis_id}"
    assert client.get(url).status_code == 200
    assert count(app, AuditEvent, AuditEvent.action == "hotline.crisis_viewed") == 1
    closing = client.post(url, data={"f-note": "已回访", "f-submit": "y"}, headers=EN)
    assert closing.status_code == 422
    assert "confirm that help reached the caller" in closing.get_data(as_text=True)
    # The record was shown again with the error: that is a view too.
    assert count(app, AuditEvent, AuditEvent.action == "hotline.crisis_viewed") == 2
    confirm = client.post(
        url,
        data={
            "u-help_arrived_at": local_input(utcnow() - timedelta(minutes=2)),
            "u-help_note": "民警回电确认",
            "u-handover_to_id": "0",
            "u-submit": "y",
        },
    )
    assert confirm.status_code == 302
    assert client.post(url, data={"f-note": "已回访", "f-submit": "y"}).status_code == 302
    with app.app_context():
        assert db.session.get(CrisisRecord, crisis_id).follow_up_done_at is not None


# ----------------------------------------------------------------------------- roster


def test_sign_up_and_full_shift_via_the_roster(app, client, staff, make_shift, login_as):
    shift_id = make_shift(utcnow() + timedelta(days=3), 8, seats=1)
    page = client.get("/hotline/roster", headers=EN)
    assert page.status_code == 200 and "Sign up" in page.get_data(as_text=True)
    assert client.post(f"/hotline/shifts/{shift_id}/sign-up").status_code == 302
    other = app.test_client()
    login_as(staff["colleague"], on=other)
    full = other.post(f"/hotline/shifts/{shift_id}/sign-up", headers=EN)
    assert full.status_code == 409
    assert "already fully staffed" in full.get_data(as_text=True)
    assert count(app, ShiftAssignment) == 1
    assert client.post("/hotline/shifts/999999/sign-up").status_code == 404


def test_admin_assigns_and_removes(app, staff, make_shift, login_as):
    admin = app.test_client()
    login_as(staff["admin"], on=admin)
    shift_id = make_shift(utcnow() + timedelta(hours=5), 8, seats=2)
    assert admin.get("/hotline/roster").status_code == 200
    response = admin.post(
        f"/hotline/shifts/{shift_id}/assign", data={"counselor_id": staff["counselor"].id}
    )
    assert response.status_code == 302
    with app.app_context():
        assignment_id = db.session.scalar(select(ShiftAssignment.id))
    assert admin.post(f"/hotline/assignments/{assignment_id}/withdraw").status_code == 302
    assert count(app, Shift, Shift.filled == 0) == 1


def test_counsellor_cannot_leave_a_shift_at_short_notice(app, client, staff, make_shift):
    shift_id = make_shift(utcnow() + timedelta(hours=5), 8, staff=[staff["counselor"]])
    with app.app_context():
        assignment_id = db.session.scalar(
            select(ShiftAssignment.id).where(ShiftAssignment.shift_id == shift_id)
        )
    response = client.post(f"/hotline/assignments/{assignment_id}/withdraw", headers=EN)
    assert response.status_code == 422
    assert "ask a colleague to swap" in response.get_data(as_text=True)
    assert count(app, ShiftAssignment, ShiftAssignment.status == "active") == 1


def test_swap_flow_through_the_pages(app, client, staff, make_shift, login_as):
    shift_id = make_shift(utcnow() + timedelta(days=2), 8, staff=[staff["counselor"]])
    with app.app_context():
        assignment_id = db.session.scalar(select(ShiftAssignment.id))
    assert client.get(f"/hotline/assignments/{assignment_id}/swap").status_code == 200
    asked = client.post(
        f"/hotline/assignments/{assignment_id}/swap",
        data={"to_id": staff["colleague"].id, "note": "家里有事"},
    )
    assert asked.status_code == 302
    with app.app_context():
        swap_id = db.session.scalar(select(ShiftSwap.id))
    colleague = app.test_client()
    login_as(staff["colleague"], on=colleague)
    assert "家里有事" in colleague.get("/hotline/swaps").get_data(as_text=True)
    assert (
        colleague.post(f"/hotline/swaps/{swap_id}", data={"decision": "approve"}).status_code == 403
    )
    assert (
        colleague.post(f"/hotline/swaps/{swap_id}", data={"decision": "accept"}).status_code == 302
    )
    assert (
        colleague.post(f"/hotline/swaps/{swap_id}", data={"decision": "bogus"}).status_code == 400
    )
    admin = app.test_client()
    login_as(staff["admin"], on=admin)
    assert admin.post(f"/hotline/swaps/{swap_id}", data={"decision": "approve"}).status_code == 302
    assert admin.post(f"/hotline/swaps/{swap_id}", data={"decision": "approve"}).status_code == 409
    with app.app_context():
        staffed = db.session.scalar(
            select(ShiftAssignment.counselor_id).where(
                ShiftAssignment.shift_id == shift_id, ShiftAssignment.status == "active"
            )
        )
        assert staffed == staff["colleague"].id
    # A stranger's assignment cannot be offered for a swap.
    assert colleague.get(f"/hotline/assignments/{assignment_id}/swap").status_code == 404


def test_admin_templates_page(app, staff, login_as):
    admin = app.test_client()
    login_as(staff["admin"], on=admin)
    assert admin.get("/hotline/roster/templates").status_code == 200
    data = {
        "t-name": "夜间坐席",
        "t-start_time": "22:00",
        "t-duration_minutes": "600",
        "t-weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "t-seats_needed": "2",
        "t-mode": "seated",
        "t-submit": "y",
    }
    assert admin.post("/hotline/roster/templates", data=data).status_code == 302
    assert count(app, Shift) >= 27
    bad = admin.post(
        "/hotline/roster/templates",
        data={**data, "t-valid_from": "2030-01-05", "t-valid_until": "2030-01-01"},
        headers=EN,
    )
    assert bad.status_code == 422 and "before the start date" in bad.get_data(as_text=True)
    no_days = admin.post("/hotline/roster/templates", data={**data, "t-weekdays": []})
    assert no_days.status_code == 400
    assert count(app, ShiftTemplate) == 1
    with app.app_context():
        template_id = db.session.scalar(select(ShiftTemplate.id))
    assert admin.post(f"/hotline/roster/templates/{template_id}/stop").status_code == 302
    assert count(app, Shift) == 0


def test_coverage_page_marks_gaps(app, client, staff, make_shift):
    make_shift(utcnow() - timedelta(hours=1), 8, staff=[staff["counselor"]])
    page = client.get("/hotline/coverage?weeks=1", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Gaps from now on" in html and "seat(s) short" in html and "1/2" in html
    assert client.get("/hotline/coverage?weeks=99").status_code == 200
    assert client.get("/hotline/coverage?weeks=x").status_code == 200


def test_supervisor_page_for_admins_shows_no_notes(app, client, staff, terms, login_as):
    client.post("/hotline/console", data=call_form(terms))
    admin = app.test_client()
    login_as(staff["admin"], on=admin)
    page = admin.get("/hotline/supervisor", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Calls per hour of the week" in html and "Roster compliance" in html
    assert "夜班压力大" not in html and "/hotline/calls/" not in html
    assert client.get("/hotline/supervisor?from=2026-13-01&to=x").status_code == 200


# --------------------------------------------------------------------------- taxonomy


def test_admin_edits_the_taxonomy(app, staff, login_as):
    admin = app.test_client()
    login_as(staff["admin"], on=admin)
    assert admin.get("/hotline/taxonomy").status_code == 200
    added = admin.post(
        "/hotline/taxonomy",
        data={"new-kind": "topic", "new-label_zh": "网络成瘾", "new-label_en": "Internet use"},
    )
    assert added.status_code == 302
    with app.app_context():
        term = db.session.scalar(select(HotlineTerm).where(HotlineTerm.label_zh == "网络成瘾"))
        assert term.kind == "topic" and term.code.startswith("custom_")
    bad = admin.post("/hotline/taxonomy", data={"new-kind": "topic", "new-label_zh": ""})
    assert bad.status_code == 400
    edited = admin.post(
        f"/hotline/taxonomy/{term.id}",
        data={f"t{term.id}-label_zh": "网络与游戏成瘾", f"t{term.id}-label_en": ""},
    )
    assert edited.status_code == 302
    with app.app_context():
        term = db.session.get(HotlineTerm, term.id)
        assert term.label_zh == "网络与游戏成瘾" and term.active is False
        assert term.label_en == "网络与游戏成瘾"
    standard = admin.post("/hotline/taxonomy/standard")
    assert standard.status_code == 302
    assert count(app, HotlineTerm) == 25
