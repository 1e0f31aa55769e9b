"""Language choice: the user's own setting, then the session's choice, then the configured default (nl)."""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_babel import Babel, gettext
from flask_login import current_user

from portal.core.errors import DomainError

LANGUAGES = {"nl": "Nederlands", "en": "English"}


def select_locale() -> str:
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return chosen
    user_language = getattr(current_user, "language", None) if current_user else None
    if user_language in LANGUAGES:
        return user_language
    return current_app.config["DEFAULT_LANGUAGE"]


def error_text(error: DomainError, default: str | None = None) -> str:
    """A domain error's message in the user's language: the msgid is translated first, its parameters filled in after.
    ``default`` (already translated) stands in when the error has no message."""
    if not error.template:
        return default if default is not None else ""
    return gettext(error.template, **error.params)


def init_babel(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = select_locale
