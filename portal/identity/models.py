"""Tables for users, their identities, local credentials, role assignments and server-side sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
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
    # Sessions started through single sign-on: the provider's slug, the provider's own session id (``sid``, for
    # back-channel logout) and the ID token (the ``id_token_hint`` of RP-initiated logout).
    oidc_provider: Mapped[str | None] = mapped_column(String(64), index=True)
    oidc_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    oidc_id_token: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()


class OidcAuthRequest(db.Model):
    """One pending authorization (or RP-initiated logout) request: single-use, short-lived, bound to the browser
    that started it (``browser_hash``), with the issuer we expect to answer (R-AUTH-1, R-AUTH-4, R-AUTH-8).
    Only the SHA-256 of ``state`` is stored (it is the lookup key); the nonce and the PKCE verifier are needed in
    clear at the callback and live for minutes at most."""

    __tablename__ = "oidc_auth_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "login" or "logout"
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str] = mapped_column(String(128), default="")
    code_verifier: Mapped[str] = mapped_column(String(128), default="")
    redirect_uri: Mapped[str] = mapped_column(String(500), default="")
    browser_hash: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str] = mapped_column(String(2000), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OidcLogoutToken(db.Model):
    """``jti`` values of accepted back-channel logout tokens, kept until the token could no longer be accepted,
    so that a replayed logout token is refused (R-AUTH-7)."""

    __tablename__ = "oidc_logout_tokens"
    __table_args__ = (UniqueConstraint("provider", "jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiToken(PublicIdMixin, db.Model):
    """A personal access token for the JSON API. It acts as its user (never with more rights) until it expires or
    is revoked. Only the SHA-256 of the secret is stored; the secret itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
