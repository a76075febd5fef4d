"""Pure coverage arithmetic: per-hour seats, gaps across midnight and week boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from wellness.hotline import roster
from wellness.hotline.roster import BEIJING, ON_CALL, Span

H = timedelta(hours=1)


def bj(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def span(start, hours, seats=2, staff=(), mode="seated") -> Span:
    return Span(start, start + timedelta(hours=hours), seats, mode, frozenset(staff))


# 2026-11-30 is a Monday; 2026-11-29 a Sunday.
SUNDAY = bj(2026, 11, 29)
MONDAY = bj(2026, 11, 30)


def test_fully_staffed_day_has_no_gap():
    day = MONDAY
    spans = [
        span(day, 8, staff={1, 2}),
        span(day + 8 * H, 8, staff={3, 4}),
        span(day + 16 * H, 8, staff={5, 6}),
    ]
    hours = roster.hourly_coverage(spans, day, day + 24 * H)
    assert len(hours) == 24
    assert all(h.required == 2 and h.staffed == 2 and not h.is_gap for h in hours)
    assert roster.find_gaps(hours) == []


def test_hour_with_no_shift_needs_the_standing_minimum():
    hours = roster.hourly_coverage([], MONDAY, MONDAY + 3 * H, min_seats=2)
    assert [(h.required, h.staffed, h.missing) for h in hours] == [(2, 0, 2)] * 3
    gaps = roster.find_gaps(hours)
    assert len(gaps) == 1 and gaps[0].hours == 3 and gaps[0].worst_missing == 2


def test_night_shift_across_midnight_covers_both_days():
    night = span(bj(2026, 12, 1, 22), 10, staff={1, 2})  # Tue 22:00 -> Wed 08:00
    hours = roster.hourly_coverage([night], bj(2026, 12, 1, 20), bj(2026, 12, 2, 10))
    staffed = {h.start: h.staffed for h in hours}
    assert staffed[bj(2026, 12, 1, 21)] == 0
    assert staffed[bj(2026, 12, 1, 23)] == 2
    assert staffed[bj(2026, 12, 2, 0)] == 2
    assert staffed[bj(2026, 12, 2, 7)] == 2
    assert staffed[bj(2026, 12, 2, 8)] == 0
    gaps = roster.find_gaps(hours)
    assert [(g.start, g.end) for g in gaps] == [
        (bj(2026, 12, 1, 20), bj(2026, 12, 1, 22)),
        (bj(2026, 12, 2, 8), bj(2026, 12, 2, 10)),
    ]


def test_gap_around_midnight_is_one_gap():
    spans = [
        span(bj(2026, 12, 1, 16), 7, staff={1, 2}),  # until 23:00
        span(bj(2026, 12, 2, 2), 6, staff={3, 4}),  # from 02:00
    ]
    gaps = roster.find_gaps(roster.hourly_coverage(spans, bj(2026, 12, 1, 16), bj(2026, 12, 2, 8)))
    assert [(g.start, g.end, g.hours) for g in gaps] == [
        (bj(2026, 12, 1, 23), bj(2026, 12, 2, 2), 3)
    ]


def test_gap_across_the_week_boundary_is_one_gap_in_two_weeks():
    # Sunday evening has one person; Monday's first shift too: short from Sun 20:00 to Mon 06:00.
    spans = [
        span(SUNDAY + 12 * H, 8, staff={1, 2}),  # Sun 12:00-20:00
        span(SUNDAY + 20 * H, 10, staff={3}),  # Sun 20:00-Mon 06:00, one of two seats
        span(MONDAY + 6 * H, 8, staff={4, 5}),  # Mon 06:00-14:00
    ]
    hours = roster.hourly_coverage(spans, SUNDAY + 12 * H, MONDAY + 14 * H)
    gaps = roster.find_gaps(hours)
    assert [(g.start, g.end, g.worst_missing) for g in gaps] == [
        (SUNDAY + 20 * H, MONDAY + 6 * H, 1)
    ]
    weeks = roster.week_grid(hours)
    assert [w.monday for w in weeks] == [date(2026, 11, 23), date(2026, 11, 30)]
    sunday_23 = weeks[0].rows[23][6]
    monday_00 = weeks[1].rows[0][0]
    assert sunday_23.is_gap and monday_00.is_gap
    assert weeks[0].rows[23][5] is None  # Saturday is outside the window


def test_partial_hour_counts_the_dip():
    # One shift ends 08:30, the next starts 08:30; a third person only from 08:45.
    spans = [
        Span(bj(2026, 12, 1, 0), bj(2026, 12, 1, 8, 30), 2, staff=frozenset({1, 2})),
        Span(bj(2026, 12, 1, 8, 30), bj(2026, 12, 1, 16), 2, staff=frozenset({3})),
        Span(bj(2026, 12, 1, 8, 45), bj(2026, 12, 1, 16), 1, staff=frozenset({4})),
    ]
    hours = roster.hourly_coverage(spans, bj(2026, 12, 1, 8), bj(2026, 12, 1, 10))
    eight, nine = hours
    assert eight.staffed == 1  # 08:30-08:45 only person 3
    assert eight.required == 3  # from 08:45 the shifts ask for 2 + 1
    assert nine.staffed == 2 and nine.required == 3 and nine.missing == 1


def test_shifts_can_ask_for_more_than_the_minimum():
    hours = roster.hourly_coverage(
        [span(MONDAY + 19 * H, 3, seats=3, staff={1, 2, 3})], MONDAY + 19 * H, MONDAY + 22 * H
    )
    assert all(h.required == 3 and not h.is_gap for h in hours)
    short = roster.hourly_coverage(
        [span(MONDAY + 19 * H, 3, seats=3, staff={1, 2})], MONDAY + 19 * H, MONDAY + 22 * H
    )
    assert all(h.missing == 1 for h in short)


def test_on_call_staff_never_fill_a_seat_but_have_their_own_requirement():
    spans = [
        span(MONDAY, 8, seats=2, staff={1}),
        span(MONDAY, 8, seats=1, staff={2}, mode=ON_CALL),
    ]
    hour = roster.hourly_coverage(spans, MONDAY, MONDAY + H)[0]
    assert (hour.staffed, hour.required) == (1, 2)
    assert (hour.on_call_staffed, hour.on_call_required) == (1, 1)
    assert hour.missing == 1
    no_backup = roster.hourly_coverage(
        [span(MONDAY, 8, staff={1, 2}), span(MONDAY, 8, seats=1, mode=ON_CALL)],
        MONDAY,
        MONDAY + H,
    )[0]
    assert no_backup.is_gap and no_backup.missing == 1


def test_one_person_on_two_overlapping_shifts_counts_once():
    spans = [span(MONDAY, 8, seats=1, staff={1}), span(MONDAY, 8, seats=1, staff={1})]
    hour = roster.hourly_coverage(spans, MONDAY, MONDAY + H)[0]
    assert hour.staffed == 1 and hour.required == 2


@pytest.mark.parametrize(
    ("service", "hour", "inside"),
    [((0, 24), 3, True), ((8, 22), 7, False), ((8, 22), 8, True), ((8, 2), 1, True),
     ((8, 2), 2, False), ((8, 2), 23, True)],
)  # fmt: skip
def test_service_hours(service, hour, inside):
    assert roster.in_service_hours(hour, service) is inside


def test_outside_service_hours_nothing_is_required():
    hours = roster.hourly_coverage([], MONDAY, MONDAY + 24 * H, service_hours=(8, 2))
    required = {h.start.hour: h.required for h in hours}
    assert required[3] == 0 and required[8] == 2 and required[1] == 2
    assert roster.find_gaps(hours)[0].start == MONDAY  # 00:00-02:00 is inside (8 -> 2)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        roster.hourly_coverage([], datetime(2026, 12, 1), datetime(2026, 12, 2))  # noqa: DTZ001


def test_utc_spans_are_shown_in_beijing_hours():
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    hours = roster.hourly_coverage([span(start, 2, staff={1, 2})], start, start + 2 * H)
    assert [h.start.hour for h in hours] == [8, 9]
    assert hours[0].start.utcoffset() == timedelta(hours=8)


def test_compliance_figure():
    hours = roster.hourly_coverage([span(MONDAY, 6, staff={1, 2})], MONDAY, MONDAY + 8 * H)
    assert roster.compliance(hours) == {
        "hours": 8,
        "below": 2,
        "seat_hours_missing": 4,
        "percent_covered": 75.0,
    }
    assert roster.compliance([])["percent_covered"] == 100.0


def test_weekday_mask_round_trip():
    assert roster.weekday_mask([0, 6]) == 0b1000001
    assert roster.mask_days(0b1000001) == [0, 6]
    with pytest.raises(ValueError):
        roster.weekday_mask([7])


def test_occurrences_cross_midnight_and_the_week_boundary():
    # Sunday 22:00 for 10 hours, weekly on Sundays only.
    found = roster.occurrences(
        time(22, 0), timedelta(hours=10), roster.weekday_mask([6]), MONDAY, MONDAY + 24 * H
    )
    assert found == [(bj(2026, 11, 29, 22).astimezone(UTC), bj(2026, 11, 30, 8).astimezone(UTC))]
    # The same template seen from the previous week's window starts on the Sunday.
    before = roster.occurrences(
        time(22, 0), timedelta(hours=10), roster.weekday_mask([6]), SUNDAY, SUNDAY + 24 * H
    )
    assert before == found


def test_occurrences_respect_days_and_validity():
    week = roster.occurrences(
        time(8, 0),
        timedelta(hours=8),
        roster.weekday_mask([0, 2, 4]),
        MONDAY,
        MONDAY + timedelta(days=7),
        valid_until=date(2026, 12, 3),
    )
    assert [b.astimezone(BEIJING).date() for b, _e in week] == [
        date(2026, 11, 30),
        date(2026, 12, 2),
    ]
    assert roster.occurrences(time(8), timedelta(0), 127, MONDAY, MONDAY + H) == []


def test_occurrences_feed_coverage_for_a_full_week_without_gaps():
    spans = []
    for start in (time(0), time(8), time(16)):
        for begins, ends in roster.occurrences(
            start, timedelta(hours=8), roster.ALL_DAYS, MONDAY, MONDAY + timedelta(days=7)
        ):
            spans.append(Span(begins, ends, 2, staff=frozenset({1, 2})))
    hours = roster.hourly_coverage(spans, MONDAY, MONDAY + timedelta(days=7))
    assert len(hours) == 168 and roster.find_gaps(hours) == []
