"""Domain errors. Services raise these; adapters turn them into HTTP pages, JSON problems or socket acks."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status an adapter answers with, ``code`` a stable machine name."""

    status = 400
    code = "invalid"

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"


class NotFound(DomainError):
    """Also used for objects the user may not see: unknown and forbidden answer the same (R-AZ-3)."""

    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
