"""Imports every domain's tables so that Alembic and ``db.metadata`` see the whole schema."""

from portal.audit.models import AuditEvent
from portal.identity.models import LocalCredential, OidcIdentity, RoleAssignment, User, UserSession
from portal.organisations.models import Area, District, Organisation
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
