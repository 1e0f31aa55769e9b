"""The glue between Flask's cookie, Flask-Login and the server-side session records (R-SES-1)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, session
from flask_login import login_user, logout_user

from portal.core.db import commit
from portal.core.security import client_ip
from portal.extensions import login_manager
from portal.identity import services
from portal.identity.models import User, UserStatus

SESSION_TOKEN_KEY = "sid"  # noqa: S105 (the key name in the cookie session, not a secret)


def session_policy() -> services.SessionPolicy:
    return services.SessionPolicy(
        idle=timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
    )


def sign_in(user: User, *, method: str, user_agent: str) -> None:
    """A new session id at every sign-in: whatever the cookie held before is thrown away (no fixation)."""
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


def sign_out(user: User | None) -> None:
    services.end_session(session.get(SESSION_TOKEN_KEY), actor=user, ip=client_ip())
    logout_user()
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


def current_session_record():
    return getattr(g, "portal_session_record", None)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "identity.login"
    login_manager.login_message = None  # the login page explains itself; no flashed English sentence
    login_manager.session_protection = None  # the server-side record is the protection

    @login_manager.user_loader
    def _load_user(user_public_id: str) -> User | None:
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
