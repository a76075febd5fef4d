"""Scheduler entry points for self-assessments."""

from wellness.assessments import services
from wellness.scheduler import Job


def send_rescreen_reminders() -> int:
    return services.send_rescreen_reminders()


JOBS = [
    Job(
        "assessments.rescreen_reminders",
        "wellness.assessments.jobs:send_rescreen_reminders",
        "cron",
        {"minute": 5, "hour": "9-20"},
    ),
]
