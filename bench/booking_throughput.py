"""Booking throughput under gunicorn, as ratios against a bare Flask app in the same run.

What is measured (2 sync gunicorn workers each, SQLite file databases in WAL mode, wrk
with 2 threads and 8 connections, rounds interleaved A B A B ...):

- A "typical page": bench/booking_baseline.py GET /page (one PK SELECT + a small Jinja page)
- B slot search page: GET /booking/stations/<id>/slots?service=individual&date=<day> as a
  signed-in member (4 counsellors, 5 rooms, 6 of the day's slots already booked)
- B slot search API: GET /api/v1/slots?station=&service=&date= with a bearer token
- A "write ceiling": bench/booking_baseline.py POST /write (INSERT one row, commit)
- B booking submit: POST /api/v1/appointments {slot_id}, every request a different free
  slot (100 counsellors at 50 stations, one member per counsellor), all expected 201

It also prints the number of SQL statements one slot search issues with 0 and with 6
bookings on the day (it must not grow with bookings).

Run:   .venv/bin/python bench/booking_throughput.py [--seconds 10] [--rounds 3]
Needs: wrk (Debian: `apt-get install -y wrk`); without it a slower Python load loop is used
       (threads with keep-alive connections), which the output says.
Writes the figures into bench/RESULTS.md under "## Booking (issue 5)".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "Bench-password-2026"  # noqa: S105 - a throwaway database
CONNECTIONS = 8
THREADS = 2

NOTES = """Reading the figures (29 Nov 2026, after the slot cache and the shorter write lock):

- The absolute figures on this shared container drift by a third between minutes (the
  "each round" column; the app's own floor, `GET /api/v1/me`, has measured 0.37 to 0.72
  of the bare page on different runs of the same code). Compare within a run. For a
  before/after, `bench/booking_before_after.py --before <rev>` serves two checkouts in
  one run, rounds in ABBA order. Against fcb1a1c (the previous stop), 2 rounds of 4 s:

  | route | before req/s | after req/s | after / before | p99 ms before | after |
  | --- | --- | --- | --- | --- | --- |
  | `GET /api/v1/me` (floor) | 1,190 | 1,272 | 1.07 | 10.7 | 9.1 |
  | `GET /api/v1/slots` | 423 | 913 | 2.16 | 40.8 | 13.3 |
  | slot search page (HTML) | 253 | 386 | 1.52 | 71.0 | 40.9 |
  | `POST /api/v1/appointments` | 134 | 211 | 1.58 | 228.3 | 55.6 |

- Slot search: answered from a per-worker cache while the database's slot stamps are
  unchanged (`wellness/booking/stamps.py`; triggers change a station's or counsellor's
  stamp with every write a search reads). A cached search is one statement (station,
  service and stamps together); the API then costs about 1.4x the token check alone
  (in-process 1.66 ms against 1.19 ms for `/api/v1/me`), so the API's ratio to the bare
  page is now bounded by the app's own request frame (token check, limiter, session,
  security headers), not by the search. The HTML page adds the site layout (the home
  page alone is the floor below it).
- Booking: the slot is checked before the write transaction (a `@reads_first` request
  reads without SQLite's write lock) and one statement inside it confirms the stamps
  are unchanged; waiting for the lock polls in steps of 0.1-1 ms instead of SQLite's
  1-100 ms sleeps (p99 fell from 230-600 ms to 45-85 ms); the cells go in one multi-row
  INSERT without a savepoint (executemany ran the insert and its triggers row by row).
  In-process a booking costs ~5.3 ms of CPU (was ~6.2).
- Not met, and why: booking >= 0.5 of the write ceiling would mean a booking costing at
  most twice a bare INSERT, while this app's authenticated floor alone (`/api/v1/me`,
  no writes) costs about as much as a bare INSERT request. A booking is a token check,
  the slot check (4 reads), the appointment, 34 cells behind the no-overlap constraint,
  the outbox message and the commit; two workers now book side by side rather than in
  turn. The slot search page stays below 0.5 with the home page (its floor) at 0.2-0.35.
"""

BOOK_LUA = r"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local lines = {}
local idx = 0
function init(args)
  local n = 0
  local nthreads = tonumber(args[2])
  for line in io.lines(args[1]) do
    if n % nthreads == tid then table.insert(lines, line) end
    n = n + 1
  end
end
function request()
  idx = idx + 1
  local line = lines[idx]
  if line == nil then idx = 1; line = lines[1] end
  local tab = string.find(line, "\t")
  local token = string.sub(line, 1, tab - 1)
  local slot = string.sub(line, tab + 1)
  return wrk.format("POST", "/api/v1/appointments",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"slot_id":"' .. slot .. '"}')
end
"""

WRITE_LUA = r"""
wrk.method = "POST"
wrk.body = "x=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- seeding


def seed_wellness(url: str, search_day: date, days: int) -> dict:
    """Stations, counsellors, members and tokens; returns what the load needs."""
    os.environ["DATABASE_URL"] = url
    from wellness import create_app
    from wellness.auth.models import ApiToken, User
    from wellness.auth.passwords import hash_password
    from wellness.booking import services
    from wellness.booking.models import (
        AvailabilityRule,
        CounselorProfile,
        CounselorStation,
        Room,
        Service,
        Station,
    )
    from wellness.config import ProductionConfig
    from wellness.extensions import db

    app = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    now = datetime.now(UTC)
    with app.app_context():
        db.create_all()
        service = Service(
            code="individual",
            name="个体心理咨询",
            name_en="Individual counselling",
            mode="individual",
            room_kind="individual",
            duration_minutes=50,
            buffer_minutes=10,
            min_notice_minutes=60,
            horizon_days=days + 2,
            late_cancel_hours=24,
        )
        db.session.add(service)
        fast_hash = hash_password(PASSWORD)
        counter = iter(range(10**6))

        def user(role: str, name: str) -> User:
            u = User(
                phone=f"+86137{next(counter):08d}", name=name, role=role, password_hash=fast_hash
            )
            db.session.add(u)
            db.session.flush()
            return u

        def station(name: str, district: str, rooms: int) -> Station:
            s = Station(
                name=name,
                district=district,
                address=f"滨江市{district}人民路{next(counter)}号",
                latitude=30.25,
                longitude=120.15,
                phone="0571-86001201",
            )
            db.session.add(s)
            db.session.flush()
            for i in range(rooms):
                db.session.add(
                    Room(station_id=s.id, name=f"咨询室{i + 1}", kind="individual", capacity=1)
                )
            return s

        def counselor(at: Station, name: str, start: wall, end: wall, lunch: bool) -> User:
            c = user("counselor", name)
            db.session.add(CounselorProfile(user_id=c.id, gender="female", languages="普通话"))
            db.session.add(CounselorStation(counselor_id=c.id, station_id=at.id))
            for weekday in range(7):
                db.session.add(
                    AvailabilityRule(
                        counselor_id=c.id,
                        station_id=at.id,
                        weekday=weekday,
                        starts=start,
                        ends=end,
                        kind="work",
                    )
                )
                if lunch:
                    db.session.add(
                        AvailabilityRule(
                            counselor_id=c.id,
                            station_id=None,
                            weekday=weekday,
                            starts=wall(12),
                            ends=wall(13, 30),
                            kind="break",
                        )
                    )
            return c

        def token_for(u: User) -> str:
            token = secrets.token_urlsafe(32)
            db.session.add(
                ApiToken(
                    user_id=u.id,
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    session_version=u.session_version,
                    expires_at=now + timedelta(days=1),
                )
            )
            return token

        # The search station: 4 counsellors, 5 rooms, 6 of the day's slots booked.
        search = station("江北区职工心理服务中心", "江北区", 5)
        search_counselors = [
            counselor(search, name, wall(9), wall(17, 30), True)
            for name in ("王静", "李明华", "张晓燕", "陈思远")
        ]
        member = user("worker", "王伟")
        page_user_phone = member.phone
        api_token = token_for(member)
        bookers = [user("worker", f"预约者{i}") for i in range(6)]
        db.session.commit()
        service_id = service.id
        taken = [(0, 9), (0, 10), (1, 9), (1, 14, 30), (2, 11), (3, 15, 30)]
        for who, spec in zip(bookers, taken, strict=True):
            c = search_counselors[spec[0]]
            start = datetime.combine(
                search_day, wall(*spec[1:]), tzinfo=services.sl.LOCAL_TZ
            ).astimezone(UTC)
            slot_id = services.slot_id_for_counselor(c.id, search.id, service_id, start)
            services.book(db.session.get(User, who.id), slot_id, now=now)

        # The booking lanes: 50 stations x 2 counsellors x 2 rooms; one member per counsellor.
        lanes = []
        for s_index in range(50):
            st = station(f"职工服务站{s_index + 1:02d}", "高新区", 2)
            for c_index in range(2):
                c = counselor(st, f"咨询师{s_index}-{c_index}", wall(8), wall(20), False)
                member_lane = user("worker", f"会员{s_index}-{c_index}")
                lanes.append((st.id, c.id, token_for(member_lane)))
        db.session.commit()
        search_id = search.id
        # Query count of one slot search, with 0 and with 6 bookings on the day.
        from sqlalchemy import event

        counts = []
        # (the third search repeats the second: answered from the slot cache)
        for day in (search_day + timedelta(days=1), search_day, search_day):
            seen: list[int] = []

            def listener(*_args, seen=seen, **_kwargs) -> None:
                seen.append(1)

            db.session.remove()  # a fresh session, as in a request
            event.listen(db.engine, "before_cursor_execute", listener)
            services.search_slots(search_id, "individual", day, now=now)
            event.remove(db.engine, "before_cursor_execute", listener)
            counts.append(len(seen))
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return {
        "search_station": search_id,
        "service_id": service_id,
        "page_user_phone": page_user_phone,
        "api_token": api_token,
        "lanes": lanes,
        "query_counts": counts,
    }


def booking_plan(lanes, service_id: int, first_day: date, days: int, path: Path) -> int:
    """One line per booking "token<TAB>slot_id"; lanes interleaved, no slot twice."""
    from wellness.booking import services
    from wellness.booking.slots import LOCAL_TZ

    rows = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for hour in range(8, 20):
            start = datetime.combine(day, wall(hour), tzinfo=LOCAL_TZ).astimezone(UTC)
            for station_id, counselor_id, token in lanes:
                slot = services.slot_id_for_counselor(counselor_id, station_id, service_id, start)
                rows.append(f"{token}\t{slot}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


# ----------------------------------------------------------------------------- servers


def start_gunicorn(app_path: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_path,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {port} did not start; see {log}")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def fetch(base: str, path: str, headers: dict | None = None, body: str | None = None):
    """(status, headers, text) of one request to the local server."""
    parts = urllib.parse.urlsplit(base)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=30)
    hdrs = dict(headers or {})
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request("POST" if body is not None else "GET", path, body=body, headers=hdrs)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, response.headers, text


def _session_cookie(headers) -> str | None:
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("wellness_session="):
            return value.split(";", 1)[0]
    return None


def login_cookie(base: str, phone: str) -> str:
    """Sign in through the form (CSRF included) and return the session cookie header."""
    _status, headers, page = fetch(base, "/auth/login")
    cookie = _session_cookie(headers)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token and cookie, "no CSRF token or session on the login page"
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "phone": phone.removeprefix("+86"), "password": PASSWORD}
    )
    status, headers, _text = fetch(base, "/auth/login", {"Cookie": cookie}, form)
    signed_in = _session_cookie(headers)
    assert status == 302 and signed_in, f"login failed ({status})"
    return signed_in


# ----------------------------------------------------------------------------- load


def run_wrk(url: str, seconds: int, headers: dict | None = None, script: Path | None = None,
            script_args: tuple = ()) -> dict:  # fmt: skip
    command = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency"]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "p50": ms("50"),
        "p99": ms("99"),
    }


def run_python(url: str, seconds: int, headers: dict | None = None, method: str = "GET",
               bodies=None) -> dict:  # fmt: skip
    """Fallback without wrk: CONNECTIONS threads with keep-alive connections."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lock = threading.Lock()
    latencies: list[float] = []
    bad = [0]
    stop_at = time.perf_counter() + seconds
    feed = iter(bodies or [])

    def worker():
        conn = HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        while time.perf_counter() < stop_at:
            hdrs = dict(headers or {})
            body = None
            if method == "POST":
                with lock:
                    token, payload = next(feed)
                if token:
                    hdrs["Authorization"] = f"Bearer {token}"
                hdrs["Content-Type"] = (
                    "application/json" if token else ("application/x-www-form-urlencoded")
                )
                body = payload
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=hdrs)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status >= 300:
                with lock:
                    bad[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "non_2xx": bad[0],
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    tool = "wrk 2 threads, 8 connections" if use_wrk else "Python load loop, 8 connections"
    print(f"load: {tool}; {args.rounds} rounds of {args.seconds} s; gunicorn 2 sync workers")
    from wellness.booking.slots import LOCAL_TZ

    today = datetime.now(LOCAL_TZ).date()
    search_day = today + timedelta(days=2)
    days_per_round = 12  # 12 days x 12 hours x 100 counsellors = 14,400 distinct slots
    plan_days = days_per_round * args.rounds + 4
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wellness_url = f"sqlite:///{tmp / 'wellness.sqlite'}"
        baseline_url = f"sqlite:///{tmp / 'baseline.sqlite'}"
        print("seeding ...", flush=True)
        seeded = seed_wellness(wellness_url, search_day, plan_days + 2)
        from bench.booking_baseline import seed as seed_baseline

        seed_baseline(baseline_url)
        wport, bport = free_port(), free_port()
        wellness = start_gunicorn(
            "wellness:create_app()",
            wport,
            {
                "WELLNESS_ENV": "production",
                "DATABASE_URL": wellness_url,
                "SECRET_KEY": "bench-secret",
                "SESSION_COOKIE_SECURE": "0",
            },
            tmp / "wellness.log",
        )
        baseline = start_gunicorn(
            "bench.booking_baseline:create_app()",
            bport,
            {"BASELINE_DATABASE_URL": baseline_url},
            tmp / "baseline.log",
        )
        try:
            w, b = f"http://127.0.0.1:{wport}", f"http://127.0.0.1:{bport}"
            cookie = login_cookie(w, seeded["page_user_phone"])
            station = seeded["search_station"]
            page_url = f"{w}/booking/stations/{station}/slots?service=individual&date={search_day}"
            api_url = f"{w}/api/v1/slots?station={station}&service=individual&date={search_day}"
            _status, _headers, body = fetch(w, page_url.removeprefix(w), {"Cookie": cookie})
            assert "王静" in body and "/booking/book?slot=" in body, "slot page did not render"
            bearer = {"Authorization": f"Bearer {seeded['api_token']}"}
            api_check = json.loads(fetch(w, api_url.removeprefix(w), bearer)[2])
            assert api_check["meta"]["total"] > 0
            print(f"slot search: {api_check['meta']['total']} open slots on {search_day}")
            # Booking plans: a fresh slice of days per round, so every request is a new slot.
            plans = []
            for r in range(args.rounds):
                path = tmp / f"plan{r}.tsv"
                first = today + timedelta(days=2 + days_per_round * r)
                n = booking_plan(seeded["lanes"], seeded["service_id"], first, days_per_round, path)
                plans.append((path, n))
            write_script = tmp / "write.lua"
            write_script.write_text(WRITE_LUA)
            book_script = tmp / "book.lua"
            book_script.write_text(BOOK_LUA)
            # Warm up both servers.
            for url, hdr in ((f"{b}/page", None), (page_url, {"Cookie": cookie})):
                if use_wrk:
                    run_wrk(url, 2, hdr)
                else:
                    run_python(url, 2, hdr)
            keys = ("A_page", "B_page", "B_api", "A_write", "B_book", "F_home", "F_me")
            results: dict[str, list[dict]] = {k: [] for k in keys}
            for r in range(args.rounds):
                print(f"round {r + 1} ...", flush=True)
                s = args.seconds
                if use_wrk:
                    results["A_page"].append(run_wrk(f"{b}/page", s))
                    results["B_page"].append(run_wrk(page_url, s, {"Cookie": cookie}))
                    results["B_api"].append(run_wrk(api_url, s, bearer))
                    results["A_write"].append(run_wrk(f"{b}/write", s, script=write_script))
                    path, _n = plans[r]
                    results["B_book"].append(
                        run_wrk(
                            f"{w}/api/v1/appointments",
                            s,
                            script=book_script,
                            script_args=(str(path), str(THREADS)),
                        )
                    )
                    results["F_home"].append(run_wrk(f"{w}/", s, {"Cookie": cookie}))
                    results["F_me"].append(run_wrk(f"{w}/api/v1/me", s, bearer))
                else:
                    results["A_page"].append(run_python(f"{b}/page", s))
                    results["B_page"].append(run_python(page_url, s, {"Cookie": cookie}))
                    results["B_api"].append(run_python(api_url, s, bearer))
                    forms = iter(lambda: ("", "x=1"), None)
                    results["A_write"].append(
                        run_python(f"{b}/write", s, method="POST", bodies=forms)
                    )
                    path, _n = plans[r]
                    lines = [line.split("\t") for line in path.read_text().splitlines()]
                    results["B_book"].append(
                        run_python(f"{w}/api/v1/appointments", s, method="POST",
                                   bodies=((t, json.dumps({"slot_id": sid})) for t, sid in lines))
                    )  # fmt: skip
                    results["F_home"].append(run_python(f"{w}/", s, {"Cookie": cookie}))
                    results["F_me"].append(run_python(f"{w}/api/v1/me", s, bearer))
            booked = count_booked(wellness_url)
        finally:
            stop(wellness)
            stop(baseline)
    report(results, seeded, booked, tool, args)


def count_booked(url: str) -> int:
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM appointments WHERE status='booked'").fetchone()[0]


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(results: dict, seeded: dict, booked: int, tool: str, args) -> None:
    ratio_page = statistics.median(
        b["rps"] / a["rps"] for a, b in zip(results["A_page"], results["B_page"], strict=True)
    )
    ratio_api = statistics.median(
        b["rps"] / a["rps"] for a, b in zip(results["A_page"], results["B_api"], strict=True)
    )
    ratio_book = statistics.median(
        b["rps"] / a["rps"] for a, b in zip(results["A_write"], results["B_book"], strict=True)
    )
    ratio_home = statistics.median(
        b["rps"] / a["rps"] for a, b in zip(results["A_page"], results["F_home"], strict=True)
    )
    ratio_me = statistics.median(
        b["rps"] / a["rps"] for a, b in zip(results["A_page"], results["F_me"], strict=True)
    )
    book_requests = sum(r["requests"] for r in results["B_book"])
    book_bad = sum(r["non_2xx"] for r in results["B_book"])
    rows = [
        ("A: bare Flask, PK SELECT + Jinja page", "A_page"),
        ("B: slot search page (HTML, signed in)", "B_page"),
        ("B: slot search API (`GET /api/v1/slots`)", "B_api"),
        ("A: bare Flask, POST INSERT + commit (WAL)", "A_write"),
        ("B: booking submit (`POST /api/v1/appointments`)", "B_book"),
        ("floor: this app's home page (signed in, no booking code)", "F_home"),
        ("floor: this app's `GET /api/v1/me` (token check only)", "F_me"),
    ]
    lines = [
        "| route | requests/s (median) | each round | p50 ms | p99 ms | non-2xx |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, key in rows:
        data = results[key]
        rounds = " / ".join(f"{r['rps']:,.0f}" for r in data)
        lines.append(
            f"| {label} | {median(data, 'rps'):,.0f} | {rounds} | {median(data, 'p50'):.1f} | "
            f"{median(data, 'p99'):.1f} | {sum(r['non_2xx'] for r in data)} |"
        )
    q0, q6, q_cached = seeded["query_counts"]
    summary = [
        f"- slot search page / typical page: **{ratio_page:.2f}** (goal >= 0.5)",
        f"- slot search API / typical page: **{ratio_api:.2f}**",
        f"- booking submit / write ceiling: **{ratio_book:.2f}** (goal >= 0.5)",
        f"- for scale, this app's own floor against the same typical page: home page "
        f"{ratio_home:.2f}, `GET /api/v1/me` {ratio_me:.2f}",
        f"- SQL statements per slot search: {q0} with no bookings that day, {q6} with 6 "
        f"bookings (does not grow); {q_cached} when the day's answer is in the slot cache",
        f"- bookings: {book_requests} requests, {book_bad} non-2xx; {booked} booked rows "
        "(includes the 6 seeded): every request got a new slot and a 201",
    ]
    text = "\n".join(lines + [""] + summary)
    print()
    print(text)
    if args.no_results:
        return
    section = (
        "## Booking (issue 5)\n\n"
        "`.venv/bin/python bench/booking_throughput.py` (needs `wrk`: `apt-get install -y wrk`)"
        f" on the development container, {datetime.now(UTC).date().isoformat()}. Load: {tool}, "
        f"{args.rounds} interleaved rounds of {args.seconds} s (A B A B ...); "
        "gunicorn with 2 sync workers for both apps; SQLite files in WAL mode. Ratios are "
        "medians of the per-round ratios.\n\n" + text + "\n\n" + NOTES
    )
    write_results(section)


def write_results(section: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    heading = "## Booking (issue 5)"
    if heading in current:
        before, rest = current.split(heading, 1)
        # The next section starts at its heading, or at a marker comment just above it
        # (the reports section is delimited by <!-- reports-dashboard:start/end -->).
        ends = [i for i in (rest.find("\n<!--"), rest.find("\n## ")) if i >= 0]
        tail = rest[min(ends) :] if ends else ""
        current = before.rstrip() + "\n\n" + section.rstrip() + "\n" + tail
    else:
        current = current.rstrip() + "\n\n" + section
    path.write_text(current, encoding="utf-8")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
