"""Counsellors on a person's case through messaging: those holding a claimed, open
conversation of theirs."""

from __future__ import annotations

from sqlalchemy import select

from wellness.extensions import db
from wellness.messaging.models import Conversation, ConversationStatus


def counselors_for(person_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(Conversation.claimed_by_id).where(
                Conversation.member_id == person_id,
                Conversation.status == ConversationStatus.CLAIMED.value,
                Conversation.claimed_by_id.is_not(None),
            )
        )
    )
