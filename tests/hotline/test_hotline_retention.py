"""Retention: records kept at least 3 years, then anonymised with an audit entry; a
member's deletion request de-identifies their records instead of deleting them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from tests.hotline.hotline_support import NOW, call_input, crisis_input
from wellness.audit import AuditEvent
from wellness.auth.models import User
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import CrisisRecord, HotlineCall

DAY = timedelta(days=1)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _backdate(call_id: int, when) -> None:
    db.session.execute(
        HotlineCall.__table__.update()
        .where(HotlineCall.id == call_id)
        .values(started_at=when, ended_at=when + timedelta(minutes=20))
    )
    db.session.commit()


@pytest.fixture
def old_and_new(app, terms, make_user):
    """Two crisis calls from the same member: 1096 days old and 1094 days old."""
    counselor = make_user("counselor")
    make_user("worker", phone="+8613900000003")
    ids = []
    with app.app_context():
        for _ in range(2):
            call = services.log_call(
                counselor,
                call_input(terms, member_phone="13900000003", member_consent=True),
                crisis_input(counselor, follow_up_plan="明早回访", handover_note=""),
                now=NOW,
            )
            ids.append(call.id)
        for call_id, age in zip(ids, (1096, 1094), strict=True):
            _backdate(call_id, NOW - age * DAY)
    return ids


def test_purge_anonymises_records_older_than_three_years_once(app, old_and_new):
    old, new = old_and_new
    with app.app_context():
        assert services.purge_expired(NOW) == 1
        purged = db.session.get(HotlineCall, old)
        assert purged.purged_at == NOW
        assert purged.summary is None and purged.caller_member_id is None
        assert purged.caller_key is None and purged.member_consent is False
        # The figures reports need stay.
        assert purged.duration_seconds == 20 * 60 and purged.topics and purged.is_risk
        crisis = db.session.scalar(select(CrisisRecord).where(CrisisRecord.call_id == old))
        assert crisis.follow_up_plan is None and crisis.level == "high"
        kept = db.session.get(HotlineCall, new)
        assert kept.purged_at is None and kept.summary and kept.caller_member_id
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "hotline.retention_purge")
        )
        assert event.detail["count"] == 1 and event.detail["retention_days"] == 1095
        assert event.at == NOW
        # Idempotent: nothing more to do, no second audit entry.
        assert services.purge_expired(NOW) == 0
        assert count(AuditEvent, AuditEvent.action == "hotline.retention_purge") == 1
        # Two days later the second record is due.
        assert services.purge_expired(NOW + 2 * DAY) == 1


def test_retention_cannot_be_set_below_three_years(app, old_and_new, monkeypatch):
    monkeypatch.setitem(app.config, "HOTLINE_RETENTION_DAYS", 30)
    with app.app_context():
        assert services.retention_days() == 1095
        assert services.purge_expired(NOW) == 1


def test_longer_retention_keeps_more(app, old_and_new, monkeypatch):
    monkeypatch.setitem(app.config, "HOTLINE_RETENTION_DAYS", 2000)
    with app.app_context():
        assert services.purge_expired(NOW) == 0


def test_deidentify_member_keeps_the_records_and_counts_them(app, terms, make_user):
    counselor = make_user("counselor")
    member = make_user("worker", phone="+8613900000007")
    other = make_user("worker", phone="+8613900000008")
    with app.app_context():
        linked = services.log_call(
            counselor,
            call_input(terms, member_phone="13900000007", member_consent=True),
            crisis_input(counselor),
            now=NOW,
        )
        from_their_phone = services.log_call(
            counselor, call_input(terms, caller_number="139 0000 0007"), now=NOW
        )
        unrelated = services.log_call(
            counselor,
            call_input(terms, member_phone="13900000008", member_consent=True),
            now=NOW,
        )
        # Joins the caller's transaction: a rollback undoes it.
        assert services.deidentify_member(member.id, NOW) == 2
        db.session.rollback()
        assert db.session.get(HotlineCall, linked.id).caller_member_id == member.id
        # The deletion flow: de-identify, delete the account, commit once.
        assert services.deidentify_member(member.id, NOW) == 2
        db.session.execute(delete(User).where(User.id == member.id))
        db.session.commit()
        for call_id in (linked.id, from_their_phone.id):
            call = db.session.get(HotlineCall, call_id)
            assert call.caller_member_id is None and call.caller_key is None
            assert call.deidentified_at == NOW and call.summary  # the record stays
        assert db.session.get(HotlineCall, unrelated.id).caller_member_id == other.id
        crisis = db.session.get(CrisisRecord, linked.crisis.id)
        assert crisis.risk_flag_id is None  # the member's flag went with the account
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "hotline.member_deidentified")
        )
        assert event.target_id == str(member.id) and event.detail == {"count": 2}


def test_deidentify_member_without_hotline_records_is_zero(app, make_user):
    member = make_user("worker")
    with app.app_context():
        assert services.deidentify_member(member.id, NOW) == 0
        assert services.deidentify_member(999_999, NOW) == 0
