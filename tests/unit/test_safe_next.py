"""Open-redirect attempts against ``safe_next`` (R-IO-4, T43): only relative paths to our own GET routes pass."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from portal.core.security import safe_next
from tests.conftest import TEST_PASSWORD, login

pytestmark = pytest.mark.usefixtures("fast_passwords")

REFUSED = [
    "//evil.example",
    "//evil.example/",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",  # double encoding
    "/%25252F%25252Fevil.example",  # triple encoding
    "%5C%5Cevil.example",
    " //evil",
    "\t//evil",
    "/\t/evil",
    "/\\t/evil",  # a literal backslash-t
    "/\n/evil",
    "/\r\n/evil",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%00/evil.example",
    "/\x00",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,x",
    "vbscript:msgbox(1)",
    "evil.example",
    "evil.example/",
    "",
    "/nowhere-in-this-app",
    "/account/sessions/not-a-route",
    "/auth/logout",  # a POST-only route: redirecting there makes no sense
    "/" + "a" * 2100,
]

ACCEPTED = [
    "/",
    "/account/sessions",
    "/audit/?action=login",
    "/audit/?action=login&result=failure",
    "/auth/login",
    "/healthz",
]


@pytest.mark.parametrize("target", REFUSED)
def test_refused(app, target):
    assert safe_next(target, app) == "/"
    assert safe_next(target, app, default="/account/sessions") == "/account/sessions"


@pytest.mark.parametrize("target", [None, 42, b"/", ["/"]])
def test_refuses_non_strings(app, target):
    assert safe_next(target, app) == "/"


@pytest.mark.parametrize("target", ACCEPTED)
def test_accepted(app, target):
    assert safe_next(target, app, default="/fallback") == target


def test_redirecting_route_is_refused(app):
    """``/audit`` only exists as ``/audit/`` (Werkzeug would redirect): refused rather than followed."""
    assert safe_next("/audit", app, default="/fallback") == "/fallback"


# --- end to end, through the login form ---------------------------------------------------------------------------


def _location_path(response) -> str:
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in {"", "localhost"}, f"redirect leaves the site: {location}"
    assert parts.scheme in {"", "http"}
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        " //evil",
        "/\t/evil",
        "data:text/html,x",
        "/not-a-route",
    ],
)
def test_login_form_ignores_hostile_next(client, make, target):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    response = login(client, user, next_url=target)
    assert response.status_code == 302
    assert _location_path(response) == "/"


@pytest.mark.parametrize("target", ["/account/sessions", "/audit/?action=login"])
def test_login_form_follows_safe_next(client, make, target):
    user = make.user("privacy_officer", password=TEST_PASSWORD)
    response = login(client, user, next_url=target)
    assert response.status_code == 302
    assert _location_path(response) == target
    assert client.get(target).status_code == 200


def test_hostile_next_in_query_string_of_login_page(client, make):
    """GET /auth/login?next=... of a signed-in user redirects, but never off-site."""
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    assert login(client, user).status_code == 302
    response = client.get("/auth/login", query_string={"next": "//evil.example"})
    assert response.status_code == 302
    assert _location_path(response) == "/"


def test_language_switch_ignores_hostile_next(client):
    from tests.conftest import csrf_token

    token = csrf_token(client)
    response = client.post("/language", data={"language": "en", "next": "//evil.example", "csrf_token": token})
    assert response.status_code == 302
    assert _location_path(response) == "/"
