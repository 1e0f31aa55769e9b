"""Test fixtures: the app on real SQLite and real PostgreSQL, schema from ``alembic upgrade head`` once per
backend and worker, each test inside an outer transaction rolled back at the end (Warehouse style).

Environment:
- ``PORTAL_TEST_DATABASE_URL``: a PostgreSQL URL; every test that uses the database then runs on both backends.
- ``PORTAL_TEST_REDIS_URL``: Redis for the tests that need it.
- ``PORTAL_REQUIRE_SERVICES=1``: a missing service fails the run instead of skipping (CI).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from portal import create_app
from portal.extensions import db, limiter, socketio

pytest_plugins = ["tests.signal_world"]  # the `world` fixture of the signal tests

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
TEST_PASSWORD = "correct horse battery staple"


def missing_service(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (PORTAL_REQUIRE_SERVICES=1) but not configured or not reachable")
    pytest.skip(f"{what} not configured")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_database(base_url: str) -> str:
    """A fresh database per xdist worker, next to the one the URL names."""
    url = make_url(base_url)
    name = f"{url.database}_{_worker()}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
    if not PG_URL:
        missing_service("PostgreSQL (PORTAL_TEST_DATABASE_URL)")
    return _postgres_database(PG_URL)


def make_app(database_url: str, **extra):
    config = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "BASE_URL": "http://localhost",
        "DEMO_MODE": False,
        "LOGIN_ATTEMPTS": "5 per 5 minutes",
    }
    config.update(extra)
    return create_app(config)


def _extension_state() -> dict:
    """What ``create_app`` rebinds on the shared extension objects: the limiter's storage (so an app built with
    ``REDIS_URL`` would move every app's rate limits to Redis) and the Socket.IO server with its client manager."""
    return {
        (limiter, "_storage"): limiter._storage,
        (limiter, "_limiter"): limiter._limiter,
        (limiter, "_storage_options"): dict(limiter._storage_options),
        (socketio, "server"): socketio.server,
        (socketio, "server_options"): dict(socketio.server_options),
        (socketio, "sockio_mw"): getattr(socketio, "sockio_mw", None),
        (socketio, "async_mode"): socketio.async_mode,
    }


@pytest.fixture
def build_app(database_url):
    """``build_app(**config)``: another app on the test database (an https ``BASE_URL``, Redis, an extra route).
    Afterwards the shared extension objects are bound back to what they were, so nothing leaks into later tests."""
    saved = _extension_state()

    def _build(**config):
        return make_app(database_url, **config)

    try:
        yield _build
    finally:
        for (extension, attribute), value in saved.items():
            setattr(extension, attribute, value)


@pytest.fixture
def fast_passwords(monkeypatch):
    """Opt-in (``pytestmark = pytest.mark.usefixtures("fast_passwords")``) for tests that sign in many times: the
    same argon2id code path with small work factors (the production cost is ~0.3 s per hash on a small machine)."""
    from argon2 import PasswordHasher

    from portal.identity import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap.hash("not-a-password"))


@pytest.fixture(scope="session")
def app(database_url):
    application = make_app(database_url)
    with application.app_context():
        upgrade()
        # Reference data is part of every real installation (`flask portal taxonomy load`); load it once.
        from portal.signals.taxonomy import load_reference_data

        load_reference_data()
        db.session.commit()
    yield application
    with application.app_context():  # close the pool's connections before the interpreter collects them
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _reset_rate_limits(request):
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        limiter._storage, limiter._limiter = app.extensions["portal_limiter_state"]
        with app.app_context():
            limiter.reset()
        # Extensions are module-level singletons: a test that builds a second app (another BASE_URL, a Redis
        # URL) re-binds the Socket.IO server. Give the session's app its own server back.
        socketio.server = app.extensions["portal_socketio_server"]


@pytest.fixture
def dbs(app):
    """One outer transaction per test; services' commits become savepoints; everything is rolled back."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
    original = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    )
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app, dbs):
    return app.test_client()


@pytest.fixture
def ctx(app, dbs):
    """An app context for tests that call services directly. Do not make requests while it is pushed."""
    with app.app_context():
        yield


# --- factories ------------------------------------------------------------------------------------------------


class Factory:
    """Small ``create_*`` helpers. Each commits (a savepoint inside the test's transaction)."""

    def __init__(self, app):
        self.app = app

    def district(self, code: str | None = None, name: str | None = None):
        from portal.organisations import services

        with self.app.app_context():
            code = code or f"D{uuid.uuid4().hex[:6].upper()}"
            district = services.get_district(code) or services.create_district(code, name or f"Stadsdeel {code}")
            db.session.commit()
            return district

    def organisation(self, kind: str = "municipality_unit", code: str | None = None, district=None, **kwargs):
        from portal.organisations import services
        from portal.organisations.models import OrganisationKind, SchoolSector

        with self.app.app_context():
            if kind == "school_location":
                district = district or self.district()
                kwargs.setdefault("sector", SchoolSector.VO)
            org = services.save_organisation(
                None,
                code=code or f"org-{uuid.uuid4().hex[:8]}",
                name=kwargs.pop("name", "Test organisation"),
                kind=OrganisationKind(kind),
                district=db.session.merge(district) if district else None,
                **kwargs,
            )
            db.session.commit()
            return org

    def user(
        self,
        role: str | None = "school_coordinator",
        *,
        organisation=None,
        password: str | None = None,
        status: str = "active",
        scope: str = "city",
        scope_organisation=None,
        scope_district=None,
        email: str | None = None,
        name: str = "Test Gebruiker",
        totp_secret: str | None = None,
    ):
        from portal.authz.permissions import Role, ScopeType
        from portal.authz.policy import ADMINISTRATIVE_ROLES
        from portal.identity import services
        from portal.identity.models import UserStatus

        organisation = organisation or self.organisation()
        if role and Role(role) in ADMINISTRATIVE_ROLES and password is None:
            password = TEST_PASSWORD  # administrative roles are held by break-glass accounts only (assign_role)
        with self.app.app_context():
            user = services.create_user(
                email=email or f"user-{uuid.uuid4().hex[:10]}@test.example",
                display_name=name,
                organisation=db.session.merge(organisation),
                status=UserStatus(status),
                password=password,
            )
            if role:
                services.assign_role(
                    user,
                    Role(role),
                    ScopeType(scope),
                    organisation=db.session.merge(scope_organisation) if scope_organisation else None,
                    district=db.session.merge(scope_district) if scope_district else None,
                    actor=None,
                )
            if totp_secret:
                user.credential.totp_secret = totp_secret
            db.session.commit()
            return user

    def room(self, district=None, code: str | None = None, kind: str = "district"):
        from portal.rooms import services
        from portal.rooms.models import RoomKind

        with self.app.app_context():
            district = district or (self.district() if kind == "district" else None)
            room = services.create_room(
                code or f"room-{uuid.uuid4().hex[:8]}",
                "Testnetwerk",
                RoomKind(kind),
                db.session.merge(district) if district else None,
            )
            db.session.commit()
            return room

    def member(self, room, user, role: str = "member"):
        from portal.rooms import services
        from portal.rooms.models import MemberRole

        with self.app.app_context():
            membership = services.add_member(
                db.session.merge(room), db.session.merge(user), MemberRole(role), actor=None
            )
            db.session.commit()
            return membership


@pytest.fixture
def make(app, dbs) -> Factory:
    return Factory(app)


# --- signing in -----------------------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/auth/login") -> str:
    """The CSRF token as a browser would find it in a page's form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_INPUT.search(html)
    assert match, f"no csrf_token in {path}"
    return match.group(1) or match.group(2)


def login(client, user, password: str = TEST_PASSWORD, totp: str = "", next_url: str | None = None):
    data = {"email": user.email, "password": password, "totp": totp, "csrf_token": csrf_token(client)}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data)


@pytest.fixture
def login_as(app, dbs):
    """Sign a test client in through a real server-side session record (no password hashing: fast)."""

    def _login_as(client, user):
        from portal.identity import services
        from portal.identity.web import SESSION_TOKEN_KEY

        with app.app_context():
            token = services.start_session(
                db.session.merge(user),
                policy=services.SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=10)),
                ip="127.0.0.1",
                user_agent="pytest",
                method="test",
            )
            db.session.commit()
        with client.session_transaction() as session:
            session[SESSION_TOKEN_KEY] = token
            session["_user_id"] = str(user.public_id)
            session["_fresh"] = True
        return token

    return _login_as


@pytest.fixture(scope="session")
def chromium_browser():
    """One Playwright and one Debian Chromium per test process: Playwright's sync API cannot run twice at once in a
    process, so every browser test (tests/e2e, SSO, meetings) shares this one."""
    from pathlib import Path

    from tests.servers import CHROMIUM, launch_chromium

    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium ({CHROMIUM}; make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()
