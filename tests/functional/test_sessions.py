"""Server-side sessions (R-SES-1..3, T21–T24): fixation, replay after logout, idle and absolute expiry, the user's
own session list, blocked accounts, and the cookie's flags."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from portal.core.db import utcnow
from portal.extensions import db
from portal.identity import services
from portal.identity.models import User, UserSession, UserStatus
from portal.identity.web import SESSION_TOKEN_KEY
from tests.conftest import CSRF_INPUT, TEST_PASSWORD, csrf_token, login

pytestmark = pytest.mark.usefixtures("fast_passwords")

COOKIE = "portal_session"
END_ACTION = re.compile(r'action="/account/sessions/([0-9a-f-]{36})/end"')


def _signed_in(client) -> bool:
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    return False


def _token(client) -> str | None:
    with client.session_transaction() as session:
        return session.get(SESSION_TOKEN_KEY)


def _cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _replay(app, cookie_value: str):
    """A fresh browser carrying a copied cookie (what an attacker who captured it would do)."""
    attacker = app.test_client()
    attacker.set_cookie(COOKIE, cookie_value)
    return attacker


def _records(app, user) -> list[UserSession]:
    with app.app_context():
        return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def _logout(client):
    return client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})


def _age(app, user, **changes) -> None:
    with app.app_context():
        db.session.execute(update(UserSession).where(UserSession.user_id == user.id).values(**changes))
        db.session.commit()


# --- R-SES-1: a new id at login, destroyed at logout ----------------------------------------------------------


def test_planted_session_content_is_not_carried_into_the_signed_in_session(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    client.get("/auth/login")
    with client.session_transaction() as session:
        session[SESSION_TOKEN_KEY] = "attacker-chosen-token"
        session["planted"] = "by-attacker"
    assert login(client, user).status_code == 302
    with client.session_transaction() as session:
        assert session[SESSION_TOKEN_KEY] != "attacker-chosen-token"
        assert "planted" not in session
    assert _signed_in(client)


def test_sign_in_issues_a_new_token_and_the_old_one_dies(app, client, make, login_as):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    old_token = login_as(client, user)
    old_cookie = _cookie(client)
    assert _signed_in(client)
    # Signing in again from this browser (the login form posts fine while signed in).
    token = csrf_token(client, "/")
    response = client.post("/auth/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    new_token = _token(client)
    assert new_token
    assert new_token != old_token
    assert _signed_in(client)
    assert not _signed_in(_replay(app, old_cookie))
    assert len(_records(app, user)) == 1


def test_csrf_token_changes_at_sign_in(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    client.get("/auth/login")
    with client.session_transaction() as session:
        before = session.get("csrf_token")
    assert before
    login(client, user)
    client.get("/")
    with client.session_transaction() as session:
        assert session.get("csrf_token") not in {None, before}


def test_logout_destroys_the_session_and_the_copied_cookie_is_dead(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    assert login(client, user).status_code == 302
    captured = _cookie(client)
    assert _signed_in(_replay(app, captured))  # the copy works while the session lives
    response = _logout(client)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert _records(app, user) == []
    assert not _signed_in(client)
    assert not _signed_in(_replay(app, captured))


def test_logout_is_audited(app, client, make, login_as):
    from portal.audit.models import AuditEvent

    user = make.user("school_coordinator")
    login_as(client, user)
    _logout(client)
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == str(user.public_id))))
    assert "logout" in actions


# --- R-SES-3: idle timeout and absolute lifetime -------------------------------------------------------------


def test_idle_timeout_signs_out_and_deletes_the_record(app, client, make, login_as):
    user = make.user("school_coordinator")
    login_as(client, user)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    _age(app, user, last_seen_at=utcnow() - idle - timedelta(minutes=1))
    assert not _signed_in(client)
    assert _records(app, user) == []


def test_activity_within_the_idle_limit_keeps_the_session(app, client, make, login_as):
    user = make.user("school_coordinator")
    login_as(client, user)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    _age(app, user, last_seen_at=utcnow() - idle + timedelta(minutes=2))
    assert _signed_in(client)
    (record,) = _records(app, user)
    assert utcnow() - record.last_seen_at < timedelta(minutes=1)  # activity was noted


def test_absolute_lifetime_ends_even_an_active_session(app, client, make, login_as):
    user = make.user("school_coordinator")
    login_as(client, user)
    _age(app, user, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())
    assert not _signed_in(client)
    assert _records(app, user) == []


def test_activity_does_not_extend_the_absolute_lifetime(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    login(client, user)
    (record,) = _records(app, user)
    assert record.expires_at - record.created_at == timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
    _age(app, user, last_seen_at=utcnow() - timedelta(minutes=5))
    assert _signed_in(client)
    (touched,) = _records(app, user)
    assert touched.last_seen_at > record.last_seen_at
    assert touched.expires_at == record.expires_at


def test_lowering_the_absolute_lifetime_applies_to_existing_sessions(app, client, make, login_as, monkeypatch):
    """The configured lifetime is a limit, not only the value written at sign-in."""
    user = make.user("school_coordinator")
    login_as(client, user)
    _age(app, user, created_at=utcnow() - timedelta(hours=3), last_seen_at=utcnow())
    monkeypatch.setitem(app.config, "SESSION_ABSOLUTE_HOURS", 2)
    assert not _signed_in(client)
    assert _records(app, user) == []


def test_idle_limit_follows_the_configuration(app, client, make, login_as, monkeypatch):
    user = make.user("school_coordinator")
    login_as(client, user)
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    _age(app, user, last_seen_at=utcnow() - timedelta(minutes=6))
    assert not _signed_in(client)


# --- "My sessions" ------------------------------------------------------------------------------------------------


def test_my_sessions_lists_sessions_and_ends_another_browser(app, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    page = laptop.get("/account/sessions")
    assert page.status_code == 200
    records = {str(r.public_id) for r in _records(app, user)}
    assert len(records) == 2
    endable = END_ACTION.findall(page.get_data(as_text=True))
    assert len(endable) == 1  # the other browser; this one is marked "this browser"
    (phone_id,) = endable
    assert phone_id in records

    response = laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": csrf_token(laptop, "/")})
    assert response.status_code == 302
    assert not _signed_in(phone)
    assert _signed_in(laptop)
    assert {str(r.public_id) for r in _records(app, user)} == records - {phone_id}


def test_ending_someone_elses_session_is_404_and_changes_nothing(app, make, login_as):
    me, victim = make.user("school_coordinator"), make.user("school_coordinator")
    mine, theirs = app.test_client(), app.test_client()
    login_as(mine, me)
    login_as(theirs, victim)
    (victim_record,) = _records(app, victim)
    token = csrf_token(mine, "/")
    for session_id in (str(victim_record.public_id), str(uuid.uuid4()), "not-a-uuid", "1"):
        response = mine.post(f"/account/sessions/{session_id}/end", data={"csrf_token": token})
        assert response.status_code == 404, session_id
    assert _signed_in(theirs)
    assert len(_records(app, victim)) == 1


def test_other_users_sessions_are_not_listed(app, make, login_as):
    me, other = make.user("school_coordinator"), make.user("school_coordinator")
    mine, theirs = app.test_client(), app.test_client()
    login_as(mine, me)
    login_as(theirs, other)
    (other_record,) = _records(app, other)
    assert str(other_record.public_id) not in mine.get("/account/sessions").get_data(as_text=True)


# --- blocked accounts ---------------------------------------------------------------------------------------------


def test_blocking_ends_every_session(app, make, login_as):
    user = make.user("school_coordinator")
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        login_as(browser, user)
    with app.app_context():
        services.set_status(db.session.merge(user), UserStatus.BLOCKED, actor=None, ip="")
        db.session.commit()
    assert _records(app, user) == []
    assert not any(_signed_in(browser) for browser in browsers)


def test_a_blocked_status_alone_already_refuses_the_session(app, client, make, login_as):
    """Even if the records survived (a status set outside the service), the account's status is checked."""
    user = make.user("school_coordinator")
    login_as(client, user)
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(status=UserStatus.BLOCKED))
        db.session.commit()
    assert not _signed_in(client)


# --- R-SES-2: cookie flags ----------------------------------------------------------------------------------------


def _set_cookie(response, name: str):
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie[name], header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getlist('Set-Cookie')}")


def test_cookie_flags_over_http(client):
    morsel, header = _set_cookie(client.get("/auth/login"), COOKIE)
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert "Domain=" not in header


def test_cookie_flags_over_https(build_app, make):
    https_app = build_app(BASE_URL="https://portal.example")
    assert https_app.config["SESSION_COOKIE_NAME"] == "__Host-portal"
    browser = https_app.test_client()
    response = browser.get("/auth/login", base_url="https://portal.example")
    morsel, header = _set_cookie(response, "__Host-portal")
    assert morsel["secure"]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert "Domain=" not in header
    assert not any(c.startswith(f"{COOKIE}=") for c in response.headers.getlist("Set-Cookie"))

    # A full sign-in over https sets the same hardened cookie.
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    match = CSRF_INPUT.search(browser.get("/auth/login", base_url="https://portal.example").get_data(as_text=True))
    assert match
    token = match.group(1) or match.group(2)
    signed_in = browser.post(
        "/auth/login",
        base_url="https://portal.example",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
        headers={"Referer": "https://portal.example/auth/login"},
    )
    assert signed_in.status_code == 302
    morsel, header = _set_cookie(signed_in, "__Host-portal")
    assert morsel["secure"]
    assert morsel["httponly"]
    assert morsel["path"] == "/"
    assert "Domain=" not in header


def test_a_cookie_request_loads_the_session_and_its_user_in_one_query(app, client, make, login_as):
    """resolve_session joins the user in: no separate SELECT of the user by id for each request."""
    from sqlalchemy import event

    user = make.user("school_coordinator")
    login_as(client, user)
    assert client.get("/account/sessions").status_code == 200  # warm-up (the session record's first touch)
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get("/account/sessions").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    session_lookups = [s for s in statements if "WHERE user_sessions.token_hash =" in s]
    assert len(session_lookups) == 1
    assert "JOIN users" in session_lookups[0]
    user_by_id = [s for s in statements if s.startswith("SELECT users.id") and "WHERE users.id =" in s]
    assert user_by_id == []
