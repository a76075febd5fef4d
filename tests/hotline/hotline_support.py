"""Shared values and builders for the hotline tests (imported by full module path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wellness.hotline import services
from wellness.hotline.roster import BEIJING

# A Wednesday, 14:00 Beijing time.
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def bj(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def call_input(terms, **changes) -> services.CallInput:
    values = {
        "started_at": NOW - 30 * M,
        "duration_minutes": 20,
        "topic_ids": [terms["topic"]["work_stress"]],
        "action_id": terms["action"]["listened"],
        "summary": "夜班压力大，倾听并梳理了求助渠道。",
    }
    values.update(changes)
    return services.CallInput(**values)


def crisis_input(owner, **changes) -> services.CrisisInput:
    values = {
        "ideation": 2,
        "plan": 1,
        "means": 0,
        "attempts": 0,
        "hopelessness": 3,
        "follow_up_owner_id": owner.id,
    }
    values.update(changes)
    return services.CrisisInput(**values)
