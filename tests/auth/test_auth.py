"""Accounts: registration, login, rate limits, session revocation, CSRF, consent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from wellness.audit import AuditEvent
from wellness.auth.models import ConsentRecord, User
from wellness.auth.phones import InvalidPhone, mask_phone, normalise_mobile
from wellness.extensions import db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
    ],
)
def test_mobile_numbers_are_stored_e164(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12345",
        "1381234567",
        "138123456789",
        "010-12345678",
        "１３８１２３４５６７８",
        "+12025550123",
        "abc",
        "13812345678" * 3,
    ],
)
def test_bad_mobile_numbers_are_rejected(raw):
    with pytest.raises(InvalidPhone):
        normalise_mobile(raw)


def test_mask_phone():
    assert mask_phone("+8613812345678") == "138****5678"


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_register_creates_worker_and_signs_in(app, client, make_org_unit):
    unit = make_org_unit("滨江地铁集团工会")
    response = client.post(
        "/auth/register",
        data={
            "name": "小李",
            "phone": "139 0000 1111",
            "password": "a-long-pass-9",
            "org_unit_id": unit.id,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "+8613900001111"))
        assert user.role == "worker" and user.org_unit_id == unit.id
        assert user.password_hash.startswith("$argon2id$")
    assert "小李" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("phone", ["12345", "１３８００１３８０００", "<script>", "1" * 300])
def test_register_bad_phone_is_a_field_error_not_500(app, client, phone):
    response = client.post(
        "/auth/register",
        data={"name": "x", "phone": phone, "password": "a-long-pass-9", "org_unit_id": 0},
        headers={"Accept-Language": "zh"},
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "请输入有效的中国大陆手机号码" in body
    assert 'id="phone-error"' in body and 'aria-invalid="true"' in body
    assert count(app, User) == 0


def test_register_duplicate_phone_is_409_with_field_error(app, client, make_user):
    make_user(phone="+8613900002222")
    response = client.post(
        "/auth/register",
        data={"name": "x", "phone": "13900002222", "password": "a-long-pass-9", "org_unit_id": 0},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 409
    assert "already registered" in response.get_data(as_text=True)
    assert count(app, User) == 1


def test_register_rejects_common_password(app, client):
    response = client.post(
        "/auth/register",
        data={"name": "x", "phone": "13900003333", "password": "12345678", "org_unit_id": 0},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "too easy to guess" in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_login_and_generic_failure_message(app, client, make_user):
    user = make_user()
    wrong = client.post(
        "/auth/login",
        data={"phone": user.phone, "password": "nope-nope"},
        headers={"Accept-Language": "en"},
    )
    unknown = client.post(
        "/auth/login",
        data={"phone": "13911112222", "password": "nope-nope"},
        headers={"Accept-Language": "en"},
    )
    message = "The mobile number or password is not correct."
    assert wrong.status_code == unknown.status_code == 401
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    ok = client.post(
        "/auth/login", data={"phone": user.phone.removeprefix("+86"), "password": PASSWORD}
    )
    assert ok.status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["auth.login_failed", "auth.login"]


def test_login_rate_limited_after_n_attempts(app, client, make_user):
    user = make_user()
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [
            client.post(
                "/auth/login",
                data={"phone": user.phone, "password": "bad-pass-1"},
                headers={"Accept-Language": "en"},
            ).status_code
            for _ in range(4)
        ]
        blocked = client.post(
            "/auth/login",
            data={"phone": user.phone, "password": PASSWORD},
            headers={"Accept-Language": "en"},
        )
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert statuses == [401, 401, 401, 429]
    assert blocked.status_code == 429
    body = blocked.get_data(as_text=True)
    assert "Please slow down" in body and "12356" in body
    assert "Retry-After" in blocked.headers


def test_safe_next_refuses_other_sites(client, make_user):
    user = make_user()
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = client.post(
            f"/auth/login?next={target}", data={"phone": user.phone, "password": PASSWORD}
        )
        assert response.headers["Location"] == "/"
        client.post("/auth/logout")


def test_logout_revokes_a_copied_session_cookie(app, make_user):
    user = make_user()
    browser = app.test_client()
    browser.post("/auth/login", data={"phone": user.phone, "password": PASSWORD})
    stolen = browser.get_cookie("wellness_session").value
    thief = app.test_client()
    thief.set_cookie("wellness_session", stolen)
    assert thief.get("/inbox/").status_code == 200
    browser.post("/auth/logout")
    assert thief.get("/inbox/").status_code == 302  # back to the login page


def test_password_change_revokes_other_sessions(app, make_user):
    user = make_user()
    phone_a, phone_b = app.test_client(), app.test_client()
    for c in (phone_a, phone_b):
        c.post("/auth/login", data={"phone": user.phone, "password": PASSWORD})
    response = phone_a.post(
        "/auth/password", data={"current_password": PASSWORD, "new_password": "brand-new-pass-5"}
    )
    assert response.status_code == 302
    assert phone_b.get("/inbox/").status_code == 302
    fresh = app.test_client()
    assert (
        fresh.post("/auth/login", data={"phone": user.phone, "password": PASSWORD}).status_code
        == 401
    )
    assert (
        fresh.post(
            "/auth/login", data={"phone": user.phone, "password": "brand-new-pass-5"}
        ).status_code
        == 302
    )


def test_password_change_wrong_current_is_field_error(client, make_user, login_as):
    login_as(make_user())
    response = client.post(
        "/auth/password",
        data={"current_password": "wrong-one", "new_password": "x-new-pass-5"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "current password is not correct" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_rejected(make_app, make_user):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    user = make_user()
    c = csrf_app.test_client()
    response = c.post(
        "/auth/login",
        data={"phone": user.phone, "password": PASSWORD},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    # With the token from the page, the same login works.
    page = c.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    ok = c.post(
        "/auth/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": token}
    )
    assert ok.status_code == 302


def test_worker_gets_403_on_admin_pages(client, make_user, login_as):
    login_as(make_user("worker"))
    for url in ("/auth/users", "/auth/users/new", "/auth/org-units"):
        assert client.get(url).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/auth/users")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_admin_creates_user_and_changes_role(app, client, make_user, login_as):
    admin = login_as(make_user("admin"))
    response = client.post(
        "/auth/users/new",
        data={
            "name": "新咨询师",
            "phone": "13900004444",
            "role": "counselor",
            "org_unit_id": 0,
            "password": "a-long-pass-9",
            "email": "",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(select(User).where(User.phone == "+8613900004444"))
        assert created.role == "counselor"
        created_id, version = created.id, created.session_version
    client.post(f"/auth/users/{created_id}", data={"role": "admin", "active": "y"})
    with app.app_context():
        changed = db.session.get(User, created_id)
        assert changed.role == "admin" and changed.session_version == version + 1
        events = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)
        ).all()
    assert "user.create" in events and "user.role_change" in events


def test_deactivated_user_is_signed_out(app, client, make_user, login_as):
    worker = make_user()
    other = app.test_client()
    login_as(worker, on=other)
    assert other.get("/inbox/").status_code == 200
    login_as(make_user("admin"))
    client.post(f"/auth/users/{worker.id}", data={"role": "worker"})  # active unchecked
    assert other.get("/inbox/").status_code == 302


def test_consent_give_and_withdraw(app, client, make_user, login_as):
    worker = login_as(make_user())
    page = client.get("/auth/consent", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "敏感个人信息" in page
    assert client.post("/auth/consent", data={"version": "2026-11"}).status_code == 400  # no tick
    assert (
        client.post("/auth/consent", data={"version": "1999-01", "agree": "y"}).status_code == 422
    )
    assert (
        client.post("/auth/consent", data={"version": "2026-11", "agree": "y"}).status_code == 302
    )
    with app.app_context():
        record = db.session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == worker.id))
        assert record.version == "2026-11" and record.withdrawn_at is None
    client.post("/auth/consent/withdraw")
    with app.app_context():
        record = db.session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == worker.id))
        assert record.withdrawn_at is not None


def test_cli_users_create(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "admin",
            "--phone",
            "13900005555",
            "--name",
            "管理员",
            "--password",
            "a-long-pass-9",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "+8613900005555" in result.output
    bad = runner.invoke(
        args=["users", "create", "--phone", "123", "--name", "x", "--password", "a-long-pass-9"]
    )
    assert bad.exit_code != 0 and "phone" in bad.output and "手机号码" in bad.output


def test_language_switch_sticks(client, make_user):
    response = client.post("/lang", data={"lang": "en", "next": "/auth/login"})
    assert response.status_code == 302
    page = client.get("/auth/login", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page
    client.post("/lang", data={"lang": "zh", "next": "https://evil.example/"})
    page = client.get("/auth/login").get_data(as_text=True)
    assert "登录" in page


def test_accept_language_picks_locale(client):
    assert "Sign in" in client.get("/auth/login", headers={"Accept-Language": "en-GB"}).get_data(
        as_text=True
    )
    assert "登录" in client.get("/auth/login", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "登录" in client.get("/auth/login").get_data(as_text=True)  # default zh
