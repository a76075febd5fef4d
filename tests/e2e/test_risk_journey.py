"""A counsellor works the queue: sees a critical case, claims it, opens the timeline,
logs a contact and resolves it with an outcome."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.helpers import sign_in
from wellness.auth import services as auth_services
from wellness.auth.models import User
from wellness.database import utcnow
from wellness.extensions import db
from wellness.risk import services as risk_services


def test_counsellor_claims_and_resolves(app, live_server, phone_page, browser, shot, make_user):
    person = make_user("worker", name="赵小红")
    with app.app_context():
        worker = db.session.get(User, person.id)
        auth_services.give_consent(worker, app.config["CONSENT_VERSION"])
        from wellness.assessments import services as assessment_services

        assessment_services.submit_assessment(worker, "phq9", [1, 1, 0, 1, 0, 1, 0, 0, 1])
        other = make_user("worker", name="孙强")
        risk_services.raise_flag(
            other.id,
            source="hotline",
            source_id=7,
            level="high",
            rule="hotline:rating 3",
            now=utcnow() - timedelta(hours=30),
        )
        db.session.commit()
    counselor = make_user("counselor", name="王静")
    context = browser.new_context(viewport={"width": 1024, "height": 800}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.url, counselor)
    page.goto(live_server.url + "/risk/")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 2
    assert "phq9:critical_item:9" in rows.nth(0).inner_text()  # critical first
    assert "赵小红" in rows.nth(0).inner_text()
    shot(page, "risk-queue-zh")
    rows.nth(0).get_by_role("button", name="认领").click()
    page.wait_for_url("**/risk/flags/*")
    assert "赵小红" in page.locator("h1").inner_text()
    page.select_option("#channel", "phone")
    page.check("#reached")
    page.fill("#note", "已电话联系，约好明天面谈")
    page.get_by_role("button", name="记录联系").click()
    assert "已电话联系" in page.locator("ol.timeline").inner_text()
    assert "PHQ-9" in page.locator("ol.timeline").inner_text()
    shot(page, "risk-case-timeline-zh")
    page.select_option("#outcome", "appointment_booked")
    page.fill("#follow_up_days", "7")
    page.get_by_role("button", name="结案").click()
    page.wait_for_url(live_server.url + "/risk/")
    assert page.locator("table.queue tbody tr").count() == 1
    context.close()
