"""Minutes: versions saved by the chair or secretary, the comment round, and the audit of every read and export."""

from __future__ import annotations

from portal.core.errors import Conflict, PermissionDenied, ValidationFailed
from portal.core.sanitize import html_to_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import events, queries
from portal.meetings.guards import audit_meeting, may_access, require_manage, require_status, rich_text
from portal.meetings.models import Meeting, MeetingStatus, Minutes, MinutesComment, MinutesVersion

S = MeetingStatus

MINUTES_EDITABLE = (S.AGENDA_FINAL, S.HELD, S.MINUTES_DRAFT)
MINUTES_MAX = 50_000


def save_minutes(
    user: User, meeting: Meeting, body_html: str, *, base_version: int, confirmed: bool, ip: str
) -> MinutesVersion:
    """A new version per save. ``base_version`` is the version the editor started from: if someone saved in the
    meantime the save is refused rather than overwriting their text."""
    require_manage(user, meeting)
    if meeting.status is S.MINUTES_ADOPTED:
        raise Conflict("Adopted minutes are read-only.")
    require_status(meeting, MINUTES_EDITABLE, "Minutes are written from the moment the agenda is final.")
    body = rich_text(body_html, "body", MINUTES_MAX)
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
    audit_meeting("meeting.minutes.save", user, meeting, ip, version=version.version, confirmed=confirmed)
    events.meeting_event("meeting.minutes", meeting.id)
    return version


def comment_minutes(user: User, meeting: Meeting, text_html: str, *, ip: str) -> MinutesComment:
    access = may_access(user, meeting)
    if not access.comment:
        raise PermissionDenied("You may not comment on minutes.")
    require_status(meeting, (S.MINUTES_DRAFT,), "Comments are possible during the comment round only.")
    minutes = queries.minutes(meeting)
    body = rich_text(text_html, "text", 2000)
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
    audit_meeting("meeting.minutes.comment", user, meeting, ip, version=minutes.current_version)
    return comment


def record_minutes_read(user: User, meeting: Meeting, *, ip: str, version: int | None = None) -> None:
    """Every read of minutes is audited (NEN 7513)."""
    audit_meeting("meeting.minutes.read", user, meeting, ip, version=version)


def record_export(user: User, meeting: Meeting, document: str, *, ip: str) -> None:
    """Every export is audited (docs/domain.md E.13)."""
    access = may_access(user, meeting)
    if not access.export:
        raise PermissionDenied("You may not export meeting documents.")
    audit_meeting("meeting.export", user, meeting, ip, document=document)
