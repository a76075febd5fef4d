"""Quiet hours for SMS: pure helpers, no Flask or database.

The window is given as ``"HH:MM-HH:MM"`` in Beijing time (Asia/Shanghai). A window whose
start is later than its end crosses midnight (``22:00-08:00``). The start is inside the
window, the end is not: at 22:00 a message waits, at 08:00 it goes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def parse_window(spec: str | None) -> tuple[time, time] | None:
    """``"22:00-08:00"`` -> (22:00, 08:00); empty or equal ends -> no quiet hours."""
    if not spec or not spec.strip():
        return None
    try:
        start_text, end_text = (part.strip() for part in spec.split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"QUIET_HOURS must look like 22:00-08:00, not {spec!r}") from exc
    return None if start == end else (start, end)


def _inside(clock: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def in_quiet_hours(now: datetime, spec: str | None, tz: ZoneInfo = BEIJING) -> bool:
    window = parse_window(spec)
    if window is None:
        return False
    local = now.astimezone(tz)
    return _inside(local.time().replace(tzinfo=None), window)


def quiet_until(now: datetime, spec: str | None, tz: ZoneInfo = BEIJING) -> datetime | None:
    """The end of the quiet window containing ``now`` (aware UTC), or None outside it."""
    if not in_quiet_hours(now, spec, tz):
        return None
    _start, end = parse_window(spec)  # type: ignore[misc]
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), end, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return candidate.astimezone(UTC)
