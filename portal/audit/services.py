"""Writing and verifying the audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text

from portal.audit.models import AuditEvent
from portal.core.db import utcnow
from portal.extensions import db
from portal.identity.models import User

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_ID = 7_513  # PostgreSQL advisory lock that serialises appends to the chain (NEN 7513)
_MAX_DETAIL_LENGTH = 120


class Result:
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


def _clean_details(details: dict | None) -> dict:
    """Only short structured codes: free text, tokens or pupil data have no place here (R-LOG-2)."""
    cleaned: dict = {}
    for key, value in (details or {}).items():
        if isinstance(value, bool | int) or value is None:
            cleaned[str(key)] = value
        elif isinstance(value, str):
            cleaned[str(key)] = value[:_MAX_DETAIL_LENGTH]
        else:
            raise TypeError(f"audit detail {key!r} must be a string, number or boolean")
    return cleaned


def _payload(event: AuditEvent) -> str:
    content = {
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "result": event.result,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_organisation": event.actor_organisation,
        "actor_roles": event.actor_roles,
        "on_behalf_of": event.on_behalf_of,
        "ip": event.ip,
        "details": event.details or {},
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256((prev_hash + _payload(event)).encode("utf-8")).hexdigest()


def _lock_chain() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK_ID})


def record(
    action: str,
    *,
    result: str = Result.SUCCESS,
    actor: User | None = None,
    ip: str = "",
    object_type: str = "",
    object_id: str = "",
    details: dict | None = None,
    actor_label: str = "",
    on_behalf_of: str = "",
) -> AuditEvent:
    """Append one record to the chain, in the caller's transaction (it commits or rolls back with the action)."""
    from portal.authz.policy import current_roles  # policy reads identity; imported late to keep audit a leaf

    known_user = actor is not None and getattr(actor, "id", None) is not None
    event = AuditEvent(
        occurred_at=utcnow(),
        action=action,
        result=result,
        object_type=object_type,
        object_id=str(object_id or ""),
        actor_id=str(actor.public_id) if known_user else "",
        actor_name=actor.display_name if known_user else actor_label[:200],
        actor_organisation=actor.organisation.code if known_user and actor.organisation else "",
        actor_roles=",".join(sorted(current_roles(actor))) if known_user else "",
        on_behalf_of=on_behalf_of,
        ip=ip[:64],
        details=_clean_details(details),
    )
    _lock_chain()
    prev = db.session.scalar(select(AuditEvent.record_hash).order_by(AuditEvent.id.desc()).limit(1))
    event.prev_hash = prev or GENESIS_HASH
    event.record_hash = compute_hash(event, event.prev_hash)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    first_broken_id: int | None
    reason: str = ""
    head_id: int | None = None  # the newest record walked, and its hash: store both outside the portal
    head_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None

    @property
    def head(self) -> str:
        """``<id>:<hash>`` of the newest intact record, for ``verify --expect-head`` next time."""
        return f"{self.head_id or 0}:{self.head_hash}"


def parse_head(value: str) -> tuple[int, str]:
    """``<id>:<hash>`` as printed by an earlier ``audit verify``; ValueError otherwise."""
    record_id, _, record_hash = (value or "").strip().partition(":")
    if not record_id.isdigit() or len(record_hash) != 64 or any(c not in "0123456789abcdef" for c in record_hash):
        raise ValueError("expected <record id>:<64 hex characters>, as printed by an earlier verify")
    return int(record_id), record_hash


def verify_chain(
    events: Iterable[AuditEvent] | None = None, *, expect_head: tuple[int, str] | None = None
) -> VerifyReport:
    """Walk the chain in order; report the first record whose hash or link does not hold.

    The chain alone cannot show that its newest records were deleted: what is left still links up. ``expect_head``
    is a head printed by an earlier run and kept outside the portal (R-LOG-3): that record must still be there with
    the same hash, so removing records from the end (or rewriting the chain after it) is detected too."""
    if events is None:
        # yield_per streams through a server-side cursor on PostgreSQL: close it also when the walk stops early at
        # a broken record, or the cursor stays open (and psycopg warns) until the connection is recycled.
        result = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
        try:
            return _walk(result, expect_head)
        finally:
            result.close()
    return _walk(events, expect_head)


def _walk(events: Iterable[AuditEvent], expect_head: tuple[int, str] | None) -> VerifyReport:
    prev = GENESIS_HASH
    checked = 0
    head_id = None
    anchored = expect_head is None or expect_head[0] == 0
    for event in events:
        if event.prev_hash != prev:
            return VerifyReport(checked, event.id, "link to the previous record is broken (a record was removed)")
        if compute_hash(event, prev) != event.record_hash:
            return VerifyReport(checked, event.id, "content does not match its hash (the record was edited)")
        if expect_head is not None and event.id == expect_head[0]:
            if event.record_hash != expect_head[1]:
                return VerifyReport(checked, event.id, "the anchored record differs (the chain was rewritten)")
            anchored = True
        prev, head_id = event.record_hash, event.id
        checked += 1
    if not anchored:
        return VerifyReport(
            checked, expect_head[0], "the anchored record is gone (records were removed from the end)", head_id, prev
        )
    return VerifyReport(checked, None, "", head_id, prev)


def occurred_between(start: datetime | None, end: datetime | None):
    clauses = []
    if start is not None:
        clauses.append(AuditEvent.occurred_at >= start)
    if end is not None:
        clauses.append(AuditEvent.occurred_at < end)
    return clauses
