"""``flask reports rebuild``: rebuild the monthly rollups at once (after a bulk load or a
restore), instead of waiting for the next page view or the scheduler's sweep."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

reports_cli = AppGroup("reports", help="Admin reports.")


@reports_cli.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Rebuild every ended month of the self-assessment and risk-flag rollups."""
    from wellness.reports import risk_rollup, rollup

    assessments = rollup.rebuild_all()
    flags = risk_rollup.rebuild_all()
    click.echo(f"Rebuilt {assessments} months of self-assessments and {flags} of risk flags.")


def register(app: Flask) -> None:
    app.cli.add_command(reports_cli)
