"""Self-assessment results on a person's case timeline."""

from __future__ import annotations

from flask_babel import gettext as _

from wellness.assessments import services
from wellness.assessments.instruments import get_instrument
from wellness.timeline import TimelineEvent


def events_for(person_id: int) -> list[TimelineEvent]:
    events = []
    for response in services.responses_for(person_id, limit=100):
        inst = get_instrument(response.instrument)
        band = inst.band(response.band)
        items = ", ".join(str(n) for n in response.critical_items)
        detail = _("score %(total)s of %(max)s", total=response.total, max=inst.total_range[1])
        if items:
            detail += " · " + _("critical item(s): %(items)s", items=items)
        events.append(
            TimelineEvent(
                at=response.created_at,
                kind="assessment",
                title=f"{inst.short_name}: {band.label.get('zh')} / {band.label.get('en')}",
                detail=detail,
                severity=response.level,
            )
        )
    return events
