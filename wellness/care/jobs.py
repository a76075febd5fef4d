"""Scheduler sweeps for care plans (idempotent)."""

from wellness.care import services
from wellness.scheduler import Job


def send_due_measures() -> int:
    return services.send_due_measures()


JOBS = [
    Job(
        "care.send_due_measures",
        "wellness.care.jobs:send_due_measures",
        "interval",
        {"minutes": 15},
    ),
]
