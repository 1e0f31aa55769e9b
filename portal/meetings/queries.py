"""Reads about meetings with the room membership built in (R-AZ-2): a meeting of a room the user has no current
seat in is never loaded, and answers the same as an unknown id (404, R-AZ-3). The one exception is an invited guest
(``policy.MEETING_GUEST_ROLES``, the OM): they read the meetings they are invited to, and nothing else of the room."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, or_, select, true
from sqlalchemy.orm import selectinload

from portal.authz.permissions import Permission
from portal.authz.policy import (
    MEETING_GUEST_ROLES,
    guest_permissions,
    has_permission,
    holds_role_clause,
    may_manage_meetings,
)
from portal.core.db import utcnow
from portal.core.errors import NotFound
from portal.extensions import db
from portal.identity.models import User
from portal.meetings.models import (
    OPEN_ACTION_STATUSES,
    ActionItem,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingInvitee,
    MeetingPresence,
    MeetingStatus,
    Minutes,
    PartnerPicture,
    SchoolInput,
    TrendReport,
)
from portal.organisations.models import Organisation
from portal.rooms.models import Room, RoomMembership
from portal.rooms.queries import current_membership_clause, room_ids_of
from portal.signals.models import Signal
from portal.signals.queries import Viewer, audience_clause

PRESENCE_SECONDS = 90  # an editor who has not been seen for this long no longer counts as editing


@dataclass(frozen=True)
class Access:
    """What one user may do with one meeting (or room), decided once per request from the one policy."""

    read: bool
    manage: bool
    propose: bool
    school_input: bool
    partner_picture: bool
    comment: bool
    export: bool
    update_actions: bool
    guest: bool = False  # invited without a seat in the room: the room's own pages stay closed


NO_ACCESS = Access(*(False,) * 8)


def access_for(user: User, room: Room) -> Access:
    """The user is a current member of ``room`` (the loaders below make sure of that)."""
    return Access(
        read=has_permission(user, Permission.MEETING_READ),
        manage=may_manage_meetings(user, room.kind.value),
        propose=has_permission(user, Permission.MEETING_PROPOSE),
        school_input=has_permission(user, Permission.MEETING_SCHOOL_INPUT),
        partner_picture=has_permission(user, Permission.MEETING_PARTNER_PICTURE),
        comment=has_permission(user, Permission.MINUTES_COMMENT),
        export=has_permission(user, Permission.MEETING_EXPORT),
        update_actions=has_permission(user, Permission.ACTION_UPDATE),
    )


def _invitation_clause(user: User):
    """Invitee rows that name this user or their organisation."""
    return or_(MeetingInvitee.user_id == user.id, MeetingInvitee.organisation_id == user.organisation_id)


def is_invited(user: User, meeting: Meeting) -> bool:
    if not getattr(user, "id", None):
        return False
    return bool(
        db.session.scalar(select(exists().where(MeetingInvitee.meeting_id == meeting.id, _invitation_clause(user))))
    )


def meeting_access(user: User, meeting: Meeting) -> Access:
    """A member's access follows their roles in the room; an invited guest only reads, exports and comments (as far
    as ``policy.guest_permissions`` allows); anyone else has none."""
    if is_member(meeting.room, user):
        return access_for(user, meeting.room)
    granted = guest_permissions(user)
    if Permission.MEETING_READ not in granted or not is_invited(user, meeting):
        return NO_ACCESS
    return Access(
        read=True,
        manage=False,
        propose=False,
        school_input=False,
        partner_picture=False,
        comment=Permission.MINUTES_COMMENT in granted,
        export=Permission.MEETING_EXPORT in granted,
        update_actions=False,
        guest=True,
    )


def invitations(user: User) -> list[Meeting]:
    """The meetings this user (or their organisation) is invited to and may open, newest first: in a room they hold
    a seat in, or anywhere as a guest. (An organisation is invited as a whole; its people without a seat in that
    room, and without a guest role, do not see the meeting.)"""
    if not has_permission(user, Permission.MEETING_READ):
        return []
    opens = true() if Permission.MEETING_READ in guest_permissions(user) else Meeting.room_id.in_(room_ids_of(user))
    stmt = (
        select(Meeting)
        .where(Meeting.id.in_(select(MeetingInvitee.meeting_id).where(_invitation_clause(user))), opens)
        .options(selectinload(Meeting.room).selectinload(Room.district))
        .order_by(Meeting.scheduled_at.desc(), Meeting.id.desc())
    )
    return list(db.session.scalars(stmt))


def guest_candidates() -> list[User]:
    """Active people who may be invited to any meeting as a guest (their current roles include a guest role)."""
    stmt = (
        select(User)
        .where(holds_role_clause(MEETING_GUEST_ROLES))
        .options(selectinload(User.organisation))
        .order_by(User.display_name)
    )
    return list(db.session.scalars(stmt))


def invitable(room: Room) -> tuple[list[Organisation], list[User]]:
    """Who a meeting of this room may invite: its members and their organisations, and the guests."""
    people = {m.user.id: m.user for m in members(room)}
    for guest in guest_candidates():
        people.setdefault(guest.id, guest)
    users = sorted(people.values(), key=lambda u: (u.display_name, u.id))
    organisations = {u.organisation_id: u.organisation for u in users}
    return sorted(organisations.values(), key=lambda o: o.name), users


def participants(meeting: Meeting) -> list[User]:
    """Who can attend: the room's current members and the invited guests (in person or through their organisation)."""
    people = {m.user.id: m.user for m in members(meeting.room)}
    invitees = db.session.scalars(select(MeetingInvitee).where(MeetingInvitee.meeting_id == meeting.id)).all()
    user_ids = {i.user_id for i in invitees if i.user_id}
    organisation_ids = {i.organisation_id for i in invitees if i.organisation_id}
    for guest in guest_candidates():
        if guest.id in user_ids or guest.organisation_id in organisation_ids:
            people.setdefault(guest.id, guest)
    return sorted(people.values(), key=lambda u: (u.display_name, u.id))


def _readable_room_ids(user: User) -> set[int]:
    if not has_permission(user, Permission.MEETING_READ):
        return set()
    return room_ids_of(user)


def room_for(user: User, public_id) -> Room:
    """A room the user holds a current seat in and may read meetings of; NotFound otherwise."""
    room = (
        db.session.scalar(select(Room).where(Room.public_id == public_id).options(selectinload(Room.district)))
        if public_id
        else None
    )
    if room is None or room.id not in _readable_room_ids(user):
        raise NotFound()
    return room


def meeting_for(user: User, public_id) -> Meeting:
    """A meeting of a room the user is a current member of, or one they are invited to as a guest; NotFound for
    unknown and forbidden alike."""
    meeting = (
        db.session.scalar(
            select(Meeting)
            .where(Meeting.public_id == public_id)
            .options(
                selectinload(Meeting.room).selectinload(Room.district),
                selectinload(Meeting.chair),
                selectinload(Meeting.secretary),
            )
        )
        if public_id
        else None
    )
    if meeting is None or not meeting_access(user, meeting).read:
        raise NotFound()
    return meeting


def action_for(user: User, public_id) -> ActionItem:
    action = (
        db.session.scalar(
            select(ActionItem).where(ActionItem.public_id == public_id).options(selectinload(ActionItem.meeting))
        )
        if public_id
        else None
    )
    if action is None or action.room_id not in _readable_room_ids(user):
        raise NotFound()
    return action


def item_in(meeting: Meeting, public_id) -> AgendaItem:
    item = (
        db.session.scalar(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting.id, AgendaItem.public_id == public_id)
        )
        if public_id
        else None
    )
    if item is None:
        raise NotFound()
    return item


def meetings_of_room(room: Room) -> list[Meeting]:
    stmt = (
        select(Meeting)
        .where(Meeting.room_id == room.id)
        .options(selectinload(Meeting.chair))
        .order_by(Meeting.scheduled_at.desc(), Meeting.id.desc())
    )
    return list(db.session.scalars(stmt))


def previous_meeting(meeting: Meeting) -> Meeting | None:
    return db.session.scalar(
        select(Meeting)
        .where(Meeting.room_id == meeting.room_id, Meeting.scheduled_at < meeting.scheduled_at)
        .order_by(Meeting.scheduled_at.desc())
        .limit(1)
    )


def members(room: Room) -> list[RoomMembership]:
    """The room's current members with users and organisations."""
    stmt = (
        select(RoomMembership)
        .join(RoomMembership.user)
        .where(RoomMembership.room_id == room.id, *current_membership_clause())
        .options(selectinload(RoomMembership.user).selectinload(User.organisation))
        .order_by(User.display_name)
    )
    return list(db.session.scalars(stmt))


def member_organisations(room: Room) -> list[Organisation]:
    seen: dict[int, Organisation] = {}
    for membership in members(room):
        seen.setdefault(membership.user.organisation_id, membership.user.organisation)
    return sorted(seen.values(), key=lambda o: o.name)


def managers(room: Room) -> list[User]:
    """Members who may chair or take the minutes of this room's meetings (by the policy, per person)."""
    return [m.user for m in members(room) if may_manage_meetings(m.user, room.kind.value)]


def is_member(room: Room, user: User) -> bool:
    return user.id is not None and room.id in room_ids_of(user)


def agenda(meeting: Meeting) -> list[AgendaItem]:
    stmt = (
        select(AgendaItem)
        .where(AgendaItem.meeting_id == meeting.id)
        .options(
            selectinload(AgendaItem.kind),
            selectinload(AgendaItem.owner),
            selectinload(AgendaItem.proposed_by),
            selectinload(AgendaItem.signals),
            selectinload(AgendaItem.themes),
            selectinload(AgendaItem.actions).selectinload(ActionItem.owner_organisation),
        )
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    return list(db.session.scalars(stmt))


def visible_signal_ids(viewer: Viewer, signal_ids: set[int]) -> set[int]:
    """Of these signals, the ones this viewer may see (linked signals are only shown to those who may)."""
    if not signal_ids:
        return set()
    stmt = select(Signal.id).where(Signal.id.in_(signal_ids), audience_clause(viewer))
    return set(db.session.scalars(stmt))


def school_inputs(meeting: Meeting) -> list[SchoolInput]:
    stmt = (
        select(SchoolInput)
        .where(SchoolInput.meeting_id == meeting.id)
        .options(selectinload(SchoolInput.organisation), selectinload(SchoolInput.signals))
        .order_by(SchoolInput.id)
    )
    return list(db.session.scalars(stmt))


def school_input_of(meeting: Meeting, organisation_id: int) -> SchoolInput | None:
    return db.session.scalar(
        select(SchoolInput).where(SchoolInput.meeting_id == meeting.id, SchoolInput.organisation_id == organisation_id)
    )


def partner_pictures(meeting: Meeting) -> list[PartnerPicture]:
    stmt = (
        select(PartnerPicture)
        .where(PartnerPicture.meeting_id == meeting.id)
        .options(selectinload(PartnerPicture.organisation))
        .order_by(PartnerPicture.kind, PartnerPicture.id)
    )
    return list(db.session.scalars(stmt))


def partner_picture_of(meeting: Meeting, organisation_id: int, kind) -> PartnerPicture | None:
    return db.session.scalar(
        select(PartnerPicture).where(
            PartnerPicture.meeting_id == meeting.id,
            PartnerPicture.organisation_id == organisation_id,
            PartnerPicture.kind == kind,
        )
    )


def trend_report(meeting: Meeting) -> TrendReport | None:
    return db.session.scalar(select(TrendReport).where(TrendReport.meeting_id == meeting.id))


def minutes(meeting: Meeting) -> Minutes | None:
    return db.session.scalar(
        select(Minutes)
        .where(Minutes.meeting_id == meeting.id)
        .options(selectinload(Minutes.versions), selectinload(Minutes.comments))
    )


def attendance(meeting: Meeting) -> list[Attendance]:
    stmt = (
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id)
        .options(selectinload(Attendance.user), selectinload(Attendance.organisation))
    )
    return sorted(db.session.scalars(stmt), key=lambda a: (a.organisation.name, a.user.display_name))


def actions_of_room(room: Room, *, open_only: bool = False) -> list[ActionItem]:
    stmt = (
        select(ActionItem)
        .where(ActionItem.room_id == room.id)
        .options(
            selectinload(ActionItem.owner_organisation),
            selectinload(ActionItem.owner_user),
            selectinload(ActionItem.meeting),
            selectinload(ActionItem.updates),
        )
        .order_by(ActionItem.due_date, ActionItem.id)
    )
    if open_only:
        stmt = stmt.where(ActionItem.status.in_(OPEN_ACTION_STATUSES))
    return list(db.session.scalars(stmt))


def actions_of_meeting(meeting: Meeting) -> list[ActionItem]:
    stmt = (
        select(ActionItem)
        .where(ActionItem.meeting_id == meeting.id)
        .options(selectinload(ActionItem.owner_organisation), selectinload(ActionItem.owner_user))
        .order_by(ActionItem.due_date, ActionItem.id)
    )
    return list(db.session.scalars(stmt))


def carried_actions(meeting: Meeting) -> list[ActionItem]:
    """Open actions of this room created at earlier meetings: they belong on this meeting's action list."""
    stmt = (
        select(ActionItem)
        .join(Meeting, Meeting.id == ActionItem.meeting_id)
        .where(
            ActionItem.room_id == meeting.room_id,
            ActionItem.status.in_(OPEN_ACTION_STATUSES),
            Meeting.scheduled_at < meeting.scheduled_at,
        )
        .order_by(ActionItem.due_date, ActionItem.id)
    )
    return list(db.session.scalars(stmt))


def reminders(user: User, room: Room, days: int = 14) -> dict:
    """In-portal reminders: this room's meetings in the coming weeks, and actions of the user's organisation that
    are due soon or overdue."""
    now = utcnow()
    upcoming = list(
        db.session.scalars(
            select(Meeting)
            .where(
                Meeting.room_id == room.id,
                Meeting.scheduled_at >= now,
                Meeting.scheduled_at <= now + timedelta(days=42),
                Meeting.status.in_([MeetingStatus.PLANNED, MeetingStatus.AGENDA_OPEN, MeetingStatus.AGENDA_FINAL]),
            )
            .order_by(Meeting.scheduled_at)
        )
    )
    due = list(
        db.session.scalars(
            select(ActionItem)
            .where(
                ActionItem.room_id == room.id,
                ActionItem.owner_organisation_id == user.organisation_id,
                ActionItem.status.in_(OPEN_ACTION_STATUSES),
                ActionItem.due_date <= (now + timedelta(days=days)).date(),
            )
            .order_by(ActionItem.due_date)
        )
    )
    return {"meetings": upcoming, "actions": due, "today": now.date()}


def editors(meeting: Meeting) -> list[User]:
    """Who has the minutes open for editing now."""
    since = utcnow() - timedelta(seconds=PRESENCE_SECONDS)
    stmt = (
        select(User)
        .join(MeetingPresence, MeetingPresence.user_id == User.id)
        .where(MeetingPresence.meeting_id == meeting.id, MeetingPresence.seen_at >= since)
        .options(selectinload(User.organisation))
        .order_by(User.display_name)
    )
    return list(db.session.scalars(stmt))
