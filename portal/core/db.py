"""Database helpers shared by every domain: column types, mixins, the unit of work and the after-commit queue.

Services only ``flush()``; the adapter (view, API, socket handler, CLI) calls :func:`commit` once. Side effects
that must not happen for a rolled-back transaction (live events, mail) are queued with :func:`on_commit` and run
after the commit succeeded; a rollback discards them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import DateTime, Uuid, event
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from portal.extensions import db

_QUEUE_KEY = "portal_after_commit"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite (which has no time zones) and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class PublicIdMixin:
    """A non-guessable identifier for every object that appears in a URL (R-AZ-3)."""

    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4, nullable=False)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current transaction commits; never if it rolls back."""
    db.session().info.setdefault(_QUEUE_KEY, []).append(callback)


def commit() -> None:
    """The one commit of a request or event."""
    db.session.commit()


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_QUEUE_KEY, [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)


def parse_public_id(value: str) -> uuid.UUID | None:
    """A UUID from a URL, or None for anything malformed (callers answer 404, never 500)."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def render_migration_item(type_: str, obj, autogen_context):
    """Alembic renders our column types as plain SQLAlchemy types, so migrations never import portal code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def configure_engine(engine) -> None:
    """SQLite: let SQLAlchemy, not the sqlite3 module, issue BEGIN, so SAVEPOINTs behave (SQLAlchemy docs,
    "Serializable isolation / Savepoints / Transactional DDL"), and enforce foreign keys like PostgreSQL does."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")
