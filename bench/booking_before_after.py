"""Booking throughput of this checkout against an earlier revision, in the same run.

Absolute figures on a shared machine drift by a third between minutes; a before/after
taken in one run, rounds interleaved (before, after, after, before ...), does not. Each
side is seeded by its own bench code (``bench/booking_throughput.py`` of that revision)
into its own SQLite file and served by gunicorn with 2 sync workers, one side at a time.

Measured per round: ``GET /api/v1/me`` (the app's own floor), the slot search API, the
slot search page (signed in) and booking submits (every request a new slot).

Run:   .venv/bin/python bench/booking_before_after.py --before fcb1a1c [--seconds 8] [--rounds 3]
Needs: wrk, git. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import booking_throughput as bt  # noqa: E402 - after the path is set

ROUTES = (
    ("me", "`GET /api/v1/me` (floor)"),
    ("api", "`GET /api/v1/slots`"),
    ("page", "slot search page (HTML)"),
    ("book", "`POST /api/v1/appointments`"),
)


def seed(root: Path, database: Path, search_day: date, days: int) -> dict:
    """Seed with the revision's own bench code (its schema and its seed)."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from datetime import date\n"
        "from bench import booking_throughput as bt\n"
        f"print(json.dumps(bt.seed_wellness('sqlite:///{database}', "
        f"date.fromisoformat('{search_day}'), {days})))\n"
    )
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def serve(root: Path, database: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = bt.free_port()
    env = {
        "WELLNESS_ENV": "production",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "bench-secret",
        "SESSION_COOKIE_SECURE": "0",
        "PYTHONPATH": str(root),
    }
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", "2", "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wellness:create_app()"],
        cwd=root,
        env={**os.environ, **env},
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    bt.stop(process)
    raise RuntimeError(f"gunicorn did not start; see {log}")


def one_round(side: dict, tmp: Path, search_day: date, first_day: date, seconds: int) -> dict:
    process, base = serve(side["root"], side["db"], tmp / f"{side['name']}.log")
    seeded = side["seeded"]
    try:
        cookie = bt.login_cookie(base, seeded["page_user_phone"])
        bearer = {"Authorization": f"Bearer {seeded['api_token']}"}
        station = seeded["search_station"]
        query = f"station={station}&service=individual&date={search_day}"
        bt.run_wrk(f"{base}/api/v1/me", 2, bearer)  # warm up
        plan = tmp / f"{side['name']}-{first_day}.tsv"
        bt.booking_plan(seeded["lanes"], seeded["service_id"], first_day, 3, plan)
        return {
            "me": bt.run_wrk(f"{base}/api/v1/me", seconds, bearer),
            "api": bt.run_wrk(f"{base}/api/v1/slots?{query}", seconds, bearer),
            "page": bt.run_wrk(
                f"{base}/booking/stations/{station}/slots?service=individual&date={search_day}",
                seconds,
                {"Cookie": cookie},
            ),
            "book": bt.run_wrk(
                base, seconds, script=tmp / "book.lua", script_args=(str(plan), str(bt.THREADS))
            ),
        }
    finally:
        bt.stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git revision to compare with")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (Debian: apt-get install -y wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="wellness-ab-"))
    before_root = tmp / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(before_root), args.before],
        cwd=ROOT,
        check=True,
    )
    try:
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        search_day = today + timedelta(days=2)
        days = 3 * args.rounds + 4
        sides = []
        for name, root in (("before", before_root), ("after", ROOT)):
            database = tmp / f"{name}.sqlite"
            print(f"seeding {name} ...", flush=True)
            seeded = seed(root, database, search_day, days)
            sides.append({"name": name, "root": root, "db": database, "seeded": seeded})
        (tmp / "book.lua").write_text(bt.BOOK_LUA)
        results: dict[str, dict[str, list]] = {s["name"]: {k: [] for k, _ in ROUTES} for s in sides}
        for r in range(args.rounds):
            first_day = today + timedelta(days=2 + 3 * r)
            # ABBA: the side that goes first alternates, so a drift favours neither
            for side in sides if r % 2 == 0 else sides[::-1]:
                measured = one_round(side, tmp, search_day, first_day, args.seconds)
                for key, figures in measured.items():
                    results[side["name"]][key].append(figures)
                shown = {k: round(v["rps"]) for k, v in measured.items()}
                print(f"round {r + 1} {side['name']}: {shown}", flush=True)
        print()
        print(
            f"before = {args.before}, after = this checkout; medians of {args.rounds} rounds "
            f"of {args.seconds} s, wrk 2 threads, 8 connections"
        )
        print()
        print("| route | before req/s | after req/s | after / before | p99 ms before | after |")
        print("| --- | --- | --- | --- | --- | --- |")
        for key, label in ROUTES:
            before, after = results["before"][key], results["after"][key]
            b = statistics.median(x["rps"] for x in before)
            a = statistics.median(x["rps"] for x in after)
            bp = statistics.median(x["p99"] for x in before)
            ap = statistics.median(x["p99"] for x in after)
            bad = sum(x["non_2xx"] for x in before + after)
            note = f" ({bad} non-2xx)" if bad else ""
            print(f"| {label}{note} | {b:,.0f} | {a:,.0f} | {a / b:.2f} | {bp:.1f} | {ap:.1f} |")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before_root)], cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
