"""Ask a counsellor for the app: a member's conversations; the counsellors' inbox."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bp
from wellness.api.spec import Body, Out, PageMeta, PageQuery, api_spec, page_of, responses
from wellness.errors import InvalidInput
from wellness.messaging import services
from wellness.messaging.models import BODY_MAX, TOPIC_MAX
from wellness.transactions import writes


class MessageOut(Out):
    id: int
    from_me: bool
    from_counselor: bool
    body: str
    urgent: bool
    created_at: datetime


class CrisisLine(Out):
    number: str
    label: str


class ConversationOut(Out):
    id: int
    topic: str
    status: str
    urgent: bool
    created_at: datetime
    first_reply_due_at: datetime
    first_reply_at: datetime | None
    last_message_at: datetime
    closed_at: datetime | None
    counselor_name: str | None
    to_my_counselor: bool
    rated: bool


class ThreadOut(ConversationOut):
    messages: list[MessageOut]
    crisis: list[CrisisLine] | None


class ConversationList(Out):
    items: list[ConversationOut]
    meta: PageMeta


class InboxItem(Out):
    """Metadata only: no message bodies, the member's name masked."""

    id: int
    topic: str
    urgent: bool
    status: str
    member_masked: str
    created_at: datetime
    first_reply_due_at: datetime
    requested_counselor_id: int | None
    claimed_by_me: bool


class InboxOut(Out):
    items: list[InboxItem]
    meta: PageMeta


class NewConversation(Body):
    topic: str = Field(min_length=1, max_length=TOPIC_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    urgent: bool = False
    counselor_id: int | None = Field(None, ge=1, le=2_000_000_000)


class NewMessage(Body):
    body: str = Field(min_length=1, max_length=BODY_MAX)
    urgent: bool = False


class RatingIn(Body):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


def crisis_lines() -> list[CrisisLine]:
    lines = [CrisisLine(number="12356", label="national psychological assistance line")]
    lines += [CrisisLine(**line) for line in current_app.config["HOTLINE_NUMBERS"]]
    lines += [CrisisLine(number="120", label="medical"), CrisisLine(number="110", label="police")]
    return lines


def conversation_out(conv, people: dict) -> dict:
    holder = people.get(conv.claimed_by_id)
    return {
        "id": conv.id,
        "topic": conv.topic,
        "status": conv.status,
        "urgent": conv.urgent,
        "created_at": conv.created_at,
        "first_reply_due_at": conv.first_reply_due_at,
        "first_reply_at": conv.first_reply_at,
        "last_message_at": conv.last_message_at,
        "closed_at": conv.closed_at,
        "counselor_name": holder.name if holder else None,
        "to_my_counselor": conv.requested_counselor_id is not None,
        "rated": conv.rated_at is not None,
    }


def thread_out(conv, messages, crisis: bool = False) -> ThreadOut:
    people = services.people_by_id([conv.claimed_by_id])
    viewer = current_user.id
    return ThreadOut(
        **conversation_out(conv, people),
        messages=[
            MessageOut(
                id=m.id,
                from_me=m.author_id == viewer,
                from_counselor=m.author_id != conv.member_id,
                body=m.body,
                urgent=m.urgent,
                created_at=m.created_at,
            )
            for m in messages
        ],
        crisis=crisis_lines() if crisis else None,
    )


def inbox_item(conv, people: dict) -> InboxItem:
    person = people.get(conv.member_id)
    return InboxItem(
        id=conv.id,
        topic=conv.topic,
        urgent=conv.urgent,
        status=conv.status,
        member_masked=services.mask_name(person.name if person else None),
        created_at=conv.created_at,
        first_reply_due_at=conv.first_reply_due_at,
        requested_counselor_id=conv.requested_counselor_id,
        claimed_by_me=conv.claimed_by_id == current_user.id,
    )


@bp.get("/conversations")
@api_auth("worker")
@api_spec.validate(
    query=PageQuery, resp=responses("HTTP_200", ConversationList, "HTTP_422"), tags=["messaging"]
)
def list_conversations(query: PageQuery):
    """My conversations, latest activity first."""
    items, meta = page_of(services.member_conversations_stmt(current_user), query)
    people = services.people_by_id(c.claimed_by_id for c in items)
    return ConversationList(items=[conversation_out(c, people) for c in items], meta=meta)


@bp.post("/conversations")
@api_auth("worker")
@api_spec.validate(
    json=NewConversation,
    resp=responses("HTTP_201", ThreadOut, "HTTP_409", "HTTP_422"),
    tags=["messaging"],
)
def create_conversation(json: NewConversation):
    """Ask the counselling team (or, with counselor_id, one of my counsellors). An urgent
    message raises a critical risk flag and the answer carries the crisis numbers."""
    conv = services.open_conversation(
        current_user._get_current_object(), json.topic, json.body, json.urgent, json.counselor_id
    )
    return thread_out(conv, services.messages_for(conv.id), crisis=json.urgent), 201


@bp.get("/conversations/inbox")
@api_auth("counselor")
@api_spec.validate(
    query=PageQuery, resp=responses("HTTP_200", InboxOut, "HTTP_422"), tags=["messaging"]
)
def conversation_inbox(query: PageQuery):
    """Unclaimed conversations (urgent first, then the nearest first-reply deadline)."""
    items, meta = page_of(services.inbox_stmt(), query)
    people = services.people_by_id(c.member_id for c in items)
    return InboxOut(items=[inbox_item(c, people) for c in items], meta=meta)


@bp.get("/conversations/<int:conversation_id>")
@api_auth("worker", "counselor")
@writes  # a counsellor's read is audited
@api_spec.validate(resp=responses("HTTP_200", ThreadOut), tags=["messaging"])
def get_conversation(conversation_id: int):
    """A thread: my own (member), or one I may read (counsellor; audited)."""
    user = current_user._get_current_object()
    if user.role == "worker":
        conv = services.own_conversation(user, conversation_id)
        return thread_out(conv, services.messages_for(conv.id))
    conv, messages = services.staff_thread(user, conversation_id)
    return thread_out(conv, messages)


@bp.post("/conversations/<int:conversation_id>/messages")
@api_auth("worker", "counselor")
@api_spec.validate(
    json=NewMessage,
    resp=responses("HTTP_201", ThreadOut, "HTTP_409", "HTTP_422"),
    tags=["messaging"],
)
def post_message(conversation_id: int, json: NewMessage):
    """Write in a conversation: its member, or the counsellor answering it. 409 when closed."""
    user = current_user._get_current_object()
    if user.role == "worker":
        services.member_reply(user, conversation_id, json.body, json.urgent)
        conv = services.own_conversation(user, conversation_id)
        return thread_out(conv, services.messages_for(conv.id), crisis=json.urgent), 201
    if json.urgent:
        raise InvalidInput(_("Only members mark a message urgent."), {"urgent": "invalid"})
    services.counselor_reply(user, conversation_id, json.body)
    conv = services.get_conversation(conversation_id)
    return thread_out(conv, services.messages_for(conv.id)), 201


@bp.post("/conversations/<int:conversation_id>/rating")
@api_auth("worker")
@api_spec.validate(
    json=RatingIn,
    resp=responses("HTTP_200", ConversationOut, "HTTP_409", "HTTP_422"),
    tags=["messaging"],
)
def rate_conversation(conversation_id: int, json: RatingIn):
    """Rate a closed conversation once (1-5, optional comment)."""
    conv = services.rate(
        current_user._get_current_object(), conversation_id, json.score, json.comment
    )
    return ConversationOut(**conversation_out(conv, services.people_by_id([conv.claimed_by_id])))


@bp.post("/conversations/<int:conversation_id>/claim")
@api_auth("counselor")
@api_spec.validate(resp=responses("HTTP_200", ConversationOut, "HTTP_409"), tags=["messaging"])
def claim_conversation(conversation_id: int):
    """Claim an unclaimed conversation; 409 names the counsellor who holds it."""
    conv = services.claim(current_user._get_current_object(), conversation_id)
    return ConversationOut(**conversation_out(conv, services.people_by_id([conv.claimed_by_id])))


@bp.post("/conversations/<int:conversation_id>/close")
@api_auth("counselor")
@api_spec.validate(resp=responses("HTTP_200", ConversationOut, "HTTP_409"), tags=["messaging"])
def close_conversation(conversation_id: int):
    """Close a conversation you are answering."""
    conv = services.close(current_user._get_current_object(), conversation_id)
    return ConversationOut(**conversation_out(conv, services.people_by_id([conv.claimed_by_id])))
