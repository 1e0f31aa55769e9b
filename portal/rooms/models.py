"""Network rooms: one per district, plus the city-wide network and the directors' consultation."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import District, _enum


class RoomKind(enum.StrEnum):
    DISTRICT = "district"
    CITY = "city"
    DIRECTORS = "directors"


class MemberRole(enum.StrEnum):
    MEMBER = "member"
    CHAIR = "chair"
    SECRETARY = "secretary"
    GUEST = "guest"


class Room(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RoomKind] = mapped_column(_enum(RoomKind, "room_kind"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    meetings_per_year: Mapped[int] = mapped_column(Integer, default=2)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the room's event sequence (R-REL-2)

    district: Mapped[District | None] = relationship()
    memberships: Mapped[list[RoomMembership]] = relationship(back_populates="room")

    def __str__(self) -> str:
        return self.name


class RoomMembership(PublicIdMixin, db.Model):
    """A user's seat in a room. Revocation sets ``revoked_at``; the row stays as history."""

    __tablename__ = "room_memberships"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "member_role"), default=MemberRole.MEMBER)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    room: Mapped[Room] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()

    def is_current(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return (
            self.revoked_at is None and self.valid_from <= now and (self.valid_until is None or now < self.valid_until)
        )
