"""The ``admin`` blueprint that every section module registers its routes on, and the administration home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.admin import labels
from portal.authz.decorators import require
from portal.authz.permissions import Permission

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _labels() -> dict:
    return {"labels": labels.template_labels()}


@bp.get("/")
@require(Permission.ADMIN_ACCESS)
def index():
    return render_template("admin/index.html")
