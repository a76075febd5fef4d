"""The factory, configuration, headers, error pages and the health check."""

from __future__ import annotations

from wellness import create_app
from wellness.config import TestingConfig, load_or_create_secret_key, normalise_database_url


def test_factory_uses_testing_config(app):
    assert app.testing
    assert app.config["SECRET_KEY"]


def test_database_url_maps_to_psycopg3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_or_create_secret_key(str(tmp_path))
    second = load_or_create_secret_key(str(tmp_path))
    assert first == second and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert load_or_create_secret_key(str(tmp_path)) == "from-env"


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_session_cookie_flags_in_production_config(tmp_path):
    from wellness.config import ProductionConfig

    app = create_app(ProductionConfig, {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_DURATION"].days <= 7
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() <= 4 * 3600


def test_login_sets_httponly_samesite_cookie(client, make_user):
    user = make_user()
    from tests.conftest import PASSWORD

    response = client.post("/auth/login", data={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_404_page_is_localised_html_with_crisis_lines(client):
    zh = client.get("/no-such-page", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 404
    text = zh.get_data(as_text=True)
    assert "页面不存在" in text and "12356" in text and 'lang="zh-CN"' in text
    en = client.get("/no-such-page", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Page not found" in en.get_data(as_text=True)


def test_api_paths_get_json_errors(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"]["code"] == "not_found"


def test_500_page_renders_without_database(tmp_path):
    app = create_app(
        TestingConfig,
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite"},
    )

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "12356" in body and "Sorry, something went wrong" in body


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] is True


def test_no_work_at_import_time():
    import subprocess
    import sys

    code = (
        "import sys, wellness; "
        "assert 'matplotlib' not in sys.modules; "
        "assert 'wellness.auth.routes' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
