"""Tables for network meetings (docs/domain.md B.1, D): meetings and their status history, invitees, attendance, the
agenda, the call for input (school input, partner pictures), the trend report, minutes with versions and
comments, and action items with their update history."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Organisation, _enum
from portal.rooms.models import Room
from portal.signals.models import Signal, TaxonomyTerm


class MeetingKind(enum.StrEnum):
    DISTRICT = "stadsdeel"
    CITY = "stedelijk"
    DIRECTORS = "directeurenoverleg"
    EXTRA = "extra"


class MeetingStatus(enum.StrEnum):
    PLANNED = "gepland"
    AGENDA_OPEN = "agenda_open"
    AGENDA_FINAL = "agenda_definitief"
    HELD = "gehouden"
    MINUTES_DRAFT = "verslag_concept"
    MINUTES_ADOPTED = "verslag_vastgesteld"


class PartnerKind(enum.StrEnum):
    POLICE = "politie"
    YOUTH_WORK = "jongerenwerk"
    YOUTH_ENFORCEMENT = "jeugdboa"


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "loopt"
    DONE = "afgerond"
    CANCELLED = "vervallen"


OPEN_ACTION_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class Meeting(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    kind: Mapped[MeetingKind] = mapped_column(_enum(MeetingKind, "meeting_kind"))
    title: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_min: Mapped[int] = mapped_column(Integer, default=150)
    place: Mapped[str] = mapped_column(String(200), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus, "meeting_status"), default=MeetingStatus.PLANNED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0)  # RFC 5545 SEQUENCE: bumped on every change

    room: Mapped[Room] = relationship()
    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id])
    secretary: Mapped[User | None] = relationship(foreign_keys=[secretary_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    agenda_items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", order_by="AgendaItem.position, AgendaItem.id"
    )
    invitees: Mapped[list[MeetingInvitee]] = relationship(back_populates="meeting", order_by="MeetingInvitee.id")
    status_history: Mapped[list[MeetingStatusChange]] = relationship(order_by="MeetingStatusChange.id")

    def __str__(self) -> str:
        return self.title


class MeetingStatusChange(db.Model):
    """Append-only status history."""

    __tablename__ = "meeting_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    changed_by: Mapped[User] = relationship()


class MeetingInvitee(db.Model):
    """An invited organisation or person (one of the two), taken from the room's members."""

    __tablename__ = "meeting_invitees"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        UniqueConstraint("meeting_id", "organisation_id"),
        CheckConstraint("(user_id IS NULL) <> (organisation_id IS NULL)", name="user_or_organisation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))

    meeting: Mapped[Meeting] = relationship(back_populates="invitees")
    user: Mapped[User | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()


class Attendance(db.Model):
    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # at the time of the meeting
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship()


agenda_item_signals = db.Table(
    "agenda_item_signals",
    db.Column("agenda_item_id", ForeignKey("agenda_items.id", ondelete="CASCADE"), primary_key=True),
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
)

agenda_item_themes = db.Table(
    "agenda_item_themes",
    db.Column("agenda_item_id", ForeignKey("agenda_items.id", ondelete="CASCADE"), primary_key=True),
    db.Column("term_id", ForeignKey("taxonomy_terms.id"), primary_key=True),
)

agenda_item_actions = db.Table(  # open actions carried onto the action-list item of a later meeting
    "agenda_item_actions",
    db.Column("agenda_item_id", ForeignKey("agenda_items.id", ondelete="CASCADE"), primary_key=True),
    db.Column("action_id", ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
)


class AgendaItem(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_terms.id"))
    title: Mapped[str] = mapped_column(String(200))
    description_html: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    duration_min: Mapped[int] = mapped_column(Integer, default=10)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    standard: Mapped[bool] = mapped_column(Boolean, default=False)  # pre-filled from the standard order (D.5)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda_items")
    kind: Mapped[TaxonomyTerm] = relationship(foreign_keys=[kind_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    signals: Mapped[list[Signal]] = relationship(secondary=agenda_item_signals)
    themes: Mapped[list[TaxonomyTerm]] = relationship(secondary=agenda_item_themes)
    actions: Mapped[list[ActionItem]] = relationship(secondary=agenda_item_actions, order_by="ActionItem.due_date")


school_input_signals = db.Table(
    "school_input_signals",
    db.Column("school_input_id", ForeignKey("school_inputs.id", ondelete="CASCADE"), primary_key=True),
    db.Column("signal_id", ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
)


class SchoolInput(PublicIdMixin, TimestampMixin, db.Model):
    """A school's short input to the call for input: top-3 concerns, notable incidents (existing signals), help."""

    __tablename__ = "school_inputs"
    __table_args__ = (UniqueConstraint("meeting_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    concern_1: Mapped[str] = mapped_column(String(280), default="")
    concern_2: Mapped[str] = mapped_column(String(280), default="")
    concern_3: Mapped[str] = mapped_column(String(280), default="")
    help_needed_html: Mapped[str] = mapped_column(Text, default="")

    organisation: Mapped[Organisation] = relationship()
    submitted_by: Mapped[User] = relationship()
    signals: Mapped[list[Signal]] = relationship(secondary=school_input_signals)


class PartnerPicture(PublicIdMixin, TimestampMixin, db.Model):
    """The written "beeld" of police, youth work or youth enforcement: aggregated text, no names."""

    __tablename__ = "partner_pictures"
    __table_args__ = (UniqueConstraint("meeting_id", "organisation_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[PartnerKind] = mapped_column(_enum(PartnerKind, "partner_kind"))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body_html: Mapped[str] = mapped_column(Text, default="")

    organisation: Mapped[Organisation] = relationship()
    submitted_by: Mapped[User] = relationship()


class TrendReport(db.Model):
    """The trend report of one meeting: raw counts as generated (``data``), always shown through the suppression
    of small numbers in ``meetings.trends``; the narrative is written by the chair."""

    __tablename__ = "trend_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    narrative_html: Mapped[str] = mapped_column(Text, default="")
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    generated_by: Mapped[User] = relationship()


class Minutes(db.Model):
    """The minutes of a meeting. The text lives in versions (one row per save); adopted minutes are read-only."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    classification: Mapped[str] = mapped_column(String(4), default="K2")
    adopted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    adopted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    adopted_by: Mapped[User | None] = relationship()
    versions: Mapped[list[MinutesVersion]] = relationship(order_by="MinutesVersion.version")
    comments: Mapped[list[MinutesComment]] = relationship(order_by="MinutesComment.id")


class MinutesVersion(db.Model):
    __tablename__ = "minutes_versions"
    __table_args__ = (UniqueConstraint("minutes_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body_html: Mapped[str] = mapped_column(Text, default="")  # sanitised by core.sanitize on every write
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    personal_data_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)

    created_by: Mapped[User] = relationship()


class MinutesComment(PublicIdMixin, db.Model):
    __tablename__ = "minutes_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the version commented on
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()
    organisation: Mapped[Organisation] = relationship()


class ActionItem(PublicIdMixin, TimestampMixin, db.Model):
    """An action (afspraak/actiepunt): created at a meeting, followed up between meetings, carried forward while
    open."""

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(500))
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus, "action_status"), default=ActionStatus.OPEN)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    meeting: Mapped[Meeting] = relationship()
    owner_organisation: Mapped[Organisation] = relationship()
    owner_user: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])
    updates: Mapped[list[ActionUpdate]] = relationship(order_by="ActionUpdate.id")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_STATUSES


class ActionUpdate(db.Model):
    """Append-only update history of an action."""

    __tablename__ = "action_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()


class MeetingPresence(db.Model):
    """Who has a meeting's minutes open for editing (seen within the last minutes): shown live to the others."""

    __tablename__ = "meeting_presence"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
