"""Database helpers shared by every domain: column types, mixins, the unit of work and the after-commit queue.

Services only ``flush()``; the adapter (view, API, socket handler, CLI) calls :func:`commit` once. Side effects
that must not happen for a rolled-back transaction (live events, mail) are queued with :func:`on_commit` and run
after the commit succeeded; a rollback discards them.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import DateTime, Uuid, event
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from portal.extensions import db

log = logging.getLogger(__name__)
_QUEUE_KEY = "portal_after_commit"
_READY_KEY = "portal_committed"


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
    """The one commit of a request or event; then the side effects it queued, in order.

    The callbacks run after ``commit()`` has returned (not inside SQLAlchemy's ``after_commit`` hook, where no SQL
    may be emitted), so they may read the database, e.g. to render an event per viewer.
    """
    session = db.session()
    session.commit()
    for callback in session.info.pop(_READY_KEY, []):
        callback()


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    session.info.setdefault(_READY_KEY, []).extend(session.info.pop(_QUEUE_KEY, []))


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)


def safe_rollback() -> None:
    """Roll back for an error handler: when the database itself is gone, rolling back can fail too (the connection
    died mid-transaction), and a handler that raised turned a clean 503 into the server's bare 500. Then the session
    is discarded instead; its connection is invalidated by the pool."""
    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback failed; the session is discarded", exc_info=True)
        with contextlib.suppress(Exception):  # the next request gets a fresh session and connection
            db.session.close()


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


# Database objects that live outside the ORM metadata (full-text search, created by raw SQL in the migrations):
# Alembic's autogenerate must not propose to drop them.
SEARCH_OBJECTS = frozenset({"search_vector", "ix_signals_search_vector"})


def include_migration_object(obj, name, type_, reflected, compare_to) -> bool:
    if name in SEARCH_OBJECTS:
        return False
    return not (type_ == "table" and reflected and name and name.startswith("signals_fts"))
