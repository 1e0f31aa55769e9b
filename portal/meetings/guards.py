"""What every write about meetings checks first, shared by the workflow's modules: may this user read or manage
the meeting (``may_access``, ``require_manage``), is the meeting in a status that allows the step (``require_status``),
and the input cleaners more than one part of the workflow uses; plus the one way a meeting write is audited.

``require_status`` keeps its name wherever it is called: ``make extract-messages`` extracts its third argument as a
msgid (``-k require_status:3``).
"""

from __future__ import annotations

from portal.audit import services as audit
from portal.core.db import parse_public_id
from portal.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from portal.core.sanitize import clean_rich_text, html_to_text
from portal.core.text import clean_text
from portal.identity.models import User
from portal.meetings import queries
from portal.meetings.models import Meeting, MeetingStatus
from portal.rooms.models import Room
from portal.signals import queries as signal_queries

TITLE_MAX = 200
TEXT_MAX = 5000


def may_access(user: User, meeting_or_room) -> queries.Access:
    if isinstance(meeting_or_room, Room):
        access = queries.access_for(user, meeting_or_room) if queries.is_member(meeting_or_room, user) else None
    else:
        access = queries.meeting_access(user, meeting_or_room)
    if access is None or not access.read:
        raise NotFound()
    return access


def require_manage(user: User, meeting_or_room) -> queries.Access:
    access = may_access(user, meeting_or_room)
    if not access.manage:
        raise PermissionDenied("Only the chair or secretary of this network can do this.")
    return access


def require_status(meeting: Meeting, allowed: tuple[MeetingStatus, ...], message: str) -> None:
    if meeting.status not in allowed:
        raise Conflict(message)


def audit_meeting(action: str, user: User, meeting: Meeting, ip: str, **details) -> None:
    audit.record(action, actor=user, ip=ip, object_type="meeting", object_id=str(meeting.public_id), details=details)


def member_user(room: Room, public_id: str, field_name: str) -> User | None:
    if not public_id:
        return None
    wanted = parse_public_id(public_id)
    for membership in queries.members(room):
        if membership.user.public_id == wanted:
            return membership.user
    raise ValidationFailed("Choose a member of this network.", field=field_name)


def visible_signals(user: User, references: list, field_name: str) -> list:
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


def rich_text(html: str, field_name: str, max_length: int = TEXT_MAX) -> str:
    cleaned = clean_rich_text(html or "")
    if len(html_to_text(cleaned)) > max_length:
        raise ValidationFailed("The text is longer than %(max)s characters.", field=field_name, max=max_length)
    return cleaned


def minutes_of_day(value: int | None, field_name: str, low: int, high: int) -> int:
    if value is None or isinstance(value, bool) or not low <= int(value) <= high:
        raise ValidationFailed(
            "Enter a number of minutes from %(low)s to %(high)s.", field=field_name, low=low, high=high
        )
    return int(value)
