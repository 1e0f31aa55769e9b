"""Domain errors. Services raise these; adapters turn them into HTTP pages, JSON problems or socket acks.

The message is an English msgid (extracted by ``make extract-messages``). Values that vary go in named parameters,
not in the text: ``Conflict("The agenda takes %(total)s minutes.", total=95)``. ``message`` (and ``str(error)``) is the
formatted English text the CLI and the JSON API show; HTML views translate ``template`` first and format after (see
``portal.core.i18n.error_text``).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status an adapter answers with, ``code`` a stable machine name."""

    status = 400
    code = "invalid"

    def __init__(self, message: str = "", *, field: str | None = None, **params: Any) -> None:
        self.template = message
        self.params = params
        self.message = message % params if message and params else message
        self.field = field
        super().__init__(self.message)


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
