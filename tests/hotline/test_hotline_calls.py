"""Call records and crisis interventions: validation, repeat callers, audit, and the risk
flag written in the same transaction as the call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from tests.hotline.hotline_support import NOW, call_input, crisis_input
from wellness.audit import AuditEvent
from wellness.errors import Conflict, InvalidInput, NotPermitted
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import CrisisRecord, HotlineCall
from wellness.notify.models import OutboxMessage
from wellness.risk import services as risk_services
from wellness.risk.models import RiskFlag, RiskTrigger

M = timedelta(minutes=1)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def orphan_hotline_flags() -> int:
    """Reconciler: hotline flags whose call does not exist (must always be 0)."""
    return db.session.scalar(
        text(
            "SELECT count(*) FROM risk_flags f WHERE f.source = 'hotline' AND NOT EXISTS "
            "(SELECT 1 FROM hotline_calls c WHERE CAST(c.id AS VARCHAR(64)) = f.source_id)"
        )
    )


@pytest.fixture
def people(make_user):
    return {
        "counselor": make_user("counselor", name="王静"),
        "colleague": make_user("counselor", name="李明华"),
        "admin": make_user("admin"),
        "member": make_user("worker", name="刘强", phone="+8613900000003"),
    }


# ------------------------------------------------------------------------ logging


def test_call_on_shift_is_linked_to_the_shift_and_audited(app, terms, people, make_shift):
    me = people["counselor"]
    shift_id = make_shift(NOW - 2 * timedelta(hours=1), 8, staff=[me])
    with app.app_context():
        call = services.log_call(me, call_input(terms), now=NOW)
        assert call.shift_id == shift_id and call.outside_shift is False
        assert call.duration_seconds == 20 * 60 and call.repeat_index == 1
        assert [t.code for t in call.topics] == ["work_stress"]
        assert call.caller_key is None and call.caller_member_id is None
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "hotline.call_logged")
        )
        assert event.actor_id == me.id and event.target_id == str(call.id)


def test_call_outside_any_shift_is_allowed_but_marked(app, terms, people):
    with app.app_context():
        call = services.log_call(people["counselor"], call_input(terms), now=NOW)
        assert call.outside_shift is True and call.shift_id is None


def test_end_time_instead_of_duration(app, terms, people):
    with app.app_context():
        call = services.log_call(
            people["counselor"],
            call_input(terms, duration_minutes=None, ended_at=NOW - 5 * M),
            now=NOW,
        )
        assert call.duration_seconds == 25 * 60


def test_silent_call_needs_no_topics_or_duration(app, terms, people):
    with app.app_context():
        call = services.log_call(
            people["counselor"],
            services.CallInput(started_at=NOW - 3 * M, kind="silent", caller_number="13512340001"),
            now=NOW,
        )
        assert call.kind == "silent" and call.duration_seconds == 0 and call.caller_key


BAD_CALLS = [
    ({"started_at": None}, "started_at"),
    ({"started_at": NOW + 10 * M}, "started_at"),
    ({"started_at": NOW - timedelta(days=31)}, "started_at"),
    ({"duration_minutes": None, "ended_at": NOW - 40 * M}, "ended_at"),
    ({"duration_minutes": None}, "duration_minutes"),
    ({"duration_minutes": 721}, "duration_minutes"),
    ({"topic_ids": []}, "topic_ids"),
    ({"topic_ids": [999_999]}, "topic_ids"),
    ({"action_id": None}, "action_id"),
    ({"kind": "prank"}, "kind"),
    ({"age_band": "old"}, "age_band"),
    ({"gender": "x"}, "gender"),
    ({"wait_seconds": -1}, "wait_seconds"),
    ({"caller_number": "12"}, "caller_number"),
    ({"summary": "长" * 4001}, "summary"),
    ({"member_phone": "13900000003"}, "member_consent"),
    ({"member_phone": "12345", "member_consent": True}, "member_phone"),
    ({"member_phone": "13911112222", "member_consent": True}, "member_phone"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_CALLS)
def test_bad_call_is_a_field_error_and_stores_nothing(app, terms, people, changes, field):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(people["counselor"], call_input(terms, **changes), now=NOW)
        assert field in caught.value.fields
        assert caught.value.message
        db.session.rollback()
        assert count(HotlineCall) == 0


def test_referral_action_needs_a_target(app, terms, people):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(
                people["counselor"],
                call_input(terms, action_id=terms["action"]["referred_station"]),
                now=NOW,
            )
        assert caught.value.fields == {"referral_id": "required"}
        db.session.rollback()
        call = services.log_call(
            people["counselor"],
            call_input(
                terms,
                action_id=terms["action"]["referred_station"],
                referral_id=terms["referral"]["station"],
            ),
            now=NOW,
        )
        assert call.referral.code == "station"


def test_emergency_action_needs_a_crisis_record(app, terms, people):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(
                people["counselor"],
                call_input(terms, action_id=terms["action"]["emergency"]),
                now=NOW,
            )
        assert caught.value.fields == {"is_risk": "required"}


def test_deactivated_topic_cannot_be_used(app, terms, people):
    with app.app_context():
        services.update_term(
            people["admin"],
            terms["topic"]["work_stress"],
            label_zh="工作压力",
            label_en="",
            active=False,
        )
        with pytest.raises(InvalidInput):
            services.log_call(people["counselor"], call_input(terms), now=NOW)


def test_workers_and_admins_cannot_log_calls(app, terms, people):
    with app.app_context():
        for who in ("admin", "member"):
            with pytest.raises(NotPermitted):
                services.log_call(people[who], call_input(terms), now=NOW)


def test_repeat_callers_are_recognised_by_number_or_member(app, terms, people):
    me = people["counselor"]
    with app.app_context():
        first = services.log_call(
            me, call_input(terms, caller_number="135 1234 0001", started_at=NOW - 3 * 24 * 60 * M),
            now=NOW,
        )  # fmt: skip
        second = services.log_call(
            me, call_input(terms, caller_number="+86 13512340001", started_at=NOW - 60 * M),
            now=NOW,
        )  # fmt: skip
        assert (first.repeat_index, second.repeat_index) == (1, 2)
        assert first.caller_key == second.caller_key and len(first.caller_key) == 64
        assert "13512340001" not in first.caller_key
        # The member calls from their own phone, anonymously, then linked with consent.
        services.log_call(
            me, call_input(terms, caller_number="13900000003", started_at=NOW - 50 * M), now=NOW
        )
        linked = services.log_call(
            me,
            call_input(terms, member_phone="13900000003", member_consent=True),
            now=NOW,
        )
        assert linked.caller_member_id == people["member"].id and linked.member_consent
        assert linked.repeat_index == 2
        assert [c.id for c in services.caller_history(linked)] != []


# ------------------------------------------------------------------------- crisis


def test_member_crisis_call_raises_a_risk_flag_in_the_same_transaction(app, terms, people):
    me, member = people["counselor"], people["member"]
    with app.app_context():
        call = services.log_call(
            me,
            call_input(terms, member_phone="13900000003", member_consent=True),
            crisis_input(people["colleague"]),
            now=NOW,
        )
        record = call.crisis
        assert record.level == "high" and record.computed_level == "high" and record.score == 6
        flag = db.session.get(RiskFlag, record.risk_flag_id)
        assert flag.person_id == member.id and flag.source == "hotline"
        assert flag.source_id == str(call.id) and flag.level == "high"
        assert flag.rule == "hotline:I2P1M0A0H3"
        assert record.follow_up_due_at == NOW + timedelta(hours=24)
        # The follow-up owner (a colleague) is told, through quiet hours (urgent).
        told = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == people["colleague"].id)
        ).all()
        assert len(told) == 1 and told[0].urgent
        assert count(AuditEvent, AuditEvent.action == "hotline.crisis_recorded") == 1
        assert orphan_hotline_flags() == 0


def test_a_fault_after_the_flag_leaves_neither_call_nor_flag(app, terms, people, monkeypatch):
    """The call's last write (its audit entry) fails after the flag was flushed."""
    real_record = services.audit.record

    def failing(actor, action, *args, **kwargs):
        if action == "hotline.call_logged":
            raise RuntimeError("disk full")
        return real_record(actor, action, *args, **kwargs)

    monkeypatch.setattr(services.audit, "record", failing)
    with app.app_context():
        with pytest.raises(RuntimeError):
            services.log_call(
                people["counselor"],
                call_input(terms, member_phone="13900000003", member_consent=True),
                crisis_input(people["counselor"]),
                now=NOW,
            )
        db.session.rollback()
        assert count(HotlineCall) == 0 and count(CrisisRecord) == 0
        assert count(RiskFlag) == 0 and count(RiskTrigger) == 0
        assert count(OutboxMessage) == 0


def test_a_failing_flag_leaves_no_call(app, terms, people, monkeypatch):
    """The flag is written (flushed) and then the risk service fails: the call goes too."""
    real_raise = risk_services.raise_flag

    def raise_then_fail(*args, **kwargs):
        flag = real_raise(*args, **kwargs)
        db.session.flush()
        assert flag.id is not None
        raise RuntimeError("risk service failed")

    monkeypatch.setattr(risk_services, "raise_flag", raise_then_fail)
    with app.app_context():
        with pytest.raises(RuntimeError):
            services.log_call(
                people["counselor"],
                call_input(terms, member_phone="13900000003", member_consent=True),
                crisis_input(people["counselor"]),
                now=NOW,
            )
        db.session.rollback()
        assert count(HotlineCall) == 0 and count(RiskFlag) == 0


def test_crisis_call_with_the_database_failing_at_commit_leaves_nothing(
    app, terms, people, monkeypatch
):
    with app.app_context():
        session = db.session()

        def broken_commit():
            raise RuntimeError("connection lost at commit")

        monkeypatch.setattr(session, "commit", broken_commit)
        with pytest.raises(RuntimeError):
            services.log_call(
                people["counselor"],
                call_input(terms, member_phone="13900000003", member_consent=True),
                crisis_input(people["counselor"]),
                now=NOW,
            )
        monkeypatch.undo()
        db.session.rollback()
        assert count(HotlineCall) == 0 and count(RiskFlag) == 0
        assert orphan_hotline_flags() == 0


def test_second_crisis_call_attaches_to_the_open_flag(app, terms, people):
    me = people["counselor"]
    with app.app_context():
        first = services.log_call(
            me,
            call_input(terms, member_phone="13900000003", member_consent=True),
            crisis_input(me, ideation=1, plan=0, hopelessness=0),
            now=NOW,
        )
        second = services.log_call(
            me,
            call_input(terms, member_phone="13900000003", member_consent=True),
            crisis_input(me, ideation=3, plan=2),
            now=NOW,
        )
        assert first.crisis.risk_flag_id == second.crisis.risk_flag_id
        flag = db.session.get(RiskFlag, first.crisis.risk_flag_id)
        assert flag.level == "critical" and flag.trigger_count == 2


def test_anonymous_crisis_call_is_tracked_by_its_own_follow_up(app, terms, people):
    with app.app_context():
        call = services.log_call(
            people["counselor"],
            call_input(terms, action_id=terms["action"]["emergency"]),
            crisis_input(
                people["counselor"], ideation=3, plan=2, means=2, police_called_at=NOW - 20 * M
            ),
            now=NOW,
        )
        record = call.crisis
        assert record.level == "critical" and record.risk_flag_id is None
        assert count(RiskFlag) == 0
        assert record.follow_up_due_at == NOW + timedelta(hours=4)
        assert [r.id for r in services.open_follow_ups(people["counselor"].id)] == [record.id]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"ideation": None, "hopelessness": None}, {"ideation", "hopelessness"}),
        ({"plan": 5}, {"plan"}),
        ({"follow_up_owner_id": None}, {"follow_up_owner_id"}),
        ({"ideation": 0, "plan": 0, "hopelessness": 0}, {"judged_level"}),
        ({"judged_level": "extreme"}, {"judged_level"}),
        ({"follow_up_due_at": NOW - timedelta(hours=2)}, {"follow_up_due_at"}),
        ({"police_called_at": NOW + timedelta(hours=1)}, {"police_called_at"}),
        ({"help_arrived_at": NOW - 25 * M, "police_called_at": NOW - 20 * M}, {"help_arrived_at"}),
        ({"handover_note": "请明早回访"}, {"handover_to_id"}),
    ],
)
def test_bad_crisis_record_is_refused_and_stores_nothing(app, terms, people, changes, fields):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(
                people["counselor"],
                call_input(terms, member_phone="13900000003", member_consent=True),
                crisis_input(people["counselor"], **changes),
                now=NOW,
            )
        assert set(caught.value.fields) == fields
        db.session.rollback()
        assert count(HotlineCall) == 0 and count(RiskFlag) == 0


def test_follow_up_owner_must_be_an_active_counsellor(app, terms, people):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(
                people["counselor"],
                call_input(terms),
                crisis_input(people["admin"]),
                now=NOW,
            )
        assert caught.value.fields == {"follow_up_owner_id": "unknown"}


def test_judgment_raises_the_level_of_a_quiet_rating(app, terms, people):
    with app.app_context():
        call = services.log_call(
            people["counselor"],
            call_input(terms),
            crisis_input(
                people["counselor"], ideation=0, plan=0, hopelessness=1, judged_level="high"
            ),
            now=NOW,
        )
        assert (call.crisis.computed_level, call.crisis.level) == ("none", "high")


def test_crisis_record_needs_an_answered_call(app, terms, people):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.log_call(
                people["counselor"],
                services.CallInput(started_at=NOW - 2 * M, kind="silent"),
                crisis_input(people["counselor"]),
                now=NOW,
            )
        assert caught.value.fields == {"kind": "not_answered"}


# -------------------------------------------------------------- actions & follow-up


def _crisis(app, terms, people, **changes):
    with app.app_context():
        call = services.log_call(
            people["counselor"],
            call_input(terms, action_id=terms["action"]["emergency"]),
            crisis_input(people["counselor"], **changes),
            now=NOW,
        )
        return call.crisis.id


def test_emergency_help_must_be_confirmed_before_closing(app, terms, people):
    me = people["counselor"]
    crisis_id = _crisis(app, terms, people, ambulance_called_at=NOW - 15 * M)
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.complete_follow_up(me, crisis_id, "已回访", now=NOW + 60 * M)
        assert caught.value.fields == {"note": "help_unconfirmed"}
        db.session.rollback()
        with pytest.raises(NotPermitted):
            services.complete_follow_up(people["colleague"], crisis_id, "x", now=NOW)
        services.update_crisis(
            me,
            crisis_id,
            services.CrisisUpdate(help_arrived_at=NOW - 2 * M, help_note="急救人员到场后回电"),
            now=NOW,
        )
        record = services.complete_follow_up(me, crisis_id, "医院回复已稳定", now=NOW + 60 * M)
        assert record.follow_up_done_at == NOW + 60 * M and record.follow_up_done_by_id == me.id
        with pytest.raises(Conflict):
            services.complete_follow_up(me, crisis_id, "again", now=NOW + 61 * M)
        db.session.rollback()
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"hotline.crisis_updated", "hotline.follow_up_done"} <= actions


def test_update_refuses_help_before_the_call_and_empty_updates(app, terms, people):
    me = people["counselor"]
    crisis_id = _crisis(app, terms, people, police_called_at=NOW - 10 * M)
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.update_crisis(
                me, crisis_id, services.CrisisUpdate(help_arrived_at=NOW - 12 * M), now=NOW
            )
        assert caught.value.fields == {"help_arrived_at": "before_call"}
        db.session.rollback()
        with pytest.raises(InvalidInput):
            services.update_crisis(me, crisis_id, services.CrisisUpdate(), now=NOW)


def test_handover_is_told_and_acknowledged_once(app, terms, people):
    me, colleague = people["counselor"], people["colleague"]
    crisis_id = _crisis(app, terms, people, handover_to_id=colleague.id, handover_note="明早回访")
    with app.app_context():
        assert count(OutboxMessage, OutboxMessage.user_id == colleague.id) == 1
        assert [r.id for r in services.handovers_for(colleague.id)] == [crisis_id]
        with pytest.raises(NotPermitted):
            services.acknowledge_handover(me, crisis_id, now=NOW)
        services.acknowledge_handover(colleague, crisis_id, now=NOW)
        with pytest.raises(Conflict):
            services.acknowledge_handover(colleague, crisis_id, now=NOW)
        db.session.rollback()
        assert services.handovers_for(colleague.id) == []


def test_follow_up_can_be_reassigned(app, terms, people):
    crisis_id = _crisis(app, terms, people)
    with app.app_context():
        services.reassign_follow_up(people["colleague"], crisis_id, people["colleague"].id, NOW)
        assert db.session.get(CrisisRecord, crisis_id).follow_up_owner_id == people["colleague"].id


def test_overdue_follow_up_is_reminded_once(app, terms, people):
    crisis_id = _crisis(app, terms, people, ideation=1, plan=0, hopelessness=0)
    with app.app_context():
        assert services.remind_follow_ups(NOW + timedelta(hours=1)) == 0
        assert services.remind_follow_ups(NOW + timedelta(hours=73)) == 1
        assert services.remind_follow_ups(NOW + timedelta(hours=74)) == 0
        reminder = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.link == f"/hotline/crises/{crisis_id}")
        )
        assert reminder.user_id == people["counselor"].id


# ---------------------------------------------------------------------- reading


def test_every_view_of_a_call_is_audited_and_admins_cannot_read_notes(app, terms, people):
    with app.app_context():
        call = services.log_call(people["counselor"], call_input(terms), now=NOW)
        services.view_call(people["colleague"], call.id)
        services.view_call(people["colleague"], call.id)
        views = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "hotline.call_viewed")
        ).all()
        assert len(views) == 2 and {v.actor_id for v in views} == {people["colleague"].id}
        with pytest.raises(NotPermitted):
            services.view_call(people["admin"], call.id)


def test_supervisor_report_counts_without_notes(app, terms, people, make_shift):
    me = people["counselor"]
    make_shift(NOW - timedelta(hours=8), 12, staff=[me, people["colleague"]])
    with app.app_context():
        for minutes in (30, 90, 150):
            services.log_call(me, call_input(terms, started_at=NOW - minutes * M), now=NOW)
        services.log_call(
            me,
            services.CallInput(started_at=NOW - 10 * M, kind="abandoned", wait_seconds=40),
            now=NOW,
        )
        report = services.supervisor_report(NOW - timedelta(days=1), NOW, NOW)
        assert report["offered"] == 4 and report["answer_rate"] == 75.0
        assert report["kinds"] == {"answered": 3, "abandoned": 1}
        assert report["mean_wait"] == 40 and report["mean_minutes"] == 20.0
        # Calls are at Wednesday 11:30-13:50 Beijing time.
        assert sum(report["per_hour"][h][2] for h in range(24)) == 4
        # Three calls on one topic: a small cell, hidden.
        month = next(iter(report["topics_by_month"].values()))
        assert month == {terms["topic"]["work_stress"]: None}
        assert report["compliance"]["below"] > 0  # before the shift nobody was on
