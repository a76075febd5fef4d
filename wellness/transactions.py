"""Which requests only read: GET, HEAD and OPTIONS, unless the view is declared ``writes``.

On SQLite a read-only request begins its transaction DEFERRED (no write lock, so readers
run side by side with each other and with one writer); every other transaction begins
IMMEDIATE (``wellness/sqlite.py`` explains why). A view that writes on GET, such as a staff
read of someone's record that leaves an audit row, is declared with ``@writes`` so its
request takes the write lock up front like a POST; a GET that writes only now and then (the
reports refreshing their rollups) wraps that work in ``writing()``. A write inside a
read-only request is refused (tests) or logged (production) by the guard in
``wellness/sqlite.py``.

Only a dispatched request is classified (``request_started``): CLI commands, jobs and
``test_request_context`` blocks keep the write-ready default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, has_request_context, request, request_started

F = TypeVar("F", bound=Callable)

READ_ONLY_KEY = "wellness.read_only"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes(view: F) -> F:
    """Declare that this view writes to the database even on GET (audit rows, read marks)."""
    view.writes_on_get = True  # type: ignore[attr-defined]
    return view


@contextmanager
def writing() -> Iterator[None]:
    """Inside a read-only request, let the transactions begun in this block write.

    For work a GET does now and then rather than every time (the reports bring their
    monthly rollups up to date when new data has arrived): end the read transaction before
    the block, and the transactions begun inside it take the write lock up front."""
    if not has_request_context():
        yield
        return
    previous = request.environ.get(READ_ONLY_KEY, False)
    request.environ[READ_ONLY_KEY] = False
    try:
        yield
    finally:
        request.environ[READ_ONLY_KEY] = previous


def is_read_only_request() -> bool:
    """True inside a dispatched GET/HEAD/OPTIONS request whose view is not ``@writes``."""
    return has_request_context() and request.environ.get(READ_ONLY_KEY, False)


def _classify(app: Flask, **_extra) -> None:
    if request.method not in READ_METHODS:
        return
    endpoint = request.endpoint
    view = app.view_functions.get(endpoint) if endpoint else None
    if not getattr(view, "writes_on_get", False):
        request.environ[READ_ONLY_KEY] = True


def register(app: Flask) -> None:
    request_started.connect(_classify, app)
