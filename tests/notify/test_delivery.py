"""Delivery of SMS and e-mail: quiet hours, outages, hangs, overlapping runs, secrets."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.notify.sms_server import FakeAliyun
from wellness.auth.models import User
from wellness.extensions import db
from wellness.notify import services, sms
from wellness.notify.models import OutboxMessage
from wellness.notify.quiet import BEIJING

DAY = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)  # 09:00 Beijing, outside quiet hours


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


class FlakyBackend:
    """Fails ``failures`` times, then sends; counts successful sends per reference."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay
        self.attempts = 0
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()

    def send(self, phone_e164, text, *, reference, code=None):
        time.sleep(self.delay)
        with self.lock:
            self.attempts += 1
            if self.failures > 0:
                self.failures -= 1
                raise sms.SmsTransportError("provider down")
            self.sent[reference] += 1
            return f"id-{reference}"


def opted_in(app, user, email: bool = False):
    """The member chose SMS (and e-mail when asked) as registration would record it."""
    with app.app_context():
        member = db.session.get(User, user.id)
        services.save_channels(member, sms=True, email_address=member.email, email=email)
        return member


def sms_rows():
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "sms").order_by(OutboxMessage.id)
    ).all()


def test_non_urgent_sms_queued_at_night_waits_until_eight(app, make_user):
    user = make_user()
    opted_in(app, user)
    sms.clear_sent()
    with app.app_context():
        services.queue(user, "预约提醒", "明天 14:00", now=bj(1, 23, 0))
        db.session.commit()
        (row,) = sms_rows()
        assert row.next_attempt_at == bj(2, 8, 0)
        assert services.deliver_due(now=bj(1, 23, 30))["sent"] == 0
        assert services.deliver_due(now=bj(2, 7, 59))["sent"] == 0
        assert sms.sent_messages() == []
        assert services.deliver_due(now=bj(2, 8, 0))["sent"] == 1
    assert [m["phone"] for m in sms.sent_messages()] == [user.phone]


def test_urgent_sms_goes_at_once_in_quiet_hours(app, make_user):
    user = make_user()
    opted_in(app, user)
    sms.clear_sent()
    with app.app_context():
        services.queue(user, "紧急", "请尽快联系", urgent=True, now=bj(1, 23, 0))
        db.session.commit()
        assert sms_rows()[0].next_attempt_at == bj(1, 23, 0)
        assert services.deliver_due(now=bj(1, 23, 0))["sent"] == 1
    assert len(sms.sent_messages()) == 1


def test_delivery_defers_a_due_sms_that_reaches_quiet_hours(app, make_user):
    user = make_user()
    opted_in(app, user)
    sms.clear_sent()
    with app.app_context():
        services.queue(user, "s", "b", now=bj(1, 21, 50))  # due at once, but not yet sent
        db.session.commit()
        result = services.deliver_due(now=bj(1, 22, 10))
        assert (result["sent"], result["deferred"]) == (0, 1)
        row = sms_rows()[0]
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, bj(2, 8, 0))
        assert services.deliver_due(now=bj(2, 8, 0))["sent"] == 1
    assert len(sms.sent_messages()) == 1


def test_outage_then_recovery_delivers_each_message_exactly_once(app, make_user, monkeypatch):
    backend = FlakyBackend(failures=5)
    monkeypatch.setitem(app.config, "SMS_BACKEND", backend)
    users = [make_user() for _ in range(3)]
    with app.app_context():
        for user in users:
            services.queue(user, "s", "b", channels=("sms",), now=DAY)
        db.session.commit()
        ids = [r.id for r in sms_rows()]
        moment = DAY
        for _ in range(12):  # every half hour: longer than any backoff reached here
            services.deliver_due(now=moment)
            moment += timedelta(minutes=30)
        rows = sms_rows()
        assert {r.status for r in rows} == {"sent"}
        assert all(r.provider_message_id == f"id-outbox-{r.id}" for r in rows)
        assert sum(r.attempts for r in rows) == 3 + 5
        assert services.deliver_due(now=moment + timedelta(days=1))["sent"] == 0
    assert backend.sent == Counter({f"outbox-{i}": 1 for i in ids})


def test_two_overlapping_runs_deliver_each_message_once(app, make_user, monkeypatch):
    backend = FlakyBackend(delay=0.02)
    monkeypatch.setitem(app.config, "SMS_BACKEND", backend)
    users = [make_user() for _ in range(8)]
    with app.app_context():
        for user in users:
            services.queue(user, "s", "b", channels=("sms",), now=DAY)
        db.session.commit()
    barrier = threading.Barrier(2)
    results = []

    def run():
        with app.app_context():
            barrier.wait()
            results.append(services.deliver_due(now=DAY))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r["sent"] for r in results) == 8
    assert len(backend.sent) == 8 and set(backend.sent.values()) == {1}
    with app.app_context():
        assert {r.status for r in sms_rows()} == {"sent"}


def test_hanging_provider_returns_within_the_timeout_and_retries(app, make_user, monkeypatch):
    user = make_user()
    with FakeAliyun() as fake:
        for key, value in fake.config(timeout=1).items():
            monkeypatch.setitem(app.config, key, value)
        fake.mode = "hang"
        with app.app_context():
            services.queue(user, "s", "b", channels=("sms",), now=DAY)
            db.session.commit()
            started = time.monotonic()
            result = services.deliver_due(now=DAY)
            assert time.monotonic() - started < 1 + 1.5
            assert result["retry"] == 1
            (row,) = sms_rows()
            assert row.status == "pending" and row.attempts == 1 and row.last_error
            assert row.next_attempt_at > DAY
            fake.mode = "ok"
            assert services.deliver_due(now=DAY + timedelta(hours=1))["sent"] == 1
            assert sms_rows()[0].provider_message_id == "biz-42"


def test_kick_delivers_in_the_background_without_blocking(app, make_user, monkeypatch):
    user = make_user()
    with FakeAliyun() as fake:
        for key, value in fake.config(timeout=1).items():
            monkeypatch.setitem(app.config, key, value)
        monkeypatch.setitem(app.config, "OUTBOX_KICK", True)
        fake.mode = "hang"
        with app.app_context():
            services.queue(user, "紧急", "b", channels=("sms",), urgent=True)
            started = time.monotonic()
            db.session.commit()  # starts the background delivery
            assert time.monotonic() - started < 0.5
            deadline = time.monotonic() + 10
            while not fake.requests and time.monotonic() < deadline:
                time.sleep(0.02)
            assert fake.requests  # the thread reached the provider
            assert services._kick_lock.acquire(timeout=10)  # and finished
            services._kick_lock.release()
            db.session.rollback()
            (row,) = sms_rows()
            assert row.status == "pending" and row.attempts == 1


def test_one_time_code_is_scrubbed_once_sent(app, make_user):
    user = make_user()
    sms.clear_sent()
    with app.app_context():
        services.queue(
            user,
            "验证码",
            "验证码",
            channels=("sms",),
            inapp=False,
            urgent=True,
            sensitive=True,
            sms_text="验证码 493817，10 分钟内有效",
            now=bj(1, 23, 0),
        )
        db.session.commit()
        (row,) = db.session.scalars(select(OutboxMessage)).all()
        assert row.body == "验证码 493817，10 分钟内有效"
        assert services.deliver_due(now=bj(1, 23, 0))["sent"] == 1
        db.session.rollback()
        row = sms_rows()[0]
        assert row.body == "******" and row.sensitive
    assert sms.sent_messages()[0]["code"] == "493817"


def test_email_and_sms_are_delivered_by_the_same_run(app, make_user):
    user = make_user(email="w@example.com")
    opted_in(app, user, email=True)
    mailman = app.extensions["mailman"]
    mailman.outbox = []
    sms.clear_sent()
    with app.app_context():
        services.queue(user, "预约提醒", "明天 14:00", link="/booking/1", now=DAY)
        db.session.commit()
        assert services.deliver_due(now=DAY)["sent"] == 2
    assert mailman.outbox[0].to == ["w@example.com"]
    assert len(sms.sent_messages()) == 1
