"""Live events of meetings, sent after the commit by the transport in realtime/publish.py.

Channel ``meeting:<meeting id>``: sockets of people who have a meeting's page open. Joined only by the
``meeting.watch`` handler in realtime/namespaces.py, after it checked the user's current seat in the meeting's room
(or a guest invitation) in the database; never a name a client chose. The agenda, its status and who is editing the
minutes are the same for every member of the room (linked signals, which depend on the viewer, are left out), so one
payload per event serves the whole channel.
"""

from __future__ import annotations

from portal.extensions import db
from portal.meetings.models import Meeting
from portal.meetings.presenter import live_payload
from portal.realtime import publish


def meeting_channel(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def meeting_event(kind: str, meeting_id: int) -> None:
    """After commit: push ``kind`` (meeting.agenda, meeting.status, meeting.minutes, meeting.presence) to the
    people watching the meeting."""
    publish.emit_after_commit(lambda: plan_meeting_event(kind, meeting_id), f"{kind} {meeting_id}")


def plan_meeting_event(kind: str, meeting_id: int):
    """The (event, payload, channel) of a meeting event, read from the database after the commit."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is not None:
        yield kind, live_payload(kind, meeting), meeting_channel(meeting_id)
