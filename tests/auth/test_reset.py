"""Getting back in: the SMS code (single use, expiring, limited, generic) and an admin's reset."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from wellness.auth import reset
from wellness.auth.models import PasswordResetCode, User
from wellness.database import utcnow
from wellness.extensions import db
from wellness.notify import services as notify
from wellness.notify import sms
from wellness.notify.models import OutboxMessage

NEW = "a-new-long-passphrase-42"


@pytest.fixture(autouse=True)
def _no_sent_sms():
    sms.clear_sent()
    yield
    sms.clear_sent()


def delivered_code(app, phone: str) -> str:
    """Run the outbox job and read the last code the console SMS backend sent to ``phone``."""
    with app.app_context():
        notify.deliver_due(now=utcnow() + timedelta(seconds=1))
    texts = [m["text"] for m in sms.sent_messages() if m.get("phone") == phone]
    codes = [found for text in texts for found in re.findall(r"(?<!\d)(\d{6})(?!\d)", text)]
    assert codes, f"no code sent to {phone}: {sms.sent_messages()}"
    return codes[-1]


def ask(client, phone: str):
    return client.post("/api/v1/auth/password-reset", json={"phone": phone})


def confirm(client, phone: str, code: str, password: str = NEW):
    return client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"phone": phone, "code": code, "new_password": password},
        headers={"Accept-Language": "en"},
    )


def test_code_by_sms_resets_the_password_and_is_scrubbed(app, client, make_user):
    user = make_user("worker")
    assert ask(client, user.phone).status_code == 202
    code = delivered_code(app, user.phone)
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "sms"))
        assert code not in row.body and code not in (row.subject or "")
        stored = db.session.scalar(select(PasswordResetCode))
        assert code not in stored.code_hash
    assert confirm(client, user.phone, code).status_code == 200
    login = client.post("/api/v1/auth/token", json={"phone": user.phone, "password": NEW})
    assert login.status_code == 201


def test_known_and_unknown_numbers_get_the_same_answer(app, client, make_user):
    user = make_user("worker")
    known, unknown = ask(client, user.phone), ask(client, "13911112222")
    assert (known.status_code, known.json) == (unknown.status_code, unknown.json)
    page_known = client.post("/auth/forgot", data={"phone": user.phone})
    page_unknown = client.post("/auth/forgot", data={"phone": "13911112222"})
    assert page_known.status_code == page_unknown.status_code == 302
    with app.app_context():
        notify.deliver_due(now=utcnow() + timedelta(seconds=1))
    assert {m["phone"] for m in sms.sent_messages()} == {user.phone}


def test_wrong_expired_reused_and_superseded_codes_are_refused(app, client, make_user):
    user = make_user("worker")
    ask(client, user.phone)
    first = delivered_code(app, user.phone)
    ask(client, user.phone)
    second = delivered_code(app, user.phone)
    wrong = "000000" if second != "000000" else "111111"
    response = confirm(client, user.phone, wrong)
    assert response.status_code == 422
    assert "code" in response.json["error"]["fields"]
    if first != second:
        assert confirm(client, user.phone, first).status_code == 422  # superseded
    assert confirm(client, user.phone, second).status_code == 200
    assert confirm(client, user.phone, second, "another-passphrase-77").status_code == 422
    with app.app_context():
        now = utcnow()
        reset.request_code(user.phone, now=now + timedelta(hours=1))
    late = delivered_code(app, user.phone)
    with app.app_context(), pytest.raises(reset.InvalidInput):
        reset.reset_with_code(user.phone, late, NEW, now=now + timedelta(hours=1, minutes=11))


def test_five_wrong_tries_kill_the_code(app, client, make_user):
    user = make_user("worker")
    ask(client, user.phone)
    code = delivered_code(app, user.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert confirm(client, user.phone, wrong).status_code == 422
    assert confirm(client, user.phone, code).status_code == 422


def test_a_flood_of_requests_sends_at_most_the_limit(app, client, make_user):
    user = make_user("worker")
    answers = {ask(client, user.phone).status_code for _ in range(8)}
    assert answers <= {202, 429}
    with app.app_context():
        codes = db.session.scalar(select(func.count(PasswordResetCode.id)))
        assert codes == app.config["RESET_CODES_PER_15_MINUTES"]


def test_concurrent_submits_of_one_code_change_the_password_once(app, make_user):
    user = make_user("worker")
    client = app.test_client()
    ask(client, user.phone)
    code = delivered_code(app, user.phone)
    barrier = threading.Barrier(12)
    results: list[int] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        own = app.test_client()
        barrier.wait()
        status = confirm(own, user.phone, code, f"passphrase-number-{index:02d}").status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [200] + [422] * 11
    with app.app_context():
        used = db.session.scalars(select(PasswordResetCode.used_at)).all()
        assert len([u for u in used if u is not None]) == 1


def test_reset_ends_every_session_and_api_token(app, client, make_user, login_as, token_for):
    user = make_user("worker")
    browser = app.test_client()
    login_as(user, on=browser)
    assert browser.get("/notify/settings").status_code == 200
    token = token_for(user)
    ask(client, user.phone)
    assert confirm(client, user.phone, delivered_code(app, user.phone)).status_code == 200
    assert browser.get("/notify/settings").status_code in (302, 401)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_admin_reset_forces_a_change_at_next_sign_in(app, client, make_user, login_as):
    admin, member = make_user("admin"), make_user("worker")
    admin_client = app.test_client()
    login_as(admin, on=admin_client)
    refused = admin_client.post(f"/auth/users/{member.id}/reset-password", data={})
    assert refused.status_code == 303  # not confirmed: nothing changed
    page = admin_client.post(f"/auth/users/{member.id}/reset-password", data={"confirm": "y"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    temporary = re.search(r"<code>([^<]+)</code>", page.get_data(as_text=True)).group(1)
    with app.app_context():
        assert db.session.get(User, member.id).must_change_password
    signed = client.post("/auth/login", data={"phone": member.phone, "password": temporary})
    assert signed.status_code == 302
    assert client.get("/").headers["Location"].endswith("/auth/password")
    token = client.post(
        "/api/v1/auth/token", json={"phone": member.phone, "password": temporary}
    ).json["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    blocked = client.get("/api/v1/me", headers=bearer)
    assert blocked.status_code == 403
    assert blocked.json["error"]["code"] == "password_change_required"
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": temporary, "new_password": NEW},
        headers=bearer,
    )
    assert changed.status_code == 200
    with app.app_context():
        assert not db.session.get(User, member.id).must_change_password
    assert client.post("/api/v1/auth/token", json={"phone": member.phone, "password": NEW})


def test_the_old_password_no_longer_works_after_a_reset(app, client, make_user):
    user = make_user("worker")
    ask(client, user.phone)
    confirm(client, user.phone, delivered_code(app, user.phone))
    old = client.post("/api/v1/auth/token", json={"phone": user.phone, "password": PASSWORD})
    assert old.status_code == 422


def test_registration_with_a_bad_email_names_the_field_and_creates_nobody(app, client):
    response = client.post(
        "/auth/register",
        data={
            "name": "新会员",
            "phone": "13955556666",
            "password": "a-good-long-passphrase",
            "email": "not-an-address",
            "sms": "y",
            "org_unit_id": "0",
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code in (400, 422)
    assert "email" in response.get_data(as_text=True).lower()
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_registration_stores_the_chosen_channels(app, client):
    response = client.post(
        "/auth/register",
        data={
            "name": "新会员",
            "phone": "13955556667",
            "password": "a-good-long-passphrase",
            "email": "Member@Example.COM",
            "org_unit_id": "0",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User))
        choices = notify.channels_for(user)
        assert choices["email_address"] == "Member@example.com"
        assert choices["email"] is True and choices["sms"] is False
