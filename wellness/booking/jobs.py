"""Scheduler sweeps for booking. Each is idempotent and safe in two processes at once:
rows are claimed by conditional UPDATEs (reminder columns, held offers) and the outbox's
unique dedupe_key stands behind every message."""

from __future__ import annotations

from wellness.booking import services
from wellness.scheduler import Job


def send_reminders() -> dict[str, int]:
    """The 24 h and 2 h reminders, each once per appointment."""
    return services.send_reminders()


def expire_holds() -> int:
    """Offers to waitlisted members that were not accepted in time go to the next one."""
    return services.expire_holds()


def prune_cells() -> int:
    """Occupancy cells of times long past protect nothing; keep the table small."""
    return services.prune_cells()


JOBS = [
    Job(
        "booking.send_reminders", "wellness.booking.jobs:send_reminders", "interval", {"minutes": 5}
    ),
    Job("booking.expire_holds", "wellness.booking.jobs:expire_holds", "interval", {"minutes": 1}),
    Job(
        "booking.prune_cells",
        "wellness.booking.jobs:prune_cells",
        "cron",
        {"hour": 3, "minute": 30},
    ),
]
