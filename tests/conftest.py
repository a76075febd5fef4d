"""Shared fixtures: one app per test session, a clean database per test.

The suite runs on SQLite (a file, so concurrent requests use real connections) and on
PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from wellness import create_app
from wellness.auth.models import OrgUnit, User
from wellness.auth.passwords import hash_password
from wellness.config import TestingConfig
from wellness.extensions import db, limiter

PASSWORD = "correct-horse-77"


def postgres_base_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url else None


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A database of our own on the TEST_DATABASE_URL server, dropped afterwards.

    Test runs never share tables: several runs (CI, a developer, a benchmark) can use the
    same server at once.
    """
    base = postgres_base_url()
    assert base is not None
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def on_postgres() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory) -> Iterator[str]:
    if postgres_base_url():
        with scratch_postgres_database("wellness_test") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite"


@pytest.fixture(scope="session")
def app(tmp_path_factory, database_uri):
    tmp = tmp_path_factory.mktemp("app")
    app = create_app(
        TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "LOGIN_RATE_LIMIT": "1000 per minute",
            "REGISTER_RATE_LIMIT": "1000 per minute",
            "RESET_RATE_LIMIT": "1000 per minute",
            "SCHEDULER_LOCK_FILE": str(tmp / "scheduler.lock"),
        },
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if on_postgres():
            db.session.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for table in tables:
                db.session.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 - fixed names
        db.session.commit()
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_phones = count(1)


def next_phone() -> str:
    return f"+86137{next(_phones):08d}"


@pytest.fixture
def make_org_unit(app) -> Callable[..., OrgUnit]:
    def make(name: str | None = None, kind: str = "enterprise", parent: OrgUnit | None = None):
        with app.app_context():
            unit = OrgUnit(
                name=name or f"单位{next(_phones)}",
                kind=kind,
                parent_id=parent.id if parent else None,
            )
            db.session.add(unit)
            db.session.commit()
            db.session.refresh(unit)
            db.session.expunge(unit)
            return unit

    return make


@pytest.fixture
def make_user(app) -> Callable[..., User]:
    """make_user(role="worker", **fields) -> a detached User with the test PASSWORD."""
    with app.app_context():
        password_hash = hash_password(PASSWORD)

    def make(role: str = "worker", **fields) -> User:
        with app.app_context():
            fields.setdefault("phone", next_phone())
            fields.setdefault("name", f"测试{role}")
            user = User(role=role, password_hash=password_hash, **fields)
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def login_as(app, client) -> Callable[[User], User]:
    """Sign a user in on ``client`` without going through the login form."""

    def login(user: User, on=None) -> User:
        target = on or client
        with app.app_context():
            current = db.session.get(User, user.id)
            session_id = current.get_id()
        with target.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
            session.permanent = True
        return user

    return login


class LiveServer:
    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def make_app(app):
    """Another app on the same database with some settings changed; disposed afterwards."""
    made = []

    def make(**overrides):
        other = create_app(
            TestingConfig,
            {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **overrides},
        )
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


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
