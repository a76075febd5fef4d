"""Queue notifications with the use case; deliver them later with retries.

``queue()`` never commits: the caller's use case commits once, so a message exists exactly
when the change it announces exists. ``deliver_due()`` is the scheduler job: it claims each
due e-mail row with a conditional UPDATE (safe when two schedulers overlap), sends it, and
on failure backs off exponentially; a mail server that is down delays messages, never loses
them, and never fails a web request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_mailman import EmailMessage
from sqlalchemy import func, select, update

from wellness.database import utcnow
from wellness.extensions import db
from wellness.notify.models import Channel, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

SENDING_LEASE = timedelta(minutes=10)


def queue(
    user,
    subject: str,
    body: str,
    *,
    link: str | None = None,
    dedupe_key: str | None = None,
    external: bool = True,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue an in-app message, plus an e-mail when the user has an address."""
    now = now or utcnow()
    messages = [
        OutboxMessage(
            user_id=user.id,
            channel=Channel.INAPP.value,
            subject=subject[:200],
            body=body,
            link=link,
            dedupe_key=dedupe_key,
            status=OutboxStatus.SENT.value,
            created_at=now,
            next_attempt_at=now,
            sent_at=now,
        )
    ]
    if external and getattr(user, "email", None):
        messages.append(
            OutboxMessage(
                user_id=user.id,
                channel=Channel.EMAIL.value,
                to_address=user.email,
                subject=subject[:200],
                body=body,
                link=link,
                dedupe_key=f"{dedupe_key}:email" if dedupe_key else None,
                created_at=now,
                next_attempt_at=now,
            )
        )
    db.session.add_all(messages)
    return messages


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 240))


def deliver_due(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send due e-mails. Returns counts; commits per message so one failure costs one row."""
    now = now or utcnow()
    max_attempts = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    candidates = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == Channel.EMAIL.value,
            OutboxMessage.next_attempt_at <= now,
            (OutboxMessage.status == OutboxStatus.PENDING.value)
            | (OutboxMessage.status == OutboxStatus.SENDING.value),
        )
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    for message_id in candidates:
        # Claim: only one process wins the row; a stale "sending" lease can be re-claimed.
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
            )
            .values(status=OutboxStatus.SENDING.value, next_attempt_at=now + SENDING_LEASE)
        ).rowcount
        db.session.commit()
        if not claimed:
            counts["skipped"] += 1
            continue
        message = db.session.get(OutboxMessage, message_id)
        try:
            EmailMessage(
                subject=message.subject,
                body=message.body + (f"\n\n{message.link}" if message.link else ""),
                from_email=current_app.config["MAIL_DEFAULT_SENDER"],
                to=[message.to_address],
            ).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any transport failure is retried
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if message.attempts >= max_attempts:
                message.status = OutboxStatus.FAILED.value
                counts["failed"] += 1
                log.error("outbox %s gave up after %s attempts", message.id, message.attempts)
            else:
                message.status = OutboxStatus.PENDING.value
                message.next_attempt_at = now + _backoff(message.attempts)
                counts["retry"] += 1
        else:
            message.attempts += 1
            message.status = OutboxStatus.SENT.value
            message.sent_at = now
            counts["sent"] += 1
        db.session.commit()
    return counts


def inbox(user_id: int, limit: int = 50) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == Channel.INAPP.value)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.user_id == user_id,
                OutboxMessage.channel == Channel.INAPP.value,
                OutboxMessage.read_at.is_(None),
            )
        )
        or 0
    )


def mark_all_read(user_id: int, now: datetime | None = None) -> int:
    count = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.channel == Channel.INAPP.value,
            OutboxMessage.read_at.is_(None),
        )
        .values(read_at=now or utcnow())
    ).rowcount
    db.session.commit()
    return count
