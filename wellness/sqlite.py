"""SQLite pragmas for the embedded default: WAL, foreign keys, a busy timeout, and
transactions that take the write lock up front unless the request only reads.

Why BEGIN IMMEDIATE: a request reads before it writes (at least the signed-in user). In WAL
mode a deferred transaction whose snapshot is older than another writer's commit cannot
upgrade to a write lock and fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT;
the busy timeout does not apply). Taking the write lock at BEGIN makes concurrent writers
queue for it instead (``_begin_immediate`` polls in short steps, up to the busy timeout), so
conditional UPDATEs behave as they do on PostgreSQL.
SQLite has one writer at a time anyway; transactions here are short.

Why plain (deferred) BEGIN for read-only requests (``wellness/transactions.py``): a
transaction that never writes never needs the upgrade, and in WAL mode it takes no lock at
all, so page views no longer queue behind each other and behind writers. To keep the
upgrade from ever being attempted, a write statement inside such a transaction is refused
(``WriteInReadOnlyTransaction``) when the app is testing or ``SQLITE_STRICT_READS`` is
set, and logged as an error otherwise; the fix is to declare the view ``@writes``.
Requests that are not dispatched GETs, the CLI and jobs keep BEGIN IMMEDIATE."""

from __future__ import annotations

import logging
import sqlite3
import time

from flask import Flask
from sqlalchemy import event

from wellness.transactions import is_read_only_request

log = logging.getLogger(__name__)

READ_ONLY = "wellness_read_only"  # key in the DBAPI connection's info while a transaction runs
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


BUSY_TIMEOUT_MS = 10_000
# Waiting for the write lock: retry BEGIN IMMEDIATE after these pauses (seconds), the last
# one repeated; after LONG_WAIT seconds of waiting, every LONG_PAUSE (many workers queueing
# behind a long write should not spin), until BUSY_TIMEOUT_MS has passed.
_WRITE_LOCK_PAUSES = (0.0001, 0.0002, 0.0004, 0.0008, 0.001)
LONG_WAIT, LONG_PAUSE = 0.1, 0.005


def _begin_immediate(conn) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in steps of at most a millisecond.

    SQLite's own busy handler sleeps 1, 2, 5, 10, ... up to 100 ms between tries, so a
    writer that finds the lock taken often sleeps long after it was freed: with two
    workers booking, the second worker added nothing and one request in a hundred waited
    half a second. Here the busy handler is off while the lock is polled; the last try
    after the timeout goes through SQLite's handler and fails as before.
    """
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        started = time.monotonic()
        tries = 0
        while (waited := time.monotonic() - started) < BUSY_TIMEOUT_MS / 1000:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
            pause = _WRITE_LOCK_PAUSES[min(tries, len(_WRITE_LOCK_PAUSES) - 1)]
            time.sleep(LONG_PAUSE if waited > LONG_WAIT else pause)
            tries += 1
    finally:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class WriteInReadOnlyTransaction(RuntimeError):
    """A write in a transaction begun deferred for a read-only (GET) request."""


def is_write(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


def configure_sqlite(app: Flask, db) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine
    in_memory = uri in ("sqlite://", "sqlite:///:memory:")
    strict = bool(app.testing or app.config.get("SQLITE_STRICT_READS"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy issue BEGIN itself so "BEGIN IMMEDIATE" can be used where needed.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        read_only = is_read_only_request()
        conn.info[READ_ONLY] = read_only
        if read_only or in_memory:
            conn.exec_driver_sql("BEGIN")
        else:
            _begin_immediate(conn)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn) -> None:
        conn.info[READ_ONLY] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _guard(conn, _cursor, statement, _params, _context, _executemany) -> None:
        if conn.info.get(READ_ONLY) and is_write(statement):
            message = (
                "write statement in a read-only (GET) request's transaction; declare the "
                "view with wellness.transactions.writes: " + statement[:80]
            )
            if strict:
                raise WriteInReadOnlyTransaction(message)
            log.error(message)
