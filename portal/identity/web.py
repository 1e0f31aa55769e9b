"""The glue between Flask's cookie, Flask-Login and the server-side session records (R-SES-1)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, current_app, g, request, session
from flask_login import login_user, logout_user

from portal.core.db import commit, utcnow
from portal.core.security import client_ip
from portal.extensions import login_manager
from portal.identity import services, tokens
from portal.identity.models import User, UserStatus

SESSION_TOKEN_KEY = "sid"  # noqa: S105 (the key name in the cookie session, not a secret)


def session_policy() -> services.SessionPolicy:
    return services.SessionPolicy(
        idle=timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
    )


def sign_in(user: User, *, method: str, user_agent: str) -> str:
    """A new session id at every sign-in: whatever the cookie held before is thrown away (no fixation).
    Returns the new session's token (single sign-on marks the session record with it)."""
    old_token = session.get(SESSION_TOKEN_KEY)
    if old_token:
        services.end_session(old_token, actor=None, ip=client_ip())
    language = session.get("language")
    session.clear()
    token = services.start_session(user, policy=session_policy(), ip=client_ip(), user_agent=user_agent, method=method)
    session[SESSION_TOKEN_KEY] = token
    if language:
        session["language"] = language
    session.permanent = True
    login_user(user)
    return token


def sign_out(user: User | None) -> None:
    services.end_session(session.get(SESSION_TOKEN_KEY), actor=user, ip=client_ip())
    logout_user()
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


def current_session_record():
    return getattr(g, "portal_session_record", None)


API_PREFIX = "/api/"


def bearer_secret(req: Request) -> str | None:
    """The secret of an ``Authorization: Bearer`` header on an API path ("" for an empty one), else None.
    Bearer tokens are honoured on the JSON API only; pages and sockets never look at the header."""
    if not req.path.startswith(API_PREFIX):
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip()


def current_api_token():
    """The personal access token that authenticated this request, or None (cookie session or anonymous)."""
    return getattr(g, "portal_api_token", None)


def api_auth_error() -> str | None:
    """Why a bearer token was refused in this request (for ``WWW-Authenticate``), or None."""
    return getattr(g, "portal_api_auth_error", None)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "identity.login"
    login_manager.login_message = None  # the login page explains itself; no flashed English sentence
    login_manager.session_protection = None  # the server-side record is the protection

    @login_manager.user_loader
    def _load_user(user_public_id: str) -> User | None:
        if bearer_secret(request) is not None:
            return None  # an API request with a bearer token is authenticated by the token alone, never the cookie
        record = services.resolve_session(session.get(SESSION_TOKEN_KEY), policy=session_policy())
        if record is None:
            commit()  # an expired record was removed
            session.pop(SESSION_TOKEN_KEY, None)
            return None
        user = record.user
        if str(user.public_id) != user_public_id or user.status is not UserStatus.ACTIVE:
            return None
        if services.touch_session(record):
            commit()
        g.portal_session_record = record
        return user

    @login_manager.request_loader
    def _load_user_from_token(req: Request) -> User | None:
        secret = bearer_secret(req)
        if secret is None:
            return None
        now = utcnow()
        try:
            user, token = tokens.authenticate(secret, ip=client_ip(), now=now)
        except tokens.TokenRejected:
            commit()  # the refusal is audited
            g.portal_api_auth_error = "invalid_token"
            return None
        if token.last_used_at == now:
            commit()  # last_used_at was written (with its audit record): at most once a minute per token
        g.portal_api_token = token
        return user
