"""The home page, the language switch and ``/healthz``."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session
from flask_login import current_user
from sqlalchemy import text

from portal.authz.decorators import public
from portal.authz.policy import current_roles, permissions_of
from portal.core.i18n import LANGUAGES
from portal.core.security import safe_next
from portal.extensions import db
from portal.main.health import degraded_parts, live_health
from portal.rooms.queries import memberships_of

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    user = current_user._get_current_object()
    return render_template(
        "main/home.html",
        memberships=memberships_of(user),
        roles=sorted(current_roles(user)),
        assignments=list(user.role_assignments),
        permissions=permissions_of(user),
    )


@bp.post("/language")
@public
def set_language():
    language = request.form.get("language", "")
    if language in LANGUAGES:
        session["language"] = language
    return redirect(safe_next(request.form.get("next"), current_app))


@bp.get("/healthz")
@public
def healthz():
    """Database, and when Redis is configured live delivery: Redis answers a ping and this worker's message-queue
    listener is subscribed and receiving (``listener``: ``ok``, or its state: ``starting``, ``subscribing``,
    ``broken``, ``silent``). ``degraded`` when live delivery is not ok but the database is; ``degraded`` lists
    the parts that are not ok."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        db.session.rollback()
        checks["database"] = "unavailable"
    live = live_health()
    checks.update(live)
    degraded = degraded_parts(live)
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif degraded:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    response = jsonify(status=status, checks=checks, degraded=degraded)
    response.status_code = code
    if code == 503:
        response.headers["Retry-After"] = "30"
    return response
