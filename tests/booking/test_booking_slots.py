"""Pure slot arithmetic: breaks, exceptions, closures, buffers, week boundaries, two
stations on one day, cells, distance."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from wellness.booking import slots as sl

MONDAY = date(2026, 12, 7)
SUNDAY = date(2026, 12, 13)
NEXT_MONDAY = date(2026, 12, 14)
STATION_A, STATION_B = 1, 2
C = 7  # counsellor id
HOUR = timedelta(hours=1)


def bj(day: date, hh: int, mm: int = 0) -> datetime:
    """Beijing wall time as an aware UTC datetime."""
    return datetime.combine(day, time(hh, mm), tzinfo=sl.LOCAL_TZ).astimezone(UTC)


def hm(spans):
    return [
        (sl.to_local(s.start).strftime("%H:%M"), sl.to_local(s.end).strftime("%H:%M"))
        for s in spans
    ]


def work(weekday, start, end, station=STATION_A):
    return sl.WeeklyRule(station, weekday, time.fromisoformat(start), time.fromisoformat(end))


def pause(weekday, start, end):
    return sl.WeeklyRule(
        None, weekday, time.fromisoformat(start), time.fromisoformat(end), sl.BREAK
    )


def starts(openings):
    return [sl.to_local(o.start).strftime("%H:%M") for o in openings]


def open_times(spans, busy=None, rooms=None, duration=50, buffer=10, step=None, earliest=None):
    duration_td = timedelta(minutes=duration)
    return sl.counselor_openings(
        C,
        spans,
        busy or sl.Busy(),
        rooms,
        duration_td,
        timedelta(minutes=buffer),
        timedelta(minutes=step or duration + buffer),
        earliest or datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    )


# ----------------------------------------------------------------------------- spans


def test_subtract_and_normalise():
    a = sl.Span(bj(MONDAY, 9), bj(MONDAY, 17))
    cut = sl.Span(bj(MONDAY, 12), bj(MONDAY, 13))
    assert hm(sl.subtract([a], [cut])) == [("09:00", "12:00"), ("13:00", "17:00")]
    # A cut over an edge, a cut outside, touching spans merge.
    assert hm(sl.subtract([a], [sl.Span(bj(MONDAY, 8), bj(MONDAY, 10))])) == [("10:00", "17:00")]
    assert hm(sl.subtract([a], [sl.Span(bj(MONDAY, 18), bj(MONDAY, 19))])) == [("09:00", "17:00")]
    touching = [sl.Span(bj(MONDAY, 9), bj(MONDAY, 10)), sl.Span(bj(MONDAY, 10), bj(MONDAY, 11))]
    assert hm(sl.normalise(touching)) == [("09:00", "11:00")]
    assert sl.subtract([a], [a]) == []


def test_span_needs_aware_datetimes():
    with pytest.raises(ValueError):
        sl.Span(datetime(2026, 12, 7, 9), datetime(2026, 12, 7, 10))  # noqa: DTZ001


# ----------------------------------------------------------------------------- templates


def test_breaks_are_cut_from_the_template():
    rules = [work(0, "09:00", "17:30"), pause(0, "12:00", "13:30")]
    spans = sl.working_spans(MONDAY, STATION_A, rules, [])
    assert hm(spans) == [("09:00", "12:00"), ("13:30", "17:30")]
    # 50-minute sessions + 10-minute buffer, one per hour from each window's start; the
    # 11:00 session ends 11:50 and its buffer fits; nothing straddles the break.
    assert starts(open_times(spans)) == [
        "09:00",
        "10:00",
        "11:00",
        "13:30",
        "14:30",
        "15:30",
        "16:30",
    ]


def test_session_must_fit_before_the_break_but_the_buffer_may_not_matter_at_the_end():
    rules = [work(0, "09:00", "11:50")]
    spans = sl.working_spans(MONDAY, STATION_A, rules, [])
    # 10:00-10:50 fits, its buffer ends 11:00; 11:00-11:50 fits exactly in the window.
    assert starts(open_times(spans)) == ["09:00", "10:00", "11:00"]
    rules = [work(0, "09:00", "11:45")]
    spans = sl.working_spans(MONDAY, STATION_A, rules, [])
    assert starts(open_times(spans)) == ["09:00", "10:00"]


def test_template_is_per_weekday_and_station():
    rules = [work(0, "09:00", "12:00"), work(1, "14:00", "17:00")]
    assert hm(sl.working_spans(MONDAY, STATION_A, rules, [])) == [("09:00", "12:00")]
    assert hm(sl.working_spans(MONDAY + timedelta(days=1), STATION_A, rules, [])) == [
        ("14:00", "17:00")
    ]
    assert sl.working_spans(MONDAY, STATION_B, rules, []) == []


def test_a_date_exception_replaces_the_day_including_its_breaks():
    rules = [work(0, "09:00", "17:00"), pause(0, "12:00", "13:00")]
    exceptions = [sl.DayException(STATION_A, time(13, 0), time(20, 0))]
    assert hm(sl.working_spans(MONDAY, STATION_A, rules, exceptions)) == [("13:00", "20:00")]
    # An exception without times is a day off.
    assert sl.working_spans(MONDAY, STATION_A, rules, [sl.DayException(None, None, None)]) == []
    # An exception at the other station: nothing left here that day.
    other = [sl.DayException(STATION_B, time(9, 0), time(12, 0))]
    assert sl.working_spans(MONDAY, STATION_A, rules, other) == []
    assert hm(sl.working_spans(MONDAY, STATION_B, rules, other)) == [("09:00", "12:00")]


def test_time_off_and_station_closures():
    rules = [work(0, "09:00", "17:00")]
    time_off = [sl.Span(bj(MONDAY, 10), bj(MONDAY, 11, 30))]
    closures = [sl.Span(bj(MONDAY, 15), bj(MONDAY + timedelta(days=1), 0))]
    spans = sl.working_spans(MONDAY, STATION_A, rules, [], time_off, closures)
    assert hm(spans) == [("09:00", "10:00"), ("11:30", "15:00")]
    assert starts(open_times(spans)) == ["09:00", "11:30", "12:30", "13:30"]
    # A whole-day holiday closure leaves nothing.
    holiday = [sl.local_day_span(MONDAY)]
    assert sl.working_spans(MONDAY, STATION_A, rules, [], [], holiday) == []


def test_time_off_across_a_week_boundary():
    """Friday evening to Tuesday morning off: Sunday and Monday are empty, Tuesday starts
    late; templates of the next week are read by the next week's weekday."""
    rules = [work(d, "09:00", "17:00") for d in range(7)]
    off = [sl.Span(bj(MONDAY + timedelta(days=4), 18), bj(NEXT_MONDAY + timedelta(days=1), 10))]
    assert sl.working_spans(SUNDAY, STATION_A, rules, [], off) == []
    assert sl.working_spans(NEXT_MONDAY, STATION_A, rules, [], off) == []
    tuesday = sl.working_spans(NEXT_MONDAY + timedelta(days=1), STATION_A, rules, [], off)
    assert hm(tuesday) == [("10:00", "17:00")]
    assert sl.week_days(SUNDAY)[0] == MONDAY and sl.week_days(NEXT_MONDAY)[0] == NEXT_MONDAY
    assert sl.week_days(SUNDAY)[-1] == SUNDAY


def test_local_day_boundaries_are_beijing_midnight():
    span = sl.local_day_span(MONDAY)
    assert span.start == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert span.end - span.start == timedelta(days=1)


def test_the_day_a_counsellor_works_at_two_stations():
    """Morning at A, afternoon at B: each station shows only its own window, one break
    holds at both, and a booking at A (with its buffer) blocks the first slot at B."""
    rules = [
        work(0, "09:00", "12:00", STATION_A),
        work(0, "12:00", "17:00", STATION_B),
        pause(0, "12:00", "12:30"),
    ]
    at_a = sl.working_spans(MONDAY, STATION_A, rules, [])
    at_b = sl.working_spans(MONDAY, STATION_B, rules, [])
    assert hm(at_a) == [("09:00", "12:00")]
    assert hm(at_b) == [("12:30", "17:00")]
    busy = sl.Busy()
    # Booked at A 11:00-11:50 with a 40-minute buffer (travel): taken until 12:30.
    for cell in sl.cells(bj(MONDAY, 11), bj(MONDAY, 12, 30)):
        busy.add(("c", C, 1), cell)
    assert starts(open_times(at_b, busy)) == ["12:30", "13:30", "14:30", "15:30"]
    busy.add(("c", C, 1), sl.cell_index(bj(MONDAY, 12, 30)))
    assert starts(open_times(at_b, busy)) == ["13:30", "14:30", "15:30"]
    assert "11:00" not in starts(open_times(at_a, busy))


# ----------------------------------------------------------------------------- buffers, cells


def test_buffer_after_blocks_the_next_start():
    spans = [sl.Span(bj(MONDAY, 9), bj(MONDAY, 13))]
    busy = sl.Busy()
    # Someone booked 10:00-10:50 with a 10-minute buffer: cells 10:00..10:55 are taken.
    for cell in sl.cells(bj(MONDAY, 10), bj(MONDAY, 11)):
        busy.add(("c", C, 1), cell)
    found = starts(open_times(spans, busy, step=5))
    # 09:00-09:50 and its own buffer end at 10:00: fits. 09:05 would need 10:00 for its
    # buffer. 10:50 and 10:55 fall in the other booking's buffer; 11:00 is the first free.
    assert "09:00" in found and "09:05" not in found
    assert "10:50" not in found and "10:55" not in found and "11:00" in found
    # Without buffers, 09:10 would fit right before the booking.
    assert "09:10" in starts(open_times(spans, busy, buffer=0, step=5))


def test_cells_cover_half_open_ranges_and_need_alignment():
    cells = sl.cells(bj(MONDAY, 9), bj(MONDAY, 9, 20))
    assert len(cells) == 4 and sl.cell_start(cells[0]) == bj(MONDAY, 9)
    assert sl.cell_start(cells[-1]) == bj(MONDAY, 9, 15)
    assert cells[0] * sl.CELL_SECONDS == bj(MONDAY, 9).timestamp()  # numbered from the epoch
    assert len(sl.cells(bj(MONDAY, 9), bj(MONDAY, 9))) == 0
    with pytest.raises(ValueError):
        sl.cells(bj(MONDAY, 9, 3), bj(MONDAY, 10))
    # Two bookings that merely touch share no cell; overlapping ones do.
    first = set(sl.cells(bj(MONDAY, 9), bj(MONDAY, 10)))
    assert first.isdisjoint(sl.cells(bj(MONDAY, 10), bj(MONDAY, 11)))
    assert not first.isdisjoint(sl.cells(bj(MONDAY, 9, 55), bj(MONDAY, 11)))


def test_rooms_exclusive_and_by_the_seat():
    busy = sl.Busy()
    start, end = bj(MONDAY, 9), bj(MONDAY, 10)
    rooms = [sl.RoomSeats(1, 1, True), sl.RoomSeats(2, 1, True)]
    assert sl.free_room_seats(rooms, busy, start, end) == ((1, 1), (2, 1))
    busy.add(("r", 1, 1), sl.cell_index(bj(MONDAY, 9, 30)))
    assert sl.free_room_seats(rooms, busy, start, end) == ((2, 1),)
    busy.add(("r", 2, 1), sl.cell_index(bj(MONDAY, 9, 55)))
    assert sl.free_room_seats(rooms, busy, start, end) == ()
    assert starts(
        open_times([sl.Span(bj(MONDAY, 9), bj(MONDAY, 11))], busy, rooms, duration=50, buffer=10)
    ) == ["10:00"]
    relax = [sl.RoomSeats(3, 4, False)]
    busy.add(("r", 3, 2), sl.cell_index(start))
    assert sl.free_room_seats(relax, busy, start, end) == ((3, 1), (3, 3), (3, 4))


def test_room_only_service_in_opening_hours_blocks():
    hours = [(0, time(9), time(12))]
    spans = sl.opening_spans(MONDAY, hours)
    rooms = [sl.RoomSeats(3, 2, False)]
    busy = sl.Busy()
    for cell in sl.cells(bj(MONDAY, 10), bj(MONDAY, 11)):
        busy.add(("r", 3, 1), cell)
        busy.add(("r", 3, 2), cell)
    openings = sl.room_openings(
        spans,
        busy,
        rooms,
        timedelta(minutes=50),
        timedelta(minutes=10),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    )
    assert starts(openings) == ["09:00", "11:00"]
    assert [o.remaining for o in openings] == [2, 2]
    assert sl.opening_spans(MONDAY + timedelta(days=1), hours) == []


def test_notice_and_horizon_bound_the_starts():
    spans = [sl.Span(bj(MONDAY, 9), bj(MONDAY, 12))]
    found = starts(open_times(spans, earliest=bj(MONDAY, 10)))
    assert found == ["10:00", "11:00"]
    found = sl.counselor_openings(
        C,
        spans,
        sl.Busy(),
        None,
        timedelta(minutes=50),
        timedelta(minutes=10),
        timedelta(hours=1),
        bj(MONDAY, 0),
        bj(MONDAY, 10),
    )
    assert starts(found) == ["09:00", "10:00"]


def test_fits():
    spans = sl.normalise(
        [sl.Span(bj(MONDAY, 9), bj(MONDAY, 12)), sl.Span(bj(MONDAY, 13), bj(MONDAY, 17))]
    )
    assert sl.fits(spans, bj(MONDAY, 9), bj(MONDAY, 9, 50))
    assert sl.fits(spans, bj(MONDAY, 13), bj(MONDAY, 17))
    assert not sl.fits(spans, bj(MONDAY, 11, 30), bj(MONDAY, 12, 20))
    assert not sl.fits(spans, bj(MONDAY, 8), bj(MONDAY, 9, 30))
    assert not sl.fits([], bj(MONDAY, 9), bj(MONDAY, 10))


def test_candidate_starts_needs_positive_steps():
    with pytest.raises(ValueError):
        list(sl.candidate_starts([], timedelta(0), HOUR))


def test_haversine():
    # Beijing Tiananmen to Shanghai People's Square: about 1,067 km.
    assert sl.haversine_km(39.9087, 116.3975, 31.2304, 121.4737) == pytest.approx(1067, abs=5)
    assert sl.haversine_km(30.0, 120.0, 30.0, 120.0) == 0
    # One degree of latitude is about 111.2 km.
    assert sl.haversine_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(111.2, abs=0.2)


def test_windows_that_start_off_the_grid_round_up_to_a_cell():
    """Time off that ends at 10:03 leaves 10:05 as the first possible start."""
    spans = sl.working_spans(
        MONDAY,
        STATION_A,
        [work(0, "09:00", "12:00")],
        [],
        [sl.Span(bj(MONDAY, 9), bj(MONDAY, 10, 3))],
    )
    assert starts(open_times(spans))[0] == "10:05"
    assert sl.ceil_to_cell(bj(MONDAY, 10)) == bj(MONDAY, 10)
    with pytest.raises(ValueError):
        open_times(spans, duration=52)
