"""Administrators' view of single sign-on: each identity provider's status and the accounts waiting for approval.

A blueprint of its own (``oidc_admin``), so that it does not touch the ``portal/admin/views/`` package.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.identity import oidc, oidc_services

bp = Blueprint("oidc_admin", __name__)


@bp.get("/admin/identity-providers")
@require(Permission.ADMIN_USERS)
def providers():
    registry = oidc.registry()
    rows, pending_total = oidc_services.provider_overview(registry, refresh=True)
    providers_by_slug = {p.slug: p for p in registry}
    return render_template(
        "identity/oidc_providers.html", rows=rows, pending_total=pending_total, providers=providers_by_slug
    )
