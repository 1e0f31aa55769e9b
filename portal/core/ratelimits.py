"""The one rate limit of every export: meeting PDFs and invitations, access reports, data-subject exports.

An export takes a copy of covenant data out of the portal, so bulk downloading is what to slow down. The limit is
counted per signed-in person (an address only before sign-in): a new address, another network or a rotating proxy
does not reset it, and colleagues behind one school's NAT do not use up each other's. All export kinds share one
counter (``PORTAL_EXPORT_LIMIT``), so switching from ``.ics`` to PDF to CSV does not buy more. Past it the limiter
answers 429 with ``Retry-After`` (``main/errors.py``); the counters live in Redis when configured, so every worker
counts together.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_login import current_user

from portal.core.security import client_ip
from portal.extensions import limiter

EXPORT_SCOPE = "export"


def user_or_address() -> str:
    """The rate-limit key: the person when signed in, else the (proxy-resolved) address."""
    if current_user.is_authenticated:
        return f"user:{current_user.public_id}"
    return f"ip:{client_ip()}"


def _export_limit() -> str:
    return current_app.config["EXPORT_LIMIT"]  # read per request: tests and TOML files may change it


def export_limit(*, when: Callable[[], bool] | None = None):
    """Decorator for an export route. ``when`` is for a page that is an export only with some arguments (the access
    report as ``?format=csv``): it says whether this request is one, and only those are counted."""
    return limiter.shared_limit(
        _export_limit,
        scope=EXPORT_SCOPE,
        key_func=user_or_address,
        exempt_when=(lambda: not when()) if when else None,
    )
