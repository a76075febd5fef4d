"""A member's conversations with counsellors: export them, erase them on request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from wellness.extensions import db
from wellness.messaging.models import Conversation, ConversationMessage
from wellness.messaging.services import delete_conversations


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def export_for(user_id: int) -> dict:
    conversations = db.session.scalars(
        select(Conversation)
        .where(Conversation.member_id == user_id)
        .order_by(Conversation.created_at, Conversation.id)
    ).all()
    out = []
    for conv in conversations:
        messages = db.session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conv.id)
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
        ).all()
        out.append(
            {
                "topic": conv.topic,
                "status": conv.status,
                "urgent": conv.urgent,
                "created_at": _iso(conv.created_at),
                "closed_at": _iso(conv.closed_at),
                "messages": [
                    {
                        "from": "me" if m.author_id == user_id else "counsellor",
                        "at": _iso(m.created_at),
                        "urgent": m.urgent,
                        "body": m.body,
                    }
                    for m in messages
                ],
            }
        )
    return {"conversations": out}


def erase_for(user_id: int, now: datetime) -> None:
    ids = list(db.session.scalars(select(Conversation.id).where(Conversation.member_id == user_id)))
    if ids:
        delete_conversations(ids)
    return None
