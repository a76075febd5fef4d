"""A member's care plans: export them, erase them on request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from wellness.care.models import CareEpisode, CareSession, MeasureAssignment
from wellness.care.services import delete_for
from wellness.extensions import db


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def export_for(user_id: int) -> dict:
    plans = []
    for episode in db.session.scalars(
        select(CareEpisode).where(CareEpisode.person_id == user_id).order_by(CareEpisode.id)
    ):
        sessions = db.session.scalars(
            select(CareSession)
            .where(CareSession.episode_id == episode.id)
            .order_by(CareSession.number)
        ).all()
        plans.append(
            {
                "goals": episode.goals,
                "planned_sessions": episode.planned_sessions,
                "measures": episode.measure_codes,
                "status": episode.status,
                "opened_at": _iso(episode.opened_at),
                "closed_at": _iso(episode.closed_at),
                "outcome": episode.outcome,
                "sessions": [{"number": s.number, "at": _iso(s.starts_at)} for s in sessions],
            }
        )
    asked = db.session.scalars(
        select(MeasureAssignment)
        .where(MeasureAssignment.member_id == user_id)
        .order_by(MeasureAssignment.due_at)
    ).all()
    return {
        "care_plans": plans,
        "questionnaires_asked": [
            {"instrument": a.instrument, "due_at": _iso(a.due_at), "sent_at": _iso(a.sent_at)}
            for a in asked
        ],
    }


def erase_for(user_id: int, now: datetime) -> None:
    delete_for(user_id)
    return None
