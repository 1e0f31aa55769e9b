"""Personal access tokens for the JSON API: create (the secret is returned once), list, revoke, authenticate.

A token acts as its user and never with more rights: it is refused once the user is no longer active, and every
permission is still decided by the policy for that user. Only the SHA-256 of the secret is stored, so a copy of the
database hands out no working tokens. Every call is audited; a successful authentication at most once a minute
per token (when ``last_used_at`` is written), so that reads are not drowned in "token used" records.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from portal.audit import services as audit
from portal.core.db import utcnow
from portal.core.errors import NotFound, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import ApiToken, User, UserStatus

TOKEN_PREFIX = "pvs_"  # noqa: S105 (a recognisable prefix for secret scanners, not a secret)
DEFAULT_DAYS = 90
MAX_DAYS = 365
NAME_MAX = 100
_SECRET_MAX = 200
_TOUCH_EVERY = timedelta(seconds=60)


class TokenRejected(Exception):
    """The presented token does not authenticate. ``reason`` goes to the audit trail, never to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _audit_token(action: str, token: ApiToken, *, actor: User | None, ip: str, **details) -> None:
    audit.record(action, actor=actor, ip=ip, object_type="api_token", object_id=str(token.public_id), details=details)


def create_token(
    user: User, *, name: str, days: int = DEFAULT_DAYS, actor: User | None = None, ip: str = "", via: str = "web"
) -> IssuedToken:
    """Issue a token for ``user`` valid ``days`` days (1..365). ``actor`` is who asked (the user, or None for the
    CLI)."""
    if user.status is not UserStatus.ACTIVE:
        raise ValidationFailed("Only an active account can have access tokens.", field="user")
    label = clean_text(name, field="name", max_length=NAME_MAX)
    if not label:
        raise ValidationFailed("Give the token a name.", field="name")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed("Choose a validity of 1 to %(max)s days.", field="days", max=MAX_DAYS)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user_id=user.id, name=label, token_hash=_hash(secret), created_at=now, expires_at=now + timedelta(days=days)
    )
    db.session.add(token)
    db.session.flush()
    _audit_token("token.create", token, actor=actor or user, ip=ip, days=days, via=via, owner=str(user.public_id))
    return IssuedToken(token, secret)


def list_tokens(user: User, *, ip: str = "") -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones too, so the user sees what happened)."""
    tokens = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))
    audit.record("token.list", actor=user, ip=ip, object_type="api_token", details={"results": len(tokens)})
    return tokens


def revoke_token(user: User, public_id, *, ip: str = "") -> ApiToken:
    """A user revokes one of their own tokens; another user's token is simply not found."""
    token = (
        db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.public_id == public_id))
        if public_id
        else None
    )
    if token is None:
        raise NotFound("Unknown token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        _audit_token("token.revoke", token, actor=user, ip=ip)
    return token


def authenticate(secret: str | None, *, ip: str = "", now: datetime | None = None) -> tuple[User, ApiToken]:
    """The user a bearer secret stands for, or :class:`TokenRejected`. Every refusal is audited (R-LOG-6)."""
    now = now or utcnow()
    if (
        not isinstance(secret, str)
        or not secret.startswith(TOKEN_PREFIX)
        or len(secret) > _SECRET_MAX
        or not secret.isascii()
    ):
        audit.record(
            "token.authenticate",
            result=audit.Result.FAILURE,
            ip=ip,
            actor_label="(unknown token)",
            object_type="api_token",
            details={"reason": "malformed"},
        )
        raise TokenRejected("malformed")
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None:
        audit.record(
            "token.authenticate",
            result=audit.Result.FAILURE,
            ip=ip,
            actor_label="(unknown token)",
            object_type="api_token",
            details={"reason": "unknown"},
        )
        raise TokenRejected("unknown")
    user = token.user
    reason = ""
    if token.revoked_at is not None:
        reason = "revoked"
    elif now >= token.expires_at:
        reason = "expired"
    elif user.status is not UserStatus.ACTIVE:
        reason = f"account_{user.status.value}"
    if reason:
        audit.record(
            "token.authenticate",
            result=audit.Result.DENIED,
            actor=user,
            ip=ip,
            object_type="api_token",
            object_id=str(token.public_id),
            details={"reason": reason},
        )
        raise TokenRejected(reason)
    if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
        token.last_used_at = now
        _audit_token("token.authenticate", token, actor=user, ip=ip)
    return user, token


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked`` (for the profile page)."""
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.is_usable(now or utcnow()) else "expired"
