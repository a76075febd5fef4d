"""Queue notifications with the use case; deliver them later with retries.

``queue()`` never commits: the caller's use case commits once, so a message exists exactly
when the change it announces exists. It writes one in-app row (the inbox) and one row per
external channel the member chose (SMS, e-mail), or exactly ``channels`` when given.

``deliver_due()`` is the scheduler job for every external channel: it claims each due row
with a conditional UPDATE (safe when two schedulers overlap), sends it with no transaction
open, and on failure backs off exponentially; a provider that is down or hangs delays
messages, never loses them, and never fails a web request (requests never send: at most
``kick()`` nudges a background thread after the commit). Non-urgent SMS wait out the quiet
hours (``QUIET_HOURS``, Beijing time). A sensitive body (a one-time code) is replaced by
``******`` once the message is sent or given up.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMessage
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.notify import sms
from wellness.notify.addresses import normalise_email
from wellness.notify.models import (
    EXTERNAL_CHANNELS,
    Channel,
    NotificationPreference,
    OutboxMessage,
    OutboxStatus,
)
from wellness.notify.quiet import quiet_until

log = logging.getLogger(__name__)

SENDING_LEASE = timedelta(minutes=10)
SCRUBBED = "******"
_MAINLAND_MOBILE = re.compile(r"^\+861\d{10}$")
_KICK_FLAG = "notify.kick"
# SMS for a member without a saved choice (see channels_for).
NO_CHOICE_SMS = False


# --------------------------------------------------------------------------- choices


def channels_for(user) -> dict:
    """The member's external channels: ``{"sms", "email", "email_address"}``.

    In-app messages are always on. A member who never chose (no preference row: accounts
    made before channels existed, by an admin or by a test fixture) gets what the outbox did
    before: e-mail when there is an address, no SMS until they opt in. Registration and the
    settings page save a row, whose SMS default is on.
    """
    pref = db.session.get(NotificationPreference, user.id) if user.id is not None else None
    address = getattr(user, "email", None)
    if pref is None:
        return {"sms": NO_CHOICE_SMS, "email": bool(address), "email_address": address}
    return {"sms": pref.sms, "email": pref.email, "email_address": address}


def save_channels(
    user,
    *,
    sms: bool,
    email_address: str | None,
    email: bool,
    now: datetime | None = None,
    commit: bool = True,
) -> dict:
    """Save the member's address and channel choices. ``commit=False`` joins the caller's
    transaction (registration). Bad input raises InvalidInput naming ``email``."""
    now = now or utcnow()
    address = normalise_email(email_address)
    if email and not address:
        raise InvalidInput(
            _("Enter an e-mail address to receive messages by e-mail."), {"email": "required"}
        )
    user.email = address
    if user.id is None:
        db.session.add(user)
        db.session.flush()
    pref = db.session.get(NotificationPreference, user.id)
    if pref is None:
        pref = NotificationPreference(user_id=user.id)
        db.session.add(pref)
    pref.sms = bool(sms)
    pref.email = bool(email)
    pref.updated_at = now
    if commit:
        db.session.commit()
    return {"sms": pref.sms, "email": pref.email, "email_address": address}


def sms_number(phone: str | None) -> str | None:
    """The member's phone when it can take an SMS (a mainland mobile, not ``deleted:...``)."""
    return phone if phone and _MAINLAND_MOBILE.match(phone) else None


def default_sms_text(user) -> str:
    with force_locale(getattr(user, "locale", None) or "zh"):
        return _("[Workers' wellbeing] You have a new message. Please sign in to read it.")


# --------------------------------------------------------------------------- queue


def queue(
    user,
    subject: str,
    body: str,
    *,
    link: str | None = None,
    dedupe_key: str | None = None,
    external: bool = True,
    urgent: bool = False,
    sms_text: str | None = None,
    channels: Iterable[str] | None = None,
    inapp: bool = True,
    sensitive: bool = False,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue an in-app message (``inapp``) and, when ``external``, one row per channel the
    member chose, or exactly ``channels`` (e.g. ``("sms",)`` for a reset code).

    The SMS carries ``sms_text`` or a generic "you have a new message" line, never the body.
    A non-urgent SMS queued in quiet hours is due when they end.
    """
    now = now or utcnow()
    messages: list[OutboxMessage] = []
    if inapp:
        messages.append(
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
                urgent=urgent,
                sensitive=False,
            )
        )
    if external:
        if channels is None:
            chosen = channels_for(user)
            wanted = {name for name in EXTERNAL_CHANNELS if chosen[name]}
        else:
            wanted = set(channels)
            unknown = wanted - set(EXTERNAL_CHANNELS)
            if unknown:
                raise ValueError(f"unknown notify channels: {sorted(unknown)}")
        phone = sms_number(getattr(user, "phone", None))
        if Channel.SMS.value in wanted and phone:
            due = now
            if not urgent:
                due = quiet_until(now, current_app.config.get("QUIET_HOURS")) or now
            messages.append(
                OutboxMessage(
                    user_id=user.id,
                    channel=Channel.SMS.value,
                    to_address=phone,
                    subject=subject[:200],
                    body=sms_text or default_sms_text(user),
                    link=None,
                    dedupe_key=f"{dedupe_key}:sms" if dedupe_key else None,
                    created_at=now,
                    next_attempt_at=due,
                    urgent=urgent,
                    sensitive=sensitive,
                )
            )
        address = getattr(user, "email", None)
        if Channel.EMAIL.value in wanted and address:
            messages.append(
                OutboxMessage(
                    user_id=user.id,
                    channel=Channel.EMAIL.value,
                    to_address=address,
                    subject=subject[:200],
                    body=body,
                    link=link,
                    dedupe_key=f"{dedupe_key}:email" if dedupe_key else None,
                    created_at=now,
                    next_attempt_at=now,
                    urgent=urgent,
                    sensitive=sensitive,
                )
            )
    db.session.add_all(messages)
    if any(m.channel != Channel.INAPP.value for m in messages):
        db.session.info[_KICK_FLAG] = True
    return messages


# --------------------------------------------------------------------------- delivery


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 240))


def _send(message: dict, backend_cache: dict) -> str | None:
    """Hand one message to its provider. Returns the provider's message id, if any."""
    if message["channel"] == Channel.SMS.value:
        if "sms" not in backend_cache:
            backend_cache["sms"] = sms.backend_for(current_app.config)
        code = sms.one_time_code(message["body"]) if message["sensitive"] else None
        return backend_cache["sms"].send(
            message["to_address"],
            message["body"],
            reference=f"outbox-{message['id']}",
            code=code,
        )
    EmailMessage(
        subject=message["subject"],
        body=message["body"] + (f"\n\n{message['link']}" if message["link"] else ""),
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[message["to_address"]],
    ).send(fail_silently=False)
    return None


def deliver_due(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send due external messages (e-mail, SMS). Returns counts; commits per message so one
    failure costs one row. Non-urgent SMS inside quiet hours are deferred, never sent."""
    now = now or utcnow()
    max_attempts = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    quiet_end = quiet_until(now, current_app.config.get("QUIET_HOURS"))
    live = [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
    candidates = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.urgent)
        .where(
            OutboxMessage.channel.in_(EXTERNAL_CHANNELS),
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.status.in_(live),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "deferred": 0}
    backends: dict = {}
    for message_id, channel, urgent in candidates:
        due_row = (
            OutboxMessage.id == message_id,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.status.in_(live),
        )
        if channel == Channel.SMS.value and not urgent and quiet_end is not None:
            moved = db.session.execute(
                update(OutboxMessage)
                .where(*due_row)
                .values(status=OutboxStatus.PENDING.value, next_attempt_at=quiet_end)
            ).rowcount
            db.session.commit()
            counts["deferred" if moved else "skipped"] += 1
            continue
        # Claim: only one process wins the row; a stale "sending" lease can be re-claimed.
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(*due_row)
            .values(status=OutboxStatus.SENDING.value, next_attempt_at=now + SENDING_LEASE)
        ).rowcount
        db.session.commit()
        if not claimed:
            counts["skipped"] += 1
            continue
        row = db.session.get(OutboxMessage, message_id)
        message = {
            "id": row.id,
            "channel": row.channel,
            "to_address": row.to_address,
            "subject": row.subject,
            "body": row.body,
            "link": row.link,
            "sensitive": row.sensitive,
            "attempts": row.attempts,
        }
        db.session.commit()  # no transaction (and no SQLite write lock) while we wait
        attempts = message["attempts"] + 1
        values: dict = {"attempts": attempts}
        try:
            provider_id = _send(message, backends)
        except Exception as exc:  # noqa: BLE001 - any transport failure is retried
            values["last_error"] = f"{type(exc).__name__}: {exc}"[:500]
            if attempts >= max_attempts:
                values["status"] = OutboxStatus.FAILED.value
                if message["sensitive"]:
                    values["body"] = SCRUBBED
                counts["failed"] += 1
                log.error("outbox %s gave up after %s attempts", message_id, attempts)
            else:
                values["status"] = OutboxStatus.PENDING.value
                values["next_attempt_at"] = now + _backoff(attempts)
                counts["retry"] += 1
        else:
            values.update(status=OutboxStatus.SENT.value, sent_at=now, last_error=None)
            if provider_id:
                values["provider_message_id"] = str(provider_id)[:100]
            if message["sensitive"]:
                values["body"] = SCRUBBED
            counts["sent"] += 1
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.SENDING.value,
            )
            .values(**values)
        )
        db.session.commit()
    return counts


# --------------------------------------------------------------------------- kick

_kick_lock = threading.Lock()


def kick(app=None) -> bool:
    """Deliver due rows in a daemon thread, without waiting for it. At most one such thread
    per process; the scheduler job stays the guarantee. Returns whether a thread started."""
    app = app or current_app._get_current_object()
    if not app.config.get("OUTBOX_KICK"):
        return False
    if not _kick_lock.acquire(blocking=False):
        return False

    def run() -> None:
        try:
            with app.app_context():
                try:
                    deliver_due()
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 - the job retries; a nudge must never crash
            log.exception("outbox kick failed")
        finally:
            _kick_lock.release()

    try:
        threading.Thread(target=run, name="outbox-kick", daemon=True).start()
    except RuntimeError:
        _kick_lock.release()
        return False
    return True


@event.listens_for(Session, "after_commit")
def _kick_after_commit(session: Session) -> None:
    if session.info.pop(_KICK_FLAG, False):
        # Without an application context (a bare session) the job delivers instead.
        with contextlib.suppress(RuntimeError):
            kick()


@event.listens_for(Session, "after_rollback")
def _forget_kick(session: Session) -> None:
    session.info.pop(_KICK_FLAG, None)


# --------------------------------------------------------------------------- inbox


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


def erase_messages(user_id: int) -> None:
    """Every outbox row (all channels) and the channel choices of a member. No commit."""
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user_id))
    db.session.execute(
        delete(NotificationPreference).where(NotificationPreference.user_id == user_id)
    )
