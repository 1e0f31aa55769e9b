"""Imports every domain's tables so that Alembic and ``db.metadata`` see the whole schema."""

from portal.audit.models import AuditEvent
from portal.identity.models import LocalCredential, OidcIdentity, RoleAssignment, User, UserSession
from portal.meetings.models import (
    ActionItem,
    ActionUpdate,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingInvitee,
    MeetingPresence,
    MeetingStatusChange,
    Minutes,
    MinutesComment,
    MinutesVersion,
    PartnerPicture,
    SchoolInput,
    TrendReport,
)
from portal.organisations.models import Area, District, Organisation
from portal.police.models import AcuteAlert, PoliceFollowUp
from portal.privacy.models import DeletionRecord, PersonReference
from portal.rooms.models import Room, RoomMembership
from portal.signals.models import (
    ReferenceCounter,
    RoomEvent,
    Signal,
    SignalRecognition,
    SignalResponse,
    SignalStatusChange,
    TaxonomyTerm,
)

__all__ = [
    "ActionItem",
    "ActionUpdate",
    "AcuteAlert",
    "AgendaItem",
    "Area",
    "Attendance",
    "AuditEvent",
    "DeletionRecord",
    "District",
    "LocalCredential",
    "Meeting",
    "MeetingInvitee",
    "MeetingPresence",
    "MeetingStatusChange",
    "Minutes",
    "MinutesComment",
    "MinutesVersion",
    "OidcIdentity",
    "Organisation",
    "PartnerPicture",
    "PersonReference",
    "PoliceFollowUp",
    "ReferenceCounter",
    "RoleAssignment",
    "Room",
    "RoomEvent",
    "RoomMembership",
    "SchoolInput",
    "Signal",
    "SignalRecognition",
    "SignalResponse",
    "SignalStatusChange",
    "TaxonomyTerm",
    "TrendReport",
    "User",
    "UserSession",
]
