"""Care plans: opening, a weekly series booked through booking, clashes, measures,
assigned questionnaires, progress with reliable change, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.booking.factories import MONDAY, NOW, attached
from tests.conftest import PASSWORD
from wellness import privacy
from wellness.assessments.instruments import get_instrument
from wellness.assessments.models import AssessmentResponse
from wellness.booking import services as booking
from wellness.booking.models import Appointment, Service
from wellness.care import services
from wellness.care.models import CareEpisode, CareSession, MeasureAssignment
from wellness.care.progress import Score, progress_of
from wellness.errors import Conflict, InvalidInput, NotPermitted
from wellness.extensions import db
from wellness.notify.models import OutboxMessage

FIRST_DAY = MONDAY + timedelta(days=1)  # Tuesday 8 December


@pytest.fixture
def plan(app, world, make_user, at_now):
    """A member and an open 6-session plan with 王静: (member, episode id)."""
    member = make_user("worker", name="刘洋")
    with app.app_context():
        db.session.execute(update(Service).values(horizon_days=90))
        db.session.commit()
        episode = services.open_episode(
            attached(world.counselor),
            member.id,
            "睡得更好，回到正常上班节奏",
            6,
            ["phq9", "gad7"],
            "flag",
            12,
            now=NOW,
        )
        return member, episode.id


def _series(app, world, episode_id):
    counselor = attached(world.counselor)
    episode = db.session.get(CareEpisode, episode_id)
    return services.propose_series(
        counselor, episode, world.station, "individual", FIRST_DAY, time(10), now=NOW
    )


def test_opening_checks_each_field(app, world, make_user):
    member = make_user("worker")
    with app.app_context():
        counselor = attached(world.counselor)
        cases = [
            (dict(person_id=None), "person_id"),
            (dict(goals="  "), "goals"),
            (dict(planned_sessions=0), "planned_sessions"),
            (dict(planned_sessions=21), "planned_sessions"),
            (dict(measures=["nope"]), "measures"),
            (dict(source="gossip"), "source"),
        ]
        for change, field in cases:
            args = dict(
                person_id=member.id,
                goals="goal",
                planned_sessions=6,
                measures=["phq9"],
                source="manual",
            )
            args.update(change)
            with pytest.raises(InvalidInput) as error:
                services.open_episode(counselor, **args, now=NOW)
            assert field in error.value.fields
        assert db.session.scalar(select(func.count(CareEpisode.id))) == 0
        with pytest.raises(NotPermitted):
            services.open_episode(attached(member), member.id, "g", now=NOW)
        services.open_episode(counselor, member.id, "g", now=NOW)
        with pytest.raises(Conflict):
            services.open_episode(counselor, member.id, "again", now=NOW)


def test_a_six_session_plan_is_booked_weekly_through_booking(app, world, plan):
    member, episode_id = plan
    with app.app_context():
        proposals = _series(app, world, episode_id)
        assert [p.number for p in proposals] == [1, 2, 3, 4, 5, 6]
        assert all(p.slot is not None for p in proposals)
        assert [p.day for p in proposals] == [FIRST_DAY + timedelta(weeks=k) for k in range(6)]
        made = services.book_sessions(
            attached(world.counselor), episode_id, [p.slot.id for p in proposals], now=NOW
        )
        assert [s.number for s in made] == [1, 2, 3, 4, 5, 6]
        appointments = db.session.scalars(
            select(Appointment).where(Appointment.user_id == member.id)
        ).all()
        assert len(appointments) == 6
        assert {a.counselor_id for a in appointments} == {world.counselor.id}
        assert {s.appointment_id for s in made} == {a.id for a in appointments}
        measures = db.session.scalar(
            select(func.count(MeasureAssignment.id)).where(
                MeasureAssignment.episode_id == episode_id
            )
        )
        assert measures == 12  # PHQ-9 and GAD-7 before each session
        with pytest.raises(InvalidInput) as error:  # the plan is full
            services.book_sessions(attached(world.counselor), episode_id, ["x"], now=NOW)
        assert error.value.fields == {"slot_ids": "too_many"}


def test_a_clashing_session_stops_the_series_and_keeps_what_was_booked(app, world, plan, make_user):
    member, episode_id = plan
    other = make_user("worker")
    with app.app_context():
        slot_ids = [p.slot.id for p in _series(app, world, episode_id)]
        booking.book(attached(other), slot_ids[2], now=NOW)  # someone takes session 3's time
        with pytest.raises(Conflict) as error:
            services.book_sessions(attached(world.counselor), episode_id, slot_ids, now=NOW)
        assert error.value.fields == {"slot_ids.2": "taken"}
        assert "3" in error.value.message
        sessions = db.session.scalars(
            select(CareSession).where(CareSession.episode_id == episode_id)
        ).all()
        assert [s.number for s in sessions] == [1, 2]
        mine = db.session.scalar(
            select(func.count(Appointment.id)).where(Appointment.user_id == member.id)
        )
        assert mine == 2
        # The rest can be booked at other times: numbering continues at 3.
        rest = _series(app, world, episode_id)
        assert [p.number for p in rest] == [3, 4, 5, 6]


def test_only_the_plans_counsellor_books_with_their_own_times(app, world, plan):
    _member, episode_id = plan
    with app.app_context():
        slot_ids = [p.slot.id for p in _series(app, world, episode_id)]
        with pytest.raises(NotPermitted):
            services.book_sessions(attached(world.second), episode_id, slot_ids[:1], now=NOW)
        with pytest.raises(InvalidInput) as error:
            services.book_sessions(
                attached(world.counselor), episode_id, [slot_ids[0], slot_ids[0]], now=NOW
            )
        assert error.value.fields == {"slot_ids": "repeated"}
        with pytest.raises(InvalidInput) as error:
            services.book_sessions(attached(world.counselor), episode_id, ["c:bogus"], now=NOW)
        assert error.value.fields == {"slot_ids.0": "invalid"}


def test_measures_are_sent_once_before_each_session(app, world, plan):
    member, episode_id = plan
    with app.app_context():
        slot_ids = [p.slot.id for p in _series(app, world, episode_id)][:2]
        services.book_sessions(attached(world.counselor), episode_id, slot_ids, now=NOW)
        first = db.session.scalars(select(CareSession).where(CareSession.number == 1)).one()
        window = first.starts_at - timedelta(hours=app.config["CARE_MEASURE_LEAD_HOURS"])
        assert services.send_due_measures(window - timedelta(minutes=1)) == 0
        assert services.send_due_measures(window + timedelta(minutes=1)) == 2
        assert services.send_due_measures(window + timedelta(minutes=2)) == 0
        invitations = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.user_id == member.id, OutboxMessage.link.like("/assessments/%")
            )
        ).all()
        assert sorted(m.link for m in invitations) == ["/assessments/gad7", "/assessments/phq9"]


def _submit(member_id: int, code: str, total: int, at: datetime) -> None:
    db.session.add(
        AssessmentResponse(
            user_id=member_id,
            instrument=code,
            instrument_version="1",
            language="zh",
            answers=[],
            total=total,
            band="x",
            risk=False,
            created_at=at,
        )
    )
    db.session.commit()


def test_assigned_questionnaires_list_the_non_completers(app, world, plan):
    member, _episode_id = plan
    with app.app_context():
        counselor = attached(world.counselor)
        with pytest.raises(InvalidInput) as error:
            services.assign(counselor, member.id, "nope", NOW + timedelta(days=1), now=NOW)
        assert error.value.fields == {"instrument": "unknown"}
        with pytest.raises(InvalidInput) as error:
            services.assign(counselor, member.id, "who5", NOW - timedelta(days=1), now=NOW)
        assert error.value.fields == {"first_due": "past"}
        with pytest.raises(InvalidInput) as error:
            services.assign(counselor, member.id, "who5", NOW + timedelta(days=1), None, 3, now=NOW)
        assert error.value.fields == {"every_days": "out_of_range"}
        made = services.assign(counselor, member.id, "who5", NOW + timedelta(days=1), 7, 3, now=NOW)
        assert [a.due_at for a in made] == [NOW + timedelta(days=d) for d in (1, 8, 15)]
        later = NOW + timedelta(days=2)
        assert [a.instrument for a in services.overdue_for(counselor, later)] == ["who5"]
        assert [a.instrument for a in services.due_for_member(attached(member), NOW)] == ["who5"]
        _submit(member.id, "who5", 15, NOW + timedelta(hours=3))
        assert services.overdue_for(counselor, later) == []
        assert services.due_for_member(attached(member), NOW + timedelta(hours=4)) == []


def test_reliable_change_uses_each_instruments_threshold():
    phq9, gad7 = get_instrument("phq9"), get_instrument("gad7")
    at = [datetime(2026, 12, d, tzinfo=UTC) for d in (1, 8, 15)]
    better = progress_of(phq9, [Score(at[2], 8), Score(at[0], 14), Score(at[1], 11)])
    assert (better.first, better.latest, better.change, better.reliable) == (14, 8, -6, "better")
    small = progress_of(phq9, [Score(at[0], 14), Score(at[1], 10)])
    assert small.reliable is None and small.change == -4
    worse = progress_of(gad7, [Score(at[0], 6), Score(at[1], 10)])
    assert worse.reliable == "worse" and worse.threshold == 4
    assert progress_of(gad7, [Score(at[0], 6)]).reliable is None
    assert progress_of(gad7, []).first is None


def test_progress_reads_the_members_scores_during_the_plan(app, world, plan):
    member, episode_id = plan
    with app.app_context():
        _submit(member.id, "phq9", 16, NOW + timedelta(days=1))
        _submit(member.id, "phq9", 9, NOW + timedelta(days=20))
        _submit(member.id, "phq9", 27, NOW - timedelta(days=60))  # long before: not counted
        rows = services.progress(db.session.get(CareEpisode, episode_id))
        phq = next(p for p in rows if p.instrument == "phq9")
        assert (phq.first, phq.latest, phq.reliable) == (16, 9, "better")
        assert next(p for p in rows if p.instrument == "gad7").scores == ()


def test_closing_withdraws_unsent_measures(app, world, plan):
    _member, episode_id = plan
    with app.app_context():
        slot_ids = [p.slot.id for p in _series(app, world, episode_id)][:2]
        services.book_sessions(attached(world.counselor), episode_id, slot_ids, now=NOW)
        with pytest.raises(InvalidInput) as error:
            services.close_episode(attached(world.counselor), episode_id, "great", now=NOW)
        assert error.value.fields == {"outcome": "invalid"}
        services.close_episode(attached(world.counselor), episode_id, "improved", now=NOW)
        assert db.session.scalar(select(func.count(MeasureAssignment.id))) == 0
        with pytest.raises(Conflict):
            services.book_sessions(attached(world.counselor), episode_id, slot_ids, now=NOW)


def test_the_case_team_and_timeline_know_the_plan(app, world, plan):
    from wellness import caseteam, timeline

    member, _episode_id = plan
    with app.app_context():
        assert caseteam.on_case(world.counselor.id, member.id)
        titles = [e.title for e in timeline.events_for(member.id) if e.kind == "care"]
        assert titles == ["咨询计划已开始（共 6 次）"] or titles == [
            "Care plan opened (6 sessions)"
        ]


def test_export_then_erasure_removes_the_plan(app, world, plan):
    member, episode_id = plan
    with app.app_context():
        slot_ids = [p.slot.id for p in _series(app, world, episode_id)][:1]
        services.book_sessions(attached(world.counselor), episode_id, slot_ids, now=NOW)
        data = privacy.export_all(attached(member), now=NOW)
        assert data["care"]["care_plans"][0]["goals"] == "睡得更好，回到正常上班节奏"
        privacy.delete_account(attached(member), PASSWORD, now=NOW)
        for model in (CareEpisode, CareSession, MeasureAssignment):
            assert db.session.scalar(select(func.count(model.id))) == 0
