"""Members rate attended sessions once; reports show averages of five or more people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.booking.factories import add_station, seed_services
from wellness.auth.models import OrgUnit, User
from wellness.booking.models import Appointment
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db
from wellness.feedback import privacy, services
from wellness.feedback.models import Feedback
from wellness.reports import feedback as report
from wellness.reports.services import Filters, load_tree

AT = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
_n = iter(range(10_000))


@pytest.fixture
def place(app):
    with app.app_context():
        ids = seed_services()
        station, _rooms = add_station()
        db.session.commit()
        return ids["individual"], station


@pytest.fixture
def make_appointment(app, place):
    service_id, station_id = place

    def make(user, status="attended", counselor=None) -> int:
        with app.app_context():
            start = AT - timedelta(days=1)
            appointment = Appointment(
                reference=f"FB{next(_n):06d}",
                user_id=user.id,
                service_id=service_id,
                station_id=station_id,
                counselor_id=counselor.id if counselor else None,
                starts_at=start,
                ends_at=start + timedelta(minutes=50),
                status=status,
            )
            db.session.add(appointment)
            db.session.commit()
            return appointment.id

    return make


def test_record_checks_score_and_comment_and_rates_once(app, make_user):
    member = make_user("worker")
    with app.app_context():
        with pytest.raises(InvalidInput) as error:
            services.record(member.id, "appointment", 1, 6, None, now=AT)
        assert error.value.fields == {"score": "out_of_range"}
        with pytest.raises(InvalidInput) as error:
            services.record(member.id, "appointment", 1, 4, "长" * 1001, now=AT)
        assert error.value.fields == {"comment": "too_long"}
        services.record(member.id, "appointment", 1, 4, " 很好 ", now=AT)
        with pytest.raises(Conflict):
            services.record(member.id, "appointment", 1, 5, None, now=AT)
        db.session.commit()  # the savepoint kept the first rating
        rows = db.session.scalars(select(Feedback)).all()
        assert [(r.score, r.comment) for r in rows] == [(4, "很好")]


def test_rate_an_attended_appointment_once_through_the_page(
    app, client, make_user, make_appointment, login_as
):
    counselor = make_user("counselor")
    member = make_user("worker")
    appointment_id = make_appointment(member, counselor=counselor)
    login_as(member)
    listing = client.get("/booking/appointments").get_data(as_text=True)
    assert f"/feedback/appointment/{appointment_id}" in listing  # "Rate this session"
    assert client.get(f"/feedback/appointment/{appointment_id}").status_code == 200
    bad = client.post(f"/feedback/appointment/{appointment_id}", data={"score": "9"})
    assert bad.status_code == 422
    done = client.post(
        f"/feedback/appointment/{appointment_id}", data={"score": "5", "comment": "谢谢"}
    )
    assert done.status_code == 302
    again = client.post(f"/feedback/appointment/{appointment_id}", data={"score": "1"})
    assert again.status_code == 409
    listing = client.get("/booking/appointments").get_data(as_text=True)
    assert f"/feedback/appointment/{appointment_id}" not in listing
    with app.app_context():
        rating = db.session.scalar(select(Feedback))
        assert (rating.score, rating.counselor_id) == (5, counselor.id)


def test_not_for_a_booked_or_someone_elses_appointment(
    app, client, make_user, make_appointment, login_as, token_for
):
    member, other = make_user("worker"), make_user("worker")
    booked = make_appointment(member, status="booked")
    theirs = make_appointment(other)
    login_as(member)
    assert client.post(f"/feedback/appointment/{booked}", data={"score": "4"}).status_code == 409
    assert client.get(f"/feedback/appointment/{theirs}").status_code == 404
    assert client.post(f"/feedback/appointment/{theirs}", data={"score": "4"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Feedback)) is None
        with pytest.raises(NotFound):
            services.rate_appointment(db.session.get(User, member.id), theirs, 3, None)


def test_rating_through_the_api(app, client, make_user, make_appointment, token_for):
    member = make_user("worker")
    appointment_id = make_appointment(member)
    headers = {"Authorization": f"Bearer {token_for(member)}"}
    url = f"/api/v1/appointments/{appointment_id}/rating"
    assert client.post(url, json={"score": 0}, headers=headers).status_code == 422
    first = client.post(url, json={"score": 3, "comment": "ok"}, headers=headers)
    assert first.status_code == 201 and first.json["score"] == 3
    assert client.post(url, json={"score": 4}, headers=headers).status_code == 409


def test_report_hides_groups_under_five_and_privacy(app, make_user):
    with app.app_context():
        big, small = OrgUnit(name="大单位"), OrgUnit(name="小单位")
        db.session.add_all([big, small])
        db.session.commit()
        big_id, small_id = big.id, small.id
    members = [make_user("worker", org_unit_id=big_id) for _ in range(5)]
    few = [make_user("worker", org_unit_id=small_id) for _ in range(4)]
    with app.app_context():
        for i, m in enumerate(members):
            services.record(m.id, "appointment", 100 + i, 4 if i else 2, None, now=AT)
        for i, m in enumerate(few):
            services.record(m.id, "appointment", 200 + i, 5, None, now=AT)
        db.session.commit()
        rows = report.rows(Filters(first=202611, last=202611), load_tree(), 5)
        by_unit = {r.unit_id: r for r in rows}
        assert (by_unit[big_id].count, by_unit[big_id].average) == (5, 3.6)
        assert by_unit[small_id].hidden and by_unit[small_id].average is None
        assert len(rows) == 2  # no totals row to subtract the hidden cell from

        exported = privacy.export_for(members[0].id)
        assert exported["session_ratings"][0]["score"] == 2
        privacy.erase_for(members[0].id, AT)
        db.session.commit()
        assert privacy.export_for(members[0].id) == {"session_ratings": []}


def test_dashboard_and_csv_show_the_section(app, client, make_user, login_as):
    admin = make_user("admin")
    login_as(admin)
    page = client.get("/reports/?from=2026-11&to=2026-11")
    assert page.status_code == 200 and 'id="feedback"' in page.get_data(as_text=True)
    csv = client.get("/reports/feedback.csv?from=2026-11&to=2026-11")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
