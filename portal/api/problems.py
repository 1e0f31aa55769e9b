"""Errors of the JSON API as ``application/problem+json`` (RFC 9457): ``type``, ``title``, ``status``, ``detail``,
and ``errors`` ({field: message}) for validation failures. Never a stack trace, never an HTML page."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from portal.core.db import safe_rollback
from portal.core.errors import DomainError, NotFound, ValidationFailed
from portal.identity.web import api_auth_error
from portal.main.errors import DATABASE_UNAVAILABLE
from portal.main.errors import _audit_denial as audit_denial

log = logging.getLogger(__name__)
PROBLEM_TYPE = "urn:portal:problem:"
NOT_FOUND_DETAIL = "No such object, or you may not see it."  # the same for unknown and forbidden (R-AZ-3)

# Service field names that the API calls differently.
FIELD_NAMES = {
    "school_location": "school",
    "details": "details_html",
    "client_key": "Idempotency-Key",
    "text": "text_html",
    "pii_reason": "pii_confirmation",
}


class ApiProblem(Exception):
    """Raised by the adapter for request-shape problems (bad JSON, wrong types, unknown fields, bad filters)."""

    def __init__(self, status: int, code: str, detail: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or {}


def invalid(errors: dict[str, str], detail: str = "The request is not valid.") -> ApiProblem:
    return ApiProblem(400, "validation_failed", detail, errors)


def problem(status: int, code: str, detail: str = "", errors: dict[str, str] | None = None, headers=None):
    body: dict = {
        "type": PROBLEM_TYPE + code,
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail or HTTP_STATUS_CODES.get(status, "Error"),
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _www_authenticate() -> str:
    error = api_auth_error()
    return f'Bearer realm="portal", error="{error}"' if error else 'Bearer realm="portal"'


def install(bp: Blueprint) -> None:
    """Blueprint-level handlers: they win over the application's HTML/JSON pages for every /api/v1 route."""

    @bp.errorhandler(ApiProblem)
    def _api_problem(error: ApiProblem):
        safe_rollback()
        return problem(error.status, error.code, error.detail, error.errors)

    @bp.errorhandler(DomainError)
    def _domain(error: DomainError):
        safe_rollback()
        if isinstance(error, NotFound):
            return problem(404, "not_found", NOT_FOUND_DETAIL)
        if isinstance(error, ValidationFailed):
            field = FIELD_NAMES.get(error.field or "", error.field or "")
            errors = {field: error.message or "Invalid value."} if field else None
            return problem(400, error.code, error.message or "The request is not valid.", errors)
        if error.status == 403:
            audit_denial(error.code)
        return problem(error.status, error.code, error.message)

    def _database_down(error: Exception):
        # The application's own 503 is a bare problem without ``detail``; the API answers its documented shape.
        # Every way the database can fail (a PendingRollbackError, a dead pooled connection) is this 503.
        safe_rollback()
        log.error("database unavailable: %s", error.__class__.__name__)
        return problem(
            503, "database_unavailable", "The database is unavailable; try again later.", headers={"Retry-After": "30"}
        )

    for database_error in DATABASE_UNAVAILABLE:
        bp.register_error_handler(database_error, _database_down)

    @bp.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        audit_denial("csrf")
        return problem(
            400,
            "csrf_failed",
            "A request authenticated by the session cookie needs the CSRF token in the X-CSRFToken header.",
        )

    @bp.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        headers: dict[str, str] = {}
        detail = ""
        if status == 401:
            headers["WWW-Authenticate"] = _www_authenticate()
            detail = (
                "The access token is invalid, expired or revoked."
                if api_auth_error()
                else "Sign in, or send a personal access token as 'Authorization: Bearer <token>'."
            )
        elif status == 403:
            audit_denial("forbidden")
            detail = "You may not do this."
        elif status == 404:
            detail = NOT_FOUND_DETAIL
        elif status == 429:
            headers["Retry-After"] = error.get_response().headers.get("Retry-After") or "60"
            detail = "Too many requests; try again later."
        code = HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
        return problem(status, code, detail, headers=headers)
