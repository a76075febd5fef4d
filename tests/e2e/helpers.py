"""Shared steps for browser journeys."""

from __future__ import annotations

from tests.conftest import PASSWORD


def sign_in(page, base_url: str, user, button: str = "登录") -> None:
    page.goto(base_url + "/auth/login")
    page.fill("#phone", user.phone.removeprefix("+86"))
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(base_url + "/")
