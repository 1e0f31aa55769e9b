"""Retention (docs/domain.md E.10, R-PRV-3): K3 detail is anonymised to K2 some time after closure; signals are deleted
some time after the incident, keeping a content-free deletion record so that counts survive. A legal hold stops
both. Safe to run again: each step selects only what is still due."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import and_, delete, insert, or_, select, update

from portal.audit import services as audit
from portal.core.db import utcnow
from portal.extensions import db
from portal.organisations.models import District
from portal.privacy.models import DeletionRecord, PersonReference
from portal.signals.models import Classification, Signal, TaxonomyTerm

BATCH = 500


@dataclass
class RetentionPlan:
    today: date
    anonymise_after: timedelta
    delete_after: timedelta
    delete_after_by_category: dict[str, timedelta] = field(default_factory=dict)


@dataclass
class RetentionReport:
    anonymised: int = 0
    deleted: int = 0
    held: int = 0
    dry_run: bool = False


def plan_from_config(today: date | None = None) -> RetentionPlan:
    config = current_app.config
    overrides = config.get("RETENTION_BY_CATEGORY") or {}
    return RetentionPlan(
        today=today or utcnow().date(),
        anonymise_after=timedelta(days=config["RETENTION_K3_ANONYMISE_DAYS"]),
        delete_after=timedelta(days=config["RETENTION_K2_DELETE_DAYS"]),
        delete_after_by_category={code: timedelta(days=int(days)) for code, days in overrides.items()},
    )


def _due_for_anonymising(plan: RetentionPlan):
    cutoff = plan.today - plan.anonymise_after
    return and_(
        Signal.classification == Classification.K3,
        Signal.closed_at.is_not(None),
        Signal.closed_at < _midnight(cutoff),
        Signal.anonymised_at.is_(None),
        Signal.legal_hold.is_(False),
    )


def _due_for_deletion(plan: RetentionPlan, category_ids: dict[str, int]):
    default_cutoff = plan.today - plan.delete_after
    overridden = [category_ids[code] for code in plan.delete_after_by_category if code in category_ids]
    clauses = [and_(Signal.occurred_on < default_cutoff, Signal.category_id.not_in(overridden) if overridden else True)]
    for code, after in plan.delete_after_by_category.items():
        if code in category_ids:
            clauses.append(and_(Signal.category_id == category_ids[code], Signal.occurred_on < plan.today - after))
    return and_(or_(*clauses), Signal.legal_hold.is_(False))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def run(
    plan: RetentionPlan, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
) -> RetentionReport:
    """Apply the plan in batches (each batch its own commit when not a dry run); report what was (or would be) done."""
    report = RetentionReport(dry_run=dry_run)
    category_ids = dict(
        db.session.execute(select(TaxonomyTerm.code, TaxonomyTerm.id).where(TaxonomyTerm.parent_id.is_(None)))
        .tuples()
        .all()
    )
    report.held = _count(Signal.legal_hold.is_(True))
    if dry_run:  # counting is enough (the privacy page shows these figures on every visit)
        report.anonymised = _count(_due_for_anonymising(plan))
        report.deleted = _count(_due_for_deletion(plan, category_ids))
        if progress:
            progress(report.anonymised + report.deleted)
        return report

    for ids in _batches(_due_for_anonymising(plan)):
        report.anonymised += len(ids)
        _anonymise(ids)
        if progress:
            progress(len(ids))
    for ids in _batches(_due_for_deletion(plan, category_ids)):
        report.deleted += len(ids)
        _delete(ids, reason="retention")
        if progress:
            progress(len(ids))
    if report.anonymised or report.deleted:
        audit.record(
            "retention.run",
            actor_label="(retention job)",
            object_type="signals",
            details={"anonymised": report.anonymised, "deleted": report.deleted},
        )
        db.session.commit()
    return report


def _count(condition) -> int:
    return db.session.scalar(select(db.func.count(Signal.id)).where(condition)) or 0


def _batches(due) -> Iterator[list[int]]:
    """Ids of due signals, BATCH at a time in id order. Keyset (after the last id seen), not OFFSET, which rescanned
    every earlier batch."""
    last_id = 0
    while True:
        ids = list(
            db.session.scalars(select(Signal.id).where(due, Signal.id > last_id).order_by(Signal.id).limit(BATCH))
        )
        if not ids:
            return
        yield ids
        last_id = ids[-1]


def _anonymise(ids: list[int]) -> None:
    now = utcnow()
    rows = db.session.execute(select(Signal.public_id).where(Signal.id.in_(ids))).scalars().all()
    db.session.execute(
        update(Signal)
        .where(Signal.id.in_(ids))
        .values(
            classification=Classification.K2,
            details_html="",
            details_text="",
            area_id=None,
            involved_counts={},
            anonymised_at=now,
            updated_at=now,
        )
    )
    db.session.execute(delete(PersonReference).where(PersonReference.signal_id.in_(ids)))
    db.session.execute(
        insert(DeletionRecord),
        [
            {
                "object_type": "signal",
                "object_id": str(public_id),
                "action": "anonymised",
                "reason": "retention",
                "done_at": now,
            }
            for public_id in rows
        ],
    )
    db.session.commit()


def _delete(ids: list[int], *, reason: str) -> None:
    now = utcnow()
    rows = db.session.execute(
        select(Signal.public_id, TaxonomyTerm.code, District.code, Signal.occurred_on)
        .join(TaxonomyTerm, TaxonomyTerm.id == Signal.category_id)
        .join(District, District.id == Signal.district_id)
        .where(Signal.id.in_(ids))
    ).all()
    db.session.execute(
        insert(DeletionRecord),
        [
            {
                "object_type": "signal",
                "object_id": str(public_id),
                "action": "deleted",
                "reason": reason,
                "category_code": category,
                "district_code": district,
                "month": occurred.strftime("%Y-%m"),
                "done_at": now,
            }
            for public_id, category, district, occurred in rows
        ],
    )
    # Responses, recognitions, status history, room events (the replay buffer), follow-up, alerts, person
    # references and the search index go with the signal (ON DELETE CASCADE, FTS triggers / generated column).
    from portal.signals.models import signal_districts, signal_links, signal_recipients, signal_themes

    for table in (signal_themes, signal_districts, signal_recipients):
        db.session.execute(delete(table).where(table.c.signal_id.in_(ids)))
    db.session.execute(
        delete(signal_links).where(or_(signal_links.c.signal_id.in_(ids), signal_links.c.related_id.in_(ids)))
    )
    db.session.execute(delete(Signal).where(Signal.id.in_(ids)))
    db.session.commit()
