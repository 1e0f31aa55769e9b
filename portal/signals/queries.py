"""Reads of signals with the audience built into the query (R-AZ-2): a signal the user may not see is never
loaded, so it cannot leak through a page, the API, a search hit or a socket replay."""

from __future__ import annotations

import base64
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Integer, and_, column, false, or_, select, text
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.core.errors import NotFound
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.police.models import PoliceFollowUp
from portal.rooms.models import Room, RoomKind

# The audience rule lives in signals/audience.py; its viewer and clause are re-exported for the readers of this module.
from portal.signals.audience import Viewer, audience_clause, matrix, viewer_for  # noqa: F401
from portal.signals.models import (
    RoomEvent,
    SharingScope,
    Signal,
    signal_districts,
)

PAGE_SIZE = 25
RESUME_BATCH = 500


def room_clause(room: Room):
    """Signals that belong in a room's stream: its district's, shared with its district, or city-wide."""
    if room.kind is RoomKind.CITY:
        return Signal.sharing_scope == SharingScope.CITY
    if room.kind is not RoomKind.DISTRICT or room.district_id is None:
        return false()
    extra = select(signal_districts.c.signal_id).where(signal_districts.c.district_id == room.district_id)
    return or_(Signal.district_id == room.district_id, Signal.sharing_scope == SharingScope.CITY, Signal.id.in_(extra))


# --- search ---------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
# A readable reference (services.next_reference: SIG-2026-0042), in any case, also without the leading zeros.
_REFERENCE = re.compile(r"SIG[-\s]?([0-9]{4})[-\s]([0-9]{1,6})", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_PREFIX_MIN = 3  # shorter query words only match a whole word of a label


def search_reference(q: str) -> str | None:
    """The reference ``q`` names (``sig-2026-7`` → ``SIG-2026-0007``), or None when it is not a reference."""
    match = _REFERENCE.fullmatch((q or "").strip())
    return f"SIG-{match.group(1)}-{int(match.group(2)):04d}" if match else None


def _tokens(value: str) -> list[str]:
    """Lower-case words without diacritics (``Ouders geïnformeerd`` → ``ouders``, ``geinformeerd``)."""
    folded = unicodedata.normalize("NFKD", value).casefold()
    return _TOKEN.findall("".join(c for c in folded if not unicodedata.combining(c)))


@functools.lru_cache(maxsize=4096)
def _label_tokens(*labels: str) -> frozenset[str]:
    # Keyed by the label texts themselves, so an edited label is simply a new entry.
    return frozenset(t for label in labels for t in _tokens(label))


def _names(words: list[str], *labels: str) -> bool:
    """Every query word is a word of one of the labels, or (from three letters) the start of one."""
    tokens = _label_tokens(*labels)
    return all(w in tokens or (len(w) >= _PREFIX_MIN and any(t.startswith(w) for t in tokens)) for w in words)


def label_matches(q: str) -> tuple[list[int], list[int], list[str]]:
    """The categories, subcategories and online platforms whose label (Dutch or English) or code the whole query
    names: one small statement over the category vocabulary, the matching itself in Python (no LIKE, so nothing
    of the query acts as a wildcard). Labels are resolved at every search, so an edited label is found at once."""
    from portal.signals.models import ONLINE_PLATFORMS, TaxonomyTerm, Vocabulary

    words = _tokens(q or "")[:12]
    if not words:
        return [], [], []
    categories, subcategories = [], []
    rows = db.session.execute(
        select(TaxonomyTerm.id, TaxonomyTerm.parent_id, TaxonomyTerm.code, TaxonomyTerm.label_nl, TaxonomyTerm.label_en)
        .where(TaxonomyTerm.vocabulary == Vocabulary.CATEGORY)
        .order_by(TaxonomyTerm.id)
    )
    for term_id, parent_id, code, label_nl, label_en in rows:
        if _names(words, label_nl, label_en, code.rpartition(".")[2]):  # a subcategory's own part of the code
            (categories if parent_id is None else subcategories).append(term_id)
    platforms = [p for p in ONLINE_PLATFORMS if _names(words, p)]
    return categories, subcategories, platforms


def search_clause(q: str, *, summary_only: bool = False):
    """Full-text search: PostgreSQL's Dutch configuration (GIN-indexed column), SQLite's FTS5 table.
    User input only ever travels as a bound parameter; FTS5 gets quoted terms, so its syntax cannot be injected.
    ``summary_only``: match the summary alone (for signals whose details the viewer may not see)."""
    words = _WORD.findall(q or "")[:12]
    if not words:
        return None
    if db.session.get_bind().dialect.name == "postgresql":
        if summary_only:
            return text(
                "to_tsvector('dutch', coalesce(signals.summary, '')) @@ plainto_tsquery('dutch', :fts_summary_query)"
            ).bindparams(fts_summary_query=" ".join(words))
        return text("signals.search_vector @@ plainto_tsquery('dutch', :fts_query)").bindparams(
            fts_query=" ".join(words)
        )
    match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
    if summary_only:
        matches = text("SELECT rowid FROM signals_fts WHERE signals_fts MATCH :fts_summary_query").bindparams(
            fts_summary_query="{summary} : (" + match + ")"
        )
    else:
        matches = text("SELECT rowid FROM signals_fts WHERE signals_fts MATCH :fts_query").bindparams(fts_query=match)
    return Signal.id.in_(matches.columns(column("rowid", Integer)))


def search_filter(viewer: Viewer, q: str):
    """What a search ``q`` matches, for ANDing with the audience clause: the signal a reference names (exactly, on the
    unique column); otherwise the free text, or a category, subcategory or online platform whose label the query
    names. Words in the details count only where the viewer sees the details; elsewhere only the summary is
    searched, so a search cannot reveal what the visibility matrix hides. Labels and the reference are shown to
    everyone who sees the signal. A query without a word matches nothing (``%`` is not "everything")."""
    reference = search_reference(q)
    if reference is not None:
        return Signal.reference == reference
    fts = search_clause(q)
    if fts is None:
        return false()
    details_shown = or_(viewer.own_clause(), Signal.classification.in_(viewer.classes_showing("details")))
    alternatives = [and_(fts, or_(details_shown, search_clause(q, summary_only=True)))]
    categories, subcategories, platforms = label_matches(q)
    # Each alternative has an index (signals.category_id, subcategory_id, online_platform), so PostgreSQL can OR
    # their bitmaps with the full-text index instead of scanning the table.
    if categories:
        alternatives.append(Signal.category_id.in_(categories))
    if subcategories:
        alternatives.append(Signal.subcategory_id.in_(subcategories))
    if platforms:
        alternatives.append(Signal.online_platform.in_(platforms))
    return or_(*alternatives)


# --- listing --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalFilter:
    room: Room | None = None
    start: date | None = None
    end: date | None = None
    category: str = ""  # taxonomy code of a category (main or sub)
    location_type: str = ""
    severity: str = ""
    status: str = ""
    school_id: int | None = None
    district_id: int | None = None
    police_follow_up: str = ""  # "none": not picked up by the police yet; "picked_up": picked up
    sharing_scope: SharingScope | None = None
    q: str = ""
    after_id: int | None = None  # keyset cursor: only signals older than this id


def encode_cursor(signal_id: int) -> str:
    return base64.urlsafe_b64encode(f"s{signal_id}".encode()).decode().rstrip("=")


# Signal ids are INTEGER columns: a forged cursor beyond that range must be refused, not handed to the driver (SQLite
# raises OverflowError, PostgreSQL a NumericValueOutOfRange).
MAX_ID = 2**31 - 1
_CURSOR = re.compile(r"s([1-9][0-9]{0,9})")


def decode_cursor(cursor: str | None) -> int | None:
    """The id behind a cursor from ``encode_cursor``; None for anything else (the adapters answer 400)."""
    if not cursor or len(cursor) > 32:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    match = _CURSOR.fullmatch(raw)
    if match is None or int(match.group(1)) > MAX_ID:
        return None
    return int(match.group(1))


def _eager():
    """What a signal's presentation reads, besides the reference data (``load_reference_data``): a page costs the
    same number of statements whatever its length. The three many-to-ones that differ from row to row are joined
    into the main SELECT, collections come by one IN query each. (Joining more is no gain: beyond four outer joins
    under the audience clause PostgreSQL spends 10-90 ms planning every unprepared statement.)"""
    return (
        joinedload(Signal.school_location).selectinload(Organisation.parent),
        joinedload(Signal.organisation),
        joinedload(Signal.created_by),
        selectinload(Signal.themes),
        selectinload(Signal.follow_ups).selectinload(PoliceFollowUp.intervention),
    )


_TERM_RELATIONSHIPS = ("category", "subcategory", "location_type", "severity", "weapon_type")


def load_reference_data(signals) -> None:
    """Attach the taxonomy terms, districts and areas of these signals (and their schools' districts) with one
    statement per table, instead of one selectin statement per relationship: fewer round trips, and fewer loader
    options for SQLAlchemy to build every statement's cache key from (half of a list request's time went there)."""
    from portal.organisations.models import Area, District
    from portal.signals.models import TaxonomyTerm

    signals = [s for s in signals if s is not None]
    if not signals:
        return
    term_ids = {getattr(s, f"{name}_id") for s in signals for name in _TERM_RELATIONSHIPS} - {None}
    terms = {t.id: t for t in db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.id.in_(term_ids)))}
    schools = [s.school_location for s in signals if s.school_location is not None]
    district_ids = {s.district_id for s in signals} | {o.district_id for o in schools if o.district_id}
    districts = {d.id: d for d in db.session.scalars(select(District).where(District.id.in_(district_ids)))}
    area_ids = {s.area_id for s in signals} - {None}
    areas = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(area_ids)))} if area_ids else {}
    for signal in signals:
        for name in _TERM_RELATIONSHIPS:
            set_committed_value(signal, name, terms.get(getattr(signal, f"{name}_id")))
        set_committed_value(signal, "district", districts.get(signal.district_id))
        set_committed_value(signal, "area", areas.get(signal.area_id))
    for school in schools:
        set_committed_value(school, "district", districts.get(school.district_id))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    if day.month == 12:  # also keeps 9999-12 within the calendar
        return day.replace(day=31)
    return day.replace(month=day.month + 1, day=1) - timedelta(days=1)


def _period_clause(viewer: Viewer, start: date | None, end: date | None):
    """Exact dates where the viewer sees them; whole months where only the month is shown, so a narrow period
    filter cannot reveal the day of a signal that hides it."""

    def between(lower, upper):
        parts = []
        if lower:
            parts.append(Signal.occurred_on >= lower)
        if upper:
            parts.append(Signal.occurred_on <= upper)
        return and_(*parts)

    exact = or_(viewer.own_clause(), Signal.classification.in_(viewer.classes_showing("occurred_on")))
    monthly = between(start and _month_start(start), end and _month_end(end))
    # ``IS NOT true`` rather than NOT: ``exact`` is NULL (not false) for a signal without a school location.
    return or_(and_(exact, between(start, end)), and_(exact.is_not(True), monthly))


def list_signals(viewer: Viewer, criteria: SignalFilter, limit: int = PAGE_SIZE) -> tuple[list[Signal], int | None]:
    """One page, newest first, and the id to continue after (None at the end). A constant number of queries."""
    from portal.signals.models import TaxonomyTerm

    stmt = select(Signal).where(audience_clause(viewer))
    if criteria.room is not None:
        stmt = stmt.where(room_clause(criteria.room))
    if criteria.start or criteria.end:
        stmt = stmt.where(_period_clause(viewer, criteria.start, criteria.end))
    for filtered_column, code in (
        (None, criteria.category),
        (Signal.location_type_id, criteria.location_type),
        (Signal.severity_id, criteria.severity),
    ):
        if not code:
            continue
        ids = select(TaxonomyTerm.id).where(TaxonomyTerm.code == code)
        if filtered_column is None:
            stmt = stmt.where(or_(Signal.category_id.in_(ids), Signal.subcategory_id.in_(ids)))
        else:
            stmt = stmt.where(filtered_column.in_(ids))
    if criteria.status:
        stmt = stmt.where(Signal.status == criteria.status)
    if criteria.school_id:
        # Filtering by school must not reveal the school of a signal that hides it from this viewer.
        stmt = stmt.where(
            Signal.school_location_id == criteria.school_id,
            or_(viewer.own_clause(), Signal.classification.in_(viewer.classes_showing("school"))),
        )
    if criteria.district_id:
        stmt = stmt.where(Signal.district_id == criteria.district_id)
    if criteria.sharing_scope is not None:
        stmt = stmt.where(Signal.sharing_scope == criteria.sharing_scope)
    if criteria.police_follow_up == "none":
        stmt = stmt.where(Signal.police_picked_up_at.is_(None))
    elif criteria.police_follow_up == "picked_up":
        stmt = stmt.where(Signal.police_picked_up_at.is_not(None))
    if criteria.q:
        stmt = stmt.where(search_filter(viewer, criteria.q))
    if criteria.after_id:
        stmt = stmt.where(Signal.id < criteria.after_id)
    stmt = stmt.order_by(Signal.id.desc()).limit(limit + 1).options(*_eager())
    rows = list(db.session.scalars(stmt))
    load_reference_data(rows)
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def get_visible_signal(viewer: Viewer, public_id) -> Signal:
    """The signal if this viewer may see it; otherwise NotFound, the same as for an unknown id (R-AZ-3)."""
    if public_id is None:
        raise NotFound()
    stmt = (
        select(Signal)
        .where(Signal.public_id == public_id, audience_clause(viewer))
        .options(*_eager(), selectinload(Signal.responses), selectinload(Signal.status_history))
    )
    signal = db.session.scalar(stmt)
    if signal is None:
        raise NotFound()
    load_reference_data([signal])
    return signal


def events_after(viewer: Viewer, room: Room, after_seq: int, limit: int = 500) -> list[tuple[RoomEvent, Signal]]:
    """The room's events after ``after_seq`` whose signal this viewer may (still) see, in order (R-REL-2)."""
    stmt = (
        select(RoomEvent, Signal)
        .join(Signal, Signal.id == RoomEvent.signal_id)
        .where(RoomEvent.room_id == room.id, RoomEvent.seq > after_seq, audience_clause(viewer))
        .order_by(RoomEvent.seq)
        .limit(limit)
        .options(*_eager())
    )
    rows = list(db.session.execute(stmt).tuples())
    load_reference_data([signal for _event, signal in rows])
    return rows


def get_room_for(viewer: Viewer, public_id) -> Room:
    """A room the viewer is a current member of; NotFound otherwise."""
    room = db.session.scalar(select(Room).where(Room.public_id == public_id)) if public_id else None
    if room is None or room.id not in viewer.room_ids:
        raise NotFound()
    return room


def get_visible_by_reference(viewer: Viewer, reference: str) -> Signal | None:
    return db.session.scalar(select(Signal).where(Signal.reference == reference, audience_clause(viewer)))


def related_visible(viewer: Viewer, signal: Signal) -> list[Signal]:
    """Signals linked to ``signal`` that this viewer may see (one query)."""
    from portal.signals.models import signal_links

    linked = (
        select(signal_links.c.related_id)
        .where(signal_links.c.signal_id == signal.id)
        .union(select(signal_links.c.signal_id).where(signal_links.c.related_id == signal.id))
    )
    stmt = select(Signal).where(Signal.id.in_(linked), audience_clause(viewer)).order_by(Signal.id.desc())
    return list(db.session.scalars(stmt))
