"""Tables for users, their identities, local credentials, role assignments and server-side sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.authz.permissions import Role, ScopeType
from portal.core.db import PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.extensions import db
from portal.organisations.models import District, Organisation, _enum


class UserStatus(enum.StrEnum):
    PENDING = "pending"  # first SSO sign-in, waiting for an administrator
    ACTIVE = "active"
    BLOCKED = "blocked"


class User(PublicIdMixin, TimestampMixin, UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[UserStatus] = mapped_column(_enum(UserStatus, "user_status"), default=UserStatus.PENDING)
    language: Mapped[str | None] = mapped_column(String(8))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    role_assignments: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", foreign_keys="RoleAssignment.user_id"
    )
    credential: Mapped[LocalCredential | None] = relationship(back_populates="user", uselist=False)

    # Flask-Login: the id in the cookie session is never trusted alone; see identity.sessions.
    def get_id(self) -> str:
        return str(self.public_id)

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def __str__(self) -> str:
        return self.display_name


class OidcIdentity(TimestampMixin, db.Model):
    """An external identity. Found by (issuer, subject) only, never by e-mail or name (R-AUTH-5)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LocalCredential(TimestampMixin, db.Model):
    """Break-glass administrators and demo accounts only: an argon2 hash and an optional TOTP secret."""

    __tablename__ = "local_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # refuses a replayed one-time code

    user: Mapped[User] = relationship(back_populates="credential")


class RoleAssignment(PublicIdMixin, db.Model):
    """A role held within a scope (location, school, board, district or the city) for a period."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    scope_type: Mapped[ScopeType] = mapped_column(_enum(ScopeType, "scope_type"))
    scope_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    scope_district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(32), default="admin")  # "admin", "demo" or an SSO provider slug

    user: Mapped[User] = relationship(back_populates="role_assignments", foreign_keys=[user_id])
    scope_organisation: Mapped[Organisation | None] = relationship()
    scope_district: Mapped[District | None] = relationship()

    def is_valid(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)

    @property
    def scope_label(self) -> str:
        if self.scope_organisation is not None:
            return self.scope_organisation.name
        if self.scope_district is not None:
            return self.scope_district.name
        return "Almere"


class UserSession(PublicIdMixin, db.Model):
    """The server-side record of a signed-in browser (R-SES-1). The cookie holds a random token; only its
    SHA-256 is stored, so a copy of the database does not hand out live sessions."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    auth_method: Mapped[str] = mapped_column(String(64), default="local")

    user: Mapped[User] = relationship()
