"""Hotline journey: the public numbers page on a phone; a counsellor on shift logs a crisis
call from the console (tablet); an admin sees the coverage view with its gaps (desktop)."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from tests.conftest import PASSWORD
from wellness.database import utcnow
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import CrisisRecord, HotlineCall, Shift
from wellness.risk.models import RiskFlag

TABLET = {"width": 1024, "height": 900}
DESKTOP = {"width": 1280, "height": 900}


def sign_in(page, base: str, user) -> None:
    page.goto(base + "/auth/login")
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")


def test_public_hotline_page_on_a_phone(live_server, phone_page, shot):
    page = phone_page("en-US")
    page.goto(live_server.url + "/hotline/")
    assert page.locator("h1").inner_text() == "Psychological hotline"
    for number in ("12356", "120", "110", "12351"):
        assert page.locator(f"main a[href='tel:{number}']").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "hotline-public-en")
    zh = phone_page("zh-CN")
    zh.goto(live_server.url + "/hotline/")
    shot(zh, "hotline-public-zh")


def test_counsellor_logs_a_crisis_call_and_admin_sees_coverage(
    app, live_server, phone_page, shot, make_user
):
    counselor = make_user("counselor", name="王静")
    colleague = make_user("counselor", name="李明华")
    admin = make_user("admin", name="赵敏")
    member = make_user("worker", name="刘强", phone="+8613900000003")
    now = utcnow()
    with app.app_context():
        services.ensure_builtin_terms()
        db.session.commit()
        services.create_template(
            admin,
            services.TemplateInput(
                name="日间坐席", start_time=time(8), duration_minutes=480, weekdays=127,
                seats_needed=2,
            ),
            now=now,
        )  # fmt: skip
        services.create_template(
            admin,
            services.TemplateInput(
                name="晚间坐席", start_time=time(16), duration_minutes=480, weekdays=127,
                seats_needed=2,
            ),
            now=now,
        )  # fmt: skip
        # The counsellor is on the shift running now (created for the test if need be).
        current = db.session.scalar(
            select(Shift).where(Shift.starts_at <= now, Shift.ends_at > now)
        )
        if current is None:
            current = services.create_shift(
                admin, name="临时坐席", starts_at=now - timedelta(hours=1),
                duration_minutes=480, seats_needed=2, mode="seated", now=now,
            )  # fmt: skip
        services.assign(admin, current.id, counselor.id, now=now)
        shift_id = current.id

    page = phone_page("en-US")
    page.set_viewport_size(TABLET)
    sign_in(page, live_server.url, counselor)
    page.goto(live_server.url + "/hotline/console")
    assert page.locator("h1").inner_text() == "Hotline console"
    assert "On shift" in page.locator(".flash-success").inner_text()
    page.get_by_label("Work stress").check()
    page.get_by_label("Job loss and money worries").check()
    page.fill("#duration_minutes", "35")
    page.select_option("#age_band", "30_39")
    page.select_option("#gender", "male")
    page.fill("#member_phone", "13900000003")
    page.check("#member_consent")
    page.select_option("#action_id", label="Listened and advised")
    page.fill("#summary", "来电者失业负债，说“活着没意思”，有自杀念头但无具体计划。已做安全计划。")
    page.locator("details.crisis-banner > summary").click()
    page.check("#is_risk")
    page.select_option("#ideation", "2")
    page.select_option("#plan", "1")
    page.select_option("#means", "0")
    page.select_option("#attempts", "0")
    page.select_option("#hopelessness", "3")
    page.select_option("#handover_to_id", str(colleague.id))
    page.fill("#handover_note", "来电者同意明早9点接听回访电话。")
    page.fill("#follow_up_plan", "明早9点电话回访，协助预约服务站面询。")
    shot(page, "hotline-console-call-form")
    page.get_by_role("button", name="Save call").click()
    page.wait_for_url("**/hotline/crises/*")
    assert "High" in page.locator("h1").inner_text()
    assert "Flag raised for the member" in page.content()
    shot(page, "hotline-crisis-record")
    with app.app_context():
        call = db.session.scalar(select(HotlineCall))
        record = db.session.scalar(select(CrisisRecord))
        flag = db.session.get(RiskFlag, record.risk_flag_id)
        assert call.shift_id == shift_id and not call.outside_shift
        assert flag.person_id == member.id and flag.source_id == str(call.id)
        assert record.handover_to_id == colleague.id

    desk = phone_page("en-US")
    desk.set_viewport_size(DESKTOP)
    sign_in(desk, live_server.url, admin)
    desk.goto(live_server.url + "/hotline/coverage?weeks=1")
    assert desk.locator("h1").inner_text() == "Hotline coverage"
    assert "Gaps from now on" in desk.locator("#gaps-title").inner_text()
    assert desk.locator("td.overdue").count() > 0
    shot(desk, "hotline-coverage")
    desk.goto(live_server.url + "/hotline/supervisor")
    assert "来电者失业" not in desk.content()  # admins see figures, not notes
    shot(desk, "hotline-supervisor")
