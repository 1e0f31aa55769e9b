"""Writes for rooms and memberships. Revocation also takes the user's sockets out of the room."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from portal.audit import services as audit
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import District
from portal.realtime import publish
from portal.rooms.models import MemberRole, Room, RoomKind, RoomMembership


def get_room(code: str) -> Room | None:
    return db.session.scalar(select(Room).where(Room.code == code))


def create_room(
    code: str, name: str, kind: RoomKind, district: District | None = None, meetings_per_year: int = 2
) -> Room:
    if kind is RoomKind.DISTRICT and district is None:
        raise ValidationFailed("A district room needs a district.", field="district")
    room = Room(
        code=code,
        name=clean_text(name, field="name", max_length=200),
        kind=kind,
        district=district,
        meetings_per_year=meetings_per_year,
    )
    db.session.add(room)
    db.session.flush()
    return room


def add_member(
    room: Room,
    user: User,
    role: MemberRole = MemberRole.MEMBER,
    *,
    actor: User | None,
    ip: str = "",
    valid_until: datetime | None = None,
) -> RoomMembership:
    """Add a member, or re-activate a revoked or expired membership (one row per user and room keeps the history
    simple). A current seat is refused: re-adding would silently move its start date and change its role."""
    membership = db.session.scalar(
        select(RoomMembership).where(RoomMembership.room_id == room.id, RoomMembership.user_id == user.id)
    )
    if membership is not None and membership.is_current():
        raise ValidationFailed("This person is already a member of this room.", field="user")
    if membership is None:
        membership = RoomMembership(room=room, user=user)
        db.session.add(membership)
    membership.role = role
    membership.valid_from = utcnow()
    membership.valid_until = valid_until
    membership.revoked_at = None
    db.session.flush()
    audit.record(
        "membership.add",
        actor=actor,
        ip=ip,
        object_type="room",
        object_id=str(room.public_id),
        details={"member": str(user.public_id), "role": role.value},
    )
    return membership


def revoke_member(membership: RoomMembership, *, actor: User | None, ip: str = "") -> None:
    """End a seat. A seat revoked before keeps its date: the history shows when it really ended."""
    if membership.revoked_at is not None:
        raise ValidationFailed("This membership had already been revoked.")
    membership.revoked_at = utcnow()
    db.session.flush()
    audit.record(
        "membership.revoke",
        actor=actor,
        ip=ip,
        object_type="room",
        object_id=str(membership.room.public_id),
        details={"member": str(membership.user.public_id)},
    )
    # The socket's rooms were chosen at connect time; reconnecting re-derives them from the database.
    publish.disconnect_user(membership.user_id)


ROOM_CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{1,31}$")


def open_room(
    *,
    code: str,
    name: str,
    kind: RoomKind,
    district: District | None = None,
    meetings_per_year: int = 2,
    actor: User | None,
    ip: str = "",
) -> Room:
    """Create a room from the administration: checks the code and the district, then audits the creation."""
    code = clean_text(code, field="code", max_length=32).lower()
    if not ROOM_CODE_PATTERN.match(code):
        raise ValidationFailed("Use 2-32 lower-case letters, digits and hyphens.", field="code")
    if get_room(code) is not None:
        raise ValidationFailed("Another room already uses this code.", field="code")
    if not clean_text(name, field="name", max_length=200):
        raise ValidationFailed("Enter a name.", field="name")
    if kind is not RoomKind.DISTRICT and district is not None:
        raise ValidationFailed("Only a district room belongs to a district.", field="district")
    if not 0 <= meetings_per_year <= 12:
        raise ValidationFailed("Enter a number from 0 to 12.", field="meetings_per_year")
    room = create_room(code, name, kind, district, meetings_per_year=meetings_per_year)
    audit.record(
        "room.create",
        actor=actor,
        ip=ip,
        object_type="room",
        object_id=str(room.public_id),
        details={"code": code, "kind": kind.value},
    )
    return room
