"""SQLite pragmas for the embedded default: WAL, foreign keys, a busy timeout, and
transactions that take the write lock up front.

Why BEGIN IMMEDIATE: a request reads before it writes (at least the signed-in user). In WAL
mode a deferred transaction whose snapshot is older than another writer's commit cannot
upgrade to a write lock and fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT;
the busy timeout does not apply). Taking the write lock at BEGIN makes concurrent writers
queue on the busy timeout instead, so conditional UPDATEs behave as they do on PostgreSQL.
SQLite has one writer at a time anyway; transactions here are short."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event


def configure_sqlite(app: Flask, db) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy issue BEGIN itself so "BEGIN IMMEDIATE" can be used where needed.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    immediate = app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:")

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
