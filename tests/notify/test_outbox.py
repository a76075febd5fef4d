"""The outbox: queued with the use case, delivered by a job, retried, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from wellness.database import utcnow
from wellness.extensions import db
from wellness.notify import services
from wellness.notify.models import OutboxMessage

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing: outside quiet hours


def test_queue_is_committed_by_the_caller_only(app, make_user):
    user = make_user(email="w@example.com")
    with app.app_context():
        services.queue(user, "主题", "正文")
        db.session.rollback()  # the use case failed: nothing must remain
        assert db.session.scalars(select(OutboxMessage)).all() == []
        services.queue(user, "主题", "正文")
        db.session.commit()
        channels = sorted(m.channel for m in db.session.scalars(select(OutboxMessage)))
    assert channels == ["email", "inapp"]  # no saved choice: no SMS


def test_delivery_sends_and_is_idempotent(app, make_user):
    user = make_user(email="w@example.com")
    mailman = app.extensions["mailman"]
    mailman.outbox = []
    with app.app_context():
        services.queue(user, "预约提醒", "明天 14:00", link="/booking/1", now=NOW)
        db.session.commit()
        first = services.deliver_due(now=NOW)
        second = services.deliver_due(now=NOW)
    assert first["sent"] == 1 and second["sent"] == 0
    assert len(mailman.outbox) == 1
    assert mailman.outbox[0].subject == "预约提醒" and mailman.outbox[0].to == ["w@example.com"]


def test_failing_mail_server_delays_never_loses(app, make_user, monkeypatch):
    user = make_user(email="w@example.com")
    calls = {"n": 0}

    def broken_send(self, fail_silently=False):
        calls["n"] += 1
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("flask_mailman.EmailMessage.send", broken_send)
    now = NOW
    with app.app_context():
        services.queue(user, "s", "b", now=now, external=True, channels=("email",))
        db.session.commit()
        result = services.deliver_due(now=now)
        assert result == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0, "deferred": 0}
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "email"))
        assert message.status == "pending" and message.attempts == 1
        assert "smtp down" in message.last_error
        assert services.deliver_due(now=now)["retry"] == 0  # backing off: not due yet
        later = now + timedelta(hours=1)
        monkeypatch.undo()
        assert services.deliver_due(now=later)["sent"] == 1
    assert calls["n"] == 1


def test_gives_up_after_max_attempts(app, make_user, monkeypatch):
    user = make_user(email="w@example.com")
    monkeypatch.setattr(
        "flask_mailman.EmailMessage.send",
        lambda self, fail_silently=False: (_ for _ in ()).throw(OSError("x")),
    )
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    try:
        with app.app_context():
            services.queue(user, "s", "b", channels=("email",))
            db.session.commit()
            now = utcnow()
            services.deliver_due(now=now)
            result = services.deliver_due(now=now + timedelta(days=1))
            assert result["failed"] == 1
    finally:
        app.config["OUTBOX_MAX_ATTEMPTS"] = 8


def test_dedupe_key_prevents_a_second_message(app, make_user):
    from sqlalchemy.exc import IntegrityError

    user = make_user()
    with app.app_context():
        services.queue(user, "s", "b", dedupe_key="reminder:1:24h")
        db.session.commit()
        services.queue(user, "s", "b", dedupe_key="reminder:1:24h")
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_inbox_page_and_mark_read(app, client, make_user, login_as):
    user = login_as(make_user())
    with app.app_context():
        services.queue(user, "预约已确认", "12月1日 14:00")
        db.session.commit()
        assert services.unread_count(user.id) == 1
    assert "预约已确认" in client.get("/inbox/").get_data(as_text=True)
    client.post("/inbox/read")
    with app.app_context():
        assert services.unread_count(user.id) == 0
