"""The member-deletion flow (wellness.privacy): hotline records are exported, then kept
but de-identified, and the member is told how many."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.hotline.hotline_support import NOW, call_input, crisis_input
from wellness import privacy
from wellness.auth.models import User
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import CrisisRecord, HotlineCall
from wellness.risk.models import RiskFlag


def test_delete_account_keeps_hotline_records_de_identified(app, terms, make_user):
    counselor = make_user("counselor")
    member = make_user("worker", name="刘强", phone="+8613900000003")
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        call = services.log_call(
            counselor,
            call_input(terms, member_phone="13900000003", member_consent=True),
            crisis_input(counselor),
            now=NOW,
        )
        anonymous = services.log_call(
            counselor, call_input(terms, caller_number="13900000003"), now=NOW
        )
        user = db.session.get(User, member.id)
        exported = privacy.export_all(user, now=NOW)
        assert [c["topics"] for c in exported["hotline"]] == [["Work stress"]]
        assert exported["hotline"][0]["crisis_level"] == "high"
        notices = privacy.delete_account(db.session.get(User, member.id), PASSWORD, now=NOW)
        assert any("2 hotline call record(s) are kept for 3 years" in n for n in notices)
        for call_id in (call.id, anonymous.id):
            kept = db.session.get(HotlineCall, call_id)
            assert kept.caller_member_id is None and kept.caller_key is None
            assert kept.deidentified_at == NOW and kept.summary
        assert db.session.scalar(select(RiskFlag)) is None
        assert db.session.scalar(select(CrisisRecord.risk_flag_id)) is None


def test_member_without_hotline_records_gets_no_notice(app, make_user):
    member = make_user("worker")
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        notices = privacy.delete_account(db.session.get(User, member.id), PASSWORD)
        assert not any("hotline call record" in notice for notice in notices)
