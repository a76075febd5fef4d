"""Supervisors open escalated cases and assign them; holders hand cases over; one wins."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.risk.conftest import NOW
from wellness.audit import AuditEvent
from wellness.auth.models import User
from wellness.extensions import db
from wellness.notify.models import OutboxMessage
from wellness.risk import services, transfers
from wellness.risk.models import RiskFlag, RiskTransfer


def claimed_by(app, flag_id: int, counselor) -> None:
    with app.app_context():
        services.claim(db.session.get(User, counselor.id), flag_id, now=NOW)


def test_the_escalation_link_opens_for_the_admin(app, client, make_user, make_flag, login_as):
    admin = make_user("admin")
    flag_id = make_flag("critical")
    with app.app_context():
        services.escalate_overdue(now=NOW + timedelta(hours=1))
        notice = db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == admin.id))
        link = notice.link
        assert notice.urgent  # a critical case reaches the supervisor through quiet hours
    login_as(admin)
    page = client.get(link)
    assert page.status_code == 200  # was 403: the link pointed at the counsellor-only case
    assert f"#{flag_id}" in page.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "risk.supervise_case" in actions


def test_admin_assigns_an_unclaimed_case_and_the_counsellor_is_told(
    app, client, make_user, make_flag, login_as
):
    admin, counselor = make_user("admin"), make_user("counselor")
    flag_id = make_flag("critical")
    login_as(admin)
    response = client.post(
        f"/risk/supervise/{flag_id}",
        data={"to_user_id": counselor.id, "reason": "unclaimed", "note": "她上次提到夜班"},
    )
    assert response.status_code == 302
    with app.app_context():
        flag = db.session.get(RiskFlag, flag_id)
        assert (flag.status, flag.claimed_by_id) == ("claimed", counselor.id)
        told = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == counselor.id)
        ).all()
        assert told and all(m.urgent for m in told)  # critical: past quiet hours
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "risk.transfer"))
        assert "夜班" not in str(entry.detail)  # the note stays out of the audit trail
        assert db.session.scalar(select(RiskTransfer.note)) == "她上次提到夜班"


def test_the_holder_transfers_and_an_inactive_target_is_refused(app, make_user, make_flag):
    holder, other = make_user("counselor"), make_user("counselor")
    gone = make_user("counselor", active=False)
    flag_id = make_flag("high")
    claimed_by(app, flag_id, holder)
    with app.app_context():
        me = db.session.get(User, holder.id)
        with pytest.raises(transfers.InvalidInput) as error:
            transfers.transfer(me, flag_id, gone.id, "workload", now=NOW)
        assert error.value.fields == {"to_user_id": "invalid"}
        with pytest.raises(transfers.InvalidInput):
            transfers.transfer(me, flag_id, other.id, "no-such-reason", now=NOW)
        assert db.session.get(RiskFlag, flag_id).claimed_by_id == holder.id
        transfers.transfer(me, flag_id, other.id, "availability", now=NOW)
        assert db.session.get(RiskFlag, flag_id).claimed_by_id == other.id
        with pytest.raises(transfers.NotPermitted):  # no longer the holder
            transfers.transfer(me, flag_id, holder.id, "workload", now=NOW)


def test_two_concurrent_reassignments_lose_no_update(app, make_user, make_flag, login_as):
    admins = [make_user("admin"), make_user("admin")]
    targets = [make_user("counselor"), make_user("counselor")]
    flag_id = make_flag("elevated")
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def reassign(admin, target) -> None:
        own = app.test_client()
        login_as(admin, on=own)
        barrier.wait()
        response = own.post(
            f"/risk/supervise/{flag_id}", data={"to_user_id": target.id, "reason": "workload"}
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=reassign, args=pair) for pair in zip(admins, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Either the second saw the first's result and handed over from it (SQLite serialises
    # the two requests), or both read the old holder and the second got a 409 (PostgreSQL):
    # never two hand-overs from the same holder, and the chain ends at the case's holder.
    assert statuses.count(302) >= 1 and set(statuses) <= {302, 409}
    with app.app_context():
        chain = db.session.scalars(select(RiskTransfer).order_by(RiskTransfer.id)).all()
        assert len(chain) == statuses.count(302)
        assert chain[0].from_id is None
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.from_id == before.to_id
        assert db.session.get(RiskFlag, flag_id).claimed_by_id == chain[-1].to_id


def test_caseload_is_shown_on_the_queue(app, client, make_user, make_flag, login_as):
    counselor = make_user("counselor", name="周老师")
    claimed_by(app, make_flag("high"), counselor)
    login_as(counselor)
    html = client.get("/risk/").get_data(as_text=True)
    assert 'table class="caseload"' in html and "周老师</td><td>1</td>" in html
