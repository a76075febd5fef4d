"""A member's self-assessment results: export and erasure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from wellness.assessments.models import AssessmentResponse
from wellness.assessments.services import responses_for
from wellness.extensions import db


def export_for(user_id: int) -> list[dict]:
    return [
        {
            "instrument": r.instrument,
            "version": r.instrument_version,
            "language": r.language,
            "answers": r.answers,
            "total": r.total,
            "percent": r.percent,
            "band": r.band,
            "created_at": r.created_at.isoformat(timespec="seconds"),
        }
        for r in reversed(responses_for(user_id))
    ]


def erase_for(user_id: int, now: datetime) -> None:
    db.session.execute(delete(AssessmentResponse).where(AssessmentResponse.user_id == user_id))
    return None
