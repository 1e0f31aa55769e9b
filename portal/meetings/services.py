"""Writes for meetings: require → validate/clean → persist → audit → publish on commit.

Views (and the socket handler, for presence) call these with the acting user and the meeting they loaded through
``meetings.queries`` (which already refused other rooms with 404); the functions check again, flush, and leave the
commit to the adapter. Refused workflow steps raise ``Conflict`` (409) with a message a person can act on.

This module holds the meeting itself: planning and details, invitees, the status workflow and live presence. The
other parts of the workflow have their own modules: ``agenda``, ``contributions`` (school input, partner pictures),
``trend_report``, ``minutes`` and ``actions`` (attendance and action items); the checks they share are in ``guards``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from portal.core.db import parse_public_id, utcnow
from portal.core.errors import Conflict, PermissionDenied, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import events, queries
from portal.meetings.agenda import _prefill_agenda, carry_open_actions
from portal.meetings.guards import TITLE_MAX, audit_meeting, may_access, minutes_of_day, require_manage, require_status
from portal.meetings.minutes import MINUTES_EDITABLE
from portal.meetings.models import (
    Meeting,
    MeetingInvitee,
    MeetingKind,
    MeetingPresence,
    MeetingStatus,
    MeetingStatusChange,
)
from portal.realtime import publish
from portal.rooms.models import Room, RoomKind

S = MeetingStatus

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
DETAILS_EDITABLE = (S.PLANNED, S.AGENDA_OPEN, S.AGENDA_FINAL)


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
    meeting.duration_min = minutes_of_day(data.duration_min, "duration_min", 15, 600)
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
    audit_meeting("meeting.create", user, meeting, ip, room=str(room.public_id), kind=meeting.kind.value)
    return meeting


def _guest_ids(meeting: Meeting) -> set[int]:
    """The people who attend as invited guests, without a seat in the room."""
    return {p.id for p in queries.participants(meeting)} - {m.user_id for m in queries.members(meeting.room)}


def update_meeting(user: User, meeting: Meeting, data: MeetingInput, *, ip: str) -> Meeting:
    require_manage(user, meeting)
    require_status(meeting, DETAILS_EDITABLE, "The details of a meeting that has been held cannot change.")
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
    audit_meeting("meeting.update", user, meeting, ip)
    events.meeting_event("meeting.status", meeting.id)
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
        carry_open_actions(meeting)
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
    audit_meeting("meeting.status", user, meeting, ip, to=new.value)
    events.meeting_event("meeting.status", meeting.id)
    events.meeting_event("meeting.agenda", meeting.id)
    return meeting


# --- live presence ----------------------------------------------------------------------------------------------


def watch(user: User, meeting: Meeting, *, editing: bool) -> list[User]:
    """The user has the minutes open for editing (or no longer): others see who else is editing. Only someone who
    may save the minutes now (a manager, while the minutes are editable) is registered as editing."""
    access = may_access(user, meeting)
    row = db.session.scalar(
        select(MeetingPresence).where(MeetingPresence.meeting_id == meeting.id, MeetingPresence.user_id == user.id)
    )
    changed = False
    if editing and access.manage and meeting.status in MINUTES_EDITABLE:
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
        events.meeting_event("meeting.presence", meeting.id)
    return queries.editors(meeting)


def count_meetings(room: Room) -> int:
    return db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.room_id == room.id)) or 0


def may_chair_step(user: User, meeting: Meeting) -> bool:
    """For templates: whether this user may take the chair's steps (finalise the agenda, adopt the minutes)."""
    return meeting.chair_id is None or meeting.chair_id == user.id
