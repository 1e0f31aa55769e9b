"""The one shape of a button-style POST in the HTML views: run the service, commit once, and tell the user."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash

from portal.core.db import commit
from portal.core.errors import ValidationFailed
from portal.core.i18n import error_text
from portal.extensions import db


def perform(action: Callable[[], object], success: str) -> bool:
    """Run ``action``; on a validation error roll back and flash its (translated) message, else commit and flash
    ``success``. Returns whether it succeeded."""
    try:
        action()
    except ValidationFailed as error:
        db.session.rollback()
        flash(error_text(error), "error")
        return False
    commit()
    flash(success, "success")
    return True
