"""Template helpers: the policy (``may``) and readable labels for roles and enumerations."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.authz.permissions import Permission, Role, ScopeType
from portal.authz.policy import has_permission

ROLE_LABELS = {
    Role.SCHOOL_COORDINATOR: _l("School safety coordinator"),
    Role.SCHOOL_DIRECTOR: _l("School director"),
    Role.BOARD_OFFICER: _l("School board officer"),
    Role.POLICE_OFFICER: _l("Police officer with school task"),
    Role.POLICE_EXPERT: _l("Police youth expert"),
    Role.OM_OFFICER: _l("Public prosecution youth officer"),
    Role.DISTRICT_SAFETY_MANAGER: _l("District safety manager"),
    Role.COVENANT_COORDINATOR: _l("Covenant coordinator"),
    Role.ATTENDANCE_OFFICER: _l("Compulsory education officer"),
    Role.PARTNER: _l("Partner (youth work, enforcement, health)"),
    Role.FUNCTIONAL_ADMIN: _l("Functional administrator"),
    Role.PRIVACY_OFFICER: _l("Privacy officer"),
}

SCOPE_LABELS = {
    ScopeType.LOCATION: _l("School location"),
    ScopeType.SCHOOL: _l("School"),
    ScopeType.BOARD: _l("School board"),
    ScopeType.DISTRICT: _l("District"),
    ScopeType.CITY: _l("City of Almere"),
}


def role_label(role) -> str:
    return str(ROLE_LABELS.get(Role(role), role))


def may(permission: str) -> bool:
    return has_permission(current_user, Permission(permission))


def install(app: Flask) -> None:
    from portal.main.health import live_degraded

    app.jinja_env.globals.update(live_degraded=live_degraded)
    app.jinja_env.globals.update(may=may, role_label=role_label, scope_label=lambda s: str(SCOPE_LABELS[ScopeType(s)]))
