"""The API frame: token lifecycle, one error format everywhere, no cookies, caching."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.conftest import PASSWORD
from wellness.database import utcnow


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_token_issue_use_revoke(api, make_user, token_for):
    user = make_user(name="李工")
    token = token_for(user)
    me = api("GET", "/me", token)
    assert me.status_code == 200 and me.json["name"] == "李工" and me.json["role"] == "worker"
    assert "Set-Cookie" not in me.headers
    assert api("DELETE", "/auth/token", token).status_code == 200
    assert_error(api("GET", "/me", token), 401, "unauthorized")


def test_token_expires(api, make_user, token_for, app):
    token = token_for(make_user())
    hours = app.config["API_TOKEN_HOURS"]
    with time_machine.travel(utcnow() + timedelta(hours=hours, minutes=1), tick=False):
        assert_error(api("GET", "/me", token), 401)


def test_password_change_and_logout_revoke_tokens(app, client, api, make_user, token_for, login_as):
    user = make_user()
    token = token_for(user)
    login_as(user)
    client.post(
        "/auth/password", data={"current_password": PASSWORD, "new_password": "another-pass-42"}
    )
    assert_error(api("GET", "/me", token), 401)


def test_wrong_credentials_are_one_generic_error(api, make_user):
    user = make_user()
    wrong = assert_error(
        api(
            "POST",
            "/auth/token",
            json={"phone": user.phone, "password": "x"},
            headers={"Accept-Language": "en"},
        ),
        422,
    )
    unknown = assert_error(
        api(
            "POST",
            "/auth/token",
            json={"phone": "13911110000", "password": "x"},
            headers={"Accept-Language": "en"},
        ),
        422,
    )
    assert wrong["message"] == unknown["message"] == "The mobile number or password is not correct."


def test_token_endpoint_is_rate_limited(app, api, make_user):
    user = make_user()
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        codes = [
            api("POST", "/auth/token", json={"phone": user.phone, "password": "bad"}).status_code
            for _ in range(3)
        ]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes == [422, 422, 429]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"json": {"phone": 13800138000, "password": "x"}}, 422, "invalid"),
        ({"json": {"phone": "13800138000"}}, 422, "invalid"),
        ({"json": {"phone": "1", "password": "x", "admin": True}}, 422, "invalid"),
        ({"json": ["phone"]}, 422, "invalid"),
        ({"data": "x" * (3 * 1024 * 1024), "content_type": "application/json"}, 413, None),
    ],
)
def test_bad_bodies_get_clear_4xx(api, kwargs, status, code):
    error = assert_error(api("POST", "/auth/token", **kwargs), status, code)
    if status == 422:
        assert error["fields"]


def test_field_errors_name_the_field(api):
    error = assert_error(
        api("POST", "/auth/token", json={"phone": 1, "password": "x", "extra": 1}), 422
    )
    assert error["fields"] == {"phone": "wrong_type", "extra": "unknown_field"}


def test_unknown_path_and_method_are_json(api):
    assert_error(api("GET", "/nope"), 404, "not_found")
    response = api("PUT", "/auth/token")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_error_messages_follow_accept_language(api):
    zh = assert_error(api("GET", "/nope", headers={"Accept-Language": "zh-CN"}), 404)
    en = assert_error(api("GET", "/nope", headers={"Accept-Language": "en"}), 404)
    assert zh["message"] == "找不到该页面。" and en["message"] == "The page was not found."


def test_missing_or_bad_bearer_is_401(api):
    assert_error(api("GET", "/me"), 401)
    assert_error(api("GET", "/me", "not-a-token"), 401)
    response = api("GET", "/me", headers={"Authorization": "Basic abc"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_role_checks(api, make_user, token_for):
    counselor = token_for(make_user("counselor"))
    assert_error(api("GET", "/consent", counselor), 403, "forbidden")


def test_consent_roundtrip(api, make_user, token_for):
    token = token_for(make_user())
    got = api("GET", "/consent", token, headers={"Accept-Language": "zh"})
    assert got.json["given"] is False and "敏感个人信息" in got.json["text"]
    assert_error(api("POST", "/consent", token, json={"version": "old"}), 422)
    given = api("POST", "/consent", token, json={"version": got.json["version"]})
    assert given.status_code == 201 and given.json["given"] is True
    withdrawn = api("DELETE", "/consent", token)
    assert withdrawn.json["given"] is False


def test_etag_and_conditional_get(api, make_user, token_for):
    token = token_for(make_user())
    first = api("GET", "/me", token)
    etag = first.headers["ETag"]
    again = api("GET", "/me", token, headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in spec["paths"]
    assert "ErrorBody" in str(spec["components"])
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "/auth/token" in page.get_data(as_text=True)


def test_api_never_sets_cookies(api, make_user, token_for):
    token = token_for(make_user())
    for response in (api("GET", "/me", token), api("GET", "/nope"), api("GET", "/me")):
        assert "Set-Cookie" not in response.headers
