"""Deny by default (R-AZ-1, T25): every route in ``app.url_map`` is enumerated, so routes added later are covered
without touching this file. Anonymous callers are sent to the login page (HTML) or get 401 (JSON, ``/api/``);
a signed-in user without a route's permission gets 403 and the denial is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.routing import FloatConverter, IntegerConverter, PathConverter, UUIDConverter

from portal.audit.models import AuditEvent
from portal.authz.permissions import Permission, Role, ScopeType
from portal.authz.policy import ROLE_PERMISSIONS
from portal.extensions import db
from portal.identity import services
from tests.conftest import TEST_PASSWORD, csrf_token

# Each entry is a deliberate decision; adding a public route means adding it here, in review.
FOUNDATION_PUBLIC = {"identity.login", "main.set_language", "main.healthz"}
# Single sign-on cannot sit behind the login wall: starting a sign-in, the provider's callback, the return from the
# provider's logout page and the provider's back-channel logout call (each checks state, tokens or signatures).
SSO_PUBLIC = {"oidc.login", "oidc.callback", "oidc.logged_out", "oidc.backchannel_logout"}
PUBLIC_ENDPOINTS = FOUNDATION_PUBLIC | SSO_PUBLIC
IGNORED_METHODS = {"HEAD", "OPTIONS"}
DUMMY_UUID = uuid.UUID("00000000-0000-4000-8000-000000000000")


@dataclass(frozen=True)
class Target:
    endpoint: str
    rule: str
    path: str
    method: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.endpoint})"


def _dummy(converter) -> object:
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return DUMMY_UUID
    if isinstance(converter, PathConverter):
        return f"x/{DUMMY_UUID}"
    return str(DUMMY_UUID)


def _targets(app) -> list[Target]:
    targets = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {name: _dummy(converter) for name, converter in rule._converters.items()}
        _domain, path = rule.build(values, append_unknown=False)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            targets.append(Target(rule.endpoint, rule.rule, path, method))
    return targets


def _view(app, endpoint):
    return app.view_functions[endpoint]


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _send(client, target: Target, token: str | None, **kwargs):
    data = {"csrf_token": token} if token and target.method != "GET" else None
    return client.open(target.path, method=target.method, data=data, **kwargs)


def _login_redirect_next(response) -> str | None:
    """The ``next`` of a redirect to the login page, or None when the response is something else."""
    if response.status_code != 302:
        return None
    location = urlsplit(response.headers["Location"])
    if location.path != "/auth/login":
        return None
    return parse_qs(location.query).get("next", [""])[0]


def test_the_enumeration_sees_the_routes(app):
    endpoints = {t.endpoint for t in _targets(app)}
    assert {"main.home", "identity.logout", "identity.end_session", "audit.index", "identity.sessions"} <= endpoints
    assert ("POST", "identity.end_session") in {(t.method, t.endpoint) for t in _targets(app)}


def test_public_routes_are_exactly_the_allowlist(app):
    public = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "_portal_public", False)}
    assert public - PUBLIC_ENDPOINTS == set(), "a new public route: review it, then add it to the allowlist"
    assert public >= FOUNDATION_PUBLIC
    # Every allowlisted endpoint that exists is public (the SSO ones exist once their blueprint is registered).
    assert public == PUBLIC_ENDPOINTS & set(app.view_functions)


def test_admin_and_audit_routes_all_name_a_permission(app):
    """Administration and the audit trail are never "signed in is enough"."""
    missing = [
        str(t)
        for t in _targets(app)
        if t.rule.startswith(("/admin", "/audit")) and not hasattr(_view(app, t.endpoint), "_portal_permission")
    ]
    assert missing == []


def test_anonymous_html_requests_go_to_login(app, client):
    token = csrf_token(client)  # a valid token: the login wall, not CSRF, must be what stops these
    failures = []
    checked = 0
    for target in _targets(app):
        if target.endpoint in PUBLIC_ENDPOINTS:
            continue
        checked += 1
        response = _send(client, target, token)
        if _is_api(target.path):
            if response.status_code != 401:
                failures.append(f"{target}: {response.status_code}, expected 401")
        elif _login_redirect_next(response) != target.path:
            failures.append(f"{target}: {response.status_code} {response.headers.get('Location')}")
    assert checked >= 5
    assert failures == []


def test_anonymous_json_requests_get_401(app, client):
    token = csrf_token(client)
    failures = []
    for target in _targets(app):
        if target.endpoint in PUBLIC_ENDPOINTS:
            continue
        response = _send(client, target, token, headers={"Accept": "application/json"})
        if response.status_code != 401 or response.mimetype != "application/problem+json":
            failures.append(f"{target}: {response.status_code} {response.mimetype}")
        elif response.get_json()["status"] != 401:
            failures.append(f"{target}: problem body {response.get_json()}")
    assert failures == []


def test_login_wall_keeps_the_query_string_in_next(client):
    response = client.get("/audit/?action=login")
    assert _login_redirect_next(response) == "/audit/?action=login"


def test_public_routes_answer_anonymous_callers(client):
    assert client.get("/auth/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    token = csrf_token(client)
    response = client.post("/language", data={"language": "en", "csrf_token": token})
    assert response.status_code == 302
    assert _login_redirect_next(response) is None


# --- signed in, but without the route's permission ------------------------------------------------------------


def _user_lacking(app, make, permission: Permission):
    """A user who holds every role that does *not* grant ``permission`` (the strongest "may not")."""
    roles = [role for role in Role if permission not in ROLE_PERMISSIONS[role]]
    user = make.user(None, password=TEST_PASSWORD)  # a break-glass account: it may hold the administrative roles
    with app.app_context():
        merged = db.session.merge(user)
        for role in roles:
            services.assign_role(merged, role, ScopeType.CITY, actor=None)
        db.session.commit()
    return user


def _denials(app, user, endpoint: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "access.denied",
                AuditEvent.result == "denied",
                AuditEvent.actor_id == str(user.public_id),
                AuditEvent.object_id == endpoint,
            )
        )


def _guarded(app) -> list[tuple[Target, Permission]]:
    return [
        (t, _view(app, t.endpoint)._portal_permission)
        for t in _targets(app)
        if hasattr(_view(app, t.endpoint), "_portal_permission")
    ]


def test_there_are_guarded_routes(app):
    assert {t.endpoint for t, _p in _guarded(app)} >= {"audit.index", "admin.index"}


@pytest.mark.parametrize("who", ["no_roles", "all_other_roles"])
def test_users_without_the_permission_get_403_and_an_audit_record(app, make, login_as, who):
    failures = []
    browsers: dict[Permission | None, tuple[object, object, str]] = {}

    def browser_for(permission: Permission):
        key = None if who == "no_roles" else permission
        if key not in browsers:
            user = make.user(None) if key is None else _user_lacking(app, make, permission)
            client = app.test_client()
            login_as(client, user)
            browsers[key] = (user, client, csrf_token(client, "/account/sessions"))
        return browsers[key]

    for target, permission in _guarded(app):
        user, client, token = browser_for(permission)
        before = _denials(app, user, target.endpoint)
        variants = [({}, "text/html"), ({"Accept": "application/json"}, "application/problem+json")]
        if who == "all_other_roles":
            variants = variants[:1]  # the JSON shape of the 403 does not depend on who is refused
        for headers, mimetype in variants:
            if _is_api(target.path):
                mimetype = "application/problem+json"
            response = _send(client, target, token, headers=headers)
            if response.status_code != 403 or response.mimetype != mimetype:
                failures.append(f"{target} as {who} ({mimetype}): {response.status_code} {response.mimetype}")
        if _denials(app, user, target.endpoint) != before + len(variants):
            failures.append(f"{target} as {who}: no access.denied audit record")
    assert failures == []


def test_users_with_the_permission_are_not_refused(app, make, login_as):
    """The positive control: the guard is the permission, not something that refuses everyone."""
    failures = []
    browsers: dict[Role, tuple[object, str]] = {}
    for target, permission in _guarded(app):
        role = next(role for role in Role if permission in ROLE_PERMISSIONS[role])
        if role not in browsers:
            client = app.test_client()
            login_as(client, make.user(role.value))
            browsers[role] = (client, csrf_token(client, "/account/sessions"))
        client, token = browsers[role]
        response = _send(client, target, token)
        if response.status_code in {401, 403} or _login_redirect_next(response) is not None:
            failures.append(f"{target} as {role}: {response.status_code}")
    assert failures == []
