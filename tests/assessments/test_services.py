"""Submitting self-assessments: storage, routing to the risk queue, idempotency, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from wellness.assessments import services
from wellness.assessments.models import AssessmentResponse
from wellness.auth.models import User
from wellness.errors import InvalidInput, NotFound
from wellness.extensions import db
from wellness.notify.models import OutboxMessage
from wellness.risk.models import RiskFlag, RiskTrigger

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def submit(app, user, code, answers, **kw):
    with app.app_context():
        person = db.session.get(User, user.id)
        submitted = services.submit_assessment(person, code, answers, **kw)
        return submitted.response.id


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_item9_with_low_total_raises_a_critical_flag_in_the_same_transaction(app, consented_worker):
    user = consented_worker()
    response_id = submit(app, user, "phq9", [0, 0, 0, 1, 1, 0, 0, 0, 1], now=NOW)
    with app.app_context():
        response = db.session.get(AssessmentResponse, response_id)
        assert (response.total, response.band, response.level) == (3, "minimal", "critical")
        flag = db.session.scalar(select(RiskFlag).where(RiskFlag.person_id == user.id))
        assert flag.level == "critical" and flag.source == "assessment"
        assert flag.source_id == str(response_id)
        assert flag.due_at - flag.created_at == timedelta(minutes=30)


def test_flag_and_response_roll_back_together(app, consented_worker, monkeypatch):
    user = consented_worker()

    def failing_audit(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services.audit, "record", failing_audit)
    with pytest.raises(RuntimeError):
        submit(app, user, "phq9", [3] * 9)
    assert count(app, AssessmentResponse) == 0
    assert count(app, RiskFlag) == 0


def test_moderate_total_raises_elevated_and_repeat_attaches(app, consented_worker):
    user = consented_worker()
    submit(app, user, "gad7", [2, 2, 2, 2, 1, 1, 0], now=NOW)  # 10 moderate
    submit(app, user, "gad7", [3, 3, 3, 3, 2, 2, 1], now=NOW + timedelta(days=1))  # 17 severe
    with app.app_context():
        flags = db.session.scalars(select(RiskFlag)).all()
        assert len(flags) == 1
        assert flags[0].level == "high" and flags[0].trigger_count >= 2
        assert db.session.scalar(select(func.count(RiskTrigger.id))) >= 2


def test_minimal_result_raises_nothing(app, consented_worker):
    user = consented_worker()
    submit(app, user, "phq9", [0] * 9)
    assert count(app, RiskFlag) == 0


def test_reliable_worsening_raises_deterioration_flag(app, consented_worker):
    user = consented_worker()
    submit(app, user, "who5", [4, 4, 4, 4, 4], now=NOW)  # raw 20 = 80%
    assert count(app, RiskFlag) == 0
    submit(app, user, "who5", [3, 3, 3, 3, 2], now=NOW + timedelta(days=14))  # raw 14 = 56%
    with app.app_context():
        flag = db.session.scalar(select(RiskFlag))
        assert flag.source == "deterioration" and flag.level == "elevated"
        assert "reliable_worsening" in flag.rule


def test_consent_is_required(app, make_user):
    user = make_user()
    with pytest.raises(services.ConsentRequired):
        submit(app, user, "phq9", [0] * 9)
    assert count(app, AssessmentResponse) == 0


@pytest.mark.parametrize(
    "answers",
    [
        [0] * 8,
        [0] * 10,
        [0, 0, 0, 0, 0, 0, 0, 0, 4],
        [0, 0, 0, 0, 0, 0, 0, 0, -1],
        [0, 0, 0, 0, 0, 0, 0, 0, 1.0],
        [0, 0, 0, 0, 0, 0, 0, 0, "1"],
        [True] + [0] * 8,
        "000000000",
    ],
)
def test_invalid_answers_store_nothing(app, consented_worker, answers):
    user = consented_worker()
    with pytest.raises(InvalidInput):
        submit(app, user, "phq9", answers)
    assert count(app, AssessmentResponse) == 0


def test_unknown_instrument(app, consented_worker):
    with pytest.raises(NotFound):
        submit(app, consented_worker(), "isi", [0] * 7)


def test_resubmitted_form_is_refused(app, consented_worker):
    user = consented_worker()
    first = submit(app, user, "phq9", [1] * 9, submission_key="key-123456")
    with pytest.raises(services.AlreadySubmitted) as raised:
        submit(app, user, "phq9", [1] * 9, submission_key="key-123456")
    assert raised.value.response_id == first
    assert count(app, AssessmentResponse) == 1


def test_rescreen_due_by_band(app, consented_worker):
    user = consented_worker()
    minimal = submit(app, user, "phq9", [0] * 9, now=NOW)
    mild = submit(app, user, "gad7", [1, 1, 1, 1, 1, 0, 0], now=NOW)
    severe = submit(app, user, "phq15", [2] * 15, now=NOW)
    with app.app_context():
        due = {
            r.id: r.rescreen_due_at - r.created_at
            for r in db.session.scalars(select(AssessmentResponse))
        }
    assert due[minimal] == timedelta(days=90)
    assert due[mild] == timedelta(days=28)
    assert due[severe] == timedelta(days=14)


def test_rescreen_reminders_are_sent_once(app, consented_worker):
    user = consented_worker()
    submit(app, user, "gad7", [1, 1, 1, 1, 1, 0, 0], now=NOW)  # mild -> 28 days
    with app.app_context():
        assert services.send_rescreen_reminders(now=NOW + timedelta(days=27)) == 0
        assert services.send_rescreen_reminders(now=NOW + timedelta(days=29)) == 1
        assert services.send_rescreen_reminders(now=NOW + timedelta(days=30)) == 0
        messages = db.session.scalars(select(OutboxMessage)).all()
    assert len(messages) == 1 and "GAD-7" in messages[0].body


def test_no_reminder_when_a_newer_result_exists(app, consented_worker):
    user = consented_worker()
    submit(app, user, "gad7", [1, 1, 1, 1, 1, 0, 0], now=NOW)
    submit(app, user, "gad7", [0] * 7, now=NOW + timedelta(days=20))  # minimal -> 90 days
    with app.app_context():
        assert services.send_rescreen_reminders(now=NOW + timedelta(days=40)) == 0


def test_get_own_response_hides_others(app, consented_worker):
    owner, other = consented_worker(), consented_worker()
    response_id = submit(app, owner, "phq9", [0] * 9)
    with app.app_context(), pytest.raises(NotFound):
        services.get_own_response(db.session.get(User, other.id), response_id)
