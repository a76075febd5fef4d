"""Scheduler entry points for the risk queue."""

from wellness.risk import services
from wellness.scheduler import Job


def escalate_overdue() -> int:
    return services.escalate_overdue()


JOBS = [
    Job("risk.escalate_overdue", "wellness.risk.jobs:escalate_overdue", "interval", {"minutes": 1})
]
