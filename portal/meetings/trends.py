"""The trend report: counts of a room's signals since the previous meeting, against the previous period of equal
length, and the suppression of small numbers (docs/domain.md D.4, E.9) that every output goes through.

``generate`` reads the signal tables (read-only) and returns raw counts, stored with the report. ``present`` turns
them into what people see: every count from 1 up to the threshold is shown as "<3", a total that would let a
reader work out a suppressed count is hidden ("*"), and a change is only shown between two visible counts. The
HTML page, the JSON view and the PDF all render ``present``'s result, never the raw data.

A district room's report counts the signals of its district that were shared with the network (not those kept
within a school or board, nor drafts or withdrawn signals). The city-wide network and the directors' consultation
see district aggregates only: the same counts for all districts, with a table per district.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import and_, func, literal_column, or_, select

from portal.extensions import db
from portal.organisations.models import District
from portal.rooms.models import Room, RoomKind
from portal.signals.models import SharingScope, Signal, SignalStatus, TaxonomyTerm, signal_districts, signal_themes

NETWORK_SCOPES = (SharingScope.DISTRICT, SharingScope.DISTRICTS, SharingScope.CITY)
COUNTED_STATUSES = (SignalStatus.SHARED, SignalStatus.IN_PROGRESS, SignalStatus.CLOSED)
RISING_LIMIT = 5


def months_between(start: date, end: date) -> list[str]:
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(cursor.strftime("%Y-%m"))
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def default_period(scheduled_on: date, previous_on: date | None, today: date, meetings_per_year: int) -> tuple:
    """From the previous meeting (or half a year back, by the room's cadence) up to the meeting or today."""
    end = min(scheduled_on, today)
    if previous_on is not None and previous_on < end:
        start = previous_on + timedelta(days=1)
    else:
        start = end - timedelta(days=round(365 / max(meetings_per_year, 1)))
    return start, end


def _room_filter(room: Room):
    base = and_(Signal.sharing_scope.in_(NETWORK_SCOPES), Signal.status.in_(COUNTED_STATUSES))
    if room.kind is RoomKind.DISTRICT and room.district_id is not None:
        extra = select(signal_districts.c.signal_id).where(signal_districts.c.district_id == room.district_id)
        return and_(
            base,
            or_(
                Signal.district_id == room.district_id,
                and_(Signal.sharing_scope == SharingScope.DISTRICTS, Signal.id.in_(extra)),
            ),
        )
    return base  # city-wide and directors: every district, aggregated


def _labels(term_ids: set[int]) -> dict[int, TaxonomyTerm]:
    if not term_ids:
        return {}
    return {t.id: t for t in db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.id.in_(term_ids)))}


def _row(code: str, label_nl: str, label_en: str, months: list[str], current: Counter, previous: int) -> dict:
    return {
        "code": code,
        "label_nl": label_nl,
        "label_en": label_en,
        "months": {m: current.get(m, 0) for m in months},
        "total": sum(current.get(m, 0) for m in months),
        "previous": previous,
    }


def _month(column):
    """The month of a date as 'YYYY-MM', in SQL (the format is inlined: no bound parameter in GROUP BY)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def generate(room: Room, start: date, end: date) -> dict:
    """Raw counts for ``room`` between ``start`` and ``end`` (inclusive) and for the equally long period before.
    A handful of GROUP BY queries: the signals themselves are never loaded."""
    length = (end - start).days + 1
    prev_start, prev_end = start - timedelta(days=length), start - timedelta(days=1)
    months = months_between(start, end)
    city_view = room.kind is not RoomKind.DISTRICT
    month = _month(Signal.occurred_on)
    in_room = _room_filter(room)

    cur: dict[str, dict] = {k: defaultdict(Counter) for k in ("category", "location", "district", "theme", "link")}
    prev: dict[str, Counter] = {k: Counter() for k in ("category", "location", "district", "theme", "link")}

    def count(table: str, key, *, joins=(), where=(), prefix: str = "") -> None:
        for current in (True, False):
            period = (
                (Signal.occurred_on >= start, Signal.occurred_on <= end)
                if current
                else (
                    Signal.occurred_on >= prev_start,
                    Signal.occurred_on <= prev_end,
                )
            )
            columns = (key, month) if current else (key,)
            stmt = select(*columns, func.count()).select_from(Signal)
            for target, on in joins:
                stmt = stmt.join(target, on)
            stmt = stmt.where(in_room, *period, *where).group_by(*columns)
            for row in db.session.execute(stmt):
                value = f"{prefix}{row[0]}" if prefix else row[0]
                if current:
                    cur[table][value][row[1]] += row[2]
                else:
                    prev[table][value] += row[1]

    count("category", Signal.category_id)
    count("location", Signal.location_type_id)
    count("district", Signal.district_id)
    themed = ((signal_themes, signal_themes.c.signal_id == Signal.id),)
    count("theme", signal_themes.c.term_id, joins=themed, prefix="t")
    count("theme", Signal.subcategory_id, where=(Signal.subcategory_id.is_not(None),), prefix="s")
    if city_view:  # signals shared beyond their own district, per district of origin
        count("link", Signal.district_id, where=(Signal.sharing_scope != SharingScope.DISTRICT,))
    else:  # the other districts this room's signals are linked with: extra districts, and districts of origin
        extra = ((signal_districts, signal_districts.c.signal_id == Signal.id),)
        count(
            "link",
            signal_districts.c.district_id,
            joins=extra,
            where=(signal_districts.c.district_id != room.district_id,),
        )
        count("link", Signal.district_id, where=(Signal.district_id != room.district_id,))

    month_totals: Counter = Counter()
    for per_month in cur["category"].values():
        month_totals.update(per_month)
    previous_total = sum(prev["category"].values())
    districts = {d.id: d for d in db.session.scalars(select(District))}

    terms = _labels(
        set(list(cur["category"]) + list(prev["category"]))
        | set(list(cur["location"]) + list(prev["location"]))
        | {int(k[1:]) for k in list(cur["theme"]) + list(prev["theme"])}
    )

    def term_rows(table: str, key_to_id=lambda k: k) -> list[dict]:
        result = []
        for key in set(cur[table]) | set(prev[table]):
            term = terms.get(key_to_id(key))
            if term is None:
                continue
            result.append(_row(term.code, term.label_nl, term.label_en, months, cur[table][key], prev[table][key]))
        return sorted(result, key=lambda row: (-row["total"], row["label_nl"]))

    def district_rows(table: str) -> list[dict]:
        result = []
        for key in set(cur[table]) | set(prev[table]):
            district = districts.get(key)
            if district is None:
                continue
            result.append(_row(district.code, district.name, district.name, months, cur[table][key], prev[table][key]))
        return sorted(result, key=lambda row: row["label_nl"])

    themes = term_rows("theme", key_to_id=lambda k: int(k[1:]))
    return {
        "version": 1,
        "scope": "districts" if city_view else "district",
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "previous": {"from": prev_start.isoformat(), "to": prev_end.isoformat()},
        "months": months,
        "total": sum(month_totals.values()),
        "previous_total": previous_total,
        "month_totals": {m: month_totals.get(m, 0) for m in months},
        "categories": term_rows("category"),
        "location_types": term_rows("location"),
        "districts": district_rows("district") if city_view else [],
        "themes": themes,
        "cross_district": district_rows("link"),
    }


# --- suppression: the only way counts leave the server ------------------------------------------------------------


def _cell(count: int, threshold: int) -> dict:
    if 0 < count < threshold:
        return {"text": f"<{threshold}", "value": None, "suppressed": True, "primary": True}
    return {"text": str(count), "value": count, "suppressed": False, "primary": False}


def _hide(cell: dict) -> None:
    cell.update(text="*", value=None, suppressed=True, primary=False)


def _derivable(raw_hidden: list[int], primary: list[bool], threshold: int) -> bool:
    """Would a reader who knows the line's total work out a hidden count? (one hidden cell; or all hidden cells
    primary-suppressed and their sum is the smallest or largest it could be)."""
    k = len(raw_hidden)
    if k == 0:
        return False
    if k == 1:
        return True
    if not all(primary):
        return False
    total = sum(raw_hidden)
    return total in (k, k * (threshold - 1))


def _protect(raw: list[int], cells: list[dict], total_cell: dict, threshold: int) -> None:
    """Hide a displayed total when it gives a suppressed count in its line away (secondary suppression)."""
    if total_cell["value"] is None:
        return
    hidden = [(n, c["primary"]) for n, c in zip(raw, cells, strict=True) if c["value"] is None]
    if _derivable([n for n, _ in hidden], [p for _, p in hidden], threshold):
        _hide(total_cell)


def _change(current: dict, previous: dict) -> dict:
    if current["value"] is None or previous["value"] is None:
        return {"text": "", "value": None, "direction": "unknown"}
    delta = current["value"] - previous["value"]
    direction = "up" if delta > 0 else ("down" if delta < 0 else "same")
    return {"text": f"{delta:+d}" if delta else "0", "value": delta, "direction": direction}


def _table(rows: list[dict], months: list[str], month_totals: dict, total: int, threshold: int) -> dict:
    out_rows = []
    for row in rows:
        cells = [_cell(row["months"][m], threshold) for m in months]
        total_cell = _cell(row["total"], threshold)
        _protect([row["months"][m] for m in months], cells, total_cell, threshold)
        previous = _cell(row["previous"], threshold)
        out_rows.append(
            {
                "code": row["code"],
                "label_nl": row["label_nl"],
                "label_en": row["label_en"],
                "cells": cells,
                "total": total_cell,
                "previous": previous,
                "change": _change(total_cell, previous),
            }
        )
    # Columns: the month totals (shown under each table) must not give a suppressed cell away either.
    footer = [_cell(month_totals[m], threshold) for m in months]
    for index, month in enumerate(months):
        _protect([r["months"][month] for r in rows], [r["cells"][index] for r in out_rows], footer[index], threshold)
    grand = _cell(total, threshold)
    _protect([r["total"] for r in rows], [r["total"] for r in out_rows], grand, threshold)
    _protect([month_totals[m] for m in months], footer, grand, threshold)
    return {"rows": out_rows, "footer": footer, "total": grand}


def _merge_hidden(tables: list[dict]) -> None:
    """The month totals and the grand total are the same numbers under every table: hidden in one, hidden in all."""
    if not tables:
        return
    for index in range(len(tables[0]["footer"])):
        if any(t["footer"][index]["value"] is None for t in tables):
            for t in tables:
                if t["footer"][index]["value"] is not None:
                    _hide(t["footer"][index])
    if any(t["total"]["value"] is None for t in tables):
        for t in tables:
            if t["total"]["value"] is not None:
                _hide(t["total"])


def _simple_rows(rows: list[dict], threshold: int) -> list[dict]:
    out = []
    for row in rows:
        current, previous = _cell(row["total"], threshold), _cell(row["previous"], threshold)
        out.append(
            {
                "code": row["code"],
                "label_nl": row["label_nl"],
                "label_en": row["label_en"],
                "total": current,
                "previous": previous,
                "change": _change(current, previous),
            }
        )
    return out


def present(data: dict, threshold: int) -> dict:
    """The report as anyone may see it: every count below ``threshold`` suppressed, in one shape for HTML, JSON
    and PDF."""
    threshold = max(int(threshold), 1)
    if not data:
        return {}
    months = data["months"]
    tables = {
        "categories": _table(data["categories"], months, data["month_totals"], data["total"], threshold),
        "location_types": _table(data["location_types"], months, data["month_totals"], data["total"], threshold),
    }
    if data.get("districts"):
        tables["districts"] = _table(data["districts"], months, data["month_totals"], data["total"], threshold)
    _merge_hidden(list(tables.values()))
    total = tables["categories"]["total"]
    previous_total = _cell(data["previous_total"], threshold)
    rising = [
        row
        for row in _simple_rows(data["themes"], threshold)
        if row["change"]["direction"] == "up" and row["total"]["value"] is not None
    ]
    rising.sort(key=lambda row: (-row["change"]["value"], row["label_nl"]))
    return {
        "scope": data["scope"],
        "threshold": threshold,
        "period": data["period"],
        "previous": data["previous"],
        "months": months,
        "total": total,
        "previous_total": previous_total,
        "change": _change(total, previous_total),
        "tables": tables,
        "rising_themes": rising[:RISING_LIMIT],
        "cross_district": _simple_rows(data["cross_district"], threshold),
    }


def chart(view: dict, table: str = "categories", width: int = 640, bar_height: int = 22) -> dict:
    """Geometry of a horizontal bar chart (this period and the previous one per row) for a server-rendered SVG.
    Suppressed counts get a fixed stub and their "<3" label, never a bar of their true length."""
    rows = view.get("tables", {}).get(table, {}).get("rows", []) if view else []
    label_width, gap = 230, 8
    plot = width - label_width - 60
    values = [c["value"] for r in rows for c in (r["total"], r["previous"]) if c["value"] is not None]
    top = max([*values, 1])
    bars, y = [], 10
    for row in rows:
        for series, cell in (("current", row["total"]), ("previous", row["previous"])):
            length = 6 if cell["value"] is None else max(round(plot * cell["value"] / top), 1 if cell["value"] else 0)
            bars.append(
                {
                    "series": series,
                    "label_nl": row["label_nl"],
                    "label_en": row["label_en"],
                    "x": label_width,
                    "y": y,
                    "width": length,
                    "height": bar_height // 2 - 1,
                    "text": cell["text"],
                    "suppressed": cell["suppressed"],
                    "first": series == "current",
                }
            )
            y += bar_height // 2
        y += gap
    return {"width": width, "height": y + 10, "label_width": label_width, "bars": bars}
