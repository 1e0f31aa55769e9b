"""Reading the audit trail (privacy officer). Keyset pagination: newest first, ``before`` an id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    result: str = ""
    actor: str = ""  # public id of the actor, or organisation code
    object_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    before: int | None = None


def search(criteria: AuditFilter, limit: int = PAGE_SIZE) -> tuple[list[AuditEvent], int | None]:
    """One page of records matching ``criteria`` and the cursor for the next page (None at the end)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if criteria.action:
        stmt = stmt.where(AuditEvent.action == criteria.action)
    if criteria.result:
        stmt = stmt.where(AuditEvent.result == criteria.result)
    if criteria.actor:
        stmt = stmt.where((AuditEvent.actor_id == criteria.actor) | (AuditEvent.actor_organisation == criteria.actor))
    if criteria.object_id:
        stmt = stmt.where(AuditEvent.object_id == criteria.object_id)
    if criteria.start:
        stmt = stmt.where(AuditEvent.occurred_at >= criteria.start)
    if criteria.end:
        stmt = stmt.where(AuditEvent.occurred_at < criteria.end)
    if criteria.before:
        stmt = stmt.where(AuditEvent.id < criteria.before)
    rows = list(db.session.scalars(stmt))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def known_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
