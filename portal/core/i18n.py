"""Language choice: the user's own setting, then the session's choice, then the configured default (nl)."""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_babel import Babel
from flask_login import current_user

LANGUAGES = {"nl": "Nederlands", "en": "English"}


def select_locale() -> str:
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return chosen
    user_language = getattr(current_user, "language", None) if current_user else None
    if user_language in LANGUAGES:
        return user_language
    return current_app.config["DEFAULT_LANGUAGE"]


def init_babel(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = select_locale
