"""Administration pages. Thin: load → authorise → form → service → commit → redirect."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.authz.decorators import require
from portal.authz.permissions import Permission

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@require(Permission.ADMIN_ACCESS)
def index():
    return render_template("admin/index.html")
