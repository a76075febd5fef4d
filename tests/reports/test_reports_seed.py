"""``flask --app wellness seed scale``: bulk volume, consistent with the real scorer, and
the rollup built at the end."""

from __future__ import annotations

from sqlalchemy import func, select

from wellness.assessments.instruments import get_instrument
from wellness.assessments.models import AssessmentResponse
from wellness.auth.models import ConsentRecord, User
from wellness.extensions import db
from wellness.reports import risk_rollup, rollup
from wellness.reports.cli import rebuild_command
from wellness.reports.models import AssessmentMonth, RiskMonth
from wellness.reports.seed import register, scale_command
from wellness.risk.models import RiskFlag


def test_seed_scale_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        scale_command, ["--workers", "60", "--assessments", "900", "--months", "6"]
    )
    assert result.exit_code == 0, result.output
    assert "created 60 workers, 900 assessments" in result.output
    with app.app_context():
        workers = db.session.scalar(
            select(func.count(User.id)).where(User.role == "worker", User.phone.like("+86150%"))
        )
        assert workers == 60
        assert db.session.scalar(select(func.count(ConsentRecord.id))) == 60
        rows = db.session.scalars(select(AssessmentResponse).limit(200)).all()
        for row in rows:  # totals and bands come from the real scorer
            result_ = get_instrument(row.instrument).score(row.answers)
            assert (result_.total, result_.band, result_.risk) == (row.total, row.band, row.risk)
        units = {row.org_unit_id for row in db.session.scalars(select(AssessmentResponse))}
        assert len(units) >= 5
        # at most one unresolved flag per person (the partial unique index agrees)
        open_flags = db.session.execute(
            select(RiskFlag.person_id, func.count())
            .where(RiskFlag.status != "resolved")
            .group_by(RiskFlag.person_id)
        ).all()
        assert all(n == 1 for _person, n in open_flags)
        assert db.session.scalar(select(func.count(AssessmentMonth.id))) > 0
        assert rollup.ensure_fresh() == []  # built at the end, nothing left to do
        assert db.session.scalar(select(func.count(RiskMonth.id))) > 0
        assert risk_rollup.ensure_fresh() == []
        # each flag carries the unit of its person (they never move in generated data)
        assert not db.session.scalar(
            select(func.count(RiskFlag.id))
            .join(User, User.id == RiskFlag.person_id)
            .where(RiskFlag.org_unit_id.is_distinct_from(User.org_unit_id))
        )
        rows_before = db.session.scalar(select(func.count(RiskMonth.id)))
    rebuilt = runner.invoke(rebuild_command)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt" in rebuilt.output
    with app.app_context():
        assert db.session.scalar(select(func.count(RiskMonth.id))) == rows_before
    # a second run adds more, with new phone numbers
    again = runner.invoke(scale_command, ["--workers", "5", "--assessments", "10", "--months", "2"])
    assert again.exit_code == 0, again.output


def test_register_adds_the_command_to_the_seed_group(app):
    register(app)
    assert "scale" in app.cli.commands["seed"].commands
    help_text = app.test_cli_runner().invoke(args=["seed", "scale", "--help"]).output
    assert "--assessments" in help_text
