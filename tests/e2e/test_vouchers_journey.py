"""Vouchers end to end: an admin prints bearer codes, a member claims one on a phone and
shows the QR, a counsellor scans it and uses a session. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from datetime import date

from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE
from tests.e2e.helpers import sign_in
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.codes import display
from wellness.vouchers.models import Voucher


def login(page, base_url, user):
    page.goto(base_url + "/auth/login")
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(base_url + "/")


def test_print_claim_show_and_use_a_voucher(
    app, live_server, browser, phone_page, shot, make_user, make_org_unit
):
    city = make_org_unit("滨江市总工会", "city")
    admin = make_user("admin", name="赵敏", org_unit_id=city.id)
    worker = make_user("worker", name="王伟", phone="+8613900000000")
    counselor = make_user("counselor", name="王静")
    with app.app_context():
        services.issue_batch_now(
            admin,
            services.BatchSpec(
                name="2026年度职工心理关爱券",
                sessions=3,
                valid_until=date(2030, 6, 30),
                service_codes=["individual", "group", "sand_table", "relaxation"],
                org_unit_id=city.id,
            ),
            members=[worker.phone],
        )

    # 1. The admin makes 12 printed codes on a desktop and opens the printable sheet.
    desk = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    page.set_default_timeout(10_000)
    login(page, live_server.url, admin)
    page.goto(live_server.url + "/vouchers/batches/new")
    page.fill("#name", "职工心理健康周·印刷版体验券")
    page.check("input[name=target][value=bearer]")
    page.fill("#bearer_count", "12")
    page.fill("#valid_until", "2030-06-30")
    page.locator("form.card input[type=submit]").click()
    page.wait_for_url("**/vouchers/batches/*")
    page.locator("form[action$='/issue'] button").click()
    page.wait_for_url("**/vouchers/batches/*")
    page.locator("a[href$='/sheet']").click()
    page.wait_for_url("**/sheet")
    assert page.locator("ul.sheet img").count() == 12
    assert page.locator(".no-print").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".no-print").is_visible()  # the controls do not print
    assert not page.locator("header.site-header").is_visible()
    shot(page, "vouchers-bearer-sheet-print")
    printed = page.locator("ul.sheet code.voucher-code").first.get_attribute("aria-label")
    desk.close()

    # 2. The member, on a phone in Chinese, claims a printed code and sees the QR codes.
    phone = phone_page("zh-CN")
    sign_in(phone, live_server.url, worker)
    phone.goto(live_server.url + "/vouchers/")
    phone.fill("#voucher_code", printed.lower().replace("-", " "))
    phone.locator("#claim-title ~ form input[type=submit]").click()
    phone.wait_for_url(live_server.url + "/vouchers/")
    assert phone.locator(".flash-success").is_visible()
    cards = phone.locator("section.voucher")
    assert cards.count() == 2
    assert phone.locator("section.voucher figure.qr img").count() == 2
    assert printed in phone.content()
    qr = phone.locator("section.voucher figure.qr img").first
    box = qr.bounding_box()
    assert (
        box and box["width"] >= 150 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    )
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(phone, "vouchers-wallet-phone")

    # 3. The counsellor scans the member's QR (its link) and uses one session.
    with app.app_context():
        code = db.session.scalar(
            db.select(Voucher.code).where(Voucher.user_id == worker.id, Voucher.sessions == 3)
        )
    staff = phone_page("zh-CN")
    sign_in(staff, live_server.url, counselor)
    staff.goto(f"{live_server.url}/vouchers/v/{display(code)}")
    staff.wait_for_url("**/vouchers/station?voucher_code=*")
    assert "王伟" in staff.content() and "139****0000" in staff.content()
    staff.locator("form[action$='/station/consume'] input[type=submit]").click()
    staff.wait_for_url("**/vouchers/station?voucher_code=*")
    assert staff.locator(".flash-success").is_visible()
    shot(staff, "vouchers-station-phone")
    with app.app_context():
        used = db.session.scalar(db.select(Voucher).where(Voucher.code == code))
        assert (used.remaining_sessions, used.consumed_sessions) == (2, 1)
