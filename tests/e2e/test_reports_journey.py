"""An admin reviews the trends: signs in, opens the reports in Chinese on a desktop and on a
phone, narrows them to one district, trips over an inverted period, and opens the printable
monthly report. Charts load, tables sit under them, small groups are hidden."""

from __future__ import annotations

from tests.e2e.helpers import sign_in
from wellness.auth.models import OrgUnit
from wellness.extensions import db
from wellness.reports import cache, seed


def test_admin_reads_the_reports(
    app, live_server, browser, phone_page, shot, make_user, monkeypatch, tmp_path
):
    monkeypatch.setitem(app.config, "REPORTS_CACHE_DIR", str(tmp_path / "report_cache"))
    with app.app_context():
        cache.clear_all()
        seed.generate(workers=1500, assessments=16000, months=24, seed=7)
        district = db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.name == "江北区总工会"))
    admin = make_user("admin", name="赵敏")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server.url, admin)
    page.goto(live_server.url + "/reports/")
    assert page.locator("h1").count() == 1
    page.wait_for_load_state("networkidle")
    images = page.locator("figure.chart img")
    assert images.count() >= 6
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle()
        )
    rows = page.locator("#table-bands tbody tr")
    assert rows.count() == 12
    page.locator("figure.chart").first.scroll_into_view_if_needed()
    shot(page, "reports-dashboard-zh")

    # one district, its own members only: a small group, so hidden cells appear
    page.select_option("#org_unit", str(district))
    page.uncheck("#children")
    page.locator("form.filters button.primary").click()
    page.wait_for_load_state("networkidle")
    assert f"org_unit={district}" in page.url and "children=" not in page.url
    assert page.locator("span.hidden-cell").count() > 0
    shot(page, "reports-district-own-members-zh")

    # an inverted period: the field is marked and no figures are shown
    page.fill("#from", "2026-10")
    page.fill("#to", "2025-01")
    page.locator("form.filters button.primary").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#to[aria-invalid=true]").count() == 1
    assert page.locator("#table-bands").count() == 0
    shot(page, "reports-filter-error-zh")

    page.goto(live_server.url + "/reports/monthly")
    page.wait_for_load_state("networkidle")
    assert page.locator("section.no-print").count() == 1
    assert page.locator("[data-print]").is_visible()
    shot(page, "reports-monthly-zh")
    context.close()

    phone = phone_page("zh-CN")
    phone.set_default_timeout(30_000)
    sign_in(phone, live_server.url, admin)
    phone.goto(live_server.url + "/reports/")
    phone.wait_for_load_state("networkidle")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # tables scroll inside their own box, the page does not
    shot(phone, "reports-dashboard-phone-zh")
