"""Reads about rooms, with membership built into the query (R-AZ-2)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.core.db import utcnow
from portal.core.errors import NotFound
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


# --- administration ---------------------------------------------------------------------------------------------


def rooms_with_member_counts() -> list[tuple[Room, int]]:
    """Every room with its district and the number of current members, in one query."""
    counts = (
        select(RoomMembership.room_id, func.count().label("members"))
        .where(*current_membership_clause())
        .group_by(RoomMembership.room_id)
        .subquery()
    )
    stmt = (
        select(Room, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.room_id == Room.id)
        .options(selectinload(Room.district))
        .order_by(Room.kind, Room.name, Room.id)
    )
    return [(room, int(members)) for room, members in db.session.execute(stmt)]


def room_by_public_id(public_id) -> Room:
    room = (
        db.session.scalar(select(Room).where(Room.public_id == public_id).options(selectinload(Room.district)))
        if public_id
        else None
    )
    if room is None:
        raise NotFound("Unknown room.")
    return room


def room_memberships(room: Room) -> list[RoomMembership]:
    """Every membership of a room, current and past, with users and their organisations."""
    stmt = (
        select(RoomMembership)
        .join(RoomMembership.user)
        .where(RoomMembership.room_id == room.id)
        .options(selectinload(RoomMembership.user).selectinload(User.organisation))
        .order_by(User.display_name, RoomMembership.id)
    )
    return list(db.session.scalars(stmt))


def membership_in_room(room: Room, public_id) -> RoomMembership:
    membership = (
        db.session.scalar(
            select(RoomMembership).where(RoomMembership.room_id == room.id, RoomMembership.public_id == public_id)
        )
        if public_id
        else None
    )
    if membership is None:
        raise NotFound("Unknown membership.")
    return membership


def all_memberships_of(user: User) -> list[RoomMembership]:
    """Every seat of a user, current and past, with the rooms (for the administration)."""
    stmt = (
        select(RoomMembership)
        .join(Room)
        .where(RoomMembership.user_id == user.id)
        .options(selectinload(RoomMembership.room).selectinload(Room.district))
        .order_by(Room.kind, Room.name)
    )
    return list(db.session.scalars(stmt))


def rooms_by_district_id() -> dict[int | None, list[Room]]:
    """Rooms grouped by district id (None for city-wide rooms), in one query."""
    grouped: dict[int | None, list[Room]] = {}
    for room in db.session.scalars(select(Room).order_by(Room.kind, Room.name, Room.id)):
        grouped.setdefault(room.district_id, []).append(room)
    return grouped
