"""Readable names for the enumerations shown in the administration (English msgids; Dutch via the catalogue)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.identity.models import UserStatus
from portal.organisations.models import AreaKind, OrganisationKind, SchoolSector
from portal.rooms.models import MemberRole, RoomKind
from portal.signals.models import Vocabulary

ORGANISATION_KINDS = {
    OrganisationKind.SCHOOL_BOARD: _l("School board"),
    OrganisationKind.SCHOOL_LOCATION: _l("School location"),
    OrganisationKind.POLICE_UNIT: _l("Police unit"),
    OrganisationKind.OM_OFFICE: _l("Public prosecution office"),
    OrganisationKind.MUNICIPALITY_UNIT: _l("Municipality department"),
    OrganisationKind.ZVH: _l("Safety house (ZVH)"),
    OrganisationKind.GGD_JGZ: _l("Public health (GGD/JGZ)"),
    OrganisationKind.YOUTH_WORK: _l("Youth work"),
    OrganisationKind.WELFARE: _l("Welfare"),
    OrganisationKind.HALT: _l("Halt"),
    OrganisationKind.SAMENWERKINGSVERBAND: _l("Special needs partnership"),
    OrganisationKind.KNOWLEDGE_PARTNER: _l("Knowledge partner"),
    OrganisationKind.PARTNER: _l("Other partner"),
}

SECTORS = {sector: sector.value for sector in SchoolSector}

# School levels (docs/domain.md B.1). Codes are stored; they are Dutch terms without a translation.
SCHOOL_LEVELS = [
    "praktijkonderwijs",
    "vmbo-b",
    "vmbo-k",
    "vmbo-gt",
    "mavo",
    "havo",
    "vwo",
    "gymnasium",
    "entree",
    "mbo-1",
    "mbo-2",
    "mbo-3",
    "mbo-4",
    "hbo",
]

AREA_KINDS = {
    AreaKind.WIJK: _l("Neighbourhood (wijk)"),
    AreaKind.BUURT: _l("Quarter (buurt)"),
    AreaKind.KWARTIER: _l("District quarter (kwartier)"),
    AreaKind.BEDRIJVENTERREIN: _l("Business park"),
}

ROOM_KINDS = {
    RoomKind.DISTRICT: _l("District network"),
    RoomKind.CITY: _l("City-wide network"),
    RoomKind.DIRECTORS: _l("Directors' consultation"),
}

MEMBER_ROLES = {
    MemberRole.MEMBER: _l("member"),
    MemberRole.CHAIR: _l("chair"),
    MemberRole.SECRETARY: _l("secretary"),
    MemberRole.GUEST: _l("guest"),
}

USER_STATUSES = {
    UserStatus.PENDING: _l("Pending"),
    UserStatus.ACTIVE: _l("Active"),
    UserStatus.BLOCKED: _l("Blocked"),
}

VOCABULARIES = {
    Vocabulary.CATEGORY: _l("Incident categories"),
    Vocabulary.LOCATION_TYPE: _l("Location types"),
    Vocabulary.SEVERITY: _l("Severity levels"),
    Vocabulary.WEAPON_TYPE: _l("Weapon types"),
    Vocabulary.SCHOOL_MEASURE: _l("School measures"),
    Vocabulary.PARTNER_INTERVENTION: _l("Partner interventions"),
    Vocabulary.AGENDA_ITEM_KIND: _l("Agenda item kinds"),
    Vocabulary.THEME: _l("Themes"),
}


def template_labels() -> dict:
    return {
        "organisation_kinds": ORGANISATION_KINDS,
        "area_kinds": AREA_KINDS,
        "room_kinds": ROOM_KINDS,
        "member_roles": MEMBER_ROLES,
        "user_statuses": USER_STATUSES,
        "vocabularies": VOCABULARIES,
    }
