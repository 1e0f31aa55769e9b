"""Friendly Dutch error pages for people, ``application/problem+json`` for programs; every denial audited."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from portal.audit import services as audit
from portal.core.errors import DomainError
from portal.core.security import client_ip, wants_json
from portal.extensions import db, limiter

log = logging.getLogger(__name__)
PAGES = {400, 401, 403, 404, 405, 413, 429, 500, 503}


def _respond(status: int, code: str, retry_after: str | None = None):
    if wants_json():
        response = jsonify(type="about:blank", title=code, status=status)
        response.mimetype = "application/problem+json"
    else:
        template = f"errors/{status if status in PAGES else 400}.html"
        response = render_template(template, status=status, code=code), status
        from flask import make_response

        response = make_response(response)
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
        db.session.rollback()
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
        db.session.rollback()
        log.exception("could not audit an access denial")


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        _audit_denial("csrf")
        return _respond(400, "csrf")

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db.session.rollback()
        if error.status == 403:
            _audit_denial(error.code)
        return _respond(error.status, error.code)

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError):
        db.session.rollback()
        log.error("database unavailable: %s", error.__class__.__name__)
        return _respond(503, "database_unavailable", retry_after="30")

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
        db.session.rollback()
        log.exception("unhandled error")
        # ``name`` is a property of werkzeug's exceptions: read it from an instance (on the class it is the property
        # object itself, and the 500 handler would raise instead of answering).
        return _respond(500, InternalServerError().name.lower().replace(" ", "_"))
