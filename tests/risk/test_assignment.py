"""Auto-assignment to the least-loaded on-duty counsellor; supervision stays admin-only;
the transfer API; the case team."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.risk.conftest import NOW
from wellness import duty
from wellness.auth.models import User
from wellness.extensions import db
from wellness.hotline.models import Shift, ShiftAssignment
from wellness.notify.models import OutboxMessage
from wellness.risk import caseteam, services
from wellness.risk.models import RiskFlag, RiskTransfer


def on_shift(app, *counselors, start=NOW - timedelta(hours=1), hours=4) -> None:
    with app.app_context():
        shift = Shift(
            name="夜班",
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            seats_needed=len(counselors),
            filled=len(counselors),
        )
        db.session.add(shift)
        db.session.flush()
        for counselor in counselors:
            db.session.add(ShiftAssignment(shift_id=shift.id, counselor_id=counselor.id))
        db.session.commit()


def test_duty_comes_from_the_hotline_roster(app, make_user):
    now_on, later = make_user("counselor"), make_user("counselor")
    on_shift(app, now_on)
    on_shift(app, later, start=NOW + timedelta(hours=5))
    with app.app_context():
        assert duty.on_duty(NOW) == {now_on.id}
        assert duty.on_duty(NOW + timedelta(hours=6)) == {later.id}


def test_auto_assign_picks_the_least_loaded_on_duty_counsellor(
    app, make_user, make_flag, monkeypatch
):
    monkeypatch.setitem(app.config, "RISK_AUTO_ASSIGN", True)
    busy, free, off_duty = (make_user("counselor") for _ in range(3))
    gone = make_user("counselor", active=False)
    on_shift(app, busy, free, gone)
    with app.app_context():  # busy already holds a case; off_duty holds none but is off
        flag = services.raise_flag(
            make_user("worker").id,
            source="manual",
            source_id=None,
            level="high",
            rule="x",
            now=NOW,
        )
        db.session.execute(
            RiskFlag.__table__.update()
            .where(RiskFlag.id == flag.id)
            .values(status="claimed", claimed_by_id=busy.id, claimed_at=NOW - timedelta(hours=1))
        )
        db.session.commit()
    flag_id = make_flag("critical")
    with app.app_context():
        flag = db.session.get(RiskFlag, flag_id)
        assert (flag.status, flag.claimed_by_id) == ("claimed", free.id)
        transfer = db.session.scalar(select(RiskTransfer).where(RiskTransfer.flag_id == flag_id))
        assert (transfer.to_id, transfer.reason) == (free.id, "auto_assign")
        told = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == free.id)
        ).all()
        assert told and all(m.urgent for m in told)
        assert caseteam.counselors_for(flag.person_id) == {free.id}
    # a tie (one case each) goes to the one assigned least recently: busy (an hour ago)
    third = make_flag("elevated", now=NOW + timedelta(minutes=5))
    with app.app_context():
        assert db.session.get(RiskFlag, third).claimed_by_id == busy.id
    assert off_duty.id not in {busy.id, free.id}


def test_auto_assign_does_nothing_when_disabled_or_nobody_is_on_duty(
    app, make_user, make_flag, monkeypatch
):
    counselor = make_user("counselor")
    on_shift(app, counselor)
    monkeypatch.setitem(app.config, "RISK_AUTO_ASSIGN", False)
    first = make_flag("high")
    monkeypatch.setitem(app.config, "RISK_AUTO_ASSIGN", True)
    later = make_flag("high", now=NOW + timedelta(hours=10))  # the shift has ended
    with app.app_context():
        for flag_id in (first, later):
            flag = db.session.get(RiskFlag, flag_id)
            assert (flag.status, flag.claimed_by_id) == ("open", None)
        assert caseteam.counselors_for(flag.person_id) == set()


def test_a_counsellor_cannot_open_the_supervision_view(app, client, make_user, make_flag, login_as):
    holder, other = make_user("counselor"), make_user("counselor")
    flag_id = make_flag("critical")
    with app.app_context():
        services.claim(db.session.get(User, holder.id), flag_id, now=NOW)
    login_as(other)
    assert client.get(f"/risk/supervise/{flag_id}").status_code == 403
    assert client.post(
        f"/risk/flags/{flag_id}/transfer", data={"to_user_id": other.id, "reason": "workload"}
    ).status_code in (303, 403)
    with app.app_context():
        assert db.session.get(RiskFlag, flag_id).claimed_by_id == holder.id


def test_transfer_api_and_caseload_in_the_queue(app, client, make_user, make_flag, token_for):
    holder, other = make_user("counselor"), make_user("counselor")
    gone = make_user("counselor", active=False)
    flag_id = make_flag("high")
    with app.app_context():
        services.claim(db.session.get(User, holder.id), flag_id, now=NOW)
    headers = {"Authorization": f"Bearer {token_for(holder)}"}
    queue = client.get("/api/v1/risk/queue", headers=headers).json
    assert {"counselor_id": holder.id, "name": holder.name, "open_cases": 1} in queue["caseload"]
    url = f"/api/v1/risk/flags/{flag_id}/transfer"
    refused = client.post(url, json={"to_user_id": gone.id, "reason": "workload"}, headers=headers)
    assert refused.status_code == 422 and "to_user_id" in str(refused.json)
    same = client.post(url, json={"to_user_id": holder.id, "reason": "workload"}, headers=headers)
    assert same.status_code == 409
    moved = client.post(
        url,
        json={"to_user_id": other.id, "reason": "availability", "note": "休假"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.json["claimed_by_id"] == other.id
    again = client.post(url, json={"to_user_id": holder.id, "reason": "workload"}, headers=headers)
    assert again.status_code == 403  # no longer the holder
