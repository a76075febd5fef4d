"""The scheduler's sweeps for reports: safe to run twice."""

from __future__ import annotations

from sqlalchemy import delete

from tests.reports.conftest import BUSY, populate
from wellness import scheduler
from wellness.assessments.models import AssessmentResponse
from wellness.extensions import db
from wellness.reports import cache
from wellness.reports.jobs import JOBS


def job(name: str):
    (found,) = [j for j in JOBS if j.id == name]
    assert found in scheduler.all_jobs()
    return found


def run(app, name: str):
    """As the scheduler runs it, but failing loudly (run_job logs and swallows errors)."""
    with app.app_context():
        return scheduler.resolve(job(name).func)()


def test_rollup_sweep_and_chart_warming_are_idempotent(app, org, frozen):
    with app.app_context():
        populate(org["a1"], 202611, BUSY)
        populate(org["b1"], 202610, BUSY)
        db.session.commit()
    verify, warm = "reports.verify_rollup", "reports.warm_charts"
    assert run(app, verify) == 2  # both months built
    assert run(app, verify) == 0
    with app.app_context():
        db.session.execute(
            delete(AssessmentResponse).where(AssessmentResponse.org_unit_id == org["b1"])
        )
        db.session.commit()
    assert run(app, verify) == 1  # October emptied, rebuilt once
    assert run(app, verify) == 0
    drawn = run(app, warm)
    assert drawn >= 8  # every installed chart, in Chinese and English
    assert run(app, warm) == 0  # already drawn for this data
    with app.app_context():
        assert len(list(cache._folder().glob("*.png"))) == drawn
