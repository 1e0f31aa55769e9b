"""CSRF on every state-changing route (R-HDR-1, T42) and the security headers on every kind of response, errors
included (R-HDR-2, T48)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.authz.decorators import public
from portal.extensions import db
from portal.identity.models import UserSession
from tests.conftest import TEST_PASSWORD, csrf_token, login

pytestmark = pytest.mark.usefixtures("fast_passwords")

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
DUMMY = "00000000-0000-4000-8000-000000000000"


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def _session_count(app, user) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


# --- CSRF -----------------------------------------------------------------------------------------------------


def _state_changing_targets(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.build(dict.fromkeys(rule.arguments, DUMMY), append_unknown=False)[1]
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            yield rule.endpoint, method, path


def test_every_state_changing_route_refuses_a_missing_or_foreign_token(app, make, login_as):
    """Enumerated from the url_map, so routes added later are covered too."""
    user = make.user("functional_admin")
    browser, other = app.test_client(), app.test_client()
    login_as(browser, user)
    login_as(other, make.user("school_coordinator"))
    foreign = csrf_token(other, "/")  # a valid token, but of someone else's session
    failures = []
    targets = list(_state_changing_targets(app))
    assert {("identity.logout", "POST"), ("main.set_language", "POST"), ("identity.login", "POST")} <= {
        (endpoint, method) for endpoint, method, _path in targets
    }
    for endpoint, method, path in targets:
        if endpoint == "oidc.backchannel_logout":
            continue  # the one documented exemption (R-HDR-1): authenticated by a signed logout token instead
        for data in ({}, {"csrf_token": foreign}, {"csrf_token": "forged"}):
            response = browser.open(path, method=method, data=data)
            if response.status_code != 400:
                failures.append(f"{method} {path} ({endpoint}) with {sorted(data)}: {response.status_code}")
    assert failures == []
    assert _signed_in(browser)


def test_csrf_exemptions_are_only_the_documented_ones():
    """R-HDR-1: the only exemption is back-channel logout. The JSON API blueprint is exempted from the global
    check only to re-apply it itself for cookie sessions (bearer tokens are never sent by a browser on its own);
    the enumeration above proves that a cookie session still needs the token there."""
    from portal.extensions import csrf

    assert csrf._exempt_views <= {"portal.identity.oidc_views.backchannel_logout"}
    assert {getattr(b, "name", b) for b in csrf._exempt_blueprints} <= {"api"}


def test_logout_without_token_keeps_the_session(app, client, make, login_as):
    user = make.user("school_coordinator")
    login_as(client, user)
    response = client.post("/auth/logout")
    assert response.status_code == 400
    assert 'lang="nl"' in response.get_data(as_text=True)
    assert _signed_in(client)
    assert _session_count(app, user) == 1


def test_language_switch_without_token_changes_nothing(client):
    response = client.post("/language", data={"language": "en", "next": "/auth/login"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "language" not in session
    assert 'lang="nl"' in client.get("/auth/login").get_data(as_text=True)
    # With the token the same request works (the control).
    token = csrf_token(client)
    assert client.post("/language", data={"language": "en", "csrf_token": token}).status_code == 302
    assert 'lang="en"' in client.get("/auth/login").get_data(as_text=True)


def test_end_session_without_token_leaves_the_other_session(app, make, login_as):
    user = make.user("school_coordinator")
    laptop, phone = app.test_client(), app.test_client()
    login_as(laptop, user)
    login_as(phone, user)
    with app.app_context():
        records = list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))
    for record in records:
        assert laptop.post(f"/account/sessions/{record.public_id}/end").status_code == 400
    assert _session_count(app, user) == 2
    assert _signed_in(phone)
    assert _signed_in(laptop)


def test_login_without_token_signs_nobody_in(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    response = client.post("/auth/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert not _signed_in(client)
    assert _session_count(app, user) == 0
    with app.app_context():
        logins = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login"))
    assert logins == 0


def test_csrf_refusal_is_audited(app, client, make, login_as):
    user = make.user("school_coordinator")
    login_as(client, user)
    client.post("/auth/logout")
    with app.app_context():
        row = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id.desc())
        ).first()
    assert row is not None
    assert (row.actor_id, row.details) == (str(user.public_id), {"code": "csrf"})


def test_header_token_is_accepted_for_scripts(client):
    token = csrf_token(client)
    response = client.post("/language", data={"language": "en"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302


# --- security headers -----------------------------------------------------------------------------------------


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


def assert_security_headers(response, *, https: bool = False) -> None:
    csp_text = response.headers.get("Content-Security-Policy", "")
    assert "unsafe-inline" not in csp_text
    assert "unsafe-eval" not in csp_text
    csp = _csp(response)
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert "*" not in csp.get("script-src", "'self'")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"no-referrer", "strict-origin-when-cross-origin"}
    hsts = response.headers.get("Strict-Transport-Security")
    if https:
        assert hsts is not None
        max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
        assert max_age >= 31536000
        assert "includesubdomains" in hsts.lower()
    else:
        assert hsts is None
    if response.mimetype.startswith("text/"):
        assert response.headers["Content-Type"].lower().endswith("charset=utf-8")


def _assert_dutch_page(response, status: int) -> None:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert 'lang="nl"' in response.get_data(as_text=True)
    assert_security_headers(response)


def test_headers_on_a_normal_page(client, make, login_as):
    login_as(client, make.user("school_coordinator"))
    response = client.get("/")
    _assert_dutch_page(response, 200)
    assert _csp(response)["connect-src"] == "'self' ws://localhost"


def test_headers_on_the_login_page(client):
    _assert_dutch_page(client.get("/auth/login"), 200)


def test_headers_on_a_404(client, make, login_as):
    _assert_dutch_page(client.get("/no-such-page"), 404)
    login_as(client, make.user("school_coordinator"))
    _assert_dutch_page(client.get("/no-such-page"), 404)


def test_headers_on_a_403(client, make, login_as):
    login_as(client, make.user("school_coordinator"))
    _assert_dutch_page(client.get("/audit/"), 403)


def test_headers_on_a_405(client):
    _assert_dutch_page(client.get("/auth/logout"), 405)


def test_headers_on_a_429(client, make):
    for attempt in range(5):
        token = csrf_token(client)
        client.post("/auth/login", data={"email": f"x{attempt}@test.example", "password": "x", "csrf_token": token})
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    response = login(client, user)
    _assert_dutch_page(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 300  # LOGIN_ATTEMPTS is "5 per 5 minutes"
    token = csrf_token(client)
    as_json = client.post(
        "/auth/login",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 429
    assert as_json.mimetype == "application/problem+json"
    assert int(as_json.headers["Retry-After"]) > 0
    assert_security_headers(as_json)


def test_headers_on_static_files(client):
    with client.get("/static/css/portal.css") as response:  # a file response: close it
        assert response.status_code == 200
        assert_security_headers(response)


@pytest.fixture
def failing_app(build_app):
    """A fresh app with one route that fails, for the 500 page (routes cannot be added once an app served)."""
    application = build_app()

    @public
    def boom():
        raise RuntimeError("internal detail: db password hunter2")

    application.add_url_rule("/boom", "boom", boom)
    return application


def test_headers_on_a_500(failing_app, dbs):
    response = failing_app.test_client().get("/boom")
    _assert_dutch_page(response, 500)
    body = response.get_data(as_text=True)
    assert "hunter2" not in body
    assert "RuntimeError" not in body
    assert "Traceback" not in body


def test_500_as_json_is_a_problem_document(failing_app, dbs):
    response = failing_app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 500
    assert "hunter2" not in response.get_data(as_text=True)
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("path", "status", "signed_in"),
    [("/no-such-page", 404, False), ("/", 401, False), ("/audit/", 403, True), ("/auth/logout", 405, False)],
)
def test_json_errors_are_problem_documents(client, make, login_as, path, status, signed_in):
    if signed_in:
        login_as(client, make.user("school_coordinator"))
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status
    assert set(problem) >= {"type", "title", "status"}
    assert_security_headers(response)


def test_json_health_check_has_the_headers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert_security_headers(response)


def test_hsts_and_wss_over_https(build_app, dbs):
    https_app = build_app(BASE_URL="https://portal.example")
    browser = https_app.test_client()
    page = browser.get("/auth/login", base_url="https://portal.example")
    assert page.status_code == 200
    assert_security_headers(page, https=True)
    assert _csp(page)["connect-src"] == "'self' wss://portal.example"
    missing = browser.get("/no-such-page", base_url="https://portal.example")
    assert missing.status_code == 404
    assert_security_headers(missing, https=True)
