"""Walk app.url_map and request every rule as every identity; compare with tests/authz.py."""

from __future__ import annotations

import re

import pytest

from tests.authz import ACCESS, ADMIN, ANON, COUNSELOR, WORKER

SAMPLE_ARGS = {"int": "1", "string": "x", "path": "x", "default": "x"}


def build_url(rule) -> str:
    url = rule.rule
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
        pattern = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?" + name + ">")
        url = pattern.sub(SAMPLE_ARGS.get(converter or "default", "1"), url)
    return url


def test_every_rule_has_an_access_row(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(ACCESS))
    assert not missing, f"add these endpoints to tests/authz.py: {missing}"


def bearer(app, user) -> dict[str, str]:
    from tests.conftest import PASSWORD
    from wellness.auth import services
    from wellness.extensions import db

    with app.app_context():
        token, _row = services.issue_api_token(user.phone, PASSWORD)
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def identities(app, make_user):
    return {
        ANON: None,
        WORKER: make_user("worker"),
        COUNSELOR: make_user("counselor"),
        ADMIN: make_user("admin"),
    }


def test_every_rule_answers_each_identity_as_declared(app, identities, login_as):
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = build_url(rule)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
        for identity, user in identities.items():
            client = app.test_client()
            headers = {}
            if user is not None and url.startswith("/api/"):
                headers = bearer(app, user)
            elif user is not None:
                login_as(user, on=client)
            response = client.open(url, method=method, headers=headers)
            allowed = identity in ACCESS[rule.endpoint]
            status = response.status_code
            to_login = status in (301, 302, 303) and "/auth/login" in response.headers.get(
                "Location", ""
            )
            denied = status in (401, 403) or (to_login and identity == ANON)
            if allowed and denied:
                failures.append(f"{identity} denied {method} {url} ({status})")
            if not allowed and not denied:
                failures.append(f"{identity} reached {method} {url} ({status})")
            if status >= 500:
                failures.append(f"{identity} got {status} on {method} {url}")
    assert not failures, "\n".join(failures)
