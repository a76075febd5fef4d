"""The risk queue: claiming, contacts, resolution, escalation, follow-ups, safety plans."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.risk.conftest import NOW
from wellness.auth.models import User
from wellness.errors import Conflict, InvalidInput, NotPermitted
from wellness.extensions import db
from wellness.notify import services as notify_services
from wellness.notify.models import OutboxMessage
from wellness.risk import services
from wellness.risk.models import FollowUp, RiskFlag


def user(app, user_id):
    return db.session.get(User, user_id)


def test_claim_deadlines_by_level(app, make_flag):
    expected = {"critical": 30, "high": 24 * 60, "elevated": 72 * 60}
    ids = {level: make_flag(level) for level in expected}
    with app.app_context():
        for level, minutes in expected.items():
            flag = db.session.get(RiskFlag, ids[level])
            assert flag.due_at - flag.created_at == timedelta(minutes=minutes)


def test_higher_trigger_raises_level_and_tightens_deadline(app, make_user, make_flag):
    person = make_user()
    flag_id = make_flag("elevated", person=person)
    with app.app_context():
        services.raise_flag(
            person.id,
            source="hotline",
            source_id=9,
            level="critical",
            rule="hotline:plan",
            now=NOW + timedelta(hours=1),
        )
        services.raise_flag(
            person.id,
            source="assessment",
            source_id=3,
            level="high",
            rule="gad7",
            now=NOW + timedelta(hours=2),
        )
        db.session.commit()
        flag = db.session.get(RiskFlag, flag_id)
        assert flag.level == "critical" and flag.trigger_count == 3
        assert flag.due_at == NOW + timedelta(hours=1, minutes=30)
        assert db.session.scalar(select(func.count(RiskFlag.id))) == 1


def test_concurrent_claims_have_exactly_one_winner(app, make_user, make_flag, login_as):
    flag_id = make_flag()
    counselors = [make_user("counselor", name=f"咨询师{i}") for i in range(10)]
    barrier = threading.Barrier(len(counselors))
    results: list[int] = []

    def claim(counselor):
        client = app.test_client()
        login_as(counselor, on=client)
        barrier.wait()
        response = client.post(
            f"/api/v1/risk/flags/{flag_id}/claim",
            headers={"Authorization": f"Bearer {tokens[counselor.id]}"},
        )
        results.append(response.status_code)

    from tests.test_authz_table import bearer

    tokens = {c.id: bearer(app, c)["Authorization"].split()[1] for c in counselors}
    threads = [threading.Thread(target=claim, args=(c,)) for c in counselors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 9
    with app.app_context():
        flag = db.session.get(RiskFlag, flag_id)
        assert flag.status == "claimed" and flag.claimed_by_id in {c.id for c in counselors}


def test_second_claim_names_the_holder(app, make_user, make_flag):
    flag_id = make_flag()
    first, second = make_user("counselor", name="王静"), make_user("counselor", name="李明")
    with app.app_context():
        services.claim(user(app, first.id), flag_id)
        with pytest.raises(Conflict, match="王静"):
            services.claim(user(app, second.id), flag_id)


def test_resolve_needs_an_outcome_and_the_holder(app, make_user, make_flag):
    flag_id = make_flag()
    holder, other = make_user("counselor"), make_user("counselor")
    with app.app_context():
        services.claim(user(app, holder.id), flag_id)
        with pytest.raises(InvalidInput) as raised:
            services.resolve(user(app, holder.id), flag_id, None)
        assert "outcome" in raised.value.fields
        with pytest.raises(NotPermitted):
            services.resolve(user(app, other.id), flag_id, "no_risk")
        flag = services.resolve(
            user(app, holder.id),
            flag_id,
            "safety_plan",
            "计划已制定",
            follow_up_days=7,
            follow_up_kind="reassessment",
            now=NOW,
        )
        assert flag.status == "resolved" and flag.outcome == "safety_plan"
        follow_up = db.session.scalar(select(FollowUp))
        assert follow_up.due_at == NOW + timedelta(days=7)
        assert follow_up.assigned_to_id == holder.id


def test_contacts_and_follow_up_counts(app, make_user, make_flag):
    flag_id = make_flag("high")
    holder = make_user("counselor")
    with app.app_context():
        services.claim(user(app, holder.id), flag_id, now=NOW)
        services.log_contact(user(app, holder.id), flag_id, "phone", False, "无人接听", now=NOW)
        services.log_contact(user(app, holder.id), flag_id, "phone", True, now=NOW)
        with pytest.raises(InvalidInput):
            services.log_contact(user(app, holder.id), flag_id, "carrier-pigeon", True)
        assert len(services.contacts_for(flag_id)) == 2
        services.resolve(
            user(app, holder.id),
            flag_id,
            "appointment_booked",
            follow_up_days=2,
            follow_up_kind="contact",
            now=NOW,
        )
        assert services.overdue_count(user(app, holder.id), now=NOW + timedelta(days=1)) == 0
        assert services.overdue_count(user(app, holder.id), now=NOW + timedelta(days=3)) == 1


def test_reopen_and_only_one_open_case_per_person(app, make_user, make_flag):
    person = make_user()
    flag_id = make_flag(person=person)
    holder = make_user("counselor")
    with app.app_context():
        services.claim(user(app, holder.id), flag_id)
        services.resolve(user(app, holder.id), flag_id, "no_risk")
        newer = services.raise_flag(
            person.id, source="manual", source_id=None, level="elevated", rule="manual"
        )
        db.session.commit()
        assert newer.id != flag_id
        with pytest.raises(Conflict):
            services.reopen(user(app, holder.id), flag_id)


def test_escalation_happens_once_at_the_deadline(app, make_user, make_flag):
    admin = make_user("admin", email="chief@example.com")
    flag_id = make_flag("critical")  # due NOW + 30 min
    with app.app_context():
        assert services.escalate_overdue(now=NOW + timedelta(minutes=29)) == 0
        assert services.escalate_overdue(now=NOW + timedelta(minutes=30)) == 1
        assert services.escalate_overdue(now=NOW + timedelta(minutes=31)) == 0
        flag = db.session.get(RiskFlag, flag_id)
        assert flag.escalated_at == NOW + timedelta(minutes=30)
        to_admin = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == admin.id)
        ).all()
    assert sorted(m.channel for m in to_admin) == ["email", "inapp"]


def test_concurrent_escalation_runs_escalate_once(app, make_user, make_flag):
    make_user("admin")
    make_flag("critical")
    barrier = threading.Barrier(4)
    counts = []

    def run():
        with app.app_context():
            barrier.wait()
            counts.append(services.escalate_overdue(now=NOW + timedelta(hours=1)))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_failing_mail_server_loses_no_flag_or_message(app, make_user, make_flag, monkeypatch):
    make_user("admin", email="chief@example.com")
    flag_id = make_flag("critical")
    monkeypatch.setattr(
        "flask_mailman.EmailMessage.send",
        lambda self, fail_silently=False: (_ for _ in ()).throw(OSError("down")),
    )
    with app.app_context():
        services.escalate_overdue(now=NOW + timedelta(hours=1))
        result = notify_services.deliver_due(now=NOW + timedelta(hours=1))
        assert result["retry"] == 1
        assert db.session.get(RiskFlag, flag_id).escalated_at is not None
        monkeypatch.undo()
        assert notify_services.deliver_due(now=NOW + timedelta(hours=3))["sent"] == 1


def test_safety_plan_is_versioned_and_reaches_the_worker(app, make_user, make_flag):
    person = make_user()
    flag_id = make_flag(person=person)
    holder = make_user("counselor")
    with app.app_context():
        services.claim(user(app, holder.id), flag_id)
        with pytest.raises(InvalidInput):
            services.save_safety_plan(user(app, holder.id), flag_id, {})
        services.save_safety_plan(user(app, holder.id), flag_id, {"warning_signs": "失眠"})
        plan = services.save_safety_plan(
            user(app, holder.id), flag_id, {"warning_signs": "失眠", "contacts": "妹妹"}
        )
        assert plan.version == 2
        assert services.latest_safety_plan(person.id).contacts == "妹妹"


def test_callback_request_attaches_to_the_open_flag(app, make_user, make_flag):
    person = make_user()
    flag_id = make_flag(person=person)
    with app.app_context():
        flag = services.request_callback(user(app, person.id), "晚上7点后")
        assert flag.id == flag_id and flag.callback_preference == "晚上7点后"


def test_supervisor_stats(app, make_user, make_flag):
    holder = make_user("counselor")
    ids = [make_flag("critical"), make_flag("high"), make_flag("elevated")]
    with app.app_context():
        services.claim(user(app, holder.id), ids[0], now=NOW + timedelta(minutes=10))
        services.claim(user(app, holder.id), ids[1], now=NOW + timedelta(days=2))
        stats = services.supervisor_stats(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert stats.claimed_total == 2 and stats.claimed_in_time == 1
    assert stats.sla_percent == 50.0
    assert stats.median_minutes_to_claim == (10 + 2 * 24 * 60) / 2
    assert stats.by_level_status[("elevated", "open")] == 1
