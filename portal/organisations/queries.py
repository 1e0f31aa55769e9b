"""Reads about districts, areas and organisations, for the administration and the choice lists of forms."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.core.errors import NotFound
from portal.extensions import db
from portal.organisations.models import Area, District, Organisation, OrganisationKind


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern that matches ``text`` literally anywhere (``%`` and ``_`` escaped with ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_organisations(kind: OrganisationKind | None = None, search: str = "") -> list[Organisation]:
    """Organisations by name, optionally of one kind and matching a name or code, with parent, district and area
    loaded in the same query."""
    stmt = (
        select(Organisation)
        .options(
            joinedload(Organisation.parent),
            joinedload(Organisation.district),
            joinedload(Organisation.area),
        )
        .order_by(Organisation.name, Organisation.id)
    )
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(Organisation.name.ilike(pattern, escape="\\"), Organisation.code.ilike(pattern, escape="\\"))
        )
    return list(db.session.scalars(stmt))


def all_organisations() -> list[Organisation]:
    """Every organisation by name (for choice lists)."""
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name, Organisation.id)))


def organisation_by_public_id(public_id: uuid.UUID | None) -> Organisation:
    organisation = (
        db.session.scalar(select(Organisation).where(Organisation.public_id == public_id)) if public_id else None
    )
    if organisation is None:
        raise NotFound("Unknown organisation.")
    return organisation


def list_districts() -> list[District]:
    """Districts by name with their areas (one extra query for all areas)."""
    stmt = select(District).options(selectinload(District.areas)).order_by(District.name, District.id)
    return list(db.session.scalars(stmt))


def district_by_public_id(public_id: uuid.UUID | None) -> District:
    district = db.session.scalar(select(District).where(District.public_id == public_id)) if public_id else None
    if district is None:
        raise NotFound("Unknown district.")
    return district


def all_areas() -> list[Area]:
    """Every area with its district, ordered by district and name (for grouped choice lists)."""
    stmt = (
        select(Area)
        .join(Area.district)
        .options(joinedload(Area.district))
        .order_by(District.name, District.id, Area.name, Area.id)
    )
    return list(db.session.scalars(stmt))


def area_by_public_id(public_id: uuid.UUID | None) -> Area:
    area = db.session.scalar(select(Area).where(Area.public_id == public_id)) if public_id else None
    if area is None:
        raise NotFound("Unknown area.")
    return area
