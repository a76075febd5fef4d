"""Declarative base, UTC time helpers and shared column types."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DDL, MetaData, Table, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy_utc import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Aware UTC datetimes on every database (SQLite drops tzinfo without UtcDateTime).
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UtcDateTime()},
    )


def utcnow() -> datetime:
    """The current time as an aware UTC datetime. Pass the function, never its result."""
    return datetime.now(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def append_only_on_postgres(table: Table) -> None:
    """On PostgreSQL, refuse UPDATE and DELETE of ``table``'s rows with a trigger, created
    with the table by ``create_all`` (the test schema). The migrations that created the
    real tables install the same trigger; the ORM guards refuse changes on every database.
    """
    name = table.name
    event.listen(
        table,
        "after_create",
        DDL(
            f"""
            CREATE OR REPLACE FUNCTION {name}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{name} is append-only';
            END;
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER {name}_no_change BEFORE UPDATE OR DELETE ON {name}
                FOR EACH ROW EXECUTE FUNCTION {name}_append_only();
            """
        ).execute_if(dialect="postgresql"),
    )
