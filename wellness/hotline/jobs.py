"""Scheduler sweeps for the hotline. Each is idempotent and safe in two processes at once."""

from wellness.hotline import services
from wellness.scheduler import Job


def materialise_shifts() -> int:
    return services.materialise_shifts()


def warn_gaps() -> dict[str, int]:
    return services.warn_gaps()


def remind_follow_ups() -> int:
    return services.remind_follow_ups()


def purge_expired() -> int:
    return services.purge_expired()


JOBS = [
    Job(
        "hotline.materialise_shifts",
        "wellness.hotline.jobs:materialise_shifts",
        "cron",
        {"hour": 1, "minute": 10},
    ),
    Job("hotline.warn_gaps", "wellness.hotline.jobs:warn_gaps", "interval", {"minutes": 15}),
    Job(
        "hotline.remind_follow_ups",
        "wellness.hotline.jobs:remind_follow_ups",
        "interval",
        {"minutes": 10},
    ),
    Job("hotline.purge_expired", "wellness.hotline.jobs:purge_expired", "cron", {"hour": 3}),
]
