"""Two posts with the same key at the same moment (issue 10, item 3): a double click, or a retry after a client
time-out while the first request is still running. No duplicate row, and *both* answer with the one signal --
the second used to answer 500 (``PendingRollbackError``: the insert was flushed before the savepoint opened).

The race is made exact with two real transactions on a database of its own (the suite's outer-transaction fixture
cannot see a second connection): the first post is flushed and holds its transaction open; the second, a real HTTP
request in another thread, waits on the first one's locks; then the first commits and the second must find it.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal.core.db import utcnow
from portal.extensions import db
from tests.conftest import _extension_state, _postgres_database, make_app
from tests.functional.test_signal_pages import form_data

WAIT_FOR_THE_LOCK = 0.6  # seconds the second request gets to reach the first one's lock before that commits


@pytest.fixture
def racing_app(app, database_url, tmp_path):
    """An app on a fresh database of its own, with a school, a room and a coordinator, committed for real."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    else:
        base = make_url(database_url)
        url = _postgres_database(base.set(database=f"{base.database}_race").render_as_string(hide_password=False))
    saved = _extension_state()  # the suite's app (``app``) is bound back afterwards
    race = make_app(url, API_SIGNAL_CREATE_LIMIT="1000 per minute")
    from portal.authz.permissions import Role, ScopeType
    from portal.identity import services as identity
    from portal.identity import tokens
    from portal.organisations import services as organisations
    from portal.organisations.models import OrganisationKind, SchoolSector
    from portal.rooms import services as rooms
    from portal.rooms.models import RoomKind
    from portal.signals.taxonomy import load_reference_data

    with race.app_context():
        upgrade()
        load_reference_data()
        district = organisations.create_district("RA", "Race A")
        room = rooms.create_room("race-a", "Netwerk Race A", RoomKind.DISTRICT, district)
        school = organisations.save_organisation(
            None,
            code="school-race",
            name="School Race",
            kind=OrganisationKind.SCHOOL_LOCATION,
            district=district,
            sector=SchoolSector.VO,
        )
        author = identity.create_user(email="race@test.example", display_name="Race", organisation=school)
        identity.assign_role(author, Role.SCHOOL_COORDINATOR, ScopeType.LOCATION, organisation=school, actor=None)
        rooms.add_member(room, author, actor=None)
        secret = tokens.create_token(author, name="race", via="cli").secret
        db.session.commit()
        author_id = author.id
    try:
        yield {"app": race, "author_id": author_id, "token": secret, "sqlite": url.startswith("sqlite")}
    finally:
        with race.app_context():
            db.session.remove()
            db.engine.dispose()
        for (extension, attribute), value in saved.items():
            setattr(extension, attribute, value)
        if not url.startswith("sqlite"):
            admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.dispose()


def _signal_input(key: str):
    from portal.signals.services import SignalInput

    return SignalInput(
        client_key=key,
        occurred_on=utcnow().date() - timedelta(days=1),
        category="bedreiging",
        location_type="schoolterrein",
        severity="midden",
        summary="Dreigende groep bij de ingang na schooltijd",
    )


def _race(racing_app, second_request):
    """Flush the first post of ``key`` and hold it; run ``second_request(key)`` in a thread meanwhile; commit the
    first once the second waits; return (first signal's public id, the second's outcome, signals with the key)."""
    from portal.identity.models import User
    from portal.signals import services
    from portal.signals.models import Signal

    app, key = racing_app["app"], uuid.uuid4().hex
    outcome: dict = {}

    def second():
        try:
            outcome["result"] = second_request(key)
        except BaseException as error:  # reported to the test, not lost in the thread
            outcome["error"] = error

    with app.app_context():
        author = db.session.get(User, racing_app["author_id"])
        first = services.create_signal(author, _signal_input(key), ip="127.0.0.1")
        assert first.created
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(WAIT_FOR_THE_LOCK)
        # SQLite has one writer at a time and refuses (rather than waits for) a second one whose transaction has
        # already read: the request answers 503 with Retry-After at once, and writes nothing.
        assert racing_app["sqlite"] or thread.is_alive(), f"the second request must wait for the first: {outcome}"
        first_id = str(first.signal.public_id)
        db.session.commit()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Signal).where(Signal.client_key == key))
    return first_id, outcome["result"], count


def test_a_second_api_post_with_the_same_key_answers_with_the_first_signal(racing_app):
    app = racing_app["app"]

    def post_again(key=None):
        """POST with ``key``; without one, again with the previous key (a retry)."""
        key = key or post_again.key
        post_again.key = key
        body = {
            "occurred_on": (utcnow().date() - timedelta(days=1)).isoformat(),
            "category": "bedreiging",
            "location_type": "schoolterrein",
            "severity": "midden",
            "summary": "Dreigende groep bij de ingang na schooltijd",
        }
        headers = {"Authorization": f"Bearer {racing_app['token']}", "Idempotency-Key": key}
        response = app.test_client().post("/api/v1/signals", json=body, headers=headers)
        return response.status_code, response.get_json()

    first_id, (status, body), count = _race(racing_app, post_again)
    assert count == 1
    if racing_app["sqlite"]:
        assert status == 503
        assert body["type"] == "urn:portal:problem:database_unavailable"
        status, body = post_again()  # the client retries with the same key, as Retry-After says
    assert status == 200, body
    assert body["id"] == first_id


def test_a_second_form_post_with_the_same_key_shows_the_first_signal(racing_app):
    from portal.identity import services as identity
    from portal.identity.models import User
    from portal.identity.web import SESSION_TOKEN_KEY

    app = racing_app["app"]
    client = app.test_client()
    with app.app_context():
        user = db.session.get(User, racing_app["author_id"])
        token = identity.start_session(
            user,
            policy=identity.SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=10)),
            ip="127.0.0.1",
            user_agent="pytest",
            method="test",
        )
        db.session.commit()
        public_id = str(user.public_id)
    with client.session_transaction() as session:
        session[SESSION_TOKEN_KEY] = token
        session["_user_id"] = public_id
        session["_fresh"] = True
    form = form_data(client)  # the page's own fields and CSRF token, read before the race

    def submit_again(key=None):
        key = key or submit_again.key
        submit_again.key = key
        data = form | {"client_key": key}
        response = client.post("/signals/new", data=data)
        return response.status_code, response.headers.get("Location", "")

    first_id, (status, location), count = _race(racing_app, submit_again)
    assert count == 1
    if racing_app["sqlite"]:
        assert status == 503
        status, location = submit_again()
    assert status == 302
    assert location.endswith(f"/signals/{first_id}")
