"""Care-plan pages and API: open from a case, book weekly, the member's view, who reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.booking.factories import MONDAY
from wellness.booking.models import Appointment, Service
from wellness.care.models import CareEpisode, CareSession
from wellness.extensions import db


@pytest.fixture
def long_horizon(app, world):
    with app.app_context():
        db.session.execute(update(Service).values(horizon_days=90))
        db.session.commit()


def _open(client, member, goals="每周睡够六小时"):
    response = client.post(
        "/care/new",
        data={
            "person_id": member.id,
            "source": "flag",
            "source_id": "3",
            "goals": goals,
            "planned_sessions": "6",
            "measures": ["phq9", "gad7"],
        },
    )
    return response


def test_open_book_and_the_member_sees_the_plan(
    app, client, world, long_horizon, make_user, login_as, at_now
):
    member = make_user("worker", name="赵敏")
    login_as(world.counselor)
    form = client.get(f"/care/new?person_id={member.id}&source=flag&source_id=3")
    assert "赵敏" in form.get_data(as_text=True)
    bad = _open(client, member, goals="")
    assert bad.status_code == 422 and "请写下计划的目标" in bad.get_data(as_text=True)
    done = _open(client, member)
    assert done.status_code == 302
    with app.app_context():
        episode_id = db.session.scalar(select(CareEpisode.id))
    page = client.get(f"/care/{episode_id}").get_data(as_text=True)
    assert "每周睡够六小时" in page and "0 / 6" in page
    booked = client.post(
        f"/care/{episode_id}/book",
        data={
            "station_id": world.station,
            "service_code": "individual",
            "first_day": (MONDAY + timedelta(days=1)).isoformat(),
            "at": "10:00",
        },
    )
    assert booked.status_code == 302, booked.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(CareSession.id))) == 6
        assert (
            db.session.scalar(
                select(func.count(Appointment.id)).where(Appointment.user_id == member.id)
            )
            == 6
        )
    assert "6 / 6" in client.get(f"/care/{episode_id}").get_data(as_text=True)
    chart = client.get(f"/care/{episode_id}/progress.png")
    assert chart.status_code == 200 and chart.data[:4] == b"\x89PNG"

    login_as(world.second)  # another counsellor
    assert client.get(f"/care/{episode_id}").status_code == 403

    login_as(member)
    mine = client.get("/care/mine").get_data(as_text=True)
    assert "每周睡够六小时" in mine and "王静" in mine and "6 / 6" not in mine


def test_booking_on_a_day_without_free_time_names_the_session(
    app, client, world, long_horizon, make_user, login_as, at_now
):
    member = make_user("worker")
    login_as(world.counselor)
    _open(client, member)
    with app.app_context():
        episode_id = db.session.scalar(select(CareEpisode.id))
    response = client.post(
        f"/care/{episode_id}/book",
        data={
            "station_id": world.station,
            "service_code": "individual",
            "first_day": (MONDAY + timedelta(days=5)).isoformat(),  # Saturday: no hours
            "at": "10:00",
        },
    )
    assert response.status_code == 422
    assert "第 1 次" in response.get_data(as_text=True) or "session 1" in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(CareSession.id))) == 0


def test_api_open_and_book_then_the_member_reads_it(
    app, client, world, long_horizon, make_user, token_for, api, at_now
):
    from wellness.booking import services as booking

    member = make_user("worker")
    counselor_token = token_for(world.counselor)
    bad = api("POST", "/care/episodes", counselor_token, json={"person_id": member.id})
    assert bad.status_code == 422
    made = api(
        "POST",
        "/care/episodes",
        counselor_token,
        json={"person_id": member.id, "goals": "减少焦虑", "planned_sessions": 2},
    )
    assert made.status_code == 201, made.json
    with app.app_context():
        day = MONDAY + timedelta(days=1)
        slots = [
            s.id
            for s in booking.search_slots(world.station, "individual", day).slots
            if s.counselor and s.counselor.id == world.counselor.id
        ][:2]
    booked = api(
        "POST",
        f"/care/episodes/{made.json['id']}/sessions",
        counselor_token,
        json={"slot_ids": slots},
    )
    assert booked.status_code == 201, booked.json
    assert [s["number"] for s in booked.json["sessions"]] == [1, 2]
    mine = api("GET", "/care/mine", token_for(member))
    assert mine.status_code == 200 and mine.json["plans"][0]["goals"] == "减少焦虑"


def test_sessions_beyond_the_booking_horizon_are_left_for_later(
    app, client, world, make_user, login_as, at_now
):
    member = make_user("worker")
    login_as(world.counselor)  # the service books 28 days ahead: 4 weekly sessions fit
    _open(client, member)
    with app.app_context():
        episode_id = db.session.scalar(select(CareEpisode.id))
    response = client.post(
        f"/care/{episode_id}/book",
        data={
            "station_id": world.station,
            "service_code": "individual",
            "first_day": (MONDAY + timedelta(days=1)).isoformat(),
            "at": "10:00",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已预约 4 次咨询" in html
    assert "稍后在这里预约" in html
    with app.app_context():
        assert db.session.scalar(select(func.count(CareSession.id))) == 4
