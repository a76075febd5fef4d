"""Each section's figures against data made through the owning package's services (risk,
vouchers, hotline) or, for booking, its models: appointments in past months with their
final states cannot be replayed through the booking services, which only accept bookings
ahead of "now"."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import event

from tests.reports.conftest import BUSY, NOW, make_workers, populate
from wellness.auth.models import User
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.reports import periods, services

EN = {"Accept-Language": "en"}


@pytest.fixture
def k2(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMALL_CELL_K", 2)


def in_month(month: int, day: int, hour: int = 10) -> datetime:
    return periods.month_start(month) + timedelta(days=day - 1, hours=hour)


# ------------------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"start": "2026-10", "end": "2026-03"}, "to"),
        ({"start": "2020-01", "end": "2026-11"}, "from"),
        ({"start": "2026-12"}, "from"),
        ({"start": "2026-13"}, "from"),
        ({"end": "soon"}, "to"),
        ({"org_unit_id": 9999}, "org_unit"),
        ({"org_unit_id": "abc"}, "org_unit"),
        ({"instrument": "bdi"}, "instrument"),
        ({"station_id": 9999}, "station"),
    ],
)
def test_bad_filters_name_their_field(app, args, field):
    with app.test_request_context(headers=EN), pytest.raises(InvalidInput) as error:
        services.build_filters(now=NOW, **args)
    assert field in error.value.fields
    assert error.value.status == 422
    assert error.value.message


def test_default_filters_are_the_last_twelve_complete_months(app, org):
    with app.test_request_context(headers=EN):
        filters = services.build_filters(now=NOW)
        assert (filters.first, filters.last) == (202512, 202611)
        # a period running into the current month stops at the last complete one
        filters = services.build_filters(start="2026-06", end="2027-02", now=NOW)
        assert (filters.first, filters.last, filters.clamped) == (202606, 202611, True)
        filters = services.build_filters(org_unit_id=org["a"], with_children=False, now=NOW)
        assert filters.org_unit_id == org["a"] and not filters.with_children


# ------------------------------------------------------------------------ assessments


def test_assessment_tables(app, org):
    with app.app_context():
        populate(org["a1"], 202610, BUSY)
        populate(org["b1"], 202610, BUSY)
        populate(org["b1"], 202611, BUSY)
        db.session.commit()
    with app.test_request_context(headers=EN):
        filters = services.build_filters(start="2026-10", end="2026-11", now=NOW)
        section = services.dashboard(filters, NOW, sections=("assessments",)).assessments
        october, november = section.bands.rows
        assert october.values["total"] == 152 and november.values["total"] == 76
        assert october.values["severe"] == 12
        assert october.values["share"] == round(100 * 52 / 152, 1)
        (phq9,) = section.instruments.rows
        assert phq9.values["total"] == 228 and phq9.values["mw"] == 78
        units = {r.label: r.values for r in section.units.rows}
        # everyone -> the city union (the only unit at the top) -> its districts
        assert units["甲区总工会"]["total"] == 76 and units["乙区总工会"]["total"] == 152
        assert units["Total: All members"]["total"] == 228
        a = services.build_filters(start="2026-10", end="2026-11", org_unit_id=org["a"], now=NOW)
        section = services.dashboard(a, NOW, sections=("assessments",)).assessments
        assert [r.values["total"] for r in section.bands.rows] == [76, 0]


def test_dashboard_queries_do_not_grow_with_the_data(app, org):
    """Aggregation happens in SQL: twice the rows, the same statements."""

    def statements(extra: int) -> int:
        with app.app_context():
            populate(org["a1"], 202609, {"mild": extra})
            db.session.commit()
        count = 0

        def seen(*_args):
            nonlocal count
            count += 1

        with app.test_request_context(headers=EN):
            engine = db.engine
            event.listen(engine, "before_cursor_execute", seen)
            try:
                from wellness.reports import cache

                cache.memo.clear()
                filters = services.build_filters(start="2026-01", end="2026-11", now=NOW)
                services.dashboard(filters, NOW)
            finally:
                event.remove(engine, "before_cursor_execute", seen)
        return count

    statements(10)
    small = statements(0)
    statements(200)
    big = statements(0)
    assert small == big


# ---------------------------------------------------------------------------- risk


def test_risk_flags_by_level_with_claim_times(app, org, k2):
    from wellness.risk import services as risk

    with app.app_context():
        counsellor = User(phone="+8613600000999", name="王静", role="counselor", password_hash="x")
        db.session.add(counsellor)
        people = make_workers(org["a1"], 6)
        db.session.commit()
        raised = in_month(202611, 3)
        for i, person in enumerate(people):
            level = "critical" if i < 3 else "elevated"
            flag = risk.raise_flag(
                person, source="manual", source_id=None, level=level, rule="t", now=raised
            )
            db.session.commit()
            if i < 4:
                late = i == 3  # elevated, claimed after 80 hours: past its 72-hour deadline
                minutes = 80 * 60 if late else 10 + 10 * i
                risk.claim(counsellor, flag.id, now=raised + timedelta(minutes=minutes))
                risk.resolve(
                    counsellor,
                    flag.id,
                    "no_risk",
                    now=raised + timedelta(minutes=minutes + 60),
                )
    with app.test_request_context(headers=EN):
        filters = services.build_filters(start="2026-11", end="2026-11", now=NOW)
        rows = {r.key: r.values for r in services.dashboard(filters, NOW).risk.table.rows}
        assert rows["critical"]["flags"] == 3 and rows["critical"]["claimed"] == 3
        assert rows["critical"]["sla"] == 100.0
        assert rows["critical"]["claim"] == 20  # 10, 20, 30 minutes
        assert rows["critical"]["resolve"] == 80
        assert rows["total"]["flags"] == 6
        assert rows["total"]["sla"] == 75.0  # 3 of 4 in time
        assert rows["high"]["flags"] == 0


def test_medians_found_by_the_database_match_python(app, org):
    """Odd and even counts, ties, several levels, a unit filter: the SQL running-count
    median equals statistics.median over the same whole minutes."""
    import random
    import statistics

    from wellness.reports import medians
    from wellness.risk.models import RiskFlag

    rng = random.Random(7)
    raised = in_month(202610, 4)
    with app.app_context():
        people = make_workers(org["a1"], 23) + make_workers(org["b1"], 8)
        minutes: dict[tuple, list[int]] = {}
        for i, person in enumerate(people):
            level = ("critical", "high", "elevated")[i % 3]
            unit = org["a1"] if i < 23 else org["b1"]
            claim = rng.choice([5, 5, 12, 30, 47, 90, 600, 1441])
            resolve = None if i % 4 == 0 else claim + rng.randrange(60, 5000)
            db.session.add(
                RiskFlag(
                    person_id=person,
                    org_unit_id=unit,
                    source="manual",
                    level=level,
                    rule="t",
                    status="claimed" if resolve is None else "resolved",
                    created_at=raised,
                    last_triggered_at=raised,
                    due_at=raised + timedelta(hours=1),
                    claimed_at=raised + timedelta(minutes=claim),
                    resolved_at=None if resolve is None else raised + timedelta(minutes=resolve),
                )
            )
            for key in (level, "total"):
                minutes.setdefault(("claim", key, unit), []).append(claim)
                if resolve is not None:
                    minutes.setdefault(("resolve", key, unit), []).append(resolve)
        db.session.commit()

        def python(kind, level, units):
            values = [v for u in units for v in minutes.get((kind, level, u), [])]
            return round(statistics.median(values)) if values else ""

        for units in (None, [org["a1"]], [org["b1"]], [org["a2"]]):
            found = medians.median_minutes(units, 202610, 202610)
            wanted = units if units is not None else [org["a1"], org["b1"]]
            for kind in ("claim", "resolve"):
                for level in ("critical", "high", "elevated", "total"):
                    assert found[kind][level] == python(kind, level, wanted), (kind, level, units)
        assert medians.median_minutes([org["a2"]], 202610, 202610)["claim"]["total"] == ""


# --------------------------------------------------------------------------- vouchers


def test_vouchers_by_batch_and_organisation(app, org, k2):
    from wellness.vouchers import services as vouchers

    with app.app_context():
        admin = User(phone="+8613600000998", name="赵敏", role="admin", password_hash="x")
        db.session.add(admin)
        db.session.flush()
        members = make_workers(org["a1"], 3) + make_workers(org["b1"], 3)
        phones = [db.session.get(User, m).phone for m in members]
        db.session.commit()
        issued = in_month(202610, 5)
        spec = vouchers.BatchSpec(
            name="十月心理咨询券",
            sessions=2,
            valid_from=issued,
            valid_until=in_month(202611, 10),
            service_codes=["individual"],
            org_unit_id=org["city"],
        )
        vouchers.issue_batch_now(admin, spec, members=phones, now=issued)
        codes = {v.user_id: v.code for v in db.session.scalars(db.select(vouchers.Voucher))}
        for member in members[:4]:
            vouchers.consume_at_station(
                admin, codes[member], "individual", now=in_month(202610, 20)
            )
        vouchers.expire_due(now=in_month(202611, 12))
    with app.test_request_context(headers=EN):
        filters = services.build_filters(start="2026-10", end="2026-11", now=NOW)
        section = services.dashboard(filters, NOW).vouchers
        (batch,) = section.batches.rows
        assert batch.label == "十月心理咨询券"
        assert batch.values["vouchers"] == 6 and batch.values["sessions"] == 12
        assert batch.values["consumed"] == 4 and batch.values["expired"] == 8
        units = {r.label: r.values for r in section.units.rows}
        assert units["Total: All members"]["sessions"] == 12


# ---------------------------------------------------------------------------- hotline


def test_hotline_calls_by_weekday_hour_and_topic(app, org, k2):
    from wellness.hotline import services as hotline
    from wellness.hotline.models import HotlineTerm

    with app.app_context():
        counsellor = User(
            phone="+8613600000997", name="李明华", role="counselor", password_hash="x"
        )
        db.session.add(counsellor)
        hotline.ensure_builtin_terms()
        db.session.commit()
        stress, listened = (
            db.session.scalar(db.select(HotlineTerm.id).where(HotlineTerm.code == code))
            for code in ("work_stress", "listened")
        )
        # Tuesday 2026-11-10, 21:00 Beijing: four different callers
        start = datetime(2026, 11, 10, 13, 0, tzinfo=UTC)
        for n in range(4):
            hotline.log_call(
                counsellor,
                hotline.CallInput(
                    started_at=start + timedelta(minutes=n),
                    duration_minutes=5,
                    caller_number=f"1390000{n:04d}",
                    topic_ids=[stress],
                    action_id=listened,
                ),
                now=start + timedelta(hours=1),
            )
        # one caller, three times, on Thursday morning
        thursday = datetime(2026, 11, 12, 1, 0, tzinfo=UTC)
        for n in range(3):
            hotline.log_call(
                counsellor,
                hotline.CallInput(
                    started_at=thursday + timedelta(minutes=10 * n),
                    duration_minutes=3,
                    caller_number="13900009999",
                    topic_ids=[stress],
                    action_id=listened,
                ),
                now=thursday + timedelta(hours=1),
            )
    with app.test_request_context(headers=EN):
        filters = services.build_filters(start="2026-11", end="2026-11", now=NOW)
        section = services.dashboard(filters, NOW).hotline
        truth = {(1, 21): 4, (3, 9): 3}
        shown = {
            (d, h): v
            for d, row in enumerate(section.grid)
            for h, v in enumerate(row)
            if v is not None
        }
        assert all(v == truth.get(cell, 0) for cell, v in shown.items())
        assert (3, 9) not in shown  # one caller: hidden though there were three calls
        assert len(shown) > 100  # the empty hours of the other days stay visible
        topics = {r.label: r.values["calls"] for r in section.topics.rows}
        assert topics["Work stress"] == 7


# ---------------------------------------------------------------------------- booking


def test_appointments_and_room_use_by_station(app, org, k2):
    from wellness.booking.models import Appointment, Room, Service, Station, StationHours

    with app.app_context():
        station = Station(
            name="江北驿站",
            district="江北区",
            address="江北路1号",
            latitude=30.0,
            longitude=120.0,
            phone="0571-1",
        )
        db.session.add(station)
        db.session.flush()
        room = Room(station_id=station.id, name="一号咨询室", kind="individual", capacity=1)
        service = Service(code="individual", name="个体咨询", name_en="Counselling")
        db.session.add_all([room, service])
        db.session.flush()
        for weekday in range(5):  # Mon-Fri 9:00-17:00
            db.session.add(
                StationHours(station_id=station.id, weekday=weekday, opens=time(9), closes=time(17))
            )
        people = make_workers(org["a1"], 8)
        statuses = ["attended"] * 4 + ["no_show"] * 2 + ["cancelled"] * 2
        for n, (person, status) in enumerate(zip(people, statuses, strict=True)):
            starts = in_month(202611, 2 + n, hour=2)
            db.session.add(
                Appointment(
                    reference=f"R{n:05d}",
                    user_id=person,
                    service_id=service.id,
                    station_id=station.id,
                    room_id=room.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=60),
                    status=status,
                )
            )
        db.session.commit()
    with app.test_request_context(headers=EN):
        filters = services.build_filters(start="2026-11", end="2026-11", now=NOW)
        section = services.dashboard(filters, NOW).booking
        rows = {r.label: r.values for r in section.table.rows}
        assert rows["江北驿站"]["total"] == 8
        assert rows["江北驿站"]["attended"] == 4 and rows["江北驿站"]["no_show"] == 2
        assert rows["江北驿站"]["cancelled"] == 2
        # 6 booked hours (cancelled ones free the room) of 21 weekdays x 8 hours in November
        assert rows["江北驿站"]["utilisation"] == round(100 * 6 / (21 * 8), 1)
        assert rows["All stations"]["total"] == 8
