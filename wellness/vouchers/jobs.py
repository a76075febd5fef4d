"""Scheduler sweeps for vouchers. Both are idempotent and safe in two processes at once."""

from __future__ import annotations

from wellness.scheduler import Job
from wellness.vouchers import services


def expire_vouchers() -> dict[str, int]:
    return services.expire_due()


def remind_expiring_vouchers() -> dict[str, int]:
    return services.remind_expiring()


JOBS = [
    # Every hour at :05: vouchers end at Beijing midnight, so they are marked by 00:05.
    Job("vouchers.expire", "wellness.vouchers.jobs:expire_vouchers", "cron", {"minute": 5}),
    # Reminders at a civil hour, Beijing time (the scheduler's timezone).
    Job(
        "vouchers.remind_expiring",
        "wellness.vouchers.jobs:remind_expiring_vouchers",
        "cron",
        {"hour": 10, "minute": 0},
    ),
]
