"""Which requests only read: GET, HEAD and OPTIONS, unless the view is declared ``writes``,
and POSTs declared ``reads_first`` until they start writing.

On SQLite a read-only request begins its transaction DEFERRED (no write lock, so readers
run side by side with each other and with one writer); every other transaction begins
IMMEDIATE (``wellness/sqlite.py`` explains why). A view that writes on GET, such as a staff
read of someone's record that leaves an audit row, is declared with ``@writes`` so its
request takes the write lock up front like a POST; a GET that writes only now and then (the
reports refreshing their rollups) wraps that work in ``writing()``. A write inside a
read-only request is refused (tests) or logged (production) by the guard in
``wellness/sqlite.py``.

A POST declared ``@reads_first`` (booking) starts read-only too: signing in and checking
the request happen without the write lock, and its use case takes the lock only for its
own transaction, by running inside ``writing()``. SQLite has one writer at a time, so the
shorter the write transactions, the more requests the workers serve side by side.

Only a dispatched request is classified (``request_started``): CLI commands, jobs and
``test_request_context`` blocks keep the write-ready default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, has_request_context, request, request_started

from wellness.extensions import db

F = TypeVar("F", bound=Callable)

READ_ONLY_KEY = "wellness.read_only"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes(view: F) -> F:
    """Declare that this view writes to the database even on GET (audit rows, read marks)."""
    view.writes_on_get = True  # type: ignore[attr-defined]
    return view


def reads_first(view: F) -> F:
    """Declare that this POST view writes only inside ``writing()`` blocks (its use cases),
    so that its request can read without the write lock until then."""
    view.reads_first = True  # type: ignore[attr-defined]
    return view


@contextmanager
def writing() -> Iterator[None]:
    """Inside a read-only request, let the transactions begun in this block write.

    For work a GET does now and then rather than every time (the reports bring their
    monthly rollups up to date when new data has arrived), and for the use cases of a
    ``reads_first`` POST: the read transaction open before the block is ended (what it
    loaded stays usable), and the transactions begun inside take the write lock up front.
    Outside a read-only request this changes nothing."""
    if not is_read_only_request():
        yield
        return
    session = db.session()
    if session.in_transaction():
        keep = session.expire_on_commit
        session.expire_on_commit = False
        try:
            session.commit()  # only reads happened in it
        finally:
            session.expire_on_commit = keep
    request.environ[READ_ONLY_KEY] = False
    try:
        yield
    finally:
        request.environ[READ_ONLY_KEY] = True


def is_read_only_request() -> bool:
    """True inside a dispatched GET/HEAD/OPTIONS request whose view is not ``@writes``."""
    return has_request_context() and request.environ.get(READ_ONLY_KEY, False)


def _classify(app: Flask, **_extra) -> None:
    endpoint = request.endpoint
    view = app.view_functions.get(endpoint) if endpoint else None
    if request.method in READ_METHODS:
        read_only = not getattr(view, "writes_on_get", False)
    else:
        read_only = getattr(view, "reads_first", False)
    if read_only:
        request.environ[READ_ONLY_KEY] = True


def register(app: Flask) -> None:
    request_started.connect(_classify, app)
