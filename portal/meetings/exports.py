"""Exports: the agenda, trend report and minutes as PDF (WeasyPrint, classification marking in the page header
and footer, a watermark with the user and the time, text extractable), and the ``.ics`` invitation (icalendar).

WeasyPrint never fetches anything: every URL (images, fonts, stylesheets named in the HTML) is refused, the one
stylesheet is passed in as text, and the chart is inline SVG. So a PDF cannot be used to make the server reach
another host, nor read a local file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from portal.config import ROOT
from portal.identity.models import User
from portal.meetings.models import Meeting

PDF_CSS = ROOT / "static" / "css" / "meeting-pdf.css"
CLASSIFICATION = "K2"


class FetchRefused(ValueError):
    pass


def refusing_fetcher():
    """A WeasyPrint URL fetcher that fetches nothing (file:, http:, data: alike)."""
    from weasyprint.urls import URLFetcher

    class RefusingFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            raise FetchRefused(f"PDF export does not fetch {url[:60]!r}")

    return RefusingFetcher()


@lru_cache(maxsize=1)
def _stylesheet_text() -> str:
    return PDF_CSS.read_text(encoding="utf-8")


def render_pdf(html: str) -> bytes:
    """The PDF of ``html`` (its <title> and <meta name="author"> become the PDF's metadata)."""
    import weasyprint  # imported late: it loads pango, which the web process needs only for exports

    fetcher = refusing_fetcher()
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher)
    stylesheet = weasyprint.CSS(string=_stylesheet_text(), url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[stylesheet])


def watermark(user: User, moment: datetime) -> str:
    """The text repeated on every page of an export: who downloaded it and when (DOMAIN.md E.13)."""
    return f"{user.display_name} · {user.organisation.name} · {moment.strftime('%Y-%m-%d %H:%M')} UTC"


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
