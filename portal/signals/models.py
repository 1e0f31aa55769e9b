"""Reference data (taxonomy) as seeded, editable rows: one table, one vocabulary per list of DOMAIN.md B.2–B.4."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, TimestampMixin
from portal.extensions import db
from portal.organisations.models import _enum


class Vocabulary(enum.StrEnum):
    CATEGORY = "category"  # C1, with subcategories (C2) as children
    LOCATION_TYPE = "location_type"  # L
    SEVERITY = "severity"  # S
    WEAPON_TYPE = "weapon_type"  # W
    SCHOOL_MEASURE = "school_measure"  # M
    PARTNER_INTERVENTION = "partner_intervention"  # P
    AGENDA_ITEM_KIND = "agenda_item_kind"  # A
    THEME = "theme"


class TaxonomyTerm(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "taxonomy_terms"
    __table_args__ = (UniqueConstraint("vocabulary", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vocabulary: Mapped[Vocabulary] = mapped_column(_enum(Vocabulary, "vocabulary"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    label_nl: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("taxonomy_terms.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[TaxonomyTerm | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[TaxonomyTerm]] = relationship(back_populates="parent", order_by="TaxonomyTerm.position")

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_nl

    def __str__(self) -> str:
        return self.label_nl
