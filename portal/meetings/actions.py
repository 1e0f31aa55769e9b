"""What a meeting records and agrees: who attended, and the action items with their progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.audit import services as audit
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.db import parse_public_id, utcnow
from portal.core.errors import PermissionDenied, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import queries
from portal.meetings.agenda import carry_open_actions
from portal.meetings.guards import audit_meeting, may_access, member_user, require_manage, require_status
from portal.meetings.models import ActionItem, ActionStatus, ActionUpdate, Attendance, Meeting, MeetingStatus

S = MeetingStatus

DURING_OR_AFTER = (S.AGENDA_FINAL, S.HELD, S.MINUTES_DRAFT)


@dataclass
class ActionInput:
    description: str
    owner_organisation_id: str
    due_date: date | None
    owner_user_id: str = ""


def record_attendance(user: User, meeting: Meeting, present_ids: list, *, ip: str) -> int:
    require_manage(user, meeting)
    require_status(meeting, DURING_OR_AFTER, "Attendance is recorded at the meeting.")
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
    audit_meeting("meeting.attendance", user, meeting, ip, present=len(present))
    return len(present)


def create_action(user: User, meeting: Meeting, data: ActionInput, *, ip: str) -> ActionItem:
    require_manage(user, meeting)
    require_status(meeting, DURING_OR_AFTER, "Actions are agreed at the meeting.")
    description = clean_text(data.description, field="description", max_length=500)
    if len(description) < 3:
        raise ValidationFailed("Describe the action.", field="description")
    organisations = {o.public_id: o for o in queries.member_organisations(meeting.room)}
    organisation = organisations.get(parse_public_id(data.owner_organisation_id or ""))
    if organisation is None:
        raise ValidationFailed("Choose an organisation of this network.", field="owner_organisation")
    owner = member_user(meeting.room, data.owner_user_id, "owner_user")
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
        carry_open_actions(other)
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
    access = may_access(user, meeting)
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


def owns_action(user: User, action: ActionItem) -> bool:
    return has_permission(user, Permission.ACTION_UPDATE) and (
        user.organisation_id == action.owner_organisation_id or user.id == action.owner_user_id
    )
