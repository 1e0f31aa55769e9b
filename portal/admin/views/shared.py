"""Helpers that several administration sections use: form errors, choice lists, dates and the action-form check."""

from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from portal.admin.forms import NONE_CHOICE, ActionForm
from portal.core.db import parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.i18n import error_text
from portal.extensions import db
from portal.organisations import queries as organisation_queries


def show_error(form, error: ValidationFailed) -> None:
    """Put a service's message on the field it names (or above the form), and drop the unfinished changes."""
    db.session.rollback()
    message = error_text(error, _("This change is not possible."))
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def pick(loader, value: str | None):
    """The object a choice list's value names, or None for the empty choice."""
    return loader(parse_public_id(value)) if value else None


def require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def organisation_choices() -> list:
    return [NONE_CHOICE] + [SelectChoice(str(o.public_id), o.name) for o in organisation_queries.all_organisations()]


def district_choices() -> list:
    return [NONE_CHOICE] + [SelectChoice(str(d.public_id), d.name) for d in organisation_queries.list_districts()]
