"""Scheduler sweeps for reports: keep the monthly rollup exact, and draw the default
dashboard's charts after data changes so admins rarely wait for matplotlib."""

from __future__ import annotations

from wellness.scheduler import Job


def verify_rollup() -> int:
    """Months rebuilt in either rollup (self-assessments, risk flags)."""
    from wellness.reports import risk_rollup, rollup

    return len(rollup.verify()) + len(risk_rollup.verify())


def warm_charts() -> int:
    from wellness.reports import figures

    return figures.warm_default()


JOBS = [
    Job(
        "reports.verify_rollup", "wellness.reports.jobs:verify_rollup", "interval", {"minutes": 30}
    ),
    Job("reports.warm_charts", "wellness.reports.jobs:warm_charts", "interval", {"minutes": 10}),
]
