"""Exports of a meeting: the ``.ics`` invitation (icalendar). The agenda, trend report and minutes are rendered as
PDF by ``portal.core.pdf`` (classification marking in the page header and footer, a watermark with the user and the
time, text extractable, nothing fetched)."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal.identity.models import User
from portal.meetings.models import Meeting

CLASSIFICATION = "K2"


def ics(meeting: Meeting, *, url: str, host: str, attendee: User | None, now: datetime) -> bytes:
    """An RFC 5545 invitation for one meeting. The UID is stable and SEQUENCE grows with every change, so a
    calendar replaces an earlier download instead of adding a second event. No meeting content, only the link."""
    from icalendar import Calendar, Event, vCalAddress, vText

    calendar = Calendar()
    calendar.add("prodid", "-//Gemeente Almere//Schoolveiligheid portaal//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"meeting-{meeting.public_id}@{host}")
    event.add("dtstamp", now)
    event.add("dtstart", meeting.scheduled_at)
    event.add("dtend", meeting.scheduled_at + timedelta(minutes=meeting.duration_min))
    event.add("summary", meeting.title)
    event.add("sequence", meeting.ics_sequence)
    event.add("location", meeting.place or meeting.online_url)
    event.add("url", url)
    event.add("description", f"{meeting.room.name}\n{url}" + (f"\n{meeting.online_url}" if meeting.online_url else ""))
    event.add("class", "CONFIDENTIAL")
    event.add("status", "CONFIRMED")
    if meeting.chair is not None:
        organizer = vCalAddress(f"mailto:{meeting.chair.email}")
        organizer.params["cn"] = vText(meeting.chair.display_name)
        event.add("organizer", organizer)
    if attendee is not None:
        who = vCalAddress(f"mailto:{attendee.email}")
        who.params["cn"] = vText(attendee.display_name)
        who.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", who)
    calendar.add_component(event)
    return calendar.to_ical()
