"""``flask --app wellness seed scale``: realistic volume for benchmarks and demos.

Workers spread over the demo organisation tree (a few large enterprise unions, many small
ones), each with a latent level of distress; questionnaires over the last N months with
growth, the Spring Festival dip and the spring/autumn screening campaigns, taken mostly in
the evening; answers drawn item by item around the person's level and scored by the real
scorer (totals, bands, risk and critical items are consistent). Risky results raise flags
with a realistic claim/resolve lifecycle (at most one open flag per person). Bulk inserts
with SQLAlchemy Core ``insert()`` in chunks; the monthly rollup is rebuilt at the end.

The accounts cannot sign in: they share the hash of a random password nobody knows.
"""

from __future__ import annotations

import bisect
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, insert, select

from wellness.assessments.instruments import get_instrument
from wellness.assessments.models import AssessmentResponse
from wellness.auth.models import ConsentRecord, OrgUnit, Role, User
from wellness.auth.passwords import hash_password
from wellness.database import utcnow
from wellness.extensions import db
from wellness.reports import periods, risk_rollup, rollup
from wellness.risk.models import RiskFlag, RiskTrigger

CHUNK = 20_000
PHONE_PREFIX = "+86150"  # scale accounts: +86 150 xxxx xxxx
INSTRUMENT_MIX = {
    "phq9": 0.30,
    "gad7": 0.22,
    "who5": 0.12,
    "phq2": 0.07,
    "gad2": 0.05,
    "k10": 0.06,
    "phq15": 0.06,
    "audit": 0.06,
    "pcl5": 0.06,
}
BUCKETS = 16
POOL_PER_BUCKET = 120
# Median minutes to claim and the spread, by level (lognormal).
CLAIM_MINUTES = {"critical": (12, 0.8), "high": (300, 0.9), "elevated": (1200, 0.9)}
OUTCOMES = (
    "safety_plan",
    "appointment_booked",
    "referred_hospital",
    "referred_hotline",
    "not_reachable",
    "no_risk",
)


@dataclass
class ScaleResult:
    workers: int = 0
    assessments: int = 0
    flags: int = 0
    months_rolled_up: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return (
            f"created {self.workers} workers, {self.assessments} assessments, "
            f"{self.flags} risk flags; rollup of {self.months_rolled_up} months ({timing})"
        )


def _units() -> list[tuple[int, float]]:
    """The demo tree (created when missing) and a weight per unit: enterprises of very
    different sizes, a little direct membership at district level."""
    from wellness import demo

    def unit(name: str, kind: str, parent: int | None) -> int:
        same_parent = OrgUnit.parent_id.is_(None) if parent is None else OrgUnit.parent_id == parent
        found = db.session.scalar(select(OrgUnit.id).where(OrgUnit.name == name, same_parent))
        if found is None:
            row = OrgUnit(name=name, kind=kind, parent_id=parent)
            db.session.add(row)
            db.session.flush()
            found = row.id
        return found

    city = unit(demo.CITY, "city", None)
    weights: list[tuple[int, float]] = []
    sizes = (9.0, 4.0, 2.5, 1.6, 1.2, 0.8, 0.5, 0.35)
    index = 0
    for district, companies in demo.DISTRICTS.items():
        district_id = unit(district, "district", city)
        weights.append((district_id, 0.15))
        for company in companies:
            weights.append((unit(company, "enterprise", district_id), sizes[index % len(sizes)]))
            index += 1
    db.session.commit()
    return weights


def _answer_pool(code: str, rng: random.Random) -> list[list[tuple]]:
    """Scored answer vectors per severity bucket (mildest first)."""
    inst = get_instrument(code)
    pool: list[list[tuple]] = []
    for bucket in range(BUCKETS):
        level = (bucket + 0.5) / BUCKETS
        results = []
        for _i in range(POOL_PER_BUCKET):
            answers = []
            for item in inst.items:
                values = sorted(item.allowed_values)
                p = min(0.999, max(0.0, rng.gauss(level * 0.95, 0.2)))
                idx = int(p * len(values))
                if inst.higher_is_better:
                    idx = len(values) - 1 - idx
                answers.append(values[idx])
            r = inst.score(answers)
            results.append(
                (
                    answers,
                    r.total,
                    r.percent,
                    r.band,
                    r.risk,
                    r.level,
                    list(r.critical_items),
                    r.rule,
                )
            )
        pool.append(results)
    return pool


def _month_weights(months: list[int], rng: random.Random) -> list[float]:
    weights = []
    for i, m in enumerate(months):
        growth = 0.6 + 0.8 * i / max(1, len(months) - 1)
        mon = m % 100
        season = {1: 0.75, 2: 0.7, 3: 1.2, 4: 1.15, 9: 1.2, 10: 1.15}.get(mon, 1.0)
        weights.append(growth * season * rng.uniform(0.95, 1.05))
    return weights


HOUR_WEIGHTS = [
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.2, 1.2, 1.1,
    1.4, 1.2, 1.0, 1.0, 1.0, 1.1, 1.4, 1.8, 2.1, 2.0, 1.4, 0.6,
]  # fmt: skip


def generate(
    *,
    workers: int,
    assessments: int,
    months: int = 24,
    seed: int = 2026,
    flags: bool = True,
    now: datetime | None = None,
    echo=None,
) -> ScaleResult:
    """Insert ``workers`` workers and ``assessments`` questionnaires over ``months``."""
    now = now or utcnow()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by its seed
    say = echo or (lambda _msg: None)
    result = ScaleResult()
    started = time.perf_counter()

    units = _units()
    unit_ids = [u for u, _w in units]
    unit_cum = _cumulative([w for _u, w in units])
    from wellness import demo

    password_hash = hash_password(secrets.token_urlsafe(24))
    top = db.session.scalar(select(func.max(User.phone)).where(User.phone.like(PHONE_PREFIX + "%")))
    next_number = int(top[len(PHONE_PREFIX) :]) + 1 if top else 0
    first_month = periods.add_months(periods.month_of(now), 1 - months)
    start = periods.month_start(first_month)
    worker_rows = []
    for i in range(workers):
        unit = None if rng.random() < 0.01 else unit_ids[bisect.bisect(unit_cum, rng.random())]
        name = rng.choice(demo.SURNAMES) + rng.choice(demo.GIVEN)
        worker_rows.append(
            {
                "phone": f"{PHONE_PREFIX}{next_number + i:08d}",
                "name": name,
                "role": Role.WORKER.value,
                "password_hash": password_hash,
                "org_unit_id": unit,
                "active": True,
                "session_version": 1,
                "created_at": start,
                "updated_at": start,
            }
        )
    ids: list[int] = []
    for chunk in _chunks(worker_rows):
        ids.extend(
            db.session.scalars(insert(User.__table__).returning(User.__table__.c.id), chunk).all()
        )
    units_of = {row_id: row["org_unit_id"] for row_id, row in zip(ids, worker_rows, strict=True)}
    version = current_app.config["CONSENT_VERSION"]
    _bulk(ConsentRecord, [{"user_id": i, "version": version, "given_at": start} for i in ids])
    db.session.commit()
    result.workers = len(ids)
    result.seconds["workers"] = time.perf_counter() - started
    say(f"{len(ids)} workers")

    # Each worker: a latent level of distress and an activity weight.
    level_of = {i: rng.betavariate(1.5, 5.0) for i in ids}
    activity = _cumulative([rng.paretovariate(1.6) for _i in ids])
    codes = list(INSTRUMENT_MIX)
    code_cum = _cumulative(list(INSTRUMENT_MIX.values()))
    pools = {code: _answer_pool(code, rng) for code in codes}
    instruments = {code: get_instrument(code) for code in codes}
    month_list = periods.months_between(first_month, periods.month_of(now))
    month_cum = _cumulative(_month_weights(month_list, rng))
    hour_cum = _cumulative(HOUR_WEIGHTS)
    per_month = [0] * len(month_list)
    for _i in range(assessments):
        per_month[bisect.bisect(month_cum, rng.random())] += 1

    counsellors = _counsellors(password_hash, start)
    claim_limits = current_app.config["RISK_CLAIM_MINUTES"]
    last_flag: dict[int, datetime] = {}
    flag_rows: list[dict] = []
    t0 = time.perf_counter()
    for month, count in zip(month_list, per_month, strict=True):
        begin, end = periods.month_start(month), min(periods.month_end(month), now)
        seconds = max(1, int((end - begin).total_seconds() // 86400))
        stamps = sorted(
            begin
            + timedelta(days=rng.randrange(seconds), hours=bisect.bisect(hour_cum, rng.random()))
            + timedelta(seconds=rng.randrange(3600))
            for _i in range(count)
        )
        rows = []
        for at in stamps:
            if at >= now:
                at = now - timedelta(seconds=rng.randrange(1, 3600))
            user = ids[_pick(activity, rng)]
            code = codes[bisect.bisect(code_cum, rng.random())]
            drift = 0.05 if (at.month in (3, 4, 9, 10)) else 0.0
            level = min(0.999, max(0.0, level_of[user] + rng.gauss(drift, 0.08)))
            answers, total, percent, band, risk, flag_level, critical, rule = rng.choice(
                pools[code][int(level * BUCKETS)]
            )
            inst = instruments[code]
            days = 14 if risk else 28 if band != inst.bands[0].code else 90
            due = at + timedelta(days=days)
            rows.append(
                {
                    "user_id": user,
                    "instrument": code,
                    "instrument_version": inst.version,
                    "language": "zh",
                    "answers": answers,
                    "total": total,
                    "percent": percent,
                    "band": band,
                    "risk": risk,
                    "level": flag_level,
                    "critical_items": critical,
                    "rule": rule,
                    "created_at": at,
                    "rescreen_due_at": due,
                    "rescreen_reminded_at": due if due < now else None,
                    "org_unit_id": units_of[user],
                }
            )
            if (
                flags
                and risk
                and (user not in last_flag or at - last_flag[user] > timedelta(days=30))
            ):
                last_flag[user] = at
                flag = _flag(user, flag_level, code, rule, at, now, rng, claim_limits, counsellors)
                flag["org_unit_id"] = units_of[user]
                flag_rows.append(flag)
        _bulk(AssessmentResponse, rows)
        db.session.commit()
        result.assessments += len(rows)
        say(f"{periods.label(month)}: {len(rows)} assessments")
    result.seconds["assessments"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if flag_rows:
        _settle_open_flags(flag_rows)
        flag_ids = _bulk(RiskFlag, flag_rows, returning=True)
        _bulk(
            RiskTrigger,
            [
                {
                    "flag_id": fid,
                    "source": "assessment",
                    "source_id": None,
                    "level": row["level"],
                    "rule": row["rule"],
                    "at": row["created_at"],
                }
                for fid, row in zip(flag_ids, flag_rows, strict=True)
            ],
        )
        db.session.commit()
    result.flags = len(flag_rows)
    result.seconds["flags"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result.months_rolled_up = rollup.rebuild_all(now)
    risk_rollup.rebuild_all(now)
    result.seconds["rollup"] = time.perf_counter() - t0
    return result


def _counsellors(password_hash: str, since: datetime) -> list[int]:
    """The counsellors who claim the generated flags (six are created when there are none)."""
    found = list(db.session.scalars(select(User.id).where(User.role == Role.COUNSELOR.value)))
    if found:
        return found
    rows = [
        {
            "phone": f"+86151{n:08d}",
            "name": name,
            "role": Role.COUNSELOR.value,
            "password_hash": password_hash,
            "active": True,
            "session_version": 1,
            "created_at": since,
            "updated_at": since,
        }
        for n, name in enumerate(("王静", "李明华", "张晓燕", "陈思远", "刘芳", "周建国"))
    ]
    found = _bulk(User, rows, returning=True)
    db.session.commit()
    return found


def _pick(cumulative: list[float], rng: random.Random) -> int:
    return bisect.bisect(cumulative, rng.random() * cumulative[-1])


def _flag(user, level, code, rule, at, now, rng, limits, counsellors) -> dict:
    limit = timedelta(minutes=limits.get(level, 72 * 60))
    median, spread = CLAIM_MINUTES.get(level, (600, 0.9))
    claim_after = timedelta(minutes=rng.lognormvariate(0, spread) * median)
    claimed = at + claim_after
    resolved = claimed + timedelta(hours=rng.lognormvariate(0, 1.0) * 30)
    counsellor = rng.choice(counsellors)
    row = {
        "person_id": user,
        "source": "assessment",
        "source_id": None,
        "level": level or "elevated",
        "rule": f"{code}:{rule}"[:120],
        "status": "resolved",
        "created_at": at,
        "last_triggered_at": at,
        "trigger_count": 1,
        "due_at": at + limit,
        "escalated_at": at + limit if claimed > at + limit else None,
        "escalation_notified_at": at + limit if claimed > at + limit else None,
        "claimed_by_id": counsellor,
        "claimed_at": claimed,
        "resolved_by_id": counsellor,
        "resolved_at": resolved,
        "outcome": rng.choice(OUTCOMES),
        "reopened_count": 0,
    }
    if claimed > now:
        row.update(status="open", claimed_at=None, claimed_by_id=None)
        row.update(resolved_at=None, resolved_by_id=None, outcome=None)
    elif resolved > now:
        row.update(status="claimed", resolved_at=None, resolved_by_id=None, outcome=None)
    return row


def _settle_open_flags(rows: list[dict]) -> None:
    """At most one unresolved flag per person (the partial unique index): an older one
    still open when a newer one is raised is closed at that moment."""
    latest: dict[int, int] = {}
    for index, row in enumerate(rows):
        if row["status"] == "resolved":
            continue
        previous = latest.get(row["person_id"])
        if previous is not None:
            older = rows[previous]
            older["status"] = "resolved"
            older["resolved_at"] = row["created_at"]
            older["claimed_at"] = older["claimed_at"] or row["created_at"]
            older["claimed_by_id"] = older["claimed_by_id"] or row["claimed_by_id"]
            older["resolved_by_id"] = older["claimed_by_id"]
            older["outcome"] = older["outcome"] or "no_risk"
        latest[row["person_id"]] = index


def _bulk(model, rows: list[dict], returning: bool = False) -> list[int]:
    """Core ``insert()`` on the table in chunks (one executemany each); the new ids when
    asked (RETURNING, batched by SQLAlchemy's insertmanyvalues)."""
    table = model.__table__
    ids: list[int] = []
    for chunk in _chunks(rows):
        if returning:
            ids.extend(db.session.scalars(insert(table).returning(table.c.id), chunk).all())
        else:
            db.session.execute(insert(table), chunk)
    return ids


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out] if total else out


def _chunks(rows: list[dict]):
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


@click.command("scale")
@click.option("--workers", type=click.IntRange(1, 2_000_000), default=100_000, show_default=True)
@click.option(
    "--assessments", type=click.IntRange(0, 20_000_000), default=1_000_000, show_default=True
)
@click.option("--months", type=click.IntRange(1, 60), default=24, show_default=True)
@click.option("--seed", "seed_value", type=int, default=2026, show_default=True)
@click.option("--flags/--no-flags", default=True, help="Raise risk flags for risky results.")
@with_appcontext
def scale_command(workers, assessments, months, seed_value, flags):
    """Bulk-generate workers and questionnaires (benchmarks; the accounts cannot sign in)."""
    result = generate(
        workers=workers,
        assessments=assessments,
        months=months,
        seed=seed_value,
        flags=flags,
        echo=click.echo,
    )
    click.echo(result.line())


def register(app: Flask) -> None:
    """Add ``seed scale`` to the ``seed`` command group."""
    group = app.cli.commands.get("seed")
    if group is None:
        group = AppGroup("seed", help="Load data.")
        app.cli.add_command(group)
    group.add_command(scale_command)
