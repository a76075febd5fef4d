"""Migrations build the real database, and they match the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import postgres_base_url, scratch_postgres_database
from wellness import create_app
from wellness.config import TestingConfig
from wellness.extensions import db


@pytest.fixture
def empty_database_url(tmp_path):
    if not postgres_base_url():
        yield f"sqlite:///{tmp_path}/migrations.sqlite"
        return
    with scratch_postgres_database("wellness_migrations") as url:
        yield url


def test_upgrade_matches_models_and_downgrades(empty_database_url):
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diffs == [], f"models and migrations differ: {diffs}"
        downgrade(revision="base")
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() is None
        db.engine.dispose()


def test_audit_trail_is_append_only_in_postgres(empty_database_url):
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("the trigger exists on PostgreSQL; SQLite relies on the ORM guard")
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_events (at, action) VALUES (now(), 'x')"))
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET action = 'y'"))
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))
        db.engine.dispose()
