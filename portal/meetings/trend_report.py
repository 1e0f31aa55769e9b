"""The meeting's trend report as a record: generated (figures by ``trends``) and given a narrative by the chair or
secretary until the meeting has been held."""

from __future__ import annotations

from datetime import date

from portal.core.db import utcnow
from portal.core.errors import Conflict
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import queries, trends
from portal.meetings.guards import audit_meeting, require_manage, require_status, rich_text
from portal.meetings.models import Meeting, MeetingStatus, TrendReport

S = MeetingStatus

TREND_EDITABLE = (S.PLANNED, S.AGENDA_OPEN, S.AGENDA_FINAL)


def generate_trend_report(user: User, meeting: Meeting, *, ip: str, today: date | None = None) -> TrendReport:
    require_manage(user, meeting)
    require_status(meeting, TREND_EDITABLE, "The trend report is fixed once the meeting has been held.")
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
    audit_meeting("meeting.trend.generate", user, meeting, ip, signals=report.data["total"])
    return report


def save_narrative(user: User, meeting: Meeting, narrative_html: str, *, ip: str) -> TrendReport:
    require_manage(user, meeting)
    require_status(meeting, TREND_EDITABLE, "The trend report is fixed once the meeting has been held.")
    report = queries.trend_report(meeting)
    if report is None:
        raise Conflict("Generate the trend report first.")
    report.narrative_html = rich_text(narrative_html, "narrative")
    report.updated_at = utcnow()
    db.session.flush()
    audit_meeting("meeting.trend.narrative", user, meeting, ip)
    return report
