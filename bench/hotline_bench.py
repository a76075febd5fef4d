"""Hotline figures: coverage arithmetic for the coverage page and the 72-hour gap sweep,
and the supervisor aggregates over a year of calls.

Run: .venv/bin/python bench/hotline_bench.py   (prints figures; no assertions)
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wellness.hotline import roster
from wellness.hotline.roster import BEIJING, Span


def timed(fn, repeat: int = 5) -> float:
    """Median wall time in milliseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def spans_for(weeks: int, per_day: int, staff: int) -> list[Span]:
    rng = random.Random(1)
    start = datetime(2026, 11, 30, tzinfo=BEIJING)
    hours = 24 // per_day
    spans = []
    for day in range(weeks * 7):
        for k in range(per_day):
            begins = start + timedelta(days=day, hours=k * hours)
            people = frozenset(rng.sample(range(100), rng.choice([staff - 1, staff, staff])))
            spans.append(Span(begins, begins + timedelta(hours=hours), staff, "seated", people))
        spans.append(  # an on-call backup every night
            Span(
                start + timedelta(days=day, hours=20),
                start + timedelta(days=day, hours=32),
                1,
                roster.ON_CALL,
                frozenset({100 + day % 5}),
            )
        )
    return spans


def bench_coverage() -> None:
    print("## Coverage arithmetic (pure Python)")
    for weeks, per_day, staff in ((1, 3, 2), (4, 3, 2), (6, 6, 4), (52, 3, 2)):
        spans = spans_for(weeks, per_day, staff)
        start = datetime(2026, 11, 30, tzinfo=BEIJING)
        end = start + timedelta(weeks=weeks)
        hours = roster.hourly_coverage(spans, start, end)
        gaps = roster.find_gaps(hours)
        ms = timed(
            lambda s=spans, a=start, b=end: roster.find_gaps(roster.hourly_coverage(s, a, b))
        )
        print(
            f"- {weeks} week(s), {len(spans)} shifts, {len(hours)} hours -> {len(gaps)} gaps: "
            f"{ms:.1f} ms"
        )


def bench_supervisor(calls: int = 20_000) -> None:
    from wellness import create_app
    from wellness.config import TestingConfig
    from wellness.extensions import db
    from wellness.hotline import services
    from wellness.hotline.models import HotlineCall, call_topics

    print(f"\n## Supervisor report over {calls} calls in a year (SQLite file)")
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'b.sqlite'}"}
        )
        with app.app_context():
            db.create_all()
            from wellness.auth.models import User

            db.session.add(
                User(phone="+8613800000001", name="c", role="counselor", password_hash="!")  # noqa: S106
            )
            services.ensure_builtin_terms()
            db.session.commit()
            topics = [t.id for t in services.list_terms("topic")]
            rng = random.Random(7)
            now = datetime(2026, 12, 1, tzinfo=UTC)
            rows = []
            for i in range(calls):
                at = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
                rows.append(
                    {
                        "id": i + 1,
                        "counselor_id": 1,
                        "kind": rng.choice(["answered"] * 9 + ["silent", "abandoned"]),
                        "started_at": at,
                        "ended_at": at + timedelta(minutes=20),
                        "duration_seconds": 1200,
                        "wait_seconds": rng.randrange(100),
                        "outside_shift": False,
                        "repeat_index": 1,
                        "is_risk": False,
                        "member_consent": False,
                        "age_band": "unknown",
                        "gender": "unknown",
                        "created_at": at,
                    }
                )
            db.session.execute(HotlineCall.__table__.insert(), rows)
            db.session.execute(
                call_topics.insert(),
                [{"call_id": i + 1, "term_id": rng.choice(topics)} for i in range(calls)],
            )
            db.session.commit()
            for days in (28, 365):
                start = now - timedelta(days=days)
                ms = timed(lambda a=start: services.supervisor_report(a, now, now), repeat=3)
                print(f"- last {days} days: {ms:.0f} ms")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    bench_coverage()
    bench_supervisor()
