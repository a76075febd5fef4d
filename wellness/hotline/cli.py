"""``flask --app wellness hotline ...``: set up the standard lists on a fresh deployment and
run the hotline sweeps by hand (the scheduler runs them on its own). Each command calls one
service."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from wellness.extensions import db
from wellness.hotline import services

hotline_cli = AppGroup("hotline", help="Psychological hotline: lists and sweeps.")


@hotline_cli.command("standard-terms")
def standard_terms_command():
    """Add the standard topics, actions and referral targets that are missing."""
    created = services.ensure_builtin_terms()
    db.session.commit()
    click.echo(f"{created} standard entries added")


@hotline_cli.command("materialise")
def materialise_command():
    """Create the coming weeks' shifts from the active templates."""
    click.echo(f"{services.materialise_shifts()} shifts created")


@hotline_cli.command("warn-gaps")
def warn_gaps_command():
    """Warn admins about roster gaps in the next 72 hours (once per gap)."""
    result = services.warn_gaps()
    click.echo(f"{result['gaps']} new gap(s), {result['messages']} message(s) queued")


@hotline_cli.command("purge")
def purge_command():
    """Anonymise hotline records older than the retention period (at least 3 years)."""
    click.echo(
        f"{services.purge_expired()} record(s) anonymised "
        f"(retention {services.retention_days()} days)"
    )


def register(app: Flask) -> None:
    app.cli.add_command(hotline_cli)
