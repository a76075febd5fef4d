"""Caches for report figures and chart images. Flask-Caching is not installed; two small ones:

- ``memo``: a bounded in-process LRU (thread-safe) for suppressed month slices and section
  tables. Keys always carry the data version of what they were computed from (rollup state
  of the month, counts and highest ids of the source tables, the organisation tree, k), so
  new data is a new key and the old entry ages out. Bounded by entry count: memory stays
  flat however many filter sets are asked for.
- ``charts``: PNG files under ``instance/report_cache/`` named by the SHA-256 of the chart
  name, the filter set, the section's data version, the language and k. Files are shared by
  every gunicorn worker on the machine and survive restarts; written atomically (temporary
  file + rename); the oldest files are pruned beyond ``REPORTS_CHART_CACHE_FILES``. A job
  renders the default dashboard's charts after data changes, so the first admin of the day
  does not wait for matplotlib (``jobs.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app

T = TypeVar("T")


class LRU:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return default

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_compute(self, key: Any, compute: Callable[[], T]) -> T:
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


memo = LRU(4096)


def digest(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _folder() -> Path:
    configured = current_app.config.get("REPORTS_CACHE_DIR")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "report_cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chart_get(key: str) -> bytes | None:
    path = _folder() / f"{key}.png"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data or None


def chart_put(key: str, png: bytes) -> None:
    folder = _folder()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(png)
        os.replace(tmp, folder / f"{key}.png")
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return
    _prune(folder, int(current_app.config.get("REPORTS_CHART_CACHE_FILES", 400)))


def _prune(folder: Path, keep: int) -> None:
    files = list(folder.glob("*.png"))
    if len(files) <= keep:
        return

    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for path in sorted(files, key=mtime)[: len(files) - keep]:
        path.unlink(missing_ok=True)


def clear_all() -> None:
    """Forget everything (tests and benchmarks measure uncached work with it)."""
    from wellness.reports import services

    memo.clear()
    with services._checked_lock:
        services._checked.clear()
    folder = _folder()
    for path in folder.glob("*.png"):
        path.unlink(missing_ok=True)
