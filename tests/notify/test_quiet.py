"""Quiet hours: the window edges, across midnight, in Beijing time whatever the zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wellness.notify.quiet import BEIJING, in_quiet_hours, parse_window, quiet_until

WINDOW = "22:00-08:00"


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (bj(1, 21, 59), False),
        (bj(1, 22, 0), True),
        (bj(1, 23, 59), True),
        (bj(2, 0, 0), True),
        (bj(2, 7, 59), True),
        (bj(2, 8, 0), False),
        (bj(2, 12, 0), False),
    ],
)
def test_window_edges(moment, quiet):
    assert in_quiet_hours(moment, WINDOW) is quiet
    assert in_quiet_hours(moment.astimezone(UTC), WINDOW) is quiet  # same instant in UTC


def test_utc_clock_is_not_beijing_clock():
    # 23:00 UTC is 07:00 next morning in Beijing (quiet); 14:30 UTC is 22:30 Beijing (quiet);
    # 01:00 UTC is 09:00 Beijing (not quiet) although 01:00 looks like night.
    assert in_quiet_hours(datetime(2026, 12, 1, 23, 0, tzinfo=UTC), WINDOW)
    assert in_quiet_hours(datetime(2026, 12, 1, 14, 30, tzinfo=UTC), WINDOW)
    assert not in_quiet_hours(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), WINDOW)
    assert not in_quiet_hours(datetime(2026, 12, 1, 13, 59, tzinfo=UTC), WINDOW)
    other = timezone(timedelta(hours=-5))
    assert in_quiet_hours(datetime(2026, 12, 1, 9, 30, tzinfo=other), WINDOW)  # 22:30 BJ


def test_quiet_until_is_the_next_eight_o_clock_in_utc():
    before_midnight = quiet_until(bj(1, 23, 0), WINDOW)
    after_midnight = quiet_until(bj(2, 0, 30), WINDOW)
    assert before_midnight == after_midnight == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert before_midnight.tzinfo is UTC
    assert quiet_until(bj(2, 7, 59), WINDOW) == bj(2, 8, 0)
    assert quiet_until(bj(1, 22, 0), WINDOW) == bj(2, 8, 0)
    assert quiet_until(bj(2, 8, 0), WINDOW) is None
    assert quiet_until(bj(1, 21, 59), WINDOW) is None


def test_window_within_one_day_and_switched_off():
    assert in_quiet_hours(bj(1, 13, 0), "12:00-14:00")
    assert not in_quiet_hours(bj(1, 14, 0), "12:00-14:00")
    assert quiet_until(bj(1, 12, 0), "12:00-14:00") == bj(1, 14, 0)
    assert parse_window("") is None and parse_window(None) is None
    assert not in_quiet_hours(bj(1, 23, 0), "")
    assert quiet_until(bj(1, 23, 0), None) is None
    with pytest.raises(ValueError):
        parse_window("late")
