"""What schools and partners bring to a meeting while its agenda is prepared: a school's input (concerns, signals,
help needed) and the picture of the police, youth work or youth enforcement."""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.core.db import utcnow
from portal.core.errors import PermissionDenied, ValidationFailed
from portal.core.sanitize import html_to_text
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.meetings import queries
from portal.meetings.guards import audit_meeting, may_access, require_status, rich_text, visible_signals
from portal.meetings.models import Meeting, MeetingStatus, PartnerKind, PartnerPicture, SchoolInput
from portal.organisations.models import Organisation, OrganisationKind

S = MeetingStatus

INPUT_OPEN = (S.AGENDA_OPEN, S.AGENDA_FINAL)

CONCERN_MAX = 280

# Whose picture an organisation writes: police units the police picture, youth work the youth-work picture, every
# other organisation with the permission (the municipality's youth enforcement officers) the youth-enforcement one.
PARTNER_KIND_BY_ORGANISATION = {
    OrganisationKind.POLICE_UNIT: PartnerKind.POLICE,
    OrganisationKind.YOUTH_WORK: PartnerKind.YOUTH_WORK,
}


@dataclass
class SchoolInputData:
    concerns: list = field(default_factory=list)
    signal_references: list = field(default_factory=list)
    help_needed_html: str = ""


def submit_school_input(user: User, meeting: Meeting, data: SchoolInputData, *, ip: str) -> SchoolInput:
    access = may_access(user, meeting)
    if not access.school_input:
        raise PermissionDenied("Only schools submit school input.")
    require_status(meeting, INPUT_OPEN, "School input is collected while the agenda is being prepared.")
    concerns = [clean_text(c, field=f"concern_{n}", max_length=CONCERN_MAX) for n, c in enumerate(data.concerns, 1)]
    concerns = ([*concerns, "", "", ""])[:3]
    if not any(concerns):
        raise ValidationFailed("Name at least one concern.", field="concern_1")
    entry = queries.school_input_of(meeting, user.organisation_id)
    created = entry is None
    if entry is None:
        entry = SchoolInput(meeting_id=meeting.id, organisation_id=user.organisation_id)
        db.session.add(entry)
    entry.submitted_by_id = user.id
    entry.concern_1, entry.concern_2, entry.concern_3 = concerns
    entry.signals = visible_signals(user, data.signal_references, "signals")
    entry.help_needed_html = rich_text(data.help_needed_html, "help_needed")
    entry.updated_at = utcnow()
    db.session.flush()
    audit_meeting("meeting.input.school", user, meeting, ip, created=created)
    return entry


def partner_kind_for(organisation: Organisation) -> PartnerKind:
    """The one picture this organisation writes."""
    return PARTNER_KIND_BY_ORGANISATION.get(organisation.kind, PartnerKind.YOUTH_ENFORCEMENT)


def submit_partner_picture(user: User, meeting: Meeting, kind: str, body_html: str, *, ip: str) -> PartnerPicture:
    access = may_access(user, meeting)
    if not access.partner_picture:
        raise PermissionDenied("Only police, youth work and youth enforcement submit a picture.")
    require_status(meeting, INPUT_OPEN, "Pictures are collected while the agenda is being prepared.")
    try:
        partner_kind = PartnerKind(kind)
    except ValueError as exc:
        raise ValidationFailed("Choose whose picture this is.", field="kind") from exc
    if partner_kind is not partner_kind_for(user.organisation):
        raise PermissionDenied("You can only write the picture of your own organisation.")
    body = rich_text(body_html, "body")
    if not html_to_text(body):
        raise ValidationFailed("Write the picture.", field="body")
    picture = queries.partner_picture_of(meeting, user.organisation_id, partner_kind)
    if picture is None:
        picture = PartnerPicture(meeting_id=meeting.id, organisation_id=user.organisation_id, kind=partner_kind)
        db.session.add(picture)
    picture.submitted_by_id = user.id
    picture.body_html = body
    picture.updated_at = utcnow()
    db.session.flush()
    audit_meeting("meeting.input.picture", user, meeting, ip, kind=partner_kind.value)
    return picture
