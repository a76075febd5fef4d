"""Sign in on a phone in Chinese and in English, as each role, and see the right navigation."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    ("locale", "sign_in", "home"),
    [("zh-CN", "登录", "首页"), ("en-US", "Sign in", "Home")],
)
def test_worker_signs_in_on_a_phone(
    live_server, phone_page, shot, make_user, locale, sign_in, home
):
    user = make_user("worker", name="王伟")
    page = phone_page(locale)
    page.goto(live_server.url + "/auth/login")
    assert page.locator("h1").inner_text() == sign_in
    assert page.locator("footer.crisis a[href='tel:12356']").is_visible()
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", PASSWORD)
    shot(page, f"login-{locale}")
    page.get_by_role("button", name=sign_in).click()
    page.wait_for_url(live_server.url + "/")
    nav = page.locator("nav.main-nav")
    assert home in nav.inner_text()
    assert "王伟" in page.content()
    shot(page, f"home-worker-{locale}")
    # The page fits the phone: no horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_wrong_password_then_language_switch(live_server, phone_page, make_user):
    user = make_user("worker")
    page = phone_page("zh-CN")
    page.goto(live_server.url + "/auth/login")
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", "wrong-password")
    page.get_by_role("button", name="登录").click()
    assert "手机号码或密码不正确" in page.locator(".flash-error").inner_text()
    page.get_by_role("button", name="English").click()
    assert page.locator("h1").inner_text() == "Sign in"
    page.goto(live_server.url + "/auth/login")
    assert page.locator("h1").inner_text() == "Sign in"  # the choice sticks


@pytest.mark.parametrize(
    ("role", "sees", "not_sees"),
    [("admin", "用户管理", "风险队列"), ("counselor", "消息", "用户管理")],
)
def test_staff_see_their_own_navigation(
    live_server, phone_page, shot, make_user, role, sees, not_sees
):
    user = make_user(role)
    page = phone_page("zh-CN")
    page.goto(live_server.url + "/auth/login")
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")
    nav = page.locator("nav.main-nav").inner_text()
    assert sees in nav and not_sees not in nav
    shot(page, f"home-{role}-zh")
