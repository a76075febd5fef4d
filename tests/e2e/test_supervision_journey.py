"""A supervisor follows the escalation notice of an unclaimed critical case (it used to
answer 403), sees who could take it, and assigns it; the counsellor finds it in the queue."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.helpers import sign_in
from wellness.database import utcnow
from wellness.extensions import db
from wellness.risk import services as risk_services

DESK = {"width": 1280, "height": 800}


def test_admin_assigns_an_escalated_case(app, live_server, browser, shot, make_user):
    admin = make_user("admin", name="赵敏")
    counselor = make_user("counselor", name="王静")
    person = make_user("worker", name="钱芳")
    with app.app_context():
        flag = risk_services.raise_flag(
            person.id,
            source="assessment",
            source_id=1,
            level="critical",
            rule="phq9:critical_item:9",
            now=utcnow() - timedelta(hours=2),
        )
        db.session.commit()
        flag_id = flag.id
        assert risk_services.escalate_overdue() == 1

    context = browser.new_context(viewport=DESK, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.url, admin)
    page.goto(live_server.url + "/inbox/")
    page.locator(f"a[href$='/risk/supervise/{flag_id}']").first.click()
    page.wait_for_url(f"**/risk/supervise/{flag_id}")
    assert "超时" in page.content() or "overdue" in page.content()
    assert "钱芳" not in page.content()  # no clinical content for supervisors
    page.select_option("#to_user_id", str(counselor.id))
    page.select_option("#reason", "unclaimed")
    shot(page, "supervise-assign-zh")
    page.get_by_role("button", name="转交").click()
    page.wait_for_url(f"**/risk/supervise/{flag_id}")
    assert "此个案现由王静负责" in page.content()
    context.close()

    context = browser.new_context(viewport=DESK, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.url, counselor)
    page.goto(live_server.url + "/risk/?mine=1")
    assert "钱芳" in page.locator("table.queue").inner_text()
    shot(page, "supervise-queue-caseload-zh")
    context.close()
