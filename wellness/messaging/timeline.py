"""Conversation events on a person's case timeline: titles only, never message bodies."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from wellness.extensions import db
from wellness.messaging.models import Conversation, ConversationMessage
from wellness.timeline import TimelineEvent


def events_for(person_id: int) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    conversations = db.session.scalars(
        select(Conversation).where(Conversation.member_id == person_id)
    ).all()
    for conv in conversations:
        link = f"/messages/inbox/{conv.id}"
        events.append(
            TimelineEvent(
                at=conv.created_at,
                kind="conversation",
                title=str(_l("Conversation #%(id)s opened", id=conv.id)),
                link=link,
            )
        )
        if conv.closed_at:
            events.append(
                TimelineEvent(
                    at=conv.closed_at,
                    kind="conversation",
                    title=str(_l("Conversation #%(id)s closed", id=conv.id)),
                    link=link,
                )
            )
    urgent = db.session.execute(
        select(ConversationMessage.created_at, ConversationMessage.conversation_id)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(
            Conversation.member_id == person_id,
            ConversationMessage.urgent.is_(True),
            ConversationMessage.author_id == person_id,
        )
    ).all()
    for at, conv_id in urgent:
        events.append(
            TimelineEvent(
                at=at,
                kind="conversation",
                title=str(_l("Urgent message in conversation #%(id)s", id=conv_id)),
                link=f"/messages/inbox/{conv_id}",
                severity="critical",
            )
        )
    return events
