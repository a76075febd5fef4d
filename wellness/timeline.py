"""Case timeline events. Core and generic: packages contribute events about a person with a
``timeline.py`` module exposing ``events_for(person_id) -> list[TimelineEvent]``; the risk
package assembles them without importing the packages that provide them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # "assessment", "flag", "contact", "appointment", "hotline_call", ...
    title: str
    detail: str = ""
    link: str | None = None
    severity: str | None = None  # "critical" | "high" | "elevated" | None


def events_for(person_id: int) -> list[TimelineEvent]:
    from wellness.packages import feature_modules

    events: list[TimelineEvent] = []
    for module in feature_modules("wellness.{pkg}.timeline"):
        events.extend(module.events_for(person_id))
    return sorted(events, key=lambda e: e.at, reverse=True)
