"""Bulk voucher issuance vs a raw executemany of the same rows, in the same run.

    .venv/bin/python bench/vouchers_issue.py                 # SQLite file in a temp dir
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_vouchers \
        .venv/bin/python bench/vouchers_issue.py      # a database of its own: it is dropped
    .venv/bin/python bench/vouchers_issue.py --n 20000 --repeat 1   # quicker

Measures, for N vouchers (default 100,000):

* raw: the DB-API cursor's ``executemany`` inserting N ready-made voucher rows (codes
  generated beforehand, outside the clock), one transaction: the floor.
* bearer: ``prepare_bearer_batch`` + ``confirm_batch``, the real use cases (code
  generation, Core ``insert()`` of dict chunks with a savepoint each, ledger, audit, one
  commit).
* csv: a CSV of N member phone numbers streamed through ``prepare_csv_batch`` (decode,
  parse, resolve phones to members, duplicates, limits, stage recipients) and
  ``confirm_batch`` (per-member limit claimed atomically, codes, insert, one commit).

Memory: the same use cases run again under tracemalloc at N/5 and N; a flat profile has
about the same peak at both sizes (the CSV is streamed and rows go out in chunks).
Peak RSS of the process (ru_maxrss) is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from wellness import create_app  # noqa: E402
from wellness.config import TestingConfig, normalise_database_url  # noqa: E402
from wellness.extensions import db  # noqa: E402
from wellness.vouchers import codes, services  # noqa: E402


def make_app(tmp: str):
    url = os.environ.get("BENCH_DATABASE_URL")
    uri = normalise_database_url(url) if url else f"sqlite:///{tmp}/bench.sqlite"
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def add_members(n: int) -> list[str]:
    """N worker accounts (raw insert: setting up, not measured)."""
    phones = [f"+86139{i:08d}" for i in range(n)]
    connection = db.session.connection().connection.dbapi_connection
    cursor = connection.cursor()
    marker = "%s" if db.engine.dialect.name == "postgresql" else "?"
    cursor.executemany(
        "INSERT INTO users (phone, name, role, password_hash, active, session_version, "  # noqa: S608
        f"created_at, updated_at) VALUES ({', '.join([marker] * 8)})",
        [
            (p, "会员", "worker", "x", True, 1, "2026-01-01 00:00:00", "2026-01-01 00:00:00")
            for p in phones
        ],
    )
    db.session.commit()
    return phones


def spec(name: str, period: str = "batch") -> services.BatchSpec:
    return services.BatchSpec(
        name=name,
        sessions=3,
        valid_until=date(2030, 6, 30),
        per_member_limit=1,
        limit_period=period,
    )


def raw_executemany(n: int, member_ids: list[int] | None = None) -> float:
    """The floor: N ready-made voucher rows through the driver's cursor.executemany.

    Without ``member_ids`` the rows are bearer codes; with them, each row belongs to a
    member (the foreign key to users is then checked per row, as in a member batch).
    """
    batch = services.prepare_bearer_batch(None, spec("raw"), n)
    batch_id = batch.id
    fresh = codes.generate_codes(n)
    if member_ids:
        rows = [
            (batch_id, c, u, "active", 3, 3, "all") for c, u in zip(fresh, member_ids, strict=True)
        ]
    else:
        rows = [(batch_id, c, None, "unassigned", 3, 3, None) for c in fresh]
    db.session.commit()
    pg = db.engine.dialect.name == "postgresql"
    marker = "%s" if pg else "?"
    sql = (
        "INSERT INTO vouchers (batch_id, code, user_id, status, sessions, remaining_sessions, "  # noqa: S608
        f"quota_period) VALUES ({', '.join([marker] * 7)})"
    )
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        if not pg:
            cursor.execute("BEGIN")
        cursor.executemany(sql, rows)
        raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    return elapsed


VOUCHER_TABLES = (
    "voucher_ledger",
    "voucher_holds",
    "vouchers",
    "voucher_quotas",
    "voucher_recipients",
    "voucher_batch_services",
    "voucher_batches",
    "audit_events",
)


def reset() -> None:
    """Every measurement starts from empty voucher tables (the users stay)."""
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("TRUNCATE " + ", ".join(VOUCHER_TABLES)))
    else:
        for table in VOUCHER_TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    db.session.commit()


def bearer(n: int) -> float:
    started = time.perf_counter()
    batch = services.prepare_bearer_batch(None, spec("bearer"), n)
    result = services.confirm_batch(None, batch.id)
    elapsed = time.perf_counter() - started
    assert result.issued == n, result
    return elapsed


def write_csv(path: Path, phones: list[str]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("姓名,手机号\r\n")
        for phone in phones:
            handle.write(f"会员,{phone[3:]}\r\n")


def from_csv(path: Path, n: int, period: str = "batch") -> tuple[float, float]:
    started = time.perf_counter()
    with path.open("rb") as stream:
        batch = services.prepare_csv_batch(None, spec(f"csv {time.time()}", period), stream)
    prepared = time.perf_counter()
    assert batch.staged_count == n, batch.import_report
    result = services.confirm_batch(None, batch.id)
    done = time.perf_counter()
    assert result.issued == n, result
    return prepared - started, done - prepared


def peak_mib(work) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        work()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(tmp)
        with app.app_context():
            engine = db.engine.dialect.name
            print(f"database: {engine} ({db.engine.url.render_as_string(hide_password=True)})")
            started = time.perf_counter()
            codes.generate_codes(n)
            print(f"generating {n:,} codes alone: {time.perf_counter() - started:.3f} s")
            # Two sets of members, so each CSV run issues to members below their limit.
            phones = add_members(n * (args.repeat + 2))
            csv_paths = []
            for r in range(args.repeat + 2):
                path = Path(tmp) / f"members-{r}.csv"
                write_csv(path, phones[r * n : (r + 1) * n])
                csv_paths.append(path)

            member_ids = list(
                db.session.scalars(text("SELECT id FROM users ORDER BY id LIMIT :n"), {"n": n})
            )
            db.session.commit()
            raw_times, raw_member_times, bearer_times, csv_prep, csv_issue = [], [], [], [], []
            year_issue = []
            for r in range(args.repeat):
                reset()
                raw_times.append(raw_executemany(n))
                reset()
                bearer_times.append(bearer(n))
                reset()
                raw_member_times.append(raw_executemany(n, member_ids))
                reset()
                prep, issue = from_csv(csv_paths[r], n)
                csv_prep.append(prep)
                csv_issue.append(issue)
                reset()
                year_issue.append(from_csv(csv_paths[r], n, "year")[1])
            raw_t, raw_m = min(raw_times), min(raw_member_times)
            bearer_t, prep_t, issue_t = min(bearer_times), min(csv_prep), min(csv_issue)
            year_t = min(year_issue)
            print(f"\n{n:,} vouchers, best of {args.repeat}, each from empty voucher tables")
            print("(ratio: to the raw insert of the same rows)")
            print(f"  raw executemany, bearer rows          {raw_t:8.3f} s   1.00x")
            print(
                f"  bearer codes (prepare + confirm)      {bearer_t:8.3f} s   "
                f"{bearer_t / raw_t:.2f}x"
            )
            print(f"  raw executemany, member rows          {raw_m:8.3f} s   1.00x")
            print(
                f"  CSV of members: issue (confirm)       {issue_t:8.3f} s   {issue_t / raw_m:.2f}x"
            )
            print(
                f"  ... with a per-year limit (quota)     {year_t:8.3f} s   {year_t / raw_m:.2f}x"
            )
            print(
                f"  CSV of members: check + stage         {prep_t:8.3f} s   {prep_t / raw_m:.2f}x"
            )
            print(
                f"  CSV of members: check + issue         {prep_t + issue_t:8.3f} s   "
                f"{(prep_t + issue_t) / raw_m:.2f}x"
            )

            small = n // 5
            reset()
            mem_small = peak_mib(lambda: bearer(small))
            mem_large = peak_mib(lambda: bearer(n))
            path_small = Path(tmp) / "small.csv"
            write_csv(path_small, phones[-(2 * n) : -(2 * n) + small])
            csv_small = peak_mib(lambda: from_csv(path_small, small))
            csv_large = peak_mib(lambda: from_csv(csv_paths[-1], n))
            print("\npeak traced Python memory (tracemalloc):")
            print(f"  bearer  {small:>7,}: {mem_small:6.1f} MiB   {n:>7,}: {mem_large:6.1f} MiB")
            print(f"  CSV     {small:>7,}: {csv_small:6.1f} MiB   {n:>7,}: {csv_large:6.1f} MiB")
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of the whole run (ru_maxrss): {rss:.0f} MiB")
            total = db.session.execute(text("SELECT count(*) FROM vouchers")).scalar()
            print(f"vouchers in the database at the end: {total:,}")
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
