"""Pseudonymous person references (for data-subject requests) and the content-free record of deletions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import PublicIdMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.organisations.models import _enum


class PersonRole(enum.StrEnum):
    VICTIM = "slachtoffer"
    SUSPECT = "vermoedelijke_dader"
    WITNESS = "getuige"
    INVOLVED = "betrokkene"


class PersonReference(PublicIdMixin, db.Model):
    """A pseudonymous reference to a person in a signal ("Leerling A"), kept by the posting school so that its
    privacy officer can answer a data-subject request. ``subject_key`` is the school's own pseudonymous key for
    the pupil (e.g. a number from its administration, never a name); the portal stores it only as given."""

    __tablename__ = "person_references"
    __table_args__ = (UniqueConstraint("signal_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40))
    role_in_incident: Mapped[PersonRole] = mapped_column(_enum(PersonRole, "person_role"))
    age_band: Mapped[str] = mapped_column(String(10), default="onbekend")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeletionRecord(db.Model):
    """What retention or an erasure removed, without content: enough to prove it happened and to keep counts."""

    __tablename__ = "deletion_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), index=True)  # the public id that no longer exists
    action: Mapped[str] = mapped_column(String(16))  # deleted, anonymised
    reason: Mapped[str] = mapped_column(String(32))  # retention rule or "subject_request"
    category_code: Mapped[str] = mapped_column(String(64), default="")
    district_code: Mapped[str] = mapped_column(String(16), default="")
    month: Mapped[str] = mapped_column(String(7), default="")  # YYYY-MM of the incident, for trend counts
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
