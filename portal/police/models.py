"""Police follow-up on a signal (append-only history) and acute-signal alerts with acknowledgement."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import _enum


class FollowUpStatus(enum.StrEnum):
    ACKNOWLEDGED = "kennisgenomen"
    KNOWN = "bekend_bij_politie"
    ACTION_STARTED = "actie_gestart"
    HANDED_OVER = "overgedragen"  # to OM, Halt or the JCO


class PoliceFollowUp(PublicIdMixin, db.Model):
    """One step of the police's follow-up. Rows are only added; the newest is the current state. The police
    reference is a restricted field: only police and OM ever receive it."""

    __tablename__ = "police_follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    status: Mapped[FollowUpStatus] = mapped_column(_enum(FollowUpStatus, "follow_up_status"))
    intervention_id: Mapped[int | None] = mapped_column(ForeignKey("taxonomy_terms.id"))
    police_reference: Mapped[str] = mapped_column(String(40), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship()
    intervention = relationship("TaxonomyTerm")


class AcuteAlert(PublicIdMixin, db.Model):
    """An acute signal notifies the room's police contact; unacknowledged, it escalates to the district safety
    manager after a configurable time (``flask portal acute escalate``, run every minute by cron or a timer)."""

    __tablename__ = "acute_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    acknowledged_by: Mapped[User | None] = relationship()
