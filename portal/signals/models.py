"""Reference data (taxonomy) as seeded, editable rows: one table, one vocabulary per list of docs/domain.md B.2–B.4."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Area, District, Organisation, _enum


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


class SharingScope(enum.StrEnum):
    """Who the signal is shared with (docs/domain.md B.1). Ordered from most to least restrictive."""

    OWN_LOCATION = "eigen_locatie"
    OWN_BOARD = "eigen_bestuur"
    DISTRICT = "stadsdeelnetwerk"
    DISTRICTS = "meerdere_stadsdelen"
    CITY = "stedelijk"
    NAMED = "benoemde_ontvangers"


class Classification(enum.StrEnum):
    K2 = "K2"  # convenant-intern, geanonimiseerd
    K3 = "K3"  # vertrouwelijk, indirect herleidbaar


class SignalStatus(enum.StrEnum):
    DRAFT = "concept"
    SHARED = "gedeeld"
    IN_PROGRESS = "in_behandeling"
    CLOSED = "afgesloten"
    WITHDRAWN = "ingetrokken"


class Daypart(enum.StrEnum):
    MORNING = "ochtend"
    AFTERNOON = "middag"
    EVENING = "avond"
    NIGHT = "nacht"
    UNKNOWN = "onbekend"


class ReportStatus(enum.StrEnum):
    NONE = "geen"
    CONSIDERED = "overwogen"
    BY_SCHOOL = "gedaan_door_school"
    BY_VICTIM = "gedaan_door_slachtoffer"
    UNKNOWN = "onbekend"


class ResponseKind(enum.StrEnum):
    ACKNOWLEDGED = "kennisgenomen"
    MORE_INFO = "aanvullende_info"
    ACTION_STARTED = "actie_gestart"
    ADVICE = "advies"


class LegalRegime(enum.StrEnum):
    AVG = "avg"
    WPG = "wpg"
    OTHER = "overig"


INVOLVED_GROUPS = ("leerlingen", "studenten", "medewerkers", "derden", "onbekend")
AGE_BANDS = ("<12", "12-15", "16-17", "18-22", "23+", "onbekend")
ONLINE_PLATFORMS = ("Snapchat", "Instagram", "TikTok", "WhatsApp", "Telegram", "overig")


signal_themes = db.Table(
    "signal_themes",
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    db.Column("term_id", ForeignKey("taxonomy_terms.id"), primary_key=True),
)

signal_districts = db.Table(  # extra districts for a "meerdere stadsdelen" share
    "signal_districts",
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    db.Column("district_id", ForeignKey("districts.id"), primary_key=True),
)

signal_recipients = db.Table(  # named organisations for a "benoemde ontvangers" share
    "signal_recipients",
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    db.Column("organisation_id", ForeignKey("organisations.id"), primary_key=True),
)

signal_links = db.Table(  # related signals, stored once per pair (lower id first)
    "signal_links",
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    db.Column("related_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
)


class Signal(PublicIdMixin, TimestampMixin, db.Model):
    """A signal (signaal/melding) about an incident or trend in or around a school (docs/domain.md B.1)."""

    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("created_by_id", "client_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    client_key: Mapped[str] = mapped_column(String(64))  # idempotency key of the submission (R-REL-3)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    school_location_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    daypart: Mapped[Daypart] = mapped_column(_enum(Daypart, "daypart"), default=Daypart.UNKNOWN)
    location_type_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_terms.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_terms.id"), index=True)
    subcategory_id: Mapped[int | None] = mapped_column(ForeignKey("taxonomy_terms.id"), index=True)
    severity_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_terms.id"), index=True)
    summary: Mapped[str] = mapped_column(String(280))
    details_html: Mapped[str] = mapped_column(Text, default="")  # sanitised by core.sanitize on every write
    details_text: Mapped[str] = mapped_column(Text, default="")  # plain text for search and the PII check
    involved_counts: Mapped[dict] = mapped_column(JSON, default=dict)
    age_bands: Mapped[list] = mapped_column(JSON, default=list)
    weapon_type_id: Mapped[int | None] = mapped_column(ForeignKey("taxonomy_terms.id"))
    online_platform: Mapped[str | None] = mapped_column(String(32), index=True)
    school_measures: Mapped[list] = mapped_column(JSON, default=list)  # taxonomy codes (school_measure)
    police_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    report_status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"), default=ReportStatus.NONE)
    classification: Mapped[Classification] = mapped_column(_enum(Classification, "classification"))
    sharing_scope: Mapped[SharingScope] = mapped_column(_enum(SharingScope, "sharing_scope"), index=True)
    status: Mapped[SignalStatus] = mapped_column(_enum(SignalStatus, "signal_status"), index=True)
    purpose: Mapped[str] = mapped_column(String(32), default="convenant_veiligheid")  # R-PRV-1
    legal_regime: Mapped[LegalRegime] = mapped_column(_enum(LegalRegime, "legal_regime"), default=LegalRegime.AVG)
    recognised_count: Mapped[int] = mapped_column(Integer, default=0)
    response_count: Mapped[int] = mapped_column(Integer, default=0)
    retention_until: Mapped[date | None] = mapped_column(Date)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # retention counts from closure
    # When the signal was first shared; None for a draft and for a draft withdrawn without ever being shared, which
    # stays its author's alone (docs/security.md, "Who reads a signal").
    shared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    police_picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # what the school sees of follow-up
    pii_confirmation: Mapped[str] = mapped_column(String(200), default="", server_default="")  # reason given

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    school_location: Mapped[Organisation | None] = relationship(foreign_keys=[school_location_id])
    district: Mapped[District] = relationship(foreign_keys=[district_id])
    area: Mapped[Area | None] = relationship()
    location_type: Mapped[TaxonomyTerm] = relationship(foreign_keys=[location_type_id])
    category: Mapped[TaxonomyTerm] = relationship(foreign_keys=[category_id])
    subcategory: Mapped[TaxonomyTerm | None] = relationship(foreign_keys=[subcategory_id])
    severity: Mapped[TaxonomyTerm] = relationship(foreign_keys=[severity_id])
    weapon_type: Mapped[TaxonomyTerm | None] = relationship(foreign_keys=[weapon_type_id])
    themes: Mapped[list[TaxonomyTerm]] = relationship(secondary=signal_themes)
    extra_districts: Mapped[list[District]] = relationship(secondary=signal_districts)
    recipients: Mapped[list[Organisation]] = relationship(secondary=signal_recipients)
    responses: Mapped[list[SignalResponse]] = relationship(back_populates="signal", order_by="SignalResponse.id")
    status_history: Mapped[list[SignalStatusChange]] = relationship(order_by="SignalStatusChange.id")
    follow_ups = relationship("PoliceFollowUp", order_by="PoliceFollowUp.id", viewonly=True)

    def __str__(self) -> str:
        return self.reference


class SignalResponse(PublicIdMixin, db.Model):
    """A partner's reaction: noted, more information, action started, advice. Text is sanitised, no names."""

    __tablename__ = "signal_responses"
    __table_args__ = (UniqueConstraint("author_id", "client_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[ResponseKind] = mapped_column(_enum(ResponseKind, "response_kind"))
    text_html: Mapped[str] = mapped_column(Text, default="")
    client_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signal: Mapped[Signal] = relationship(back_populates="responses")
    author: Mapped[User] = relationship()
    organisation: Mapped[Organisation] = relationship()


class SignalRecognition(db.Model):
    """ "Herkenbaar": another organisation recognises the pattern. One per user and signal."""

    __tablename__ = "signal_recognitions"
    __table_args__ = (UniqueConstraint("signal_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignalStatusChange(db.Model):
    """Append-only status history."""

    __tablename__ = "signal_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomEvent(db.Model):
    """The per-room event log: a monotonically increasing ``seq`` per room (R-REL-2). Sockets resume from it, so
    the database, not the socket, guarantees that nothing is lost."""

    __tablename__ = "room_events"
    __table_args__ = (UniqueConstraint("room_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferenceCounter(db.Model):
    """Per-year counter for readable references (SIG-2026-0042); a row lock keeps them unique under load."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
