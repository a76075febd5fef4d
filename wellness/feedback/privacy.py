"""A member's ratings in their data export; erased with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from wellness.extensions import db
from wellness.feedback.models import Feedback


def export_for(user_id: int) -> dict:
    ratings = db.session.scalars(
        select(Feedback).where(Feedback.member_id == user_id).order_by(Feedback.created_at)
    ).all()
    return {
        "session_ratings": [
            {
                "kind": r.subject_kind,
                "subject_id": r.subject_id,
                "score": r.score,
                "comment": r.comment,
                "created_at": r.created_at.isoformat(timespec="seconds"),
            }
            for r in ratings
        ]
    }


def erase_for(user_id: int, now: datetime) -> None:
    db.session.execute(delete(Feedback).where(Feedback.member_id == user_id))
    return None
