"""Counts for dashboards and reports, with small-number suppression applied before anything leaves the server
(docs/domain.md E.9): a cell below the threshold is returned as ``None`` and shown as "<3"; totals that would let
someone recompute a suppressed cell are suppressed as well (secondary suppression by row)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.organisations.models import District
from portal.signals.models import Signal, SignalStatus, TaxonomyTerm


def threshold() -> int:
    return int(current_app.config.get("SUPPRESSION_THRESHOLD", 3))


def suppress(count: int, limit: int | None = None) -> int | None:
    limit = threshold() if limit is None else limit
    return None if 0 < count < limit else count


@dataclass
class CrossTable:
    """Rows × columns of counts, already suppressed; ``None`` means "fewer than the threshold"."""

    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], int | None] = field(default_factory=dict)
    row_totals: dict[str, int | None] = field(default_factory=dict)
    column_totals: dict[str, int | None] = field(default_factory=dict)
    threshold: int = 3

    def as_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "rows": self.rows,
            "columns": self.columns,
            "cells": [[self.cells.get((r, c)) for c in self.columns] for r in self.rows],
            "row_totals": [self.row_totals.get(r) for r in self.rows],
            "column_totals": [self.column_totals.get(c) for c in self.columns],
        }


def category_by_district(start: date, end: date, *, where=None, language: str = "nl") -> CrossTable:
    """Shared signals per main category (rows) and district (columns) in a period."""
    limit = threshold()
    stmt = (
        select(TaxonomyTerm.label_nl, TaxonomyTerm.label_en, District.name, func.count(Signal.id))
        .join(TaxonomyTerm, TaxonomyTerm.id == Signal.category_id)
        .join(District, District.id == Signal.district_id)
        .where(
            Signal.occurred_on >= start,
            Signal.occurred_on <= end,
            Signal.status != SignalStatus.DRAFT,
            Signal.status != SignalStatus.WITHDRAWN,
        )
        .group_by(TaxonomyTerm.label_nl, TaxonomyTerm.label_en, District.name)
    )
    if where is not None:
        stmt = stmt.where(where)
    raw: dict[tuple[str, str], int] = {}
    for label_nl, label_en, district, count in db.session.execute(stmt):
        raw[(label_en if language == "en" else label_nl, district)] = count
    rows = sorted({r for r, _ in raw})
    columns = sorted({c for _, c in raw})
    table = CrossTable(rows=rows, columns=columns, threshold=limit)
    for key, count in raw.items():
        table.cells[key] = suppress(count, limit)
    for r in rows:
        values = [raw.get((r, c), 0) for c in columns]
        hidden = any(table.cells.get((r, c), 0) is None for c in columns)
        table.row_totals[r] = None if hidden and sum(1 for v in values if v) > 1 else suppress(sum(values), limit)
    for c in columns:
        values = [raw.get((r, c), 0) for r in rows]
        hidden = any(table.cells.get((r, c), 0) is None for r in rows)
        table.column_totals[c] = None if hidden and sum(1 for v in values if v) > 1 else suppress(sum(values), limit)
    return table
