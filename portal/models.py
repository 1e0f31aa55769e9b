"""Imports every domain's tables so that Alembic and ``db.metadata`` see the whole schema."""

from portal.audit.models import AuditEvent
from portal.identity.models import LocalCredential, OidcIdentity, RoleAssignment, User, UserSession
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
    "AcuteAlert",
    "DeletionRecord",
    "PersonReference",
    "PoliceFollowUp",
    "Area",
    "AuditEvent",
    "District",
    "LocalCredential",
    "OidcIdentity",
    "Organisation",
    "RoleAssignment",
    "Room",
    "RoomMembership",
    "ReferenceCounter",
    "RoomEvent",
    "Signal",
    "SignalRecognition",
    "SignalResponse",
    "SignalStatusChange",
    "TaxonomyTerm",
    "User",
    "UserSession",
]
