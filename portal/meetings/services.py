"""Writes for meetings: require → validate/clean → persist → audit → publish on commit.

Views (and the socket handler, for presence) call these with the acting user and the meeting they loaded through
``meetings.queries`` (which already refused other rooms with 404); the functions check again, flush, and leave the
commit to the adapter. Refused workflow steps raise ``Conflict`` (409) with a message a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from portal.audit import services as audit
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.db import parse_public_id, utcnow
from portal.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from portal.core.sanitize import clean_rich_text, html_to_text
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import queries, trends
from portal.meetings.models import (
    ActionItem,
    ActionStatus,
    ActionUpdate,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingInvitee,
    MeetingKind,
    MeetingPresence,
    MeetingStatus,
    MeetingStatusChange,
    Minutes,
    MinutesComment,
    MinutesVersion,
    PartnerKind,
    PartnerPicture,
    SchoolInput,
    TrendReport,
)
from portal.realtime import publish
from portal.rooms.models import Room, RoomKind
from portal.signals import queries as signal_queries
from portal.signals.models import TaxonomyTerm, Vocabulary

S = MeetingStatus

# The standard order of DOMAIN.md D.5 with a proposed length per item (minutes); pre-filled when the agenda opens.
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

TRANSITIONS: dict[MeetingStatus, tuple[MeetingStatus, ...]] = {
    S.PLANNED: (S.AGENDA_OPEN,),
    S.AGENDA_OPEN: (S.AGENDA_FINAL,),
    S.AGENDA_FINAL: (S.AGENDA_OPEN, S.HELD),
    S.HELD: (S.MINUTES_DRAFT,),
    S.MINUTES_DRAFT: (S.MINUTES_ADOPTED,),
    S.MINUTES_ADOPTED: (),
}
CHAIR_STEPS = (S.AGENDA_FINAL, S.MINUTES_ADOPTED)  # "the chair finalises", "the chair adopts"
KINDS_BY_ROOM = {
    RoomKind.DISTRICT: (MeetingKind.DISTRICT, MeetingKind.EXTRA),
    RoomKind.CITY: (MeetingKind.CITY, MeetingKind.EXTRA),
    RoomKind.DIRECTORS: (MeetingKind.DIRECTORS, MeetingKind.EXTRA),
}
PROPOSING = (S.AGENDA_OPEN,)
INPUT_OPEN = (S.AGENDA_OPEN, S.AGENDA_FINAL)
MINUTES_EDITABLE = (S.AGENDA_FINAL, S.HELD, S.MINUTES_DRAFT)
DURING_OR_AFTER = (S.AGENDA_FINAL, S.HELD, S.MINUTES_DRAFT)
TREND_EDITABLE = (S.PLANNED, S.AGENDA_OPEN, S.AGENDA_FINAL)
DETAILS_EDITABLE = (S.PLANNED, S.AGENDA_OPEN, S.AGENDA_FINAL)

TITLE_MAX = 200
TEXT_MAX = 5000
MINUTES_MAX = 50_000
CONCERN_MAX = 280


@dataclass
class MeetingInput:
    kind: str
    title: str
    scheduled_at: datetime | None
    duration_min: int | None
    place: str = ""
    online_url: str = ""
    chair_id: str = ""  # public ids
    secretary_id: str = ""
    invited_organisations: list = field(default_factory=list)  # organisation public ids
    invited_users: list = field(default_factory=list)  # user public ids


@dataclass
class ItemInput:
    kind: str
    title: str
    duration_min: int | None
    description_html: str = ""
    owner_id: str = ""
    signal_references: list = field(default_factory=list)
    themes: list = field(default_factory=list)


@dataclass
class SchoolInputData:
    concerns: list = field(default_factory=list)
    signal_references: list = field(default_factory=list)
    help_needed_html: str = ""


@dataclass
class ActionInput:
    description: str
    owner_organisation_id: str
    due_date: date | None
    owner_user_id: str = ""


# --- helpers ----------------------------------------------------------------------------------------------------


def _access(user: User, meeting_or_room) -> queries.Access:
    if isinstance(meeting_or_room, Room):
        access = queries.access_for(user, meeting_or_room) if queries.is_member(meeting_or_room, user) else None
    else:
        access = queries.meeting_access(user, meeting_or_room)
    if access is None or not access.read:
        raise NotFound()
    return access


def require_manage(user: User, meeting_or_room) -> queries.Access:
    access = _access(user, meeting_or_room)
    if not access.manage:
        raise PermissionDenied("Only the chair or secretary of this network can do this.")
    return access


def _require_status(meeting: Meeting, allowed: tuple[MeetingStatus, ...], message: str) -> None:
    if meeting.status not in allowed:
        raise Conflict(message)


def _audit(action: str, user: User, meeting: Meeting, ip: str, **details) -> None:
    audit.record(action, actor=user, ip=ip, object_type="meeting", object_id=str(meeting.public_id), details=details)


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


def _member_user(room: Room, public_id: str, field_name: str) -> User | None:
    if not public_id:
        return None
    wanted = parse_public_id(public_id)
    for membership in queries.members(room):
        if membership.user.public_id == wanted:
            return membership.user
    raise ValidationFailed("Choose a member of this network.", field=field_name)


def _visible_signals(user: User, references: list, field_name: str) -> list:
    """Signals by reference, each one visible to ``user`` (a proposer can only link what they can see)."""
    viewer = signal_queries.viewer_for(user)
    found = []
    for raw in dict.fromkeys(r.strip().upper() for r in references if r and r.strip()):
        reference = clean_text(raw, field=field_name, max_length=20)
        signal = signal_queries.get_visible_by_reference(viewer, reference)
        if signal is None:
            raise ValidationFailed(
                "No signal with reference %(reference)s that you can see.", field=field_name, reference=reference
            )
        found.append(signal)
    return found


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


def _rich_text(html: str, field_name: str, max_length: int = TEXT_MAX) -> str:
    cleaned = clean_rich_text(html or "")
    if len(html_to_text(cleaned)) > max_length:
        raise ValidationFailed("The text is longer than %(max)s characters.", field=field_name, max=max_length)
    return cleaned


def _minutes_of_day(value: int | None, field_name: str, low: int, high: int) -> int:
    if value is None or isinstance(value, bool) or not low <= int(value) <= high:
        raise ValidationFailed(
            "Enter a number of minutes from %(low)s to %(high)s.", field=field_name, low=low, high=high
        )
    return int(value)


# --- meetings ---------------------------------------------------------------------------------------------------


def _apply_meeting(meeting: Meeting, room: Room, data: MeetingInput) -> None:
    try:
        kind = MeetingKind(data.kind)
    except ValueError as exc:
        raise ValidationFailed("Choose the kind of meeting.", field="kind") from exc
    if kind not in KINDS_BY_ROOM[room.kind]:
        raise ValidationFailed("This kind of meeting does not belong to this network.", field="kind")
    title = clean_text(data.title, field="title", max_length=TITLE_MAX)
    if len(title) < 3:
        raise ValidationFailed("Enter a title.", field="title")
    if data.scheduled_at is None or data.scheduled_at.tzinfo is None:
        raise ValidationFailed("Enter the date and time.", field="scheduled_at")
    online_url = clean_text(data.online_url, field="online_url", max_length=500)
    if online_url:
        parts = urlsplit(online_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ValidationFailed("Enter an https:// link.", field="online_url")
    place = clean_text(data.place, field="place", max_length=200)
    if not place and not online_url:
        raise ValidationFailed("Enter a place or an online link.", field="place")
    managers = {u.public_id: u for u in queries.managers(room)}
    people = {}
    for name in ("chair_id", "secretary_id"):
        value = getattr(data, name)
        wanted = parse_public_id(value) if value else None
        if value and wanted not in managers:
            raise ValidationFailed("Choose someone who organises this network's meetings.", field=name)
        people[name] = managers.get(wanted) if wanted else None
    meeting.kind = kind
    meeting.title = title
    meeting.scheduled_at = data.scheduled_at
    meeting.duration_min = _minutes_of_day(data.duration_min, "duration_min", 15, 600)
    meeting.place = place
    meeting.online_url = online_url
    meeting.chair = people["chair_id"]
    meeting.secretary = people["secretary_id"]


def _set_invitees(meeting: Meeting, room: Room, organisation_ids: list, user_ids: list) -> None:
    invitable_organisations, invitable_users = queries.invitable(room)
    users = {u.public_id: u for u in invitable_users}
    organisations = {o.public_id: o for o in invitable_organisations}
    wanted_orgs = {parse_public_id(v) for v in organisation_ids or []}
    wanted_users = {parse_public_id(v) for v in user_ids or []}
    if not wanted_orgs <= set(organisations) or not wanted_users <= set(users):
        raise ValidationFailed("Invite organisations and people of this network only.", field="invited_organisations")
    db.session.execute(delete(MeetingInvitee).where(MeetingInvitee.meeting_id == meeting.id))
    for public_id in sorted(wanted_orgs, key=str):
        db.session.add(MeetingInvitee(meeting_id=meeting.id, organisation_id=organisations[public_id].id))
    for public_id in sorted(wanted_users, key=str):
        db.session.add(MeetingInvitee(meeting_id=meeting.id, user_id=users[public_id].id))


def create_meeting(user: User, room: Room, data: MeetingInput, *, ip: str) -> Meeting:
    require_manage(user, room)
    meeting = Meeting(room=room, created_by=user, status=S.PLANNED)
    _apply_meeting(meeting, room, data)
    db.session.add(meeting)
    db.session.flush()
    organisations = data.invited_organisations
    if not organisations and not data.invited_users:  # by default the whole network is invited
        organisations = [str(o.public_id) for o in queries.member_organisations(room)]
    _set_invitees(meeting, room, organisations, data.invited_users)
    db.session.add(MeetingStatusChange(meeting_id=meeting.id, to_status=S.PLANNED.value, changed_by_id=user.id))
    db.session.flush()
    _audit("meeting.create", user, meeting, ip, room=str(room.public_id), kind=meeting.kind.value)
    return meeting


def _guest_ids(meeting: Meeting) -> set[int]:
    """The people who attend as invited guests, without a seat in the room."""
    return {p.id for p in queries.participants(meeting)} - {m.user_id for m in queries.members(meeting.room)}


def update_meeting(user: User, meeting: Meeting, data: MeetingInput, *, ip: str) -> Meeting:
    require_manage(user, meeting)
    _require_status(meeting, DETAILS_EDITABLE, "The details of a meeting that has been held cannot change.")
    before = (meeting.scheduled_at, meeting.duration_min, meeting.place, meeting.online_url, meeting.title)
    guests_before = _guest_ids(meeting)
    _apply_meeting(meeting, meeting.room, data)
    _set_invitees(meeting, meeting.room, data.invited_organisations, data.invited_users)
    db.session.flush()
    for withdrawn in guests_before - _guest_ids(meeting):
        # A guest whose invitation is withdrawn may still follow the meeting live: their sockets are disconnected
        # (after commit, on every worker), and on reconnecting `meeting.watch` answers not_found.
        publish.disconnect_user(withdrawn)
    if before != (meeting.scheduled_at, meeting.duration_min, meeting.place, meeting.online_url, meeting.title):
        meeting.ics_sequence += 1  # calendars replace the earlier invitation
    meeting.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.update", user, meeting, ip)
    publish.meeting_event("meeting.status", meeting.id)
    return meeting


def change_status(user: User, meeting: Meeting, target: str, *, ip: str, today: date | None = None) -> Meeting:
    try:
        new = MeetingStatus(target)
    except ValueError as exc:
        raise ValidationFailed("Unknown status.", field="status") from exc
    require_manage(user, meeting)
    if new not in TRANSITIONS[meeting.status]:
        raise Conflict(
            "A meeting with status '%(current)s' cannot move to '%(target)s'.",
            current=meeting.status.value,
            target=new.value,
        )
    if new in CHAIR_STEPS and meeting.chair_id is not None and meeting.chair_id != user.id:
        raise PermissionDenied("Only the chair of this meeting can do this.")
    today = today or utcnow().date()
    if new is S.AGENDA_OPEN and meeting.status is S.PLANNED:
        _prefill_agenda(user, meeting)
    elif new is S.AGENDA_FINAL:
        items = queries.agenda(meeting)
        pending = [i for i in items if not i.accepted]
        if pending:
            raise Conflict(
                "Accept or remove the %(count)s proposed item(s) before finalising the agenda.", count=len(pending)
            )
        if not items:
            raise Conflict("The agenda is empty.")
        total = sum(i.duration_min for i in items)
        if total > meeting.duration_min:
            raise Conflict(
                "The agenda takes %(total)s minutes, longer than the %(planned)s minutes planned: "
                "shorten items or the agenda before finalising.",
                total=total,
                planned=meeting.duration_min,
            )
        _carry_open_actions(meeting)
    elif new is S.HELD and meeting.scheduled_at.date() > today:
        raise Conflict("The meeting has not taken place yet.")
    elif new is S.MINUTES_DRAFT:
        minutes = queries.minutes(meeting)
        if minutes is None or minutes.current_version == 0:
            raise Conflict("Write the minutes before sending them round for comments.")
    elif new is S.MINUTES_ADOPTED:
        minutes = queries.minutes(meeting)
        minutes.adopted_at = utcnow()
        minutes.adopted_by_id = user.id
    db.session.add(
        MeetingStatusChange(
            meeting_id=meeting.id, from_status=meeting.status.value, to_status=new.value, changed_by_id=user.id
        )
    )
    meeting.status = new
    meeting.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.status", user, meeting, ip, to=new.value)
    publish.meeting_event("meeting.status", meeting.id)
    publish.meeting_event("meeting.agenda", meeting.id)
    return meeting


# --- agenda -----------------------------------------------------------------------------------------------------


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
    _carry_open_actions(meeting)


def _action_list_item(meeting: Meeting) -> AgendaItem | None:
    return next((i for i in queries.agenda(meeting) if i.kind.code == "actielijst"), None)


def _carry_open_actions(meeting: Meeting) -> int:
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
    access = _access(user, meeting)
    if not (access.propose or access.manage):
        raise PermissionDenied("You may not propose agenda items.")
    _require_status(meeting, PROPOSING, "Agenda items can be proposed while the agenda is open.")
    item = AgendaItem(meeting_id=meeting.id, proposed_by_id=user.id, accepted=access.manage)
    _apply_item(user, meeting, item, data)
    item.position = _place_before_closing(meeting)
    db.session.add(item)
    db.session.flush()
    _audit("meeting.agenda.propose", user, meeting, ip, item=str(item.public_id), kind=item.kind.code)
    publish.meeting_event("meeting.agenda", meeting.id)
    return item


def _apply_item(user: User, meeting: Meeting, item: AgendaItem, data: ItemInput) -> None:
    item.kind = _agenda_term(data.kind)
    title = clean_text(data.title, field="title", max_length=TITLE_MAX)
    if len(title) < 3:
        raise ValidationFailed("Enter a title.", field="title")
    item.title = title
    item.duration_min = _minutes_of_day(data.duration_min, "duration_min", 1, 240)
    item.description_html = _rich_text(data.description_html, "description")
    item.owner = _member_user(meeting.room, data.owner_id, "owner")
    item.signals = _visible_signals(user, data.signal_references, "signals")
    item.themes = _themes(data.themes)


def update_item(user: User, meeting: Meeting, item: AgendaItem, data: ItemInput, *, ip: str) -> AgendaItem:
    require_manage(user, meeting)
    _require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change it.")
    # Signals the proposer linked that the chair cannot see stay linked (the chair's form does not show them).
    before = list(item.signals)
    visible = queries.visible_signal_ids(signal_queries.viewer_for(user), {s.id for s in before})
    hidden = [s for s in before if s.id not in visible]
    _apply_item(user, meeting, item, data)
    item.signals = item.signals + [s for s in hidden if s not in item.signals]
    item.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.agenda.update", user, meeting, ip, item=str(item.public_id))
    publish.meeting_event("meeting.agenda", meeting.id)
    return item


def decide_item(user: User, meeting: Meeting, item: AgendaItem, accept: bool, *, ip: str) -> None:
    """Accept a proposal onto the agenda, or remove an item (a proposal, or an item the chair no longer wants)."""
    require_manage(user, meeting)
    _require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change it.")
    if accept:
        item.accepted = True
        db.session.flush()
    else:
        db.session.delete(item)
        db.session.flush()
        _renumber(queries.agenda(meeting))
    _audit("meeting.agenda.accept" if accept else "meeting.agenda.remove", user, meeting, ip, item=str(item.public_id))
    publish.meeting_event("meeting.agenda", meeting.id)


def _renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items):
        item.position = position
    db.session.flush()


def reorder(user: User, meeting: Meeting, ordered_ids: list, *, ip: str) -> list[AgendaItem]:
    """The new order as the complete list of item ids (from drag-and-drop, or built by ``move_item``)."""
    require_manage(user, meeting)
    _require_status(meeting, (S.PLANNED, S.AGENDA_OPEN), "Reopen the agenda to change its order.")
    items = queries.agenda(meeting)
    by_id = {i.public_id: i for i in items}
    wanted = [parse_public_id(v) for v in ordered_ids or []]
    if len(wanted) != len(items) or set(wanted) != set(by_id):
        raise ValidationFailed("The new order must list every agenda item once.", field="order")
    _renumber([by_id[w] for w in wanted])
    _audit("meeting.agenda.reorder", user, meeting, ip)
    publish.meeting_event("meeting.agenda", meeting.id)
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


# --- call for input ---------------------------------------------------------------------------------------------


def submit_school_input(user: User, meeting: Meeting, data: SchoolInputData, *, ip: str) -> SchoolInput:
    access = _access(user, meeting)
    if not access.school_input:
        raise PermissionDenied("Only schools submit school input.")
    _require_status(meeting, INPUT_OPEN, "School input is collected while the agenda is being prepared.")
    concerns = [clean_text(c, field=f"concern_{n}", max_length=CONCERN_MAX) for n, c in enumerate(data.concerns, 1)]
    concerns = ([*concerns, "", "", ""])[:3]
    if not any(concerns):
        raise ValidationFailed("Name at least one concern.", field="concern_1")
    entry = queries.school_input_of(meeting, user.organisation_id)
    created = entry is None
    if entry is None:
        entry = SchoolInput(meeting_id=meeting.id, organisation_id=user.organisation_id)
        db.session.add(entry)
    entry.submitted_by_id = user.id
    entry.concern_1, entry.concern_2, entry.concern_3 = concerns
    entry.signals = _visible_signals(user, data.signal_references, "signals")
    entry.help_needed_html = _rich_text(data.help_needed_html, "help_needed")
    entry.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.input.school", user, meeting, ip, created=created)
    return entry


def submit_partner_picture(user: User, meeting: Meeting, kind: str, body_html: str, *, ip: str) -> PartnerPicture:
    access = _access(user, meeting)
    if not access.partner_picture:
        raise PermissionDenied("Only police, youth work and youth enforcement submit a picture.")
    _require_status(meeting, INPUT_OPEN, "Pictures are collected while the agenda is being prepared.")
    try:
        partner_kind = PartnerKind(kind)
    except ValueError as exc:
        raise ValidationFailed("Choose whose picture this is.", field="kind") from exc
    body = _rich_text(body_html, "body")
    if not html_to_text(body):
        raise ValidationFailed("Write the picture.", field="body")
    picture = queries.partner_picture_of(meeting, user.organisation_id, partner_kind)
    if picture is None:
        picture = PartnerPicture(meeting_id=meeting.id, organisation_id=user.organisation_id, kind=partner_kind)
        db.session.add(picture)
    picture.submitted_by_id = user.id
    picture.body_html = body
    picture.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.input.picture", user, meeting, ip, kind=partner_kind.value)
    return picture


# --- trend report -----------------------------------------------------------------------------------------------


def generate_trend_report(user: User, meeting: Meeting, *, ip: str, today: date | None = None) -> TrendReport:
    require_manage(user, meeting)
    _require_status(meeting, TREND_EDITABLE, "The trend report is fixed once the meeting has been held.")
    previous = queries.previous_meeting(meeting)
    start, end = trends.default_period(
        meeting.scheduled_at.date(),
        previous.scheduled_at.date() if previous else None,
        today or utcnow().date(),
        meeting.room.meetings_per_year,
    )
    data = trends.generate(meeting.room, start, end)
    report = queries.trend_report(meeting)
    if report is None:
        report = TrendReport(meeting_id=meeting.id, narrative_html="")
        db.session.add(report)
    report.period_from, report.period_to = start, end
    report.data = data
    report.generated_at = utcnow()
    report.generated_by_id = user.id
    db.session.flush()
    _audit("meeting.trend.generate", user, meeting, ip, signals=report.data["total"])
    return report


def save_narrative(user: User, meeting: Meeting, narrative_html: str, *, ip: str) -> TrendReport:
    require_manage(user, meeting)
    _require_status(meeting, TREND_EDITABLE, "The trend report is fixed once the meeting has been held.")
    report = queries.trend_report(meeting)
    if report is None:
        raise Conflict("Generate the trend report first.")
    report.narrative_html = _rich_text(narrative_html, "narrative")
    report.updated_at = utcnow()
    db.session.flush()
    _audit("meeting.trend.narrative", user, meeting, ip)
    return report


# --- minutes ----------------------------------------------------------------------------------------------------


def save_minutes(
    user: User, meeting: Meeting, body_html: str, *, base_version: int, confirmed: bool, ip: str
) -> MinutesVersion:
    """A new version per save. ``base_version`` is the version the editor started from: if someone saved in the
    meantime the save is refused rather than overwriting their text."""
    require_manage(user, meeting)
    if meeting.status is S.MINUTES_ADOPTED:
        raise Conflict("Adopted minutes are read-only.")
    _require_status(meeting, MINUTES_EDITABLE, "Minutes are written from the moment the agenda is final.")
    body = _rich_text(body_html, "body", MINUTES_MAX)
    minutes = queries.minutes(meeting)
    if minutes is None:
        minutes = Minutes(meeting_id=meeting.id, current_version=0)
        db.session.add(minutes)
        db.session.flush()
    if base_version != minutes.current_version:
        raise Conflict(
            "Someone saved version %(saved)s while you were editing version %(base)s: "
            "copy your text, reload the minutes and add your changes again.",
            saved=minutes.current_version,
            base=base_version,
        )
    minutes.current_version += 1
    version = MinutesVersion(
        minutes_id=minutes.id,
        version=minutes.current_version,
        body_html=body,
        created_by_id=user.id,
        personal_data_confirmed=confirmed,
    )
    db.session.add(version)
    db.session.flush()
    _audit("meeting.minutes.save", user, meeting, ip, version=version.version, confirmed=confirmed)
    publish.meeting_event("meeting.minutes", meeting.id)
    return version


def comment_minutes(user: User, meeting: Meeting, text_html: str, *, ip: str) -> MinutesComment:
    access = _access(user, meeting)
    if not access.comment:
        raise PermissionDenied("You may not comment on minutes.")
    _require_status(meeting, (S.MINUTES_DRAFT,), "Comments are possible during the comment round only.")
    minutes = queries.minutes(meeting)
    body = _rich_text(text_html, "text", 2000)
    if not html_to_text(body):
        raise ValidationFailed("Write your comment.", field="text")
    comment = MinutesComment(
        minutes_id=minutes.id,
        version=minutes.current_version,
        author_id=user.id,
        organisation_id=user.organisation_id,
        body_html=body,
    )
    db.session.add(comment)
    db.session.flush()
    _audit("meeting.minutes.comment", user, meeting, ip, version=minutes.current_version)
    return comment


def record_minutes_read(user: User, meeting: Meeting, *, ip: str, version: int | None = None) -> None:
    """Every read of minutes is audited (NEN 7513)."""
    _audit("meeting.minutes.read", user, meeting, ip, version=version)


def record_export(user: User, meeting: Meeting, document: str, *, ip: str) -> None:
    """Every export is audited (DOMAIN.md E.13)."""
    access = _access(user, meeting)
    if not access.export:
        raise PermissionDenied("You may not export meeting documents.")
    _audit("meeting.export", user, meeting, ip, document=document)


# --- attendance and actions -------------------------------------------------------------------------------------


def record_attendance(user: User, meeting: Meeting, present_ids: list, *, ip: str) -> int:
    require_manage(user, meeting)
    _require_status(meeting, DURING_OR_AFTER, "Attendance is recorded at the meeting.")
    people = queries.participants(meeting)
    present = {parse_public_id(v) for v in present_ids or []}
    if not present <= {p.public_id for p in people}:
        raise ValidationFailed("Only members of this network and invited guests can be recorded.", field="present")
    existing = {a.user_id: a for a in db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))}
    for person in people:
        row = existing.get(person.id)
        if row is None:
            row = Attendance(meeting_id=meeting.id, user_id=person.id, organisation_id=person.organisation_id)
            db.session.add(row)
        row.present = person.public_id in present
        row.recorded_by_id = user.id
        row.recorded_at = utcnow()
    db.session.flush()
    _audit("meeting.attendance", user, meeting, ip, present=len(present))
    return len(present)


def create_action(user: User, meeting: Meeting, data: ActionInput, *, ip: str) -> ActionItem:
    require_manage(user, meeting)
    _require_status(meeting, DURING_OR_AFTER, "Actions are agreed at the meeting.")
    description = clean_text(data.description, field="description", max_length=500)
    if len(description) < 3:
        raise ValidationFailed("Describe the action.", field="description")
    organisations = {o.public_id: o for o in queries.member_organisations(meeting.room)}
    organisation = organisations.get(parse_public_id(data.owner_organisation_id or ""))
    if organisation is None:
        raise ValidationFailed("Choose an organisation of this network.", field="owner_organisation")
    owner = _member_user(meeting.room, data.owner_user_id, "owner_user")
    if owner is not None and owner.organisation_id != organisation.id:
        raise ValidationFailed("The person must work for the owning organisation.", field="owner_user")
    if data.due_date is None:
        raise ValidationFailed("Enter the due date.", field="due_date")
    if data.due_date < meeting.scheduled_at.date():
        raise ValidationFailed("The due date is before the meeting.", field="due_date")
    action = ActionItem(
        room_id=meeting.room_id,
        meeting_id=meeting.id,
        description=description,
        owner_organisation_id=organisation.id,
        owner_user_id=owner.id if owner else None,
        due_date=data.due_date,
        status=ActionStatus.OPEN,
        created_by_id=user.id,
    )
    db.session.add(action)
    db.session.flush()
    db.session.add(ActionUpdate(action_id=action.id, author_id=user.id, to_status=ActionStatus.OPEN.value))
    # A later meeting whose agenda is already open gets it on its action list straight away.
    later = db.session.scalars(
        select(Meeting).where(
            Meeting.room_id == meeting.room_id,
            Meeting.scheduled_at > meeting.scheduled_at,
            Meeting.status.in_([S.AGENDA_OPEN, S.AGENDA_FINAL]),
        )
    )
    for other in later:
        _carry_open_actions(other)
    db.session.flush()
    audit.record(
        "meeting.action.create",
        actor=user,
        ip=ip,
        object_type="action",
        object_id=str(action.public_id),
        details={"meeting": str(meeting.public_id)},
    )
    return action


def update_action(user: User, action: ActionItem, status: str, note: str, *, ip: str) -> ActionItem:
    """Progress on an action: by its owning organisation, or by the network's chair or secretary."""
    meeting = action.meeting
    access = _access(user, meeting)
    own = user.organisation_id == action.owner_organisation_id or user.id == action.owner_user_id
    if not (access.manage or (access.update_actions and own)):
        raise PermissionDenied("Only the owning organisation or the chair can update this action.")
    try:
        new = ActionStatus(status)
    except ValueError as exc:
        raise ValidationFailed("Unknown status.", field="status") from exc
    note = clean_text(note, field="note", max_length=500)
    if new is action.status and not note:
        raise ValidationFailed("Change the status or write a note.", field="note")
    db.session.add(
        ActionUpdate(
            action_id=action.id, author_id=user.id, from_status=action.status.value, to_status=new.value, note=note
        )
    )
    action.status = new
    action.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "meeting.action.update",
        actor=user,
        ip=ip,
        object_type="action",
        object_id=str(action.public_id),
        details={"to": new.value},
    )
    return action


# --- live presence ----------------------------------------------------------------------------------------------


def watch(user: User, meeting: Meeting, *, editing: bool) -> list[User]:
    """The user has the minutes open for editing (or no longer): others see who else is editing."""
    access = _access(user, meeting)
    row = db.session.scalar(
        select(MeetingPresence).where(MeetingPresence.meeting_id == meeting.id, MeetingPresence.user_id == user.id)
    )
    changed = False
    if editing and access.manage:
        if row is None:
            db.session.add(MeetingPresence(meeting_id=meeting.id, user_id=user.id))
            changed = True
        else:
            stale = row.seen_at < utcnow() - timedelta(seconds=queries.PRESENCE_SECONDS)
            row.seen_at = utcnow()
            changed = stale
    elif row is not None:
        db.session.delete(row)
        changed = True
    db.session.flush()
    if changed:
        publish.meeting_event("meeting.presence", meeting.id)
    return queries.editors(meeting)


def count_meetings(room: Room) -> int:
    return db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.room_id == room.id)) or 0


def may_chair_step(user: User, meeting: Meeting) -> bool:
    """For templates: whether this user may take the chair's steps (finalise the agenda, adopt the minutes)."""
    return meeting.chair_id is None or meeting.chair_id == user.id


def owns_action(user: User, action: ActionItem) -> bool:
    return has_permission(user, Permission.ACTION_UPDATE) and (
        user.organisation_id == action.owner_organisation_id or user.id == action.owner_user_id
    )
