"""Roster use cases: templates, sign-up, overlap, withdraw, swaps, coverage gap warnings."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from tests.hotline.hotline_support import NOW, bj
from wellness.audit import AuditEvent
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.hotline import services
from wellness.hotline.models import GapWarning, Shift, ShiftAssignment, ShiftSwap
from wellness.hotline.roster import ALL_DAYS, weekday_mask
from wellness.notify.models import OutboxMessage

H = timedelta(hours=1)


def template(name="夜班", start=time(22, 0), minutes=600, days=ALL_DAYS, seats=2, **kw):
    return services.TemplateInput(
        name=name,
        start_time=start,
        duration_minutes=minutes,
        weekdays=days,
        seats_needed=seats,
        **kw,
    )


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def gap_messages() -> int:
    return count(OutboxMessage, OutboxMessage.dedupe_key.like("hotline-gap:%"))


# ------------------------------------------------------------------------ templates


def test_template_makes_the_coming_weeks_of_shifts_once(app, make_user):
    admin = make_user("admin")
    with app.app_context():
        made = services.create_template(admin, template(), now=NOW)
        shifts = list(db.session.scalars(select(Shift).order_by(Shift.starts_at)))
        assert len(shifts) == 28  # from today (Wed) 22:00, one a day for 4 weeks
        first = shifts[0]
        assert services.local(first.starts_at) == bj(2026, 12, 2, 22)
        assert services.local(first.ends_at) == bj(2026, 12, 3, 8)  # across midnight
        assert first.template_id == made.id and first.seats_needed == 2
        assert services.materialise_shifts(NOW) == 0  # idempotent
        assert services.materialise_shifts(NOW + timedelta(days=1)) == 1  # one more day
        assert count(Shift) == 29
        assert count(AuditEvent, AuditEvent.action == "hotline.template_created") == 1


def test_template_on_some_days_only(app, make_user):
    admin = make_user("admin")
    with app.app_context():
        services.create_template(
            admin,
            template(start=time(20), minutes=720, days=weekday_mask([5, 6])),
            now=NOW,
        )
        days = {services.local(s.starts_at).weekday() for s in db.session.scalars(select(Shift))}
        assert days == {5, 6}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"days": 0}, "weekdays"),
        ({"minutes": 20}, "duration_minutes"),
        ({"minutes": 1441}, "duration_minutes"),
        ({"seats": 0}, "seats_needed"),
        ({"name": "  "}, "name"),
        ({"mode": "remote"}, "mode"),
        ({"valid_from": date(2026, 12, 5), "valid_until": date(2026, 12, 4)}, "valid_until"),
    ],
)
def test_bad_template_is_a_field_error_and_changes_nothing(app, make_user, changes, field):
    admin = make_user("admin")
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.create_template(admin, template(**changes), now=NOW)
        assert field in caught.value.fields
        db.session.rollback()
        assert count(Shift) == 0


def test_only_admins_make_templates(app, make_user):
    counselor = make_user("counselor")
    with app.app_context(), pytest.raises(NotPermitted):
        services.create_template(counselor, template(), now=NOW)


def test_stopping_a_template_removes_empty_future_shifts_and_keeps_staffed(app, make_user):
    admin, counselor = make_user("admin"), make_user("counselor")
    with app.app_context():
        made = services.create_template(admin, template(), now=NOW)
        second = db.session.scalars(select(Shift).order_by(Shift.starts_at)).all()[1]
        services.assign(admin, second.id, counselor.id, now=NOW)
        result = services.deactivate_template(admin, made.id, now=NOW)
        assert result == {"removed": 27, "kept": 1}
        assert count(Shift) == 1
        assert services.materialise_shifts(NOW) == 0
        with pytest.raises(Conflict):
            services.deactivate_template(admin, made.id, now=NOW)


def test_one_off_shift(app, make_user):
    admin = make_user("admin")
    with app.app_context():
        shift = services.create_shift(
            admin,
            name="春节加班",
            starts_at=bj(2026, 12, 31, 20),
            duration_minutes=300,
            seats_needed=3,
            mode="seated",
            now=NOW,
        )
        assert services.local(shift.ends_at) == bj(2027, 1, 1, 1)
        with pytest.raises(InvalidInput) as caught:
            services.create_shift(
                admin,
                name="x",
                starts_at=NOW - 10 * H,
                duration_minutes=60,
                seats_needed=1,
                mode="seated",
                now=NOW,
            )
        assert caught.value.fields == {"starts_at": "past"}


# --------------------------------------------------------------------------- sign-up


def test_sign_up_fills_a_seat_and_refuses_a_full_shift(app, make_user, make_shift):
    a, b, c = (make_user("counselor") for _ in range(3))
    shift_id = make_shift(bj(2026, 12, 3, 8), 8, seats=2)
    with app.app_context():
        services.sign_up(a, shift_id, now=NOW)
        services.sign_up(b, shift_id, now=NOW)
        with pytest.raises(Conflict) as full:
            services.sign_up(c, shift_id, now=NOW)
        assert full.value.fields == {"shift": "full"}
        db.session.rollback()
        assert db.session.get(Shift, shift_id).filled == 2
        assert count(ShiftAssignment) == 2
        with pytest.raises(Conflict) as again:
            services.sign_up(a, shift_id, now=NOW)
        assert again.value.fields == {"shift": "taken"}


def test_overlapping_shifts_for_one_counsellor_are_refused(app, make_user, make_shift):
    counselor = make_user("counselor")
    night = make_shift(bj(2026, 12, 3, 22), 10)  # Thu 22:00 - Fri 08:00
    morning = make_shift(bj(2026, 12, 4, 7), 8)  # Fri 07:00 - overlaps by one hour
    later = make_shift(bj(2026, 12, 4, 8), 8)  # Fri 08:00 - adjacent, fine
    with app.app_context():
        services.sign_up(counselor, night, now=NOW)
        with pytest.raises(Conflict) as caught:
            services.sign_up(counselor, morning, now=NOW)
        assert caught.value.fields == {"shift": "overlap"}
        assert "测试班次" in caught.value.message
        db.session.rollback()
        services.sign_up(counselor, later, now=NOW)
        assert db.session.get(Shift, morning).filled == 0


def test_sign_up_for_a_past_or_missing_shift(app, make_user, make_shift):
    counselor, worker = make_user("counselor"), make_user("worker")
    past = make_shift(NOW - 10 * H, 8)
    with app.app_context():
        with pytest.raises(InvalidInput):
            services.sign_up(counselor, past, now=NOW)
        with pytest.raises(NotFound):
            services.sign_up(counselor, 999_999, now=NOW)
        with pytest.raises(NotPermitted):
            services.sign_up(worker, past, now=NOW)


def test_admin_assigns_and_the_counsellor_is_told(app, make_user, make_shift):
    admin, counselor, worker = make_user("admin"), make_user("counselor"), make_user("worker")
    shift_id = make_shift(bj(2026, 12, 5, 8), 8)
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.assign(admin, shift_id, worker.id, now=NOW)
        assert caught.value.fields == {"counselor_id": "unknown"}
        db.session.rollback()
        services.assign(admin, shift_id, counselor.id, now=NOW)
        assert count(OutboxMessage, OutboxMessage.user_id == counselor.id) == 1
        assert count(AuditEvent, AuditEvent.action == "hotline.shift_assigned") == 1


def test_withdraw_needs_notice_unless_an_admin_removes(app, make_user, make_shift):
    admin, counselor, other = make_user("admin"), make_user("counselor"), make_user("counselor")
    soon = make_shift(NOW + 5 * H, 8, staff=[counselor])
    later = make_shift(NOW + 72 * H, 8, staff=[counselor])
    with app.app_context():
        soon_a, later_a = (
            db.session.scalar(select(ShiftAssignment.id).where(ShiftAssignment.shift_id == s))
            for s in (soon, later)
        )
        with pytest.raises(InvalidInput) as caught:
            services.withdraw(counselor, soon_a, now=NOW)
        assert caught.value.fields == {"shift": "too_late"}
        db.session.rollback()
        services.withdraw(counselor, later_a, now=NOW)
        assert db.session.get(Shift, later).filled == 0
        services.withdraw(admin, soon_a, now=NOW)
        assert db.session.get(Shift, soon).filled == 0
        with pytest.raises(Conflict):
            services.withdraw(admin, soon_a, now=NOW)
        db.session.rollback()
        with pytest.raises(NotFound):
            services.withdraw(other, later_a, now=NOW)


# ----------------------------------------------------------------------------- swaps


def _assignment(shift_id: int) -> int:
    return db.session.scalar(
        select(ShiftAssignment.id).where(
            ShiftAssignment.shift_id == shift_id, ShiftAssignment.status == "active"
        )
    )


def test_swap_is_accepted_then_approved_exactly_once(app, make_user, make_shift):
    admin, a, b = make_user("admin"), make_user("counselor", name="甲"), make_user("counselor")
    shift_id = make_shift(bj(2026, 12, 6, 16), 8, staff=[a])
    with app.app_context():
        swap = services.request_swap(a, _assignment(shift_id), b.id, "家里有事", now=NOW)
        assert count(OutboxMessage, OutboxMessage.user_id == b.id) == 1
        with pytest.raises(Conflict):  # one open request per assignment
            services.request_swap(a, _assignment(shift_id), b.id, now=NOW)
        db.session.rollback()
        with pytest.raises(NotPermitted):  # the requester cannot accept for the colleague
            services.act_on_swap(a, swap.id, "accept", now=NOW)
        with pytest.raises(NotPermitted):  # not yet accepted, and admins do not accept
            services.act_on_swap(admin, swap.id, "accept", now=NOW)
        with pytest.raises(Conflict):  # approval waits for the colleague
            services.act_on_swap(admin, swap.id, "approve", now=NOW)
        db.session.rollback()
        services.act_on_swap(b, swap.id, "accept", now=NOW)
        assert count(OutboxMessage, OutboxMessage.user_id == admin.id) == 1
        services.act_on_swap(admin, swap.id, "approve", now=NOW)
        with pytest.raises(Conflict):
            services.act_on_swap(admin, swap.id, "approve", now=NOW)
        db.session.rollback()
        staff = db.session.execute(
            select(ShiftAssignment.counselor_id, ShiftAssignment.status).where(
                ShiftAssignment.shift_id == shift_id
            )
        ).all()
        assert sorted(staff) == sorted([(a.id, "swapped"), (b.id, "active")])
        assert db.session.get(Shift, shift_id).filled == 1
        assert db.session.get(ShiftSwap, swap.id).status == "approved"


def test_swap_to_a_busy_colleague_is_refused(app, make_user, make_shift):
    a, b = make_user("counselor"), make_user("counselor")
    mine = make_shift(bj(2026, 12, 6, 16), 8, staff=[a])
    make_shift(bj(2026, 12, 6, 20), 8, staff=[b])
    with app.app_context():
        with pytest.raises(Conflict) as caught:
            services.request_swap(a, _assignment(mine), b.id, now=NOW)
        assert caught.value.fields == {"to_id": "overlap"}
        with pytest.raises(InvalidInput):
            services.request_swap(a, _assignment(mine), a.id, now=NOW)


def test_swap_requests_are_private_to_the_two_counsellors(app, make_user, make_shift):
    a, b, c = (make_user("counselor") for _ in range(3))
    shift_id = make_shift(bj(2026, 12, 6, 16), 8, staff=[a])
    with app.app_context():
        swap = services.request_swap(a, _assignment(shift_id), b.id, now=NOW)
        with pytest.raises(NotFound):
            services.act_on_swap(c, swap.id, "accept", now=NOW)
        assert [s.id for s in services.swaps_for(c)] == []
        assert [s.id for s in services.swaps_for(b)] == [swap.id]
        services.act_on_swap(a, swap.id, "cancel", now=NOW)
        with pytest.raises(Conflict):
            services.act_on_swap(b, swap.id, "accept", now=NOW)


# -------------------------------------------------------------------- gap warnings


def _full_day(make_shift, day_start, people):
    """Three 8-hour shifts with two people each, starting at ``day_start``."""
    for k in range(3):
        make_shift(day_start + k * 8 * H, 8, staff=people[2 * k : 2 * k + 2])


def test_gap_in_the_next_72_hours_warns_every_admin_once(app, make_user, make_shift):
    admins = [make_user("admin"), make_user("admin")]
    people = [make_user("counselor") for _ in range(6)]
    # NOW is Wed 14:00. Staff Wed 00:00 .. Sun 00:00 except one seat Thu 22:00-Fri 06:00.
    for day in range(4):
        start = bj(2026, 12, 2 + day)
        for k in range(3):
            staff = people[2 * k : 2 * k + 2]
            make_shift(start + k * 8 * H, 8, staff=staff)
    with app.app_context():
        night = db.session.scalar(select(Shift).where(Shift.starts_at == bj(2026, 12, 4)))
        first = db.session.scalar(
            select(ShiftAssignment).where(ShiftAssignment.shift_id == night.id)
        )
        services.withdraw(admins[0], first.id, now=NOW)  # Fri 00:00-08:00 one short
        result = services.warn_gaps(NOW)
        assert result == {"gaps": 1, "hours": 8, "messages": 2}
        assert gap_messages() == 2
        body = db.session.scalar(
            select(OutboxMessage.body).where(OutboxMessage.user_id == admins[1].id)
        )
        assert "2026-12-04 00:00" in body and "2026-12-04 08:00" in body
        # Run again, and a little later: nothing new.
        assert services.warn_gaps(NOW)["messages"] == 0
        assert services.warn_gaps(NOW + timedelta(minutes=15))["messages"] == 0
        assert gap_messages() == 2
        assert count(GapWarning) == 8


def test_gap_beyond_72_hours_is_not_warned_yet(app, make_user, make_shift):
    make_user("admin")
    people = [make_user("counselor") for _ in range(6)]
    for day in range(4):
        _full_day(make_shift, bj(2026, 12, 2 + day), people)
    with app.app_context():
        # Covered until Sun 00:00; NOW + 72 h is Sat 14:00.
        assert services.warn_gaps(NOW) == {"gaps": 0, "hours": 0, "messages": 0}
        # A day later the Sunday gap is inside the window.
        later = services.warn_gaps(NOW + timedelta(days=1))
        assert later["gaps"] == 1 and later["messages"] == 1


def test_gap_across_midnight_and_the_week_boundary_is_one_warning(app, make_user, make_shift):
    make_user("admin")
    people = [make_user("counselor") for _ in range(6)]
    now = bj(2026, 12, 5, 12)  # Saturday noon
    _full_day(make_shift, bj(2026, 12, 5), people)  # Saturday
    make_shift(bj(2026, 12, 6), 8, staff=people[:2])
    make_shift(bj(2026, 12, 6, 8), 8, staff=people[2:4])
    make_shift(bj(2026, 12, 6, 16), 8, staff=people[4:5])  # Sunday evening: one of two
    make_shift(bj(2026, 12, 7), 8, staff=people[:1])  # Monday night: one of two
    _full_day(make_shift, bj(2026, 12, 7, 8), people)  # Monday 08:00 - Tuesday 08:00
    _full_day(make_shift, bj(2026, 12, 8, 8), people)
    with app.app_context():
        result = services.warn_gaps(now)
        assert result["gaps"] == 1 and result["hours"] == 16
        body = db.session.scalar(select(OutboxMessage.body))
        assert "2026-12-06 16:00" in body and "2026-12-07 08:00" in body


def test_a_gap_that_closes_and_reopens_warns_again(app, make_user, make_shift):
    admin = make_user("admin")
    people = [make_user("counselor") for _ in range(7)]
    for day in range(4):
        _full_day(make_shift, bj(2026, 12, 2 + day), people)
    with app.app_context():
        night = db.session.scalar(select(Shift).where(Shift.starts_at == bj(2026, 12, 4)))
        leaving = db.session.scalar(
            select(ShiftAssignment).where(ShiftAssignment.shift_id == night.id)
        )
        services.withdraw(admin, leaving.id, now=NOW)
        assert services.warn_gaps(NOW)["messages"] == 1
        services.assign(admin, night.id, people[6].id, now=NOW)
        assert services.warn_gaps(NOW)["messages"] == 0
        assert count(GapWarning) == 0  # covered again: the hours are forgotten
        again = db.session.scalar(
            select(ShiftAssignment).where(
                ShiftAssignment.shift_id == night.id, ShiftAssignment.counselor_id == people[6].id
            )
        )
        services.withdraw(admin, again.id, now=NOW)
        assert services.warn_gaps(NOW)["messages"] == 1
        assert gap_messages() == 2


def test_coverage_weeks_start_on_monday(app, make_user, make_shift):
    people = [make_user("counselor") for _ in range(6)]
    _full_day(make_shift, bj(2026, 12, 2), people)
    with app.app_context():
        weeks, gaps = services.coverage_weeks(NOW, 2)
        # Two weeks after Wednesday 2 December reach into the week of 14 December.
        assert [w.monday for w in weeks] == [
            date(2026, 11, 30),
            date(2026, 12, 7),
            date(2026, 12, 14),
        ]
        assert weeks[0].rows[14][2].staffed == 2  # Wednesday 14:00
        assert weeks[0].rows[0][0].start == bj(2026, 11, 30)  # the week starts Monday 00:00
        assert gaps[0].start == bj(2026, 12, 3)  # after Wednesday, nothing is staffed
        assert gaps[0].end == bj(2026, 12, 21)
        assert len(gaps) == 1  # past hours of the week are not listed as gaps


def test_a_gap_past_the_horizon_is_not_announced_again_as_the_window_slides(
    app, make_user, make_shift
):
    make_user("admin")
    with app.app_context():
        # No roster at all: everything in the next 72 hours is one gap, announced once.
        first = services.warn_gaps(NOW)
        assert first == {"gaps": 1, "hours": 72, "messages": 1}
        body = db.session.scalar(select(OutboxMessage.body))
        assert "至少到" in body  # jobs write in the default language, Simplified Chinese
        previous = 0
        for hours in (1, 2, 5, 24):
            later = services.warn_gaps(NOW + hours * H)
            # The hours that slid into view are recorded, but they extend the known gap.
            assert later == {"gaps": 0, "hours": hours - previous, "messages": 0}
            previous = hours
        assert gap_messages() == 1


def test_cli_commands(app, runner, make_user):
    make_user("admin")
    first = runner.invoke(args=["hotline", "standard-terms"])
    assert first.exit_code == 0 and "24 standard entries added" in first.output
    assert "0 standard entries added" in runner.invoke(args=["hotline", "standard-terms"]).output
    assert "0 shifts created" in runner.invoke(args=["hotline", "materialise"]).output
    warned = runner.invoke(args=["hotline", "warn-gaps"])
    assert warned.exit_code == 0 and "1 new gap(s), 1 message(s) queued" in warned.output
    purged = runner.invoke(args=["hotline", "purge"])
    assert purged.exit_code == 0 and "retention 1095 days" in purged.output
