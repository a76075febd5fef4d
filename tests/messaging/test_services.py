"""Ask a counsellor: opening, the shared inbox, one winner per claim, who reads what."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from wellness import privacy
from wellness.audit import AuditEvent
from wellness.auth.models import User
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.messaging import services
from wellness.messaging.models import Conversation, ConversationMessage
from wellness.notify.models import OutboxMessage
from wellness.risk.models import RiskFlag

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SECRET = "我最近总是失眠，不想上班"


def _get(user: User) -> User:
    return db.session.get(User, user.id)


@pytest.fixture
def conversation(app, make_user):
    """A member's conversation with the team: (member, conversation id)."""
    member = make_user("worker")
    with app.app_context():
        conv = services.open_conversation(_get(member), "睡眠", SECRET, now=NOW)
        return member, conv.id


def _claimed(app, conv_id: int, counselor: User) -> None:
    with app.app_context():
        services.claim(_get(counselor), conv_id, now=NOW)


def test_opening_checks_each_field_and_sets_the_reply_deadline(app, make_user):
    member = make_user("worker")
    stranger = make_user("counselor")
    with app.app_context():
        me = _get(member)
        with pytest.raises(InvalidInput) as error:
            services.open_conversation(me, "  ", "hello", now=NOW)
        assert error.value.fields == {"topic": "required"}
        with pytest.raises(InvalidInput) as error:
            services.open_conversation(me, "topic", "", now=NOW)
        assert error.value.fields == {"body": "required"}
        with pytest.raises(InvalidInput) as error:
            services.open_conversation(me, "topic", "x" * 4001, now=NOW)
        assert error.value.fields == {"body": "too_long"}
        with pytest.raises(InvalidInput) as error:  # not one of my counsellors
            services.open_conversation(me, "topic", "hi", counselor_id=stranger.id, now=NOW)
        assert error.value.fields == {"counselor_id": "invalid"}
        assert db.session.scalar(select(func.count(Conversation.id))) == 0
        conv = services.open_conversation(me, "topic", "hi", now=NOW)
        hours = app.config["MESSAGING_FIRST_REPLY_HOURS"]
        assert conv.first_reply_due_at == NOW + timedelta(hours=hours)
        assert conv.status == "open"


def test_only_members_open_conversations(app, make_user):
    counselor = make_user("counselor")
    with app.app_context(), pytest.raises(NotPermitted):
        services.open_conversation(_get(counselor), "t", "b", now=NOW)


def test_concurrent_claims_have_exactly_one_winner(
    app, conversation, make_user, token_for, live_server
):
    import requests

    _member, conv_id = conversation
    counselors = [make_user("counselor") for _ in range(5)]
    tokens = [token_for(c) for c in counselors]
    barrier = threading.Barrier(len(tokens))
    statuses: list[int] = []

    def claim(token: str) -> None:
        barrier.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/conversations/{conv_id}/claim",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=claim, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted(statuses) == [200, 409, 409, 409, 409]
    with app.app_context():
        conv = db.session.get(Conversation, conv_id)
        assert conv.status == "claimed" and conv.claimed_by_id in {c.id for c in counselors}
        claims = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "messaging.claim")
        )
        assert claims == 1


def test_second_claim_names_the_holder_and_reclaim_is_harmless(app, conversation, make_user):
    _member, conv_id = conversation
    first = make_user("counselor", name="林老师")
    second = make_user("counselor")
    _claimed(app, conv_id, first)
    with app.app_context():
        with pytest.raises(Conflict) as error:
            services.claim(_get(second), conv_id, now=NOW)
        assert "林老师" in error.value.message
        assert services.claim(_get(first), conv_id, now=NOW).claimed_by_id == first.id


def test_only_the_holder_and_the_case_team_read_and_every_read_is_audited(
    app, conversation, make_user
):
    _member, conv_id = conversation
    holder = make_user("counselor")
    other = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        with pytest.raises(NotPermitted):
            services.staff_thread(_get(other), conv_id)
        conv, messages = services.staff_thread(_get(holder), conv_id)
        assert [m.body for m in messages] == [SECRET]
        services.staff_thread(_get(holder), conv_id)
        reads = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "messaging.read_thread")
        ).all()
        assert [(r.actor_id, r.target_id) for r in reads] == [(holder.id, str(conv_id))] * 2
        assert all(SECRET not in str(r.detail) for r in reads)


def test_a_counsellor_on_the_case_through_a_risk_flag_may_read(app, conversation, make_user):
    from wellness.risk import services as risk

    member, conv_id = conversation
    holder = make_user("counselor")
    case_counselor = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        flag = risk.raise_flag(
            member.id, source="manual", source_id=None, level="high", rule="manual", now=NOW
        )
        db.session.commit()
        risk.claim(_get(case_counselor), flag.id, now=NOW)
        _conv, messages = services.staff_thread(_get(case_counselor), conv_id)
        assert len(messages) == 1


def test_reply_close_and_no_reply_after_closing(app, conversation, make_user):
    member, conv_id = conversation
    holder = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        services.counselor_reply(_get(holder), conv_id, "我们聊聊作息", now=NOW)
        conv = db.session.get(Conversation, conv_id)
        assert conv.first_reply_at == NOW
        told = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == member.id)
        ).all()
        assert told and all("作息" not in m.body and SECRET not in m.body for m in told)
        services.close(_get(holder), conv_id, now=NOW)
        with pytest.raises(Conflict) as error:
            services.member_reply(_get(member), conv_id, "one more", now=NOW)
        assert error.value.fields == {"conversation": "closed"}
        with pytest.raises(Conflict):
            services.counselor_reply(_get(holder), conv_id, "late", now=NOW)
        count = db.session.scalar(
            select(func.count(ConversationMessage.id)).where(
                ConversationMessage.conversation_id == conv_id
            )
        )
        assert count == 2


def test_an_urgent_message_raises_a_critical_flag(app, make_user):
    member = make_user("worker")
    with app.app_context():
        conv = services.open_conversation(_get(member), "help", "now", urgent=True, now=NOW)
        flag = db.session.get(RiskFlag, conv.risk_flag_id)
        assert flag.level == "critical" and flag.source == "message"
        hours = app.config["MESSAGING_URGENT_REPLY_HOURS"]
        assert conv.first_reply_due_at == NOW + timedelta(hours=hours)
        assert services.unclaimed()[0].id == conv.id  # urgent first


def test_a_counsellor_raises_a_flag_from_a_message(app, conversation, make_user):
    _member, conv_id = conversation
    holder = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        message_id = services.messages_for(conv_id)[0].id
        with pytest.raises(InvalidInput) as error:
            services.raise_flag_from(_get(holder), conv_id, "severe", now=NOW)
        assert error.value.fields == {"level": "invalid"}
        flag = services.raise_flag_from(_get(holder), conv_id, "high", message_id, now=NOW)
        assert flag.level == "high" and flag.rule == "raised_from_message"


def test_transfer_checks_the_target_and_tells_the_new_holder(app, conversation, make_user):
    _member, conv_id = conversation
    holder = make_user("counselor")
    target = make_user("counselor")
    gone = make_user("counselor", active=False)
    _claimed(app, conv_id, holder)
    with app.app_context():
        with pytest.raises(InvalidInput) as error:
            services.transfer(_get(holder), conv_id, gone.id, "workload", now=NOW)
        assert error.value.fields == {"to_user_id": "invalid"}
        with pytest.raises(InvalidInput) as error:
            services.transfer(_get(holder), conv_id, target.id, "bored", now=NOW)
        assert error.value.fields == {"reason": "invalid"}
        assert db.session.get(Conversation, conv_id).claimed_by_id == holder.id
        services.transfer(_get(holder), conv_id, target.id, "availability", "夜班", now=NOW)
        assert db.session.get(Conversation, conv_id).claimed_by_id == target.id
        assert db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.user_id == target.id)
        )
        detail = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "messaging.transfer")
        ).one()
        assert "夜班" not in str(detail)
        with pytest.raises(NotPermitted):  # no longer the holder
            services.transfer(_get(holder), conv_id, holder.id, "workload", now=NOW)


def test_overdue_conversations_are_announced_once(app, conversation, make_user):
    make_user("counselor")
    with app.app_context():
        late = NOW + timedelta(hours=app.config["MESSAGING_FIRST_REPLY_HOURS"] + 1)
        assert services.notify_overdue(NOW) == 0
        assert services.notify_overdue(late) == 1
        assert services.notify_overdue(late) == 0


def test_rating_a_closed_conversation_once(app, conversation, make_user):
    member, conv_id = conversation
    holder = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        with pytest.raises(Conflict):
            services.rate(_get(member), conv_id, 5, now=NOW)
        services.close(_get(holder), conv_id, now=NOW)
        services.rate(_get(member), conv_id, 4, "谢谢", now=NOW)
        with pytest.raises(Conflict):
            services.rate(_get(member), conv_id, 5, now=NOW)


def test_others_conversations_cannot_be_probed(app, conversation, make_user):
    _member, conv_id = conversation
    stranger = make_user("worker")
    with app.app_context(), pytest.raises(NotFound):
        services.own_conversation(_get(stranger), conv_id)


def test_retention_deletes_old_closed_conversations(app, conversation, make_user):
    _member, conv_id = conversation
    holder = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        services.close(_get(holder), conv_id, now=NOW)
        days = app.config["MESSAGING_RETENTION_DAYS"]
        assert services.retention_sweep(NOW + timedelta(days=days - 1)) == 0
        assert services.retention_sweep(NOW + timedelta(days=days + 1)) == 1
        assert db.session.scalar(select(func.count(ConversationMessage.id))) == 0


def test_export_has_the_messages_and_erasure_removes_them(app, conversation, make_user):
    member, conv_id = conversation
    holder = make_user("counselor")
    _claimed(app, conv_id, holder)
    with app.app_context():
        services.counselor_reply(_get(holder), conv_id, "回复", now=NOW)
        data = privacy.export_all(_get(member), now=NOW)
        bodies = [m["body"] for m in data["messaging"]["conversations"][0]["messages"]]
        assert bodies == [SECRET, "回复"]
        privacy.delete_account(_get(member), PASSWORD, now=NOW)
        assert db.session.scalar(select(func.count(Conversation.id))) == 0
        assert db.session.scalar(select(func.count(ConversationMessage.id))) == 0
