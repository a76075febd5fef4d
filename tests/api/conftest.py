from __future__ import annotations

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def token_for(client):
    """token_for(user) -> a bearer token obtained through the API itself."""

    def issue(user) -> str:
        response = client.post(
            "/api/v1/auth/token", json={"phone": user.phone, "password": PASSWORD}
        )
        assert response.status_code == 201, response.json
        return response.json["token"]

    return issue


@pytest.fixture
def api(client):
    """api(method, path, token=None, **kw) -> response, with the bearer header set."""

    def call(method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call
