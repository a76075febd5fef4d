"""Command groups. Each command parses its arguments and calls one service."""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from wellness.errors import WellnessError

users_cli = AppGroup("users", help="Manage user accounts.")
seed_cli = AppGroup("seed", help="Load data.")
scheduler_cli = AppGroup("scheduler", help="The periodic-jobs process.")


@users_cli.command("create")
@click.option("--role", type=click.Choice(["worker", "counselor", "admin"]), default="worker")
@click.option("--phone", required=True, help="Mainland mobile number.")
@click.option("--name", required=True)
@click.option("--email", default=None)
@click.option("--org-unit-id", type=int, default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_command(role, phone, name, email, org_unit_id, password):
    """Create a user; the password is read from --password or prompted."""
    from wellness.auth import services

    try:
        user = services.create_user(
            phone=phone,
            name=name,
            password=password,
            role=role,
            email=email,
            org_unit_id=org_unit_id,
        )
    except WellnessError as error:
        fields = ", ".join(error.fields) or "-"
        raise click.ClickException(f"{error.message} ({fields})") from None
    click.echo(f"created {user.role} {user.name} {user.phone} (id {user.id})")


@seed_cli.command("demo")
def seed_demo_command():
    """Idempotent demo data: org units, counsellors, workers, an admin."""
    from wellness import demo

    summary = demo.seed_demo()
    click.echo(demo.format_summary(summary))


@seed_cli.command("is-empty")
def seed_is_empty_command():
    """Exit 0 when the database has no users (used by `make run`)."""
    from wellness import demo

    raise SystemExit(0 if demo.database_is_empty() else 1)


@scheduler_cli.command("run")
@click.option("--no-wait", is_flag=True, help="Exit instead of standing by when locked.")
def scheduler_run_command(no_wait):
    """Run the periodic jobs (one process per deployment)."""
    from wellness import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    scheduler.run_forever(current_app._get_current_object(), wait_for_lock=not no_wait)


@scheduler_cli.command("list")
def scheduler_list_command():
    """List the jobs and their triggers."""
    from wellness import scheduler

    for job in scheduler.all_jobs():
        click.echo(f"{job.id:40} {job.trigger} {job.args} -> {job.func}")


def register(app: Flask) -> None:
    """Core groups, then each package's commands (``<pkg>/cli.py`` or ``<pkg>/seed.py``
    with ``register(app)``)."""
    from wellness.packages import feature_modules

    for group in (users_cli, seed_cli, scheduler_cli):
        app.cli.add_command(group)
    for template in ("wellness.{pkg}.cli", "wellness.{pkg}.seed"):
        for module in feature_modules(template):
            module.register(app)
