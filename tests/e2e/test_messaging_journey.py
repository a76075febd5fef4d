"""A worker asks a counsellor on a phone; a counsellor claims the question from the shared
inbox and answers; the worker reads the reply and, once it is closed, rates it."""

from __future__ import annotations

from tests.e2e.helpers import sign_in

DESK = {"width": 1280, "height": 800}
QUESTION = "最近夜班多，总是睡不着，白天也没精神，该怎么调整？"
ANSWER = "先试着固定起床时间，睡前一小时不看手机。我们下周可以约一次面谈。"


def test_member_asks_and_a_counsellor_answers(
    app, live_server, browser, phone_page, shot, make_user
):
    member = make_user("worker", name="王芳")
    counselor = make_user("counselor", name="陈老师")
    base = live_server.url

    phone = phone_page("zh-CN")
    sign_in(phone, base, member)
    phone.get_by_role("link", name="咨询师答疑").first.click()
    phone.wait_for_url("**/messages/")
    phone.get_by_role("link", name="我要提问").click()
    phone.fill("#topic", "失眠")
    phone.fill("#body", QUESTION)
    shot(phone, "messaging-1-ask-zh")
    phone.get_by_role("button", name="发送").click()
    phone.wait_for_url("**/messages/*")
    page_text = phone.content()
    assert "留言已发送" in page_text and QUESTION in page_text
    assert "前回复" in page_text  # the first-reply deadline is shown to the member
    shot(phone, "messaging-2-sent-zh")

    context = browser.new_context(viewport=DESK, locale="zh-CN")
    desk = context.new_page()
    desk.set_default_timeout(10_000)
    sign_in(desk, base, counselor)
    desk.goto(base + "/messages/inbox")
    row = desk.locator("table.queue tbody tr", has_text="失眠")
    assert "王*" in row.inner_text() and QUESTION not in desk.content()  # masked, no body
    shot(desk, "messaging-3-inbox-zh")
    row.get_by_role("button", name="认领").click()
    desk.wait_for_url("**/messages/inbox/*")
    assert QUESTION in desk.content()
    desk.fill("#body", ANSWER)
    desk.get_by_role("button", name="发送回复").click()
    desk.wait_for_selector("text=回复已发送")
    shot(desk, "messaging-4-answered-zh")

    phone.reload()
    assert ANSWER in phone.content() and "陈老师" in phone.content()
    shot(phone, "messaging-5-reply-zh")

    desk.get_by_role("button", name="结束对话").click()
    desk.wait_for_selector("text=对话已结束")
    context.close()

    phone.reload()
    phone.select_option("#score", "5")
    phone.get_by_role("button", name="提交评分").click()
    phone.wait_for_selector("text=感谢您的评分")
    shot(phone, "messaging-6-rated-zh")
