"""Care-plan events on a person's case timeline: titles only, never scores or goals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from wellness.care.models import CareEpisode, CareSession, MeasureAssignment
from wellness.extensions import db
from wellness.timeline import TimelineEvent


def events_for(person_id: int) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    episodes = db.session.scalars(
        select(CareEpisode).where(CareEpisode.person_id == person_id)
    ).all()
    for episode in episodes:
        link = f"/care/{episode.id}"
        events.append(
            TimelineEvent(
                at=episode.opened_at,
                kind="care",
                title=str(_l("Care plan opened (%(n)s sessions)", n=episode.planned_sessions)),
                link=link,
            )
        )
        if episode.closed_at:
            events.append(
                TimelineEvent(
                    at=episode.closed_at, kind="care", title=str(_l("Care plan closed")), link=link
                )
            )
    sessions = db.session.execute(
        select(CareSession.starts_at, CareSession.number, CareSession.episode_id)
        .join(CareEpisode, CareEpisode.id == CareSession.episode_id)
        .where(CareEpisode.person_id == person_id)
    ).all()
    for at, number, episode_id in sessions:
        events.append(
            TimelineEvent(
                at=at,
                kind="care",
                title=str(_l("Care session %(n)s", n=number)),
                link=f"/care/{episode_id}",
            )
        )
    sent = db.session.execute(
        select(MeasureAssignment.sent_at, MeasureAssignment.instrument).where(
            MeasureAssignment.member_id == person_id, MeasureAssignment.sent_at.is_not(None)
        )
    ).all()
    for at, code in sent:
        events.append(
            TimelineEvent(
                at=at, kind="care", title=str(_l("Questionnaire %(code)s sent", code=code.upper()))
            )
        )
    return events
