"""``flask --app wellness vouchers issue ...``: batch issuance from the command line.

The same two steps as the admin page: the recipients are checked into a draft batch and
every bad row is printed with its line number; nothing is issued until the good rows are
confirmed (a prompt, or ``--yes``). ``--dry-run`` checks and discards. Issuing commits once
per batch, with a progress bar (plain output when stdout is not a terminal).
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from wellness.errors import WellnessError
from wellness.vouchers.models import SERVICE_CODES, LimitPeriod

vouchers_cli = AppGroup("vouchers", help="Counselling vouchers.")

SHOW_BAD = 50


def _fail(error: WellnessError) -> click.ClickException:
    fields = ", ".join(f"{k}={v}" for k, v in list(error.fields.items())[:10]) or "-"
    return click.ClickException(f"{error.message} ({fields})")


@vouchers_cli.command("issue")
@click.option("--name", required=True, help="Batch name, e.g. 2027年度职工心理关爱券.")
@click.option("--sessions", type=click.IntRange(1, 50), required=True, help="Sessions per voucher.")
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day.")
@click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day.")
@click.option(
    "--service",
    "service_codes",
    type=click.Choice(SERVICE_CODES),
    multiple=True,
    help="A service it pays for (repeat). Default: all.",
)
@click.option("--issuer-org-unit-id", type=int, default=None, help="The issuing union.")
@click.option("--limit", "per_member_limit", type=click.IntRange(1, 100), default=1)
@click.option("--no-limit", is_flag=True, help="No per-member limit.")
@click.option(
    "--period", type=click.Choice([p.value for p in LimitPeriod]), default=LimitPeriod.BATCH.value
)
@click.option("--notes", default=None)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="Members, one per line (mobile number or member id).",
)
@click.option("--org-unit-id", type=int, default=None, help="Every member of this unit and below.")
@click.option("--bearer", "bearer_count", type=click.IntRange(1, 100_000), default=None)
@click.option("--admin-phone", default=None, help="Record this admin as the creator.")
@click.option("--yes", is_flag=True, help="Issue to the good rows without asking.")
@click.option("--dry-run", is_flag=True, help="Check the recipients, then discard the draft.")
def issue_command(
    name,
    sessions,
    valid_until,
    valid_from,
    service_codes,
    issuer_org_unit_id,
    per_member_limit,
    no_limit,
    period,
    notes,
    csv_path,
    org_unit_id,
    bearer_count,
    admin_phone,
    yes,
    dry_run,
):
    """Issue a voucher batch to a CSV of members, an org unit, or as N bearer codes."""
    import os

    from wellness.auth.services import find_by_phone, parse_phone
    from wellness.vouchers import services

    targets = [x is not None for x in (csv_path, org_unit_id, bearer_count)]
    if sum(targets) != 1:
        raise click.UsageError("Give exactly one of --csv, --org-unit-id or --bearer.")
    actor = None
    if admin_phone:
        try:
            actor = find_by_phone(parse_phone(admin_phone))
        except WellnessError as error:
            raise _fail(error) from None
        if actor is None or actor.role != "admin":
            raise click.ClickException(f"No admin with the mobile number {admin_phone}.")
    spec = services.BatchSpec(
        name=name,
        sessions=sessions,
        valid_until=valid_until.date(),
        valid_from=valid_from.date() if valid_from else None,
        service_codes=list(service_codes) or None,
        org_unit_id=issuer_org_unit_id,
        per_member_limit=None if no_limit else per_member_limit,
        limit_period=period,
        notes=notes,
    )
    try:
        if csv_path:
            size = os.path.getsize(csv_path)
            with (
                open(csv_path, "rb") as stream,
                click.progressbar(length=size, label="Checking members") as bar,
            ):
                batch = services.prepare_csv_batch(
                    actor, spec, stream, progress=lambda _n: bar.update(stream.tell() - bar.pos)
                )
        elif org_unit_id is not None:
            batch = services.prepare_org_unit_batch(actor, spec, org_unit_id)
        else:
            batch = services.prepare_bearer_batch(actor, spec, bearer_count)
    except WellnessError as error:
        raise _fail(error) from None

    report = batch.import_report or {}
    click.echo(
        f"Batch {batch.id} (draft): {report.get('good', 0)} to issue, "
        f"{report.get('bad_count', 0)} rows with a problem, {report.get('blank', 0)} blank lines."
    )
    for row in report.get("bad", [])[:SHOW_BAD]:
        problem = services.problem_label(row["problem"], row.get("detail"))
        click.echo(f"  line {row['line']}: {row['value']!r}: {problem}")
    if report.get("bad_count", 0) > SHOW_BAD:
        click.echo(
            f"  ... and {report['bad_count'] - SHOW_BAD} more "
            f"(every one is in /vouchers/batches/{batch.id}/problems.csv)."
        )
    if dry_run or not batch.staged_count:
        services.discard_batch(actor, batch.id)
        click.echo("Nothing issued; the draft was discarded.")
        return
    if not yes and not click.confirm(f"Issue {batch.staged_count} vouchers now?", default=False):
        services.discard_batch(actor, batch.id)
        click.echo("Nothing issued; the draft was discarded.")
        return
    try:
        with click.progressbar(length=batch.staged_count, label="Issuing vouchers") as bar:
            result = services.confirm_batch(actor, batch.id, progress=bar.update)
    except WellnessError as error:
        raise _fail(error) from None
    click.echo(f"Issued {result.issued} vouchers in batch {batch.id}.")
    if result.refused:
        click.echo(f"{result.refused} members had reached their limit and got none.")


def register(app: Flask) -> None:
    app.cli.add_command(vouchers_cli)
