"""Reads about rooms, with membership built into the query (R-AZ-2)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.core.db import utcnow
from portal.extensions import db
from portal.identity.models import User
from portal.rooms.models import Room, RoomMembership


def current_membership_clause(now=None):
    now = now or utcnow()
    return (
        RoomMembership.revoked_at.is_(None),
        RoomMembership.valid_from <= now,
        or_(RoomMembership.valid_until.is_(None), RoomMembership.valid_until > now),
    )


def memberships_of(user: User) -> list[RoomMembership]:
    """The user's current seats, with their rooms, in one query."""
    if not getattr(user, "id", None):
        return []
    stmt = (
        select(RoomMembership)
        .join(Room)
        .where(RoomMembership.user_id == user.id, *current_membership_clause())
        .options(selectinload(RoomMembership.room).selectinload(Room.district))
        .order_by(Room.kind, Room.name)
    )
    return list(db.session.scalars(stmt))


def room_ids_of(user: User) -> set[int]:
    if not getattr(user, "id", None):
        return set()
    stmt = select(RoomMembership.room_id).where(RoomMembership.user_id == user.id, *current_membership_clause())
    return set(db.session.scalars(stmt))


def all_rooms() -> list[Room]:
    return list(db.session.scalars(select(Room).options(selectinload(Room.district)).order_by(Room.kind, Room.name)))
