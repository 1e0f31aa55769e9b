"""The audit table. Rows are only ever inserted: database triggers refuse UPDATE and DELETE (migration)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, utcnow
from portal.extensions import db


class AuditEvent(db.Model):
    """Who did what to which object, with what result, from where, when (R-LOG-1, NEN 7513 style).

    ``record_hash`` = SHA-256 over this row's content and ``prev_hash``: editing or deleting any row breaks the
    chain from that row on, which ``flask portal audit verify`` reports.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(String(16))  # success, failure, denied
    object_type: Mapped[str] = mapped_column(String(64), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="", index=True)  # a public (pseudonymous) id
    actor_id: Mapped[str] = mapped_column(String(64), default="", index=True)  # user public id, "" if anonymous
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    actor_organisation: Mapped[str] = mapped_column(String(64), default="")  # organisation code
    actor_roles: Mapped[str] = mapped_column(String(300), default="")
    on_behalf_of: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # structured codes only, never free text or tokens
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)
