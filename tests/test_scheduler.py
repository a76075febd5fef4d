"""The scheduler process: job table, app context, and the singleton lock."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from wellness import scheduler


def test_every_job_is_registered_and_resolvable(app):
    sched = BackgroundScheduler(timezone="Asia/Shanghai")
    scheduler.register_jobs(app, sched)
    assert sorted(job.id for job in sched.get_jobs()) == sorted(
        job.id for job in scheduler.all_jobs()
    )
    for job in scheduler.all_jobs():
        assert callable(scheduler.resolve(job.func))


def test_run_job_has_an_app_context_and_survives_errors(app, monkeypatch):
    job = scheduler.Job("t", "wellness.notify.jobs:deliver_outbox", "interval", {"minutes": 1})
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "deferred": 0}
    assert scheduler.run_job(app, job) == counts

    def boom():
        raise RuntimeError("job failure")

    monkeypatch.setattr(scheduler, "resolve", lambda path: boom)
    assert scheduler.run_job(app, job) is None


def test_second_scheduler_stays_idle(app):
    with scheduler.singleton_lock(app) as first:
        assert first is True
        with scheduler.singleton_lock(app) as second:
            assert second is False
    with scheduler.singleton_lock(app) as again:
        assert again is True


def test_run_forever_without_lock_exits(app, caplog):
    with scheduler.singleton_lock(app) as held:
        assert held
        scheduler.run_forever(app, wait_for_lock=False)
    assert "holds the lock" in caplog.text


def test_web_app_starts_no_scheduler(app):
    import threading

    names = [t.name for t in threading.enumerate()]
    assert not any("APScheduler" in n for n in names)
