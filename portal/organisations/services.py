"""Writes for districts, areas and organisations. Used by the admin, the CLI and the demo loader."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.audit import services as audit
from portal.core.errors import ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Area, AreaKind, District, Organisation, OrganisationKind, SchoolSector

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{1,62}$")


def _check_code(code: str) -> str:
    code = clean_text(code, field="code", max_length=64).lower()
    if not CODE_PATTERN.match(code):
        raise ValidationFailed("Use 2-64 lower-case letters, digits and hyphens.", field="code")
    return code


def get_district(code: str) -> District | None:
    return db.session.scalar(select(District).where(District.code == code))


def get_organisation(code: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.code == code))


def create_district(code: str, name: str) -> District:
    district = District(code=code.upper(), name=clean_text(name, field="name", max_length=120))
    db.session.add(district)
    db.session.flush()
    return district


def create_area(district: District, name: str, kind: AreaKind = AreaKind.WIJK) -> Area:
    area = Area(district=district, name=clean_text(name, field="name", max_length=120), kind=kind)
    db.session.add(area)
    db.session.flush()
    return area


def _descends_from(candidate: Organisation, ancestor: Organisation) -> bool:
    """Whether ``ancestor`` is somewhere above ``candidate`` in the parent chain (a cycle if it became its child).
    Stops at an organisation seen before, so a chain that is already broken cannot loop forever."""
    seen: set[int] = set()
    current = candidate.parent
    while current is not None and current.id not in seen:
        if current.id == ancestor.id:
            return True
        seen.add(current.id)
        current = current.parent
    return False


def save_organisation(
    organisation: Organisation | None,
    *,
    code: str,
    name: str,
    kind: OrganisationKind,
    parent: Organisation | None = None,
    district: District | None = None,
    area: Area | None = None,
    sector: SchoolSector | None = None,
    levels: list[str] | None = None,
    school_code: str | None = None,
    convenant_signatory: bool = False,
    is_fictional: bool = False,
    active: bool = True,
    actor: User | None = None,
    ip: str = "",
) -> Organisation:
    """Create (``organisation=None``) or update an organisation, with the rules every caller must respect."""
    code = _check_code(code)
    existing = get_organisation(code)
    if existing is not None and existing is not organisation:
        raise ValidationFailed("Another organisation already uses this code.", field="code")
    if kind is OrganisationKind.SCHOOL_LOCATION:
        if district is None:
            raise ValidationFailed("A school location needs a district.", field="district")
        if sector is None:
            raise ValidationFailed("A school location needs a sector.", field="sector")
    if area is not None and district is not None and area.district_id != district.id:
        raise ValidationFailed("The area does not lie in the chosen district.", field="area")
    if parent is not None and organisation is not None and parent.id == organisation.id:
        raise ValidationFailed("An organisation cannot be its own parent.", field="parent")
    if parent is not None and organisation is not None and _descends_from(parent, organisation):
        raise ValidationFailed("The parent organisation falls under this organisation itself.", field="parent")
    created = organisation is None
    organisation = organisation or Organisation()
    organisation.code = code
    organisation.name = clean_text(name, field="name", max_length=200)
    if not organisation.name:
        raise ValidationFailed("Enter a name.", field="name")
    organisation.kind = kind
    organisation.parent = parent
    organisation.district = district
    organisation.area = area
    organisation.sector = sector if kind is OrganisationKind.SCHOOL_LOCATION else None
    organisation.levels = list(levels or [])
    organisation.school_code = clean_text(school_code, field="school_code", max_length=16) or None
    organisation.convenant_signatory = convenant_signatory
    organisation.is_fictional = is_fictional
    organisation.active = active
    db.session.add(organisation)
    db.session.flush()
    audit.record(
        "organisation.create" if created else "organisation.update",
        actor=actor,
        ip=ip,
        object_type="organisation",
        object_id=str(organisation.public_id),
        details={"kind": kind.value},
    )
    return organisation


def update_district(district: District, *, name: str, active: bool, actor: User | None, ip: str = "") -> District:
    """Rename a district or switch it off. The code stays: configuration and rooms refer to it."""
    cleaned = clean_text(name, field="name", max_length=120)
    if not cleaned:
        raise ValidationFailed("Enter a name.", field="name")
    district.name = cleaned
    district.active = active
    db.session.flush()
    audit.record(
        "district.update",
        actor=actor,
        ip=ip,
        object_type="district",
        object_id=str(district.public_id),
        details={"code": district.code, "active": active},
    )
    return district


def add_area(
    district: District, *, name: str, kind: AreaKind = AreaKind.WIJK, actor: User | None, ip: str = ""
) -> Area:
    """Add an area (wijk, buurt, kwartier) to a district; names are unique within their district."""
    cleaned = clean_text(name, field="name", max_length=120)
    if not cleaned:
        raise ValidationFailed("Enter a name.", field="name")
    duplicate = db.session.scalar(select(Area.id).where(Area.district_id == district.id, Area.name == cleaned).limit(1))
    if duplicate is not None:
        raise ValidationFailed("This district already has an area with this name.", field="name")
    area = create_area(district, cleaned, kind)
    audit.record(
        "area.create",
        actor=actor,
        ip=ip,
        object_type="district",
        object_id=str(district.public_id),
        details={"area": str(area.public_id), "kind": kind.value},
    )
    return area
