"""A member who forgot the password gets back in with a code sent by SMS (console
backend), on a phone, in Chinese; then chooses how reminders reach them."""

from __future__ import annotations

import re
from datetime import timedelta

from wellness.database import utcnow
from wellness.notify import services as notify
from wellness.notify import sms

NEW_PASSWORD = "my-new-shift-passphrase-9"


def test_forgotten_password_reset_by_sms_code(app, live_server, phone_page, shot, make_user):
    member = make_user("worker", name="李娜")
    local = member.phone.removeprefix("+86")
    sms.clear_sent()
    page = phone_page("zh-CN")
    page.goto(live_server.url + "/auth/login")
    page.get_by_role("link", name="忘记密码？").click()
    page.wait_for_url("**/auth/forgot")
    page.fill("#phone", local)
    shot(page, "reset-1-forgot-zh")
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_url("**/auth/reset**")
    assert "如果该号码已注册" in page.content()
    assert page.input_value("#phone") == local

    with app.app_context():  # the scheduler's job, run now
        notify.deliver_due(now=utcnow() + timedelta(seconds=1))
    texts = [m["text"] for m in sms.sent_messages() if m["phone"] == member.phone]
    assert len(texts) == 1 and "验证码" in texts[0]
    code = re.search(r"\d{6}", texts[0]).group(0)

    page.fill("#code", code)
    page.fill("#new_password", NEW_PASSWORD)
    shot(page, "reset-2-code-zh")
    page.get_by_role("button", name="确认设置新密码").click()
    page.wait_for_url("**/auth/login")
    assert "密码已修改" in page.content()

    page.fill("#phone", local)
    page.fill("#password", NEW_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/notify/settings")
    shot(page, "reset-3-channels-zh")
    assert page.locator("input[type=checkbox]").count() >= 2
