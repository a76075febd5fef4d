"""Conversations between a member and the counselling team, their messages and hand-overs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow

BODY_MAX = 4000
TOPIC_MAX = 80


class ConversationStatus(StrEnum):
    OPEN = "open"  # waiting for a counsellor to claim it
    CLAIMED = "claimed"
    CLOSED = "closed"


class TransferReason(StrEnum):
    WORKLOAD = "workload"
    EXPERTISE = "expertise"
    AVAILABILITY = "availability"
    PERSON_ASKED = "person_asked"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_inbox", "status", "urgent", "first_reply_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "My own counsellor": the member asked for this counsellor rather than the team.
    requested_counselor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=ConversationStatus.OPEN.value)
    topic: Mapped[str] = mapped_column(String(TOPIC_MAX))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_reply_due_at: Mapped[datetime]
    first_reply_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    risk_flag_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_flags.id", ondelete="SET NULL")
    )
    # The deadline sweep's claim: set once, by a conditional UPDATE, when it told the team.
    overdue_notified_at: Mapped[datetime | None]
    # Set with the member's one rating of a closed conversation (the rating itself lives
    # in the feedback package).
    rated_at: Mapped[datetime | None]


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationTransfer(Base):
    """A hand-over with its reason code; the free-text note lives here (erased with the
    conversation), never in the audit trail."""

    __tablename__ = "conversation_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason_code: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
