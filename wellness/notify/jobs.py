"""Scheduler entry points for notifications."""

from wellness.notify import services
from wellness.scheduler import Job


def deliver_outbox() -> dict[str, int]:
    return services.deliver_due()


JOBS = [
    Job("notify.deliver_outbox", "wellness.notify.jobs:deliver_outbox", "interval", {"minutes": 1})
]
