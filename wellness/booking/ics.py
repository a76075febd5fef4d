"""iCalendar (RFC 5545) files for appointments and counsellors' feeds, with icalendar.

Pure: no Flask, no database. The UID of an appointment never changes, so a later file
with a higher SEQUENCE (a cancellation, STATUS:CANCELLED with METHOD:CANCEL) updates the
event the calendar already holds instead of adding a second one. Times are written in
Asia/Shanghai with a generated VTIMEZONE; DTSTAMP in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from wellness.booking.slots import LOCAL_TZ

PRODID = "-//Wellness//Workers' Wellness booking//ZH"


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    summary: str
    start: datetime
    end: datetime
    location: str = ""
    description: str = ""
    sequence: int = 0
    cancelled: bool = False
    geo: tuple[float, float] | None = None
    url: str | None = None
    alarm_minutes: int | None = 60


def appointment_uid(appointment_id: int, host: str) -> str:
    return f"appointment-{appointment_id}@{host}"


def group_session_uid(session_id: int, host: str) -> str:
    return f"group-session-{session_id}@{host}"


def _event(item: IcsEvent, now: datetime) -> Event:
    event = Event.new(
        uid=item.uid,
        summary=item.summary,
        start=item.start.astimezone(LOCAL_TZ),
        end=item.end.astimezone(LOCAL_TZ),
        location=item.location or None,
        description=item.description or None,
        sequence=item.sequence,
        status="CANCELLED" if item.cancelled else "CONFIRMED",
        stamp=now,
        url=item.url,
    )
    if item.geo is not None:
        event.add("geo", item.geo)
    if item.alarm_minutes and not item.cancelled:
        alarm = Alarm.new(description=item.summary)
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(minutes=-item.alarm_minutes))
        event.add_component(alarm)
    return event


def calendar(
    events: Iterable[IcsEvent], now: datetime, *, method: str = "PUBLISH", name: str | None = None
) -> bytes:
    """A VCALENDAR with the events, ready to serve as text/calendar; charset=utf-8."""
    cal = Calendar.new(prodid=PRODID, method=method, name=name)
    for item in events:
        cal.add_component(_event(item, now))
    cal.add_missing_timezones()
    return cal.to_ical()


def single(item: IcsEvent, now: datetime) -> bytes:
    """One appointment: PUBLISH while it stands, CANCEL once it is cancelled."""
    return calendar([item], now, method="CANCEL" if item.cancelled else "PUBLISH")
