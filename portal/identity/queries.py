"""Reads about user accounts and role assignments, for the administration."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import case, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.core.errors import NotFound
from portal.extensions import db
from portal.identity.models import RoleAssignment, User, UserStatus

USER_PAGE_SIZE = 100


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    page: int
    has_next: bool


def list_users(status: UserStatus | None = None, search: str = "", page: int = 1) -> UserPage:
    """Accounts with pending ones first, then by name; optionally one status and a name or e-mail match.
    Organisation and role assignments (with their scopes) are loaded with the page, not per row."""
    page = max(page, 1)
    stmt = (
        select(User)
        .options(
            joinedload(User.organisation),
            selectinload(User.role_assignments).options(
                joinedload(RoleAssignment.scope_organisation), joinedload(RoleAssignment.scope_district)
            ),
        )
        .order_by(case((User.status == UserStatus.PENDING, 0), else_=1), User.display_name, User.id)
        .limit(USER_PAGE_SIZE + 1)
        .offset((page - 1) * USER_PAGE_SIZE)
    )
    if status is not None:
        stmt = stmt.where(User.status == status)
    if search:
        pattern = _like_pattern(search)
        stmt = stmt.where(or_(User.display_name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    rows = list(db.session.scalars(stmt))
    return UserPage(users=rows[:USER_PAGE_SIZE], page=page, has_next=len(rows) > USER_PAGE_SIZE)


def user_by_public_id(public_id: uuid.UUID | None) -> User:
    """One account with its organisation and role assignments (and their scopes) loaded."""
    user = (
        db.session.scalar(
            select(User)
            .where(User.public_id == public_id)
            .options(
                joinedload(User.organisation),
                selectinload(User.role_assignments).options(
                    joinedload(RoleAssignment.scope_organisation), joinedload(RoleAssignment.scope_district)
                ),
            )
        )
        if public_id
        else None
    )
    if user is None:
        raise NotFound("Unknown user.")
    return user


def role_assignment_of(user: User, public_id: uuid.UUID | None) -> RoleAssignment:
    """One of this user's assignments; another user's assignment id is simply not found."""
    assignment = (
        db.session.scalar(
            select(RoleAssignment).where(RoleAssignment.user_id == user.id, RoleAssignment.public_id == public_id)
        )
        if public_id
        else None
    )
    if assignment is None:
        raise NotFound("Unknown role assignment.")
    return assignment


def active_users() -> list[User]:
    """Active accounts by name, with their organisation (for choice lists)."""
    stmt = (
        select(User)
        .where(User.status == UserStatus.ACTIVE)
        .options(joinedload(User.organisation))
        .order_by(User.display_name, User.id)
    )
    return list(db.session.scalars(stmt))
