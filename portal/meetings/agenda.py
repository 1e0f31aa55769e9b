"""The agenda of a meeting: the standard items pre-filled when it opens, the open actions carried onto its action
list, proposals by members, and the chair's decisions, changes and order."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from portal.core.db import parse_public_id, utcnow
from portal.core.errors import PermissionDenied, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import events, queries
from portal.meetings.guards import (
    TITLE_MAX,
    audit_meeting,
    may_access,
    member_user,
    minutes_of_day,
    require_manage,
    require_status,
    rich_text,
    visible_signals,
)
from portal.meetings.models import AgendaItem, Meeting, MeetingStatus
from portal.signals import queries as signal_queries
from portal.signals.models import TaxonomyTerm, Vocabulary

S = MeetingStatus

# The standard order of docs/domain.md D.5 with a proposed length per item (minutes); pre-filled when the agenda opens.
STANDARD_AGENDA: tuple[tuple[str, int], ...] = (
    ("opening", 5),
    ("actielijst", 10),
    ("trendbeeld_scholen", 20),
    ("politiebeeld", 15),
    ("beeld_straat", 15),
    ("thema", 30),
    ("casuistiek", 20),
    ("afspraken", 10),
    ("rondvraag", 5),
)
CLOSING_KINDS = ("rondvraag", "afsluiting")  # proposals are placed before these

PROPOSING = (S.AGENDA_OPEN,)


@dataclass
class ItemInput:
    kind: str
    title: str
    duration_min: int | None
    description_html: str = ""
    owner_id: str = ""
    signal_references: list = field(default_factory=list)
    themes: list = field(default_factory=list)


def _agenda_term(code: str, field_name: str = "kind") -> TaxonomyTerm:
    term = db.session.scalar(
        select(TaxonomyTerm).where(
            TaxonomyTerm.vocabulary == Vocabulary.AGENDA_ITEM_KIND,
            TaxonomyTerm.code == (code or "").strip(),
            TaxonomyTerm.active.is_(True),
        )
    )
    if term is None:
        raise ValidationFailed("Choose the kind of agenda item.", field=field_name)
    return term


def _themes(codes: list) -> list[TaxonomyTerm]:
    terms = []
    for code in dict.fromkeys(codes or []):
        term = db.session.scalar(
            select(TaxonomyTerm).where(
                TaxonomyTerm.vocabulary == Vocabulary.THEME, TaxonomyTerm.code == code, TaxonomyTerm.active.is_(True)
            )
        )
        if term is None:
            raise ValidationFailed("Unknown theme.", field="themes")
        terms.append(term)
    return terms


def _prefill_agenda(user: User, meeting: Meeting) -> None:
    if queries.agenda(meeting):
        return
    for position, (code, minutes) in enumerate(STANDARD_AGENDA):
        term = db.session.scalar(
            select(TaxonomyTerm).where(
                TaxonomyTerm.vocabulary == Vocabulary.AGENDA_ITEM_KIND, TaxonomyTerm.code == code
            )
        )
        if term is None or not term.active:
            continue
        db.session.add(
            AgendaItem(
                meeting_id=meeting.id,
                position=position,
                kind=term,
                title=term.label_nl,
                duration_min=minutes,
                owner_id=meeting.chair_id if code in ("opening", "rondvraag") else None,
                proposed_by_id=user.id,
                accepted=True,
                standard=True,
            )
        )
    db.session.flush()
    carry_open_actions(meeting)


def _action_list_item(meeting: Meeting) -> AgendaItem | None:
    return next((i for i in queries.agenda(meeting) if i.kind.code == "actielijst"), None)


def carry_open_actions(meeting: Meeting) -> int:
    """Open actions of earlier meetings go onto this meeting's action-list item (added, never silently removed:
    an action closed meanwhile stays on the record of what was discussed)."""
    item = _action_list_item(meeting)
    if item is None:
        return 0
    present = {a.id for a in item.actions}
    added = [a for a in queries.carried_actions(meeting) if a.id not in present]
    item.actions.extend(added)
    db.session.flush()
    return len(added)


def _place_before_closing(meeting: Meeting) -> int:
    items = queries.agenda(meeting)
    closing = [i.position for i in items if i.kind.code in CLOSING_KINDS]
    if closing:
        first = min(closing)
        for i in items:
            if i.position >= first:
                i.position += 1
        return first
    return (max((i.position for i in items), default=-1)) + 1


def propose_item(user: User, meeting: Meeting, data: ItemInput, *, ip: str) -> AgendaItem:
    access = may_access(user, meeting)
    if not (access.propose or access.manage):
        raise PermissionDenied("You may not propose agenda items.")
    require_status(meeting, PROPOSING, "Agenda items can be proposed while the agenda is open.")
    item = AgendaItem(meeting_id=meeting.id, proposed_by_id=user.id, accepted=access.manage)
    _apply_item(user, meeting, item, data)
    item.position = _place_before_closing(meeting)
    db.session.add(item)
    db.session.flush()
    audit_meeting("meeting.agenda.propose", user, meeting, ip, item=str(item.public_id), kind=item.kind.code)
    events.meeting_event("meeting.agenda", meeting.id)
    return item


def _apply_item(user: User, meeting: Meeting, item: AgendaItem, data: ItemInput) -> None:
    item.kind = _agenda_term(data.kind)
    title = clean_text(data.title, field="title", max_length=TITLE_MAX)
    if len(title) < 3:
        raise ValidationFailed("Enter a title.", field="title")
    item.title = title
    item.duration_min = minutes_of_day(data.duration_min, "duration_min", 1, 240)
    item.description_html = rich_text(data.description_html, "description")
    item.owner = member_user(meeting.room, data.owner_id, "owner")
    item.signals = visible_signals(user, data.signal_references, "signals")
    item.themes = _themes(data.themes)


def update_item(user: User, meeting: Meeting, item: AgendaItem, data: ItemInput, *, ip: str) -> AgendaItem:
    require_manage(user, meeting)
    require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change it.")
    # Signals the proposer linked that the chair cannot see stay linked (the chair's form does not show them).
    before = list(item.signals)
    visible = queries.visible_signal_ids(signal_queries.viewer_for(user), {s.id for s in before})
    hidden = [s for s in before if s.id not in visible]
    _apply_item(user, meeting, item, data)
    item.signals = item.signals + [s for s in hidden if s not in item.signals]
    item.updated_at = utcnow()
    db.session.flush()
    audit_meeting("meeting.agenda.update", user, meeting, ip, item=str(item.public_id))
    events.meeting_event("meeting.agenda", meeting.id)
    return item


def decide_item(user: User, meeting: Meeting, item: AgendaItem, accept: bool, *, ip: str) -> None:
    """Accept a proposal onto the agenda, or remove an item (a proposal, or an item the chair no longer wants)."""
    require_manage(user, meeting)
    require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change it.")
    if accept:
        item.accepted = True
        db.session.flush()
    else:
        db.session.delete(item)
        db.session.flush()
        _renumber(queries.agenda(meeting))
    audit_meeting(
        "meeting.agenda.accept" if accept else "meeting.agenda.remove", user, meeting, ip, item=str(item.public_id)
    )
    events.meeting_event("meeting.agenda", meeting.id)


def _renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items):
        item.position = position
    db.session.flush()


def reorder(user: User, meeting: Meeting, ordered_ids: list, *, ip: str) -> list[AgendaItem]:
    """The new order as the complete list of item ids (from drag-and-drop, or built by ``move_item``)."""
    require_manage(user, meeting)
    require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change its order.")
    items = queries.agenda(meeting)
    by_id = {i.public_id: i for i in items}
    wanted = [parse_public_id(v) for v in ordered_ids or []]
    if len(wanted) != len(items) or set(wanted) != set(by_id):
        raise ValidationFailed("The new order must list every agenda item once.", field="order")
    _renumber([by_id[w] for w in wanted])
    audit_meeting("meeting.agenda.reorder", user, meeting, ip)
    events.meeting_event("meeting.agenda", meeting.id)
    return [by_id[w] for w in wanted]


def move_item(user: User, meeting: Meeting, item: AgendaItem, direction: str, *, ip: str) -> None:
    if direction not in ("up", "down"):
        raise ValidationFailed("Move up or down.", field="direction")
    items = queries.agenda(meeting)
    index = next(i for i, other in enumerate(items) if other.id == item.id)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    reorder(user, meeting, [str(i.public_id) for i in items], ip=ip)
