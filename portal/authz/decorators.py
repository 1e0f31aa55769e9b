"""Route guards. Every route requires a signed-in, active user unless marked ``@public`` (deny by default)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.security import wants_json

F = TypeVar("F", bound=Callable)


def public(view: F) -> F:
    """Mark a view as reachable without signing in. Use sparingly; each use is listed in the route test."""
    view._portal_public = True  # type: ignore[attr-defined]
    return view


def require(permission: Permission) -> Callable[[F], F]:
    """403 (HTML page or JSON problem) when the signed-in user lacks ``permission``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper._portal_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _unauthenticated():
    if wants_json():
        abort(401)
    return redirect(url_for("identity.login", next=request.full_path.rstrip("?")))


def install_login_wall(app: Flask) -> None:
    @app.before_request
    def _login_wall():
        if request.endpoint is None:  # 404 or 405: let the router answer
            return None
        view = current_app.view_functions.get(request.endpoint)
        if request.endpoint == "static" or getattr(view, "_portal_public", False):
            return None
        if not current_user.is_authenticated:
            return _unauthenticated()
        return None
