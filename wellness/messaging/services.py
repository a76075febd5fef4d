"""Ask-a-counsellor use cases. One commit per use case; notifications and risk flags join
the use case's transaction.

Who reads a conversation's messages: its member, the counsellor who claimed it, and
counsellors on the member's case (``wellness.caseteam.on_case``). Admins never see bodies.
Every staff read of a thread leaves an audit row (ids only)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select, update

from wellness import audit, caseteam
from wellness.auth.models import Role, User
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound, NotPermitted
from wellness.extensions import db
from wellness.messaging.models import (
    BODY_MAX,
    TOPIC_MAX,
    Conversation,
    ConversationMessage,
    ConversationStatus,
    ConversationTransfer,
    TransferReason,
)
from wellness.notify import services as notify

OPEN = ConversationStatus.OPEN.value
CLAIMED = ConversationStatus.CLAIMED.value
CLOSED = ConversationStatus.CLOSED.value
FLAG_LEVELS = ("elevated", "high", "critical")


# ------------------------------------------------------------------------------ helpers


def reply_deadline(urgent: bool, since: datetime) -> datetime:
    key = "MESSAGING_URGENT_REPLY_HOURS" if urgent else "MESSAGING_FIRST_REPLY_HOURS"
    return since + timedelta(hours=current_app.config[key])


def mask_name(name: str | None) -> str:
    """张三丰 -> 张**: enough to tell conversations apart, not to identify the member."""
    if not name:
        return "—"
    return name[0] + "*" * max(1, len(name) - 1)


def get_conversation(conversation_id: int) -> Conversation:
    conv = db.session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(str(_l("No such conversation.")))
    return conv


def _clean_body(body: str | None) -> str:
    text = (body or "").strip()
    if not text:
        raise InvalidInput(str(_l("Write a message first.")), {"body": "required"})
    if len(text) > BODY_MAX:
        raise InvalidInput(
            str(_l("A message can be at most %(n)s characters.", n=BODY_MAX)), {"body": "too_long"}
        )
    return text


def active_counselors() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.COUNSELOR.value, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def people_by_id(ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def my_counselors(member_id: int) -> list[User]:
    """The counsellors a member may write to directly: those on their case, and the one who
    claimed their most recent conversation. Active counsellors only."""
    ids = set(caseteam.counselors_for(member_id))
    last = db.session.scalar(
        select(Conversation.claimed_by_id)
        .where(Conversation.member_id == member_id, Conversation.claimed_by_id.is_not(None))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if last:
        ids.add(last)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(ids), User.role == Role.COUNSELOR.value, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def counselor_holds(counselor_id: int, conversation_id: int) -> bool:
    """True when the counsellor holds (has claimed) this conversation and it is not closed."""
    return bool(
        db.session.scalar(
            select(func.count(Conversation.id)).where(
                Conversation.id == conversation_id,
                Conversation.claimed_by_id == counselor_id,
                Conversation.status == CLAIMED,
            )
        )
    )


def can_read(user: User, conv: Conversation) -> bool:
    if user.id == conv.member_id:
        return True
    if user.role != Role.COUNSELOR.value:
        return False
    return conv.claimed_by_id == user.id or caseteam.on_case(user.id, conv.member_id)


def messages_for(conversation_id: int) -> list[ConversationMessage]:
    return list(
        db.session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
        )
    )


def transfers_for(conversation_id: int) -> list[ConversationTransfer]:
    return list(
        db.session.scalars(
            select(ConversationTransfer)
            .where(ConversationTransfer.conversation_id == conversation_id)
            .order_by(ConversationTransfer.at, ConversationTransfer.id)
        )
    )


def _raise_urgent_flag(conv: Conversation, now: datetime) -> None:
    from wellness.risk import services as risk

    flag = risk.raise_flag(
        conv.member_id,
        source="message",
        source_id=conv.id,
        level="critical",
        rule="message_urgent",
        now=now,
    )
    conv.risk_flag_id = flag.id


def _tell_member(conv: Conversation, now: datetime) -> None:
    member = db.session.get(User, conv.member_id)
    if member is None or not member.active:
        return
    with force_locale(member.locale or "zh"):
        notify.queue(
            member,
            _("A counsellor replied to your message"),
            _("Sign in and open your conversation to read the reply."),
            link=f"/messages/{conv.id}",
            external=True,
            sms_text=_("[Workers' wellbeing] Your counsellor replied. Please sign in to read it."),
            now=now,
        )


def _tell_counselor(counselor_id: int | None, subject: str, conv: Conversation, now) -> None:
    counselor = db.session.get(User, counselor_id) if counselor_id else None
    if counselor is None or not counselor.active:
        return
    with force_locale(counselor.locale or "zh"):
        notify.queue(
            counselor,
            subject,
            _("Open it in your message inbox."),
            link=f"/messages/inbox/{conv.id}",
            external=False,
            urgent=conv.urgent,
            now=now,
        )


# ------------------------------------------------------------------------------ members


def member_conversations(member: User) -> list[Conversation]:
    return list(
        db.session.scalars(
            select(Conversation)
            .where(Conversation.member_id == member.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        )
    )


def member_conversations_stmt(member: User):
    return (
        select(Conversation)
        .where(Conversation.member_id == member.id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    )


def own_conversation(member: User, conversation_id: int) -> Conversation:
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or conv.member_id != member.id:
        raise NotFound(str(_l("No such conversation.")))  # ids of others cannot be probed
    return conv


def open_conversation(
    member: User,
    topic: str | None,
    body: str | None,
    urgent: bool = False,
    counselor_id: int | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Start a conversation with the team, or with one of ``my_counselors`` when given."""
    now = now or utcnow()
    if member.role != Role.WORKER.value:
        raise NotPermitted(str(_l("Only members can ask a counsellor.")))
    topic = (topic or "").strip()
    if not topic:
        raise InvalidInput(str(_l("Say in a few words what it is about.")), {"topic": "required"})
    if len(topic) > TOPIC_MAX:
        raise InvalidInput(
            str(_l("The topic can be at most %(n)s characters.", n=TOPIC_MAX)),
            {"topic": "too_long"},
        )
    text = _clean_body(body)
    if counselor_id is not None and counselor_id not in {c.id for c in my_counselors(member.id)}:
        raise InvalidInput(
            str(_l("Choose the counselling team or one of your own counsellors.")),
            {"counselor_id": "invalid"},
        )
    conv = Conversation(
        member_id=member.id,
        requested_counselor_id=counselor_id,
        status=OPEN,
        topic=topic,
        urgent=bool(urgent),
        created_at=now,
        first_reply_due_at=reply_deadline(bool(urgent), now),
        last_message_at=now,
    )
    db.session.add(conv)
    db.session.flush()
    db.session.add(
        ConversationMessage(
            conversation_id=conv.id,
            author_id=member.id,
            body=text,
            urgent=bool(urgent),
            created_at=now,
        )
    )
    if urgent:
        _raise_urgent_flag(conv, now)
    audit.record(member, "messaging.open", conv, {"urgent": bool(urgent), "to": counselor_id})
    if counselor_id:
        _tell_counselor(
            counselor_id, str(_l("A member asked you a question (#%(id)s)", id=conv.id)), conv, now
        )
    db.session.commit()
    return conv


def member_reply(
    member: User, conversation_id: int, body: str | None, urgent: bool = False, now=None
) -> ConversationMessage:
    now = now or utcnow()
    conv = own_conversation(member, conversation_id)
    text = _clean_body(body)
    if conv.status == CLOSED:
        raise Conflict(
            str(_l("This conversation is closed. Start a new one to write again.")),
            {"conversation": "closed"},
        )
    message = ConversationMessage(
        conversation_id=conv.id, author_id=member.id, body=text, urgent=bool(urgent), created_at=now
    )
    db.session.add(message)
    conv.last_message_at = now
    if urgent:
        conv.urgent = True
        if conv.first_reply_at is None:
            conv.first_reply_due_at = min(conv.first_reply_due_at, reply_deadline(True, now))
        _raise_urgent_flag(conv, now)
    db.session.flush()
    audit.record(member, "messaging.member_reply", conv, {"urgent": bool(urgent)})
    if conv.claimed_by_id:
        _tell_counselor(
            conv.claimed_by_id,
            str(_l("New message in conversation #%(id)s", id=conv.id)),
            conv,
            now,
        )
    db.session.commit()
    return message


def rate(
    member: User, conversation_id: int, score, comment: str | None = None, now=None
) -> Conversation:
    """The member's one rating of a closed conversation (stored by the feedback package)."""
    now = now or utcnow()
    conv = own_conversation(member, conversation_id)
    if conv.status != CLOSED:
        raise Conflict(
            str(_l("You can rate a conversation once it is closed.")), {"conversation": "open"}
        )
    if conv.rated_at is not None:
        raise Conflict(str(_l("You have already rated this conversation.")), {"score": "rated"})
    feedback = feedback_services()
    if feedback is None:
        raise NotFound(str(_l("Ratings are not available.")))
    won = db.session.execute(
        update(Conversation)
        .where(Conversation.id == conv.id, Conversation.rated_at.is_(None))
        .values(rated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.rollback()
        raise Conflict(str(_l("You have already rated this conversation.")), {"score": "rated"})
    feedback.record(
        member.id,
        subject_kind="conversation",
        subject_id=conv.id,
        score=score,
        comment=comment or None,
        now=now,
    )
    audit.record(member, "messaging.rate", conv)
    db.session.commit()
    db.session.refresh(conv)
    return conv


def feedback_services():
    try:
        return importlib.import_module("wellness.feedback.services")
    except ModuleNotFoundError:
        return None


# ------------------------------------------------------------------------------ counsellors

URGENT_FIRST = case((Conversation.urgent.is_(True), 0), else_=1)


def inbox_stmt():
    """Unclaimed conversations: urgent first, then the nearest first-reply deadline."""
    return (
        select(Conversation)
        .where(Conversation.status == OPEN)
        .order_by(URGENT_FIRST, Conversation.first_reply_due_at, Conversation.id)
    )


def unclaimed(limit: int = 200) -> list[Conversation]:
    return list(db.session.scalars(inbox_stmt().limit(limit)))


def mine(counselor: User, limit: int = 200) -> list[Conversation]:
    return list(
        db.session.scalars(
            select(Conversation)
            .where(Conversation.claimed_by_id == counselor.id, Conversation.status == CLAIMED)
            .order_by(URGENT_FIRST, Conversation.last_message_at.desc(), Conversation.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class InboxCounts:
    open: int
    overdue: int
    claimed: int
    closed: int


def counts(now: datetime) -> InboxCounts:
    row = db.session.execute(
        select(
            func.count().filter(Conversation.status == OPEN),
            func.count().filter(
                Conversation.status == OPEN, Conversation.first_reply_due_at <= now
            ),
            func.count().filter(Conversation.status == CLAIMED),
            func.count().filter(Conversation.status == CLOSED),
        )
    ).one()
    return InboxCounts(*(int(v or 0) for v in row))


def recent_transfers(limit: int = 50) -> list[ConversationTransfer]:
    return list(
        db.session.scalars(
            select(ConversationTransfer)
            .order_by(ConversationTransfer.at.desc(), ConversationTransfer.id.desc())
            .limit(limit)
        )
    )


def claim(counselor: User, conversation_id: int, now: datetime | None = None) -> Conversation:
    """Atomic: of N concurrent claims exactly one wins; the others learn who holds it."""
    now = now or utcnow()
    won = db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status == OPEN)
        .values(status=CLAIMED, claimed_by_id=counselor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.rollback()
        conv = get_conversation(conversation_id)
        if conv.status == CLAIMED and conv.claimed_by_id == counselor.id:
            return conv
        if conv.status == CLOSED:
            raise Conflict(
                str(_l("This conversation is already closed.")), {"conversation": "closed"}
            )
        holder = db.session.get(User, conv.claimed_by_id) if conv.claimed_by_id else None
        raise Conflict(
            str(
                _l(
                    "%(name)s is already answering this conversation.",
                    name=holder.name if holder else "?",
                )
            ),
            {"conversation": "claimed"},
        )
    conv = get_conversation(conversation_id)
    db.session.refresh(conv)
    audit.record(counselor, "messaging.claim", conv)
    db.session.commit()
    return conv


def staff_thread(
    counselor: User, conversation_id: int
) -> tuple[Conversation, list[ConversationMessage]]:
    """A counsellor reads a thread: allowed for the claimer and counsellors on the case;
    audited every time."""
    conv = get_conversation(conversation_id)
    if counselor.role != Role.COUNSELOR.value or not can_read(counselor, conv):
        raise NotPermitted(str(_l("Only the counsellor answering this conversation can read it.")))
    audit.record(counselor, "messaging.read_thread", conv)
    db.session.commit()
    return conv, messages_for(conv.id)


def _held(counselor: User, conversation_id: int) -> Conversation:
    conv = get_conversation(conversation_id)
    if conv.claimed_by_id != counselor.id:
        raise NotPermitted(str(_l("Only the counsellor answering this conversation can do this.")))
    if conv.status == CLOSED:
        raise Conflict(str(_l("This conversation is closed.")), {"conversation": "closed"})
    return conv


def counselor_reply(
    counselor: User, conversation_id: int, body: str | None, now: datetime | None = None
) -> ConversationMessage:
    now = now or utcnow()
    text = _clean_body(body)
    conv = _held(counselor, conversation_id)
    message = ConversationMessage(
        conversation_id=conv.id, author_id=counselor.id, body=text, urgent=False, created_at=now
    )
    db.session.add(message)
    conv.last_message_at = now
    if conv.first_reply_at is None:
        conv.first_reply_at = now
    db.session.flush()
    audit.record(counselor, "messaging.reply", conv)
    _tell_member(conv, now)
    db.session.commit()
    return message


def close(counselor: User, conversation_id: int, now: datetime | None = None) -> Conversation:
    now = now or utcnow()
    conv = _held(counselor, conversation_id)
    done = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conv.id,
            Conversation.status == CLAIMED,
            Conversation.claimed_by_id == counselor.id,
        )
        .values(status=CLOSED, closed_at=now, closed_by_id=counselor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        db.session.rollback()
        raise Conflict(str(_l("This conversation changed just now.")), {"conversation": "changed"})
    audit.record(counselor, "messaging.close", conv)
    db.session.commit()
    db.session.refresh(conv)
    return conv


def raise_flag_from(
    counselor: User,
    conversation_id: int,
    level: str | None,
    message_id: int | None = None,
    now: datetime | None = None,
):
    """A counsellor who may read the thread raises a risk flag from it."""
    from wellness.risk import services as risk

    now = now or utcnow()
    conv = get_conversation(conversation_id)
    if counselor.role != Role.COUNSELOR.value or not can_read(counselor, conv):
        raise NotPermitted(str(_l("Only the counsellor answering this conversation can do this.")))
    if level not in FLAG_LEVELS:
        raise InvalidInput(str(_l("Choose a risk level.")), {"level": "invalid"})
    if message_id is not None:
        found = db.session.scalar(
            select(func.count(ConversationMessage.id)).where(
                ConversationMessage.id == message_id,
                ConversationMessage.conversation_id == conv.id,
            )
        )
        if not found:
            raise InvalidInput(str(_l("No such message.")), {"message_id": "invalid"})
    flag = risk.raise_flag(
        conv.member_id,
        source="message",
        source_id=conv.id,
        level=level,
        rule="raised_from_message",
        now=now,
    )
    conv.risk_flag_id = flag.id
    audit.record(
        counselor, "messaging.raise_flag", conv, {"level": level, "message_id": message_id}
    )
    db.session.commit()
    return flag


def transfer(
    actor: User,
    conversation_id: int,
    to_user_id: int | None,
    reason: str | None,
    note: str = "",
    now: datetime | None = None,
) -> Conversation:
    """Hand a claimed conversation to another active counsellor: its holder or an admin.
    Atomic: the UPDATE names the holder it expects."""
    now = now or utcnow()
    conv = get_conversation(conversation_id)
    is_admin = actor.role == Role.ADMIN.value
    if not is_admin and not (actor.role == Role.COUNSELOR.value and conv.claimed_by_id == actor.id):
        raise NotPermitted(
            str(_l("Only the counsellor holding this conversation or an admin can hand it over."))
        )
    if conv.status != CLAIMED:
        raise Conflict(
            str(_l("Only a conversation someone is answering can be handed over.")),
            {"conversation": conv.status},
        )
    if reason not in {r.value for r in TransferReason}:
        raise InvalidInput(str(_l("Choose a reason for the hand-over.")), {"reason": "invalid"})
    target = db.session.get(User, to_user_id) if to_user_id else None
    if target is None or not target.active or target.role != Role.COUNSELOR.value:
        raise InvalidInput(
            str(_l("Choose an active counsellor to hand the conversation to.")),
            {"to_user_id": "invalid"},
        )
    if target.id == conv.claimed_by_id:
        raise Conflict(
            str(_l("This counsellor already holds the conversation.")), {"to_user_id": "same"}
        )
    previous = conv.claimed_by_id
    won = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conv.id,
            Conversation.status == CLAIMED,
            Conversation.claimed_by_id == previous,
        )
        .values(claimed_by_id=target.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.rollback()
        raise Conflict(
            str(_l("Someone handed this conversation over just now. Reload and check.")),
            {"conversation": "changed"},
        )
    db.session.add(
        ConversationTransfer(
            conversation_id=conv.id,
            from_id=previous,
            to_id=target.id,
            by_id=actor.id,
            reason_code=reason,
            note=(note or "").strip()[:1000] or None,
            at=now,
        )
    )
    audit.record(
        actor, "messaging.transfer", conv, {"from": previous, "to": target.id, "reason": reason}
    )
    with force_locale(target.locale or "zh"):
        notify.queue(
            target,
            _("A conversation was handed to you (#%(id)s)", id=conv.id),
            _("Open it in your message inbox."),
            link=f"/messages/inbox/{conv.id}",
            external=False,
            urgent=conv.urgent,
            now=now,
        )
    db.session.commit()
    db.session.refresh(conv)
    return conv


# ------------------------------------------------------------------------------ sweeps


def notify_overdue(now: datetime | None = None) -> int:
    """Tell the team about unclaimed conversations past their first-reply deadline; each
    conversation once (a conditional UPDATE claims it, the outbox dedupe_key backs it up)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Conversation.id).where(
                Conversation.status == OPEN,
                Conversation.first_reply_due_at <= now,
                Conversation.overdue_notified_at.is_(None),
            )
        )
    )
    told = 0
    for conv_id in due:
        won = db.session.execute(
            update(Conversation)
            .where(Conversation.id == conv_id, Conversation.overdue_notified_at.is_(None))
            .values(overdue_notified_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not won:
            continue
        conv = db.session.get(Conversation, conv_id)
        for counselor in active_counselors():
            with force_locale(counselor.locale or "zh"):
                notify.queue(
                    counselor,
                    _("A member is still waiting for an answer (#%(id)s)", id=conv_id),
                    _("The first-reply deadline has passed. Claim it in the message inbox."),
                    link=f"/messages/inbox/{conv_id}",
                    dedupe_key=f"messaging.overdue:{conv_id}:{counselor.id}",
                    external=False,
                    urgent=bool(conv.urgent),
                    now=now,
                )
        told += 1
    db.session.commit()
    return told


def retention_sweep(now: datetime | None = None) -> int:
    """Delete closed conversations older than MESSAGING_RETENTION_DAYS. Idempotent."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["MESSAGING_RETENTION_DAYS"])
    old = select(Conversation.id).where(
        Conversation.status == CLOSED, Conversation.closed_at < cutoff
    )
    ids = list(db.session.scalars(old))
    if ids:
        delete_conversations(ids)
        audit.record(None, "messaging.retention_sweep", None, {"deleted": len(ids)}, at=now)
    db.session.commit()
    return len(ids)


def delete_conversations(ids) -> None:
    """Messages and transfers go with their conversations (ON DELETE CASCADE, and
    explicitly as well). Joins the caller's transaction."""
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.session.execute(
            delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(chunk))
        )
        db.session.execute(
            delete(ConversationTransfer).where(ConversationTransfer.conversation_id.in_(chunk))
        )
        db.session.execute(delete(Conversation).where(Conversation.id.in_(chunk)))
