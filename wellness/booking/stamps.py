"""Slot stamps: a random number per station and per counsellor that the database changes
whenever something a slot search reads about them changes.

A slot search for a station reads its counsellors, their weekly rules, date exceptions and
time off, the station's closures, hours, rooms and group sessions (with their unit's name),
and the cells already taken. Each of
those tables carries triggers (``stamp_ddl.py``) that give the stamp row of the station or the
counsellor concerned a new random value in the same transaction as the change, whichever
code makes it: ORM, Core, the CLI or plain SQL. The stamps of a station and of the
counsellors working there therefore identify one state of everything a search of that
station reads. ``search_slots`` reads them in the statement that loads the station and the
service (``STATION_STAMP``, ``COUNSELOR_STAMPS``) and keeps the day's slots it computed
under them (``OpeningsCache``). A cached answer is reused only while they are unchanged,
so it is never staler than the request's own read of the stamps.

Why random values rather than a counter: nothing can bring an old value back (a counter
restarts after a truncated table or a restored backup, and a worker could then take an
old answer for a new one); two writers of one row are ordered by its row lock anyway.

Rows: one per station (``s``, created with the station) and one per counsellor who works
at any station (``c``, created with the first ``counselor_stations`` row).
Migration 0010 installs the triggers, and ``create_all`` does too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import bindparam, func, select

from wellness.booking.models import CounselorStation, SlotStamp
from wellness.booking.stamp_ddl import COUNSELOR, STATION

# The fingerprint as two columns to add to a statement that has the ``station_id`` bind
# parameter: the station's stamp (NULL when it has no row: then nothing may be cached for
# it), and the sum of its counsellors' stamps. Whoever joins or leaves the station changes
# the station's stamp; a changed counsellor stamp changes the sum (stamps are divided by
# 1024 so that a sum of up to a thousand of them stays inside 64 bits).
STATION_STAMP = (
    select(SlotStamp.stamp)
    .where(SlotStamp.kind == STATION, SlotStamp.ref_id == bindparam("station_id"))
    .scalar_subquery()
    .label("station_stamp")
)
COUNSELOR_STAMPS = (
    select(func.sum(SlotStamp.stamp // 1024))
    .where(
        SlotStamp.kind == COUNSELOR,
        SlotStamp.ref_id.in_(
            select(CounselorStation.counselor_id).where(
                CounselorStation.station_id == bindparam("station_id")
            )
        ),
    )
    .scalar_subquery()
    .label("counselor_stamps")
)


def fingerprint(station_stamp: int | None, counselor_stamps: Any) -> tuple[int, int] | None:
    """The cache key part read with ``STATION_STAMP`` and ``COUNSELOR_STAMPS``."""
    if station_stamp is None:
        return None
    return station_stamp, int(counselor_stamps or 0)


class OpeningsCache:
    """A small LRU of computed openings, each kept with the fingerprint it was computed
    under. Per process; safe for threads."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[tuple, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, stamps: tuple) -> Any | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != stamps:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: Hashable, stamps: tuple, value: Any) -> None:
        with self._lock:
            self._items[key] = (stamps, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
