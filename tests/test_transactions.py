"""Read-only requests on SQLite: a GET begins DEFERRED (no write lock), a write inside one is
refused in tests, and ``@writes`` / ``writing()`` are the two ways to write on GET. A POST
declared ``@reads_first`` reads without the write lock and writes only inside ``writing()``.
Waiting for the write lock polls in steps of at most a millisecond."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from wellness import create_app
from wellness.config import TestingConfig
from wellness.extensions import db
from wellness.sqlite import WriteInReadOnlyTransaction
from wellness.transactions import reads_first, writes, writing


@pytest.fixture
def sqlite_app(tmp_path):
    path = tmp_path / "tx.sqlite"
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})

    def insert():
        db.session.execute(text("INSERT INTO scratch (x) VALUES (1)"))

    @app.get("/t/read")
    def read():
        return str(db.session.scalar(text("SELECT count(*) FROM scratch")))

    @app.get("/t/undeclared")
    def undeclared():
        insert()
        db.session.commit()
        return "written"

    @app.get("/t/declared")
    @writes
    def declared():
        insert()
        db.session.commit()
        return "written"

    @app.get("/t/block")
    def block():
        seen = db.session.scalar(text("SELECT count(*) FROM scratch"))
        db.session.commit()
        with writing():
            insert()
            db.session.commit()
        return str(seen + 1)

    @app.post("/t/reads-first")
    @reads_first
    def reads_first_view():
        seen = db.session.scalar(text("SELECT count(*) FROM scratch"))
        app.config["READ_DONE"].set()  # the read happened; the test may now let go
        if app.config.get("WRITE_EARLY"):
            insert()
        with writing():
            insert()
            db.session.commit()
        return str(seen + 1)

    app.config["READ_DONE"] = threading.Event()
    with app.app_context():
        db.session.execute(text("CREATE TABLE scratch (x INTEGER)"))
        db.session.commit()
    yield app, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM scratch").fetchone()[0]


def test_a_write_in_an_undeclared_get_is_refused_and_nothing_is_written(sqlite_app, caplog):
    app, path = sqlite_app
    assert app.test_client().get("/t/undeclared").status_code == 500
    refused = [r for r in caplog.records if r.exc_info]
    assert refused and refused[-1].exc_info[0] is WriteInReadOnlyTransaction
    assert "INSERT INTO scratch" in str(refused[-1].exc_info[1])
    assert rows(path) == 0


def test_declared_views_and_writing_blocks_may_write_on_get(sqlite_app):
    app, path = sqlite_app
    client = app.test_client()
    assert client.get("/t/declared").get_data(as_text=True) == "written"
    assert client.get("/t/block").get_data(as_text=True) == "2"
    assert rows(path) == 2
    # after the block the request is read-only again: a POST-free GET still only reads
    assert client.get("/t/read").get_data(as_text=True) == "2"


def test_a_read_only_get_does_not_wait_for_a_writer(sqlite_app):
    """Another connection holds SQLite's write lock; a page view still answers at once
    (before, every request began IMMEDIATE and queued behind the writer)."""
    app, path = sqlite_app
    writer = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO scratch (x) VALUES (7)")
        response = app.test_client().get("/t/read")
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "0"  # the writer has not committed
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_reads_first_post_reads_without_the_write_lock_and_then_waits_for_it(sqlite_app):
    """While another connection holds the write lock, a ``reads_first`` POST gets through
    its reads, then waits in ``writing()`` and writes once the lock is free."""
    app, path = sqlite_app
    writer = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO scratch (x) VALUES (7)")
    answer = {}
    post = threading.Thread(
        target=lambda: answer.update(r=app.test_client().post("/t/reads-first"))
    )
    post.start()
    try:
        assert app.config["READ_DONE"].wait(5), "the read waited for the writer"
        time.sleep(0.05)
        assert "r" not in answer  # its write waits for the lock
    finally:
        writer.execute("COMMIT")
        writer.close()
    post.join(5)
    # it read before the other writer committed, and wrote after it
    assert answer["r"].status_code == 200 and answer["r"].get_data(as_text=True) == "1"
    assert rows(path) == 2


def test_a_reads_first_post_may_not_write_outside_writing(sqlite_app):
    app, path = sqlite_app
    app.config["WRITE_EARLY"] = True
    assert app.test_client().post("/t/reads-first").status_code == 500
    assert rows(path) == 0
