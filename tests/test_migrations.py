"""Migrations build the real database, and they match the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import column, insert, table, text

from tests.conftest import postgres_base_url, scratch_postgres_database
from wellness import create_app
from wellness.booking.models import CounselorStation, Station
from wellness.config import TestingConfig
from wellness.database import utcnow
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


def _triggers(conn) -> set[tuple[str, str]]:
    """(name, definition) of every trigger and trigger function."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        return set(rows)
    triggers = conn.execute(
        text("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal")
    )
    functions = conn.execute(
        text("SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
    )
    # (function bodies compared without their surrounding whitespace)
    return {(name, sql.strip()) for name, sql in [*triggers, *functions]}


def test_migrated_database_has_the_triggers_create_all_makes(app, empty_database_url):
    """The test schema (create_all) and a migrated database carry the same triggers (slot
    stamps everywhere; append-only audit trail and voucher ledger on PostgreSQL), and
    the slot stamp rows are filled for what existed before migration 0010."""
    migrated = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with migrated.app_context():
        upgrade(revision="0009_risk_rollup")
        with db.engine.begin() as conn:
            # The users table as revision 0009 has it (later revisions add columns).
            users_0009 = table(
                "users",
                *(column(name) for name in ("id", "phone", "name", "role", "password_hash")),
                *(column(name) for name in ("active", "session_version")),
                *(column(name) for name in ("created_at", "updated_at")),
            )
            stamp = utcnow()
            conn.execute(
                insert(users_0009).values(
                    phone="+8613700000001",
                    name="王静",
                    role="counselor",
                    password_hash="x",
                    active=True,
                    session_version=1,
                    created_at=stamp,
                    updated_at=stamp,
                ),  # fmt: skip
            )
            user = conn.execute(
                text("SELECT id FROM users WHERE phone = '+8613700000001'")
            ).scalar()
            station = conn.execute(
                insert(Station).values(
                    name="江北站",
                    district="江北区",
                    address="人民路1号",
                    latitude=30.3,
                    longitude=120.1,
                    phone="0571-1",
                ),  # fmt: skip
            ).inserted_primary_key[0]
            conn.execute(insert(CounselorStation).values(counselor_id=user, station_id=station))
        upgrade()
        with db.engine.connect() as conn:
            upgraded = _triggers(conn)
            stamps = set(conn.execute(text("SELECT kind, ref_id FROM slot_stamps")))
        downgrade(revision="base")
        db.engine.dispose()
    assert stamps == {("s", station), ("c", user)}
    with app.app_context(), db.engine.connect() as conn:
        created = _triggers(conn)
    assert len(upgraded) > 10 and upgraded == created
