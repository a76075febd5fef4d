"""A worker asks a counsellor on a phone; a counsellor claims the question from the shared
inbox and answers; the worker reads the reply and, once it is closed, rates it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.booking.factories import add_counselor, add_station, seed_services, weekdays
from tests.e2e.helpers import sign_in
from wellness.booking.models import Service
from wellness.database import utcnow
from wellness.extensions import db

DESK = {"width": 1280, "height": 800}
QUESTION = "最近夜班多，总是睡不着，白天也没精神，该怎么调整？"
ANSWER = "先试着固定起床时间，睡前一小时不看手机。我们下周可以约一次面谈。"


def test_member_asks_and_a_counsellor_answers(
    app, live_server, browser, phone_page, shot, make_user
):
    member = make_user("worker", name="王芳")
    counselor = make_user("counselor", name="陈老师")
    base = live_server.url
    with app.app_context():
        seed_services()
        db.session.execute(update(Service).values(horizon_days=90, voucher_required=False))
        station, _rooms = add_station()
        add_counselor(counselor.id, [station], weekdays(station))
        db.session.commit()
    today = utcnow().date()
    first_day = today + timedelta(days=(1 - today.weekday()) % 7 + 7)  # a Tuesday ahead

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

    # The counsellor opens a six-session care plan from the conversation and books it.
    desk.get_by_role("button", name="结束对话").click()
    desk.wait_for_selector("text=对话已结束")
    desk.get_by_role("link", name="建立咨询计划").click()
    desk.wait_for_url("**/care/new**")
    desk.fill("#goals", "固定作息，睡眠恢复到每晚六小时以上")
    desk.get_by_role("button", name="建立咨询计划").click()
    desk.wait_for_url("**/care/*")
    desk.select_option("#station_id", str(station))
    desk.select_option("#service_code", "individual")
    desk.fill("#first_day", first_day.isoformat())
    desk.fill("#at", "10:00")
    desk.get_by_role("button", name="按周预约").click()
    desk.wait_for_selector("text=已预约 6 次咨询")
    assert "6 / 6" in desk.content()
    shot(desk, "messaging-7-care-plan-zh")
    context.close()

    phone.goto(base + "/care/mine")
    plan = phone.content()
    assert "固定作息" in plan and "陈老师" in plan and "已预约 6 次，共 6 次" in plan
    shot(phone, "messaging-8-my-plan-zh")
    phone.goto(base + "/messages/")
    phone.get_by_role("link", name="失眠").first.click()

    phone.reload()
    phone.select_option("#score", "5")
    phone.get_by_role("button", name="提交评分").click()
    phone.wait_for_selector("text=感谢您的评分")
    shot(phone, "messaging-6-rated-zh")
