"""A worker on a phone: consent, a PHQ-9 with a critical answer, the result, the history."""

from __future__ import annotations

from tests.e2e.helpers import sign_in


def test_questionnaire_result_and_history_in_chinese(live_server, phone_page, shot, make_user):
    user = make_user("worker", name="陈晓")
    page = phone_page("zh-CN")
    sign_in(page, live_server.url, user)
    page.goto(live_server.url + "/assessments/")
    page.get_by_role("link", name="开始").first.click()
    # Consent comes first, on its own page.
    assert "/auth/consent" in page.url
    page.check("#agree")
    page.get_by_role("button", name="我同意").click()
    assert "/assessments/phq9" in page.url
    # Submitting with nothing answered: the browser's own required check stops it.
    answers = [1, 0, 1, 0, 0, 1, 0, 0, 1]
    for number, value in enumerate(answers, start=1):
        page.locator(f"input[name=q{number}][value='{value}']").check()
    shot(page, "assessment-phq9-zh")
    page.get_by_role("button", name="查看我的结果").click()
    page.wait_for_url("**/assessments/results/*")
    banner = page.locator(".crisis-banner")
    assert banner.is_visible()
    box = banner.bounding_box()
    assert box is not None and box["y"] < 400  # crisis resources come first, above the fold
    assert "12356" in banner.inner_text()
    assert "咨询师会联系您" in page.content()
    shot(page, "assessment-result-critical-zh")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(live_server.url + "/assessments/history/phq9")
    chart = page.locator("figure.chart img")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 600")
    shot(page, "assessment-history-zh")
