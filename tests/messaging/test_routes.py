"""The pages around the services: hand-over form, the admin's view, bad form input."""

from __future__ import annotations

from wellness.extensions import db
from wellness.messaging import services
from wellness.messaging.models import Conversation


def _open_and_claim(app, member, counselor) -> int:
    with app.app_context():
        conv = services.open_conversation(db.session.merge(member), "工作压力", "最近很累")
        services.claim(db.session.merge(counselor), conv.id)
        return conv.id


def test_hand_over_from_the_thread_page_and_the_admin_sees_it(app, client, make_user, login_as):
    member = make_user("worker")
    holder = make_user("counselor")
    target = make_user("counselor", name="赵老师")
    admin = make_user("admin")
    conv_id = _open_and_claim(app, member, holder)
    login_as(holder)
    page = client.get(f"/messages/inbox/{conv_id}").get_data(as_text=True)
    assert "最近很累" in page
    bad = client.post(f"/messages/inbox/{conv_id}/transfer", data={"to_user_id": target.id})
    assert bad.status_code == 303
    with app.app_context():
        assert db.session.get(Conversation, conv_id).claimed_by_id == holder.id
    done = client.post(
        f"/messages/inbox/{conv_id}/transfer",
        data={"to_user_id": target.id, "reason": "expertise", "note": "擅长睡眠问题"},
    )
    assert done.status_code == 302 and done.location.endswith("/messages/inbox")
    assert client.get(f"/messages/inbox/{conv_id}").status_code == 403  # no longer mine
    login_as(admin)
    inbox = client.get("/messages/inbox").get_data(as_text=True)
    assert "赵老师" in inbox and "其他咨询师更合适" in inbox
    assert "最近很累" not in inbox and "擅长睡眠问题" not in inbox  # admins never read bodies


def test_an_empty_question_is_refused_with_the_field_named(app, client, make_user, login_as):
    login_as(make_user("worker"))
    response = client.post("/messages/new", data={"topic": "", "body": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请用几个字说明是关于什么的" in html and "请先写下留言" in html
    with app.app_context():
        assert db.session.query(Conversation).count() == 0
