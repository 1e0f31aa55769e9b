"""Friendly Dutch error pages for people, ``application/problem+json`` for programs; every denial audited."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from portal.audit import services as audit
from portal.core.db import safe_rollback
from portal.core.errors import DomainError
from portal.core.security import client_ip, wants_json
from portal.extensions import db, limiter, login_manager

log = logging.getLogger(__name__)
PAGES = {400, 401, 403, 404, 405, 413, 429, 500, 503}

# Every way the database can be out of reach: refused or cut connections (OperationalError; InterfaceError when the
# driver finds its connection closed), a pool connection found dead (DisconnectionError), no free connection in the
# pool in time (TimeoutError), and a session left unusable by a database error earlier in the same request
# (PendingRollbackError). Each is a 503 with Retry-After, never a 500 (issue 10, item 7).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    PendingRollbackError,
)

# The last resort when even the error page cannot be rendered: self-contained, no layout, no database.
_BARE_PAGE = (
    '<!doctype html>\n<html lang="nl"><head><meta charset="utf-8"><title>{status} - Veiligheidsportaal</title></head>'
    "<body><h1>{title}</h1><p>Probeer het over een minuut opnieuw. / Try again in a minute.</p>"
    '<p><a href="/">Naar het overzicht / Go to the overview</a></p></body></html>\n'
)
_BARE_TITLES = {503: "Tijdelijk niet beschikbaar / Temporarily unavailable"}


def _page(status: int, code: str):
    """The error page in the portal's layout; a bare page if that cannot be rendered (the layout reads the
    signed-in user and its organisation, and so the database: a failure there must not become werkzeug's 500)."""
    template = f"errors/{status if status in PAGES else 400}.html"
    try:
        return make_response(render_template(template, status=status, code=code), status)
    except Exception as error:
        safe_rollback()
        log.error("could not render the error page %s: %s", status, error.__class__.__name__)
        title = _BARE_TITLES.get(status, "Er ging iets mis / Something went wrong")
        response = make_response(_BARE_PAGE.format(status=status, title=escape(title)), status)
        response.mimetype = "text/html"
        return response


def _respond(status: int, code: str, retry_after: str | None = None):
    if wants_json():
        response = jsonify(type="about:blank", title=code, status=status)
        response.mimetype = "application/problem+json"
    else:
        response = _page(status, code)
    response.status_code = status
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _retry_after(error: HTTPException) -> str:
    """Seconds until the limit that refused the request resets, from the limiter itself: a fixed guess here would
    also win over the limiter's own header for any window that resets sooner."""
    limit = limiter.current_limit if isinstance(error, RateLimitExceeded) else None
    if limit is not None:
        return str(max(1, math.ceil(limit.reset_at - time.time())))
    return error.get_response().headers.get("Retry-After") or "60"


def _audit_denial(code: str) -> None:
    try:
        safe_rollback()
        user = current_user._get_current_object() if current_user and current_user.is_authenticated else None
        audit.record(
            "access.denied",
            result=audit.Result.DENIED,
            actor=user,
            ip=client_ip(),
            object_type="route",
            object_id=(request.endpoint or "")[:64],
            details={"code": code},
        )
        db.session.commit()
    except Exception:  # never let auditing turn a 403 into a 500; the failure itself is logged
        safe_rollback()
        log.exception("could not audit an access denial")


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        _audit_denial("csrf")
        return _respond(400, "csrf")

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        safe_rollback()
        if error.status == 403:
            _audit_denial(error.code)
        return _respond(error.status, error.code)

    def _database_down(error: Exception):
        safe_rollback()
        log.error("database unavailable: %s", error.__class__.__name__)
        # The page is shown as to a signed-out visitor: loading the signed-in user (flask-login's template context,
        # the layout's name and organisation) needs the database that just failed.
        login_manager._update_request_context_with_user()
        return _respond(503, "database_unavailable", retry_after="30")

    for database_error in DATABASE_UNAVAILABLE:
        app.register_error_handler(database_error, _database_down)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        if status == 403:
            _audit_denial("forbidden")
        retry_after = None
        if status == 429:
            retry_after = _retry_after(error)
        if isinstance(error, ServiceUnavailable):
            retry_after = "30"
        return _respond(status, error.name.lower().replace(" ", "_"), retry_after)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        safe_rollback()
        log.exception("unhandled error")
        # ``name`` is a property of werkzeug's exceptions: read it from an instance (on the class it is the property
        # object itself, and the 500 handler would raise instead of answering).
        return _respond(500, InternalServerError().name.lower().replace(" ", "_"))
