"""Scheduler sweeps for messaging (idempotent)."""

from wellness.messaging import services
from wellness.scheduler import Job


def notify_overdue() -> int:
    return services.notify_overdue()


def retention_sweep() -> int:
    return services.retention_sweep()


JOBS = [
    Job(
        "messaging.notify_overdue",
        "wellness.messaging.jobs:notify_overdue",
        "interval",
        {"minutes": 5},
    ),
    Job(
        "messaging.retention_sweep", "wellness.messaging.jobs:retention_sweep", "cron", {"hour": 3}
    ),
]
