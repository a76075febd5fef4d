"""Care's answer to "who is on this person's case team": the counsellor of an open plan."""

from __future__ import annotations

from sqlalchemy import select

from wellness.care.models import CareEpisode, EpisodeStatus
from wellness.extensions import db


def counselors_for(person_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(CareEpisode.counselor_id).where(
                CareEpisode.person_id == person_id,
                CareEpisode.status == EpisodeStatus.OPEN.value,
            )
        )
    )
