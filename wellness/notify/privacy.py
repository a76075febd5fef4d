"""A member's messages and channel choices: export them, erase them on request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from wellness.extensions import db
from wellness.notify import services
from wellness.notify.models import Channel, NotificationPreference, OutboxMessage


def export_for(user_id: int) -> dict:
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == Channel.INAPP.value)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    pref = db.session.get(NotificationPreference, user_id)
    return {
        "messages": [
            {
                "created_at": m.created_at.isoformat(timespec="seconds"),
                "subject": m.subject,
                "body": services.SCRUBBED if m.sensitive else m.body,
                "link": m.link,
                "read_at": m.read_at.isoformat(timespec="seconds") if m.read_at else None,
            }
            for m in messages
        ],
        "channels": {
            "inapp": True,
            "sms": pref.sms,
            "email": pref.email,
            "updated_at": pref.updated_at.isoformat(timespec="seconds"),
        }
        if pref
        else None,
    }


def erase_for(user_id: int, now: datetime) -> str | None:
    services.erase_messages(user_id)
    return None
