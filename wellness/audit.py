"""Append-only audit trail.

``record()`` adds an event to the current session; it is committed together with the use
case that caused it (one commit per use case), so an action and its audit row stand or
fall together. Rows are never updated or deleted by the application: a flush that tries
is refused here, and PostgreSQL additionally refuses it with a trigger (see migrations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, Index, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from wellness.database import Base, append_only_on_postgres, utcnow
from wellness.extensions import db


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_target", "target_type", "target_id"),
        Index("ix_audit_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A plain id, not a foreign key: deleting a user must not rewrite the audit trail.
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


append_only_on_postgres(AuditEvent.__table__)


class AuditIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditIsAppendOnly("audit events cannot be changed or deleted")


def _target_parts(target: Any) -> tuple[str | None, str | None]:
    if target is None:
        return None, None
    if isinstance(target, tuple):
        kind, ident = target
        return str(kind), str(ident)
    table = getattr(target, "__tablename__", type(target).__name__)
    return str(table), str(getattr(target, "id", ""))


def record(
    actor: Any,
    action: str,
    target: Any = None,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the session. ``actor`` is a user, a user id, or None (system).

    ``target`` is a model instance or a ``(type, id)`` tuple.
    """
    actor_id = getattr(actor, "id", actor)
    target_type, target_id = _target_parts(target)
    ip = request.remote_addr if has_request_context() else None
    entry = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        detail=detail,
        at=at or utcnow(),
    )
    db.session.add(entry)
    return entry


def events_for(target_type: str, target_id: str | int, limit: int = 200) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.target_type == target_type, AuditEvent.target_id == str(target_id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
