"""The periodic jobs and the scheduler process (``flask --app wellness scheduler run``).

APScheduler 3.x runs only here, never inside web workers. Jobs are idempotent sweeps over
the database; each runs inside an app context. A lock keeps a second scheduler idle: a
PostgreSQL advisory lock held on its own connection, or an OS file lock beside the SQLite
database (SQLite is single-machine by nature).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import text

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x57454C4C  # "WELL"


@dataclass(frozen=True)
class Job:
    id: str
    func: str  # "module:function", imported when the job runs
    trigger: str  # "interval" or "cron"
    args: dict[str, Any] = field(default_factory=dict)


def all_jobs() -> list[Job]:
    """Every package's ``jobs.JOBS``. Each job must be safe to run twice or concurrently."""
    from wellness.packages import feature_modules

    jobs: list[Job] = []
    for module in feature_modules("wellness.{pkg}.jobs"):
        jobs.extend(getattr(module, "JOBS", ()))
    return jobs


def resolve(path: str) -> Callable[[], Any]:
    module_name, func_name = path.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def run_job(app: Flask, job: Job) -> Any:
    """Run one job in an app context; log and swallow errors so the scheduler keeps going."""
    from wellness.extensions import db

    with app.app_context():
        started = time.monotonic()
        try:
            result = resolve(job.func)()
        except Exception:
            log.exception("job %s failed", job.id)
            db.session.rollback()
            return None
        finally:
            db.session.remove()
        log.info("job %s done in %.2fs: %s", job.id, time.monotonic() - started, result)
        return result


def register_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    for job in all_jobs():
        scheduler.add_job(
            run_job,
            job.trigger,
            args=[app, job],
            id=job.id,
            name=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **job.args,
        )


@contextmanager
def singleton_lock(app: Flask):
    """Yield True when this process holds the scheduler lock, False when another does."""
    from wellness.extensions import db

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql"):
        with app.app_context():
            connection = db.engine.connect()
        got = False
        try:
            got = bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                ).scalar()
            )
            connection.commit()
            yield got
        finally:
            if got:  # pooled connections outlive close(): release the session lock explicitly
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                connection.commit()
            connection.close()
        return
    path = Path(app.config.get("SCHEDULER_LOCK_FILE") or Path(app.instance_path) / "scheduler.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield True
    finally:
        os.close(fd)


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=app.config["SCHEDULER_TIMEZONE"])
    register_jobs(app, scheduler)
    return scheduler


def run_forever(app: Flask, wait_for_lock: bool = True, poll_seconds: float = 30.0) -> None:
    """Run the scheduler while holding the lock; a second copy waits idle for it."""
    while True:
        with singleton_lock(app) as held:
            if held:
                log.info("scheduler lock acquired; %d jobs", len(all_jobs()))
                build_scheduler(app).start()
                return
        if not wait_for_lock:
            log.warning("another scheduler holds the lock; exiting")
            return
        log.info("another scheduler holds the lock; standing by")
        time.sleep(poll_seconds)
