"""What live meeting events and the agenda's JSON answer carry (the payload shapes; the reads are in queries.py).
The agenda is the same for every member of the room, so it is built once per event, without the linked signals,
which depend on the viewer."""

from __future__ import annotations

from portal.identity.models import User
from portal.meetings import queries
from portal.meetings.models import Meeting


def agenda_summary(meeting: Meeting) -> dict:
    """The agenda as every member of the room may see it (no linked signals: those depend on the viewer). The
    live event carries this; the page renders the same items."""
    items = queries.agenda(meeting)
    return {
        "meeting": str(meeting.public_id),
        "status": meeting.status.value,
        "planned_min": meeting.duration_min,
        "total_min": sum(i.duration_min for i in items if i.accepted),
        "items": [
            {
                "id": str(i.public_id),
                "position": index + 1,
                "title": i.title,
                "kind": {"code": i.kind.code, "label_nl": i.kind.label_nl, "label_en": i.kind.label_en},
                "duration_min": i.duration_min,
                "owner": i.owner.display_name if i.owner else None,
                "accepted": i.accepted,
                "proposed_by": i.proposed_by.display_name,
            }
            for index, i in enumerate(items)
        ],
    }


def live_payload(kind: str, meeting: Meeting) -> dict:
    """What a live meeting event carries (realtime.publish sends it to the meeting's watchers)."""
    if kind == "meeting.agenda":
        return agenda_summary(meeting)
    base = {"meeting": str(meeting.public_id), "status": meeting.status.value}
    if kind == "meeting.presence":
        base["editors"] = editor_list(queries.editors(meeting))
    elif kind == "meeting.minutes":
        record = queries.minutes(meeting)
        base["version"] = record.current_version if record else 0
    return base


def editor_list(users: list[User]) -> list[dict]:
    return [{"id": str(u.public_id), "name": u.display_name, "organisation": u.organisation.name} for u in users]
