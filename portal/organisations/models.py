"""Tables for districts, areas and organisations of every kind in docs/domain.md B.1 / C.2."""

from __future__ import annotations

import enum

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, TimestampMixin
from portal.extensions import db


class OrganisationKind(enum.StrEnum):
    SCHOOL_BOARD = "school_board"
    SCHOOL_LOCATION = "school_location"
    POLICE_UNIT = "police_unit"
    OM_OFFICE = "om_office"
    MUNICIPALITY_UNIT = "municipality_unit"
    ZVH = "zvh"
    GGD_JGZ = "ggd_jgz"
    YOUTH_WORK = "youth_work"
    WELFARE = "welfare"
    HALT = "halt"
    SAMENWERKINGSVERBAND = "samenwerkingsverband"
    KNOWLEDGE_PARTNER = "knowledge_partner"
    PARTNER = "partner"


class SchoolSector(enum.StrEnum):
    VO = "VO"
    VSO = "VSO"
    PRO = "PRO"
    MBO = "MBO"
    HBO = "HBO"


class AreaKind(enum.StrEnum):
    WIJK = "wijk"
    BUURT = "buurt"
    KWARTIER = "kwartier"
    BEDRIJVENTERREIN = "bedrijventerrein"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no PostgreSQL type migration.
    return Enum(kind, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class District(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    areas: Mapped[list[Area]] = relationship(back_populates="district", order_by="Area.name")

    def __str__(self) -> str:
        return self.name


class Area(PublicIdMixin, db.Model):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AreaKind] = mapped_column(_enum(AreaKind, "area_kind"), default=AreaKind.WIJK)

    district: Mapped[District] = relationship(back_populates="areas")

    def __str__(self) -> str:
        return self.name


class Organisation(PublicIdMixin, TimestampMixin, db.Model):
    """Any covenant party or partner. School locations carry sector, levels, district and area."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable, unique code: SSO configuration refers to organisations by it.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind, "organisation_kind"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    sector: Mapped[SchoolSector | None] = mapped_column(_enum(SchoolSector, "school_sector"))
    levels: Mapped[list[str]] = mapped_column(JSON, default=list)
    school_code: Mapped[str | None] = mapped_column(String(16))
    convenant_signatory: Mapped[bool] = mapped_column(Boolean, default=False)
    is_fictional: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])
    district: Mapped[District | None] = relationship()
    area: Mapped[Area | None] = relationship()

    @property
    def is_school_location(self) -> bool:
        return self.kind is OrganisationKind.SCHOOL_LOCATION

    def __str__(self) -> str:
        return self.name
