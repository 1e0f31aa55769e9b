"""The signal pages over HTTP: posting with the form (validation, personal-data check, wide-share confirmation,
idempotency, hostile HTML, CSRF), editing, responses, recognition, status changes, and degraded mode."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from portal.core.db import utcnow
from portal.extensions import db
from tests.conftest import csrf_token, make_app
from tests.signal_world import post

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">klik</a>',
    "<iframe src=https://evil.example></iframe>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    "<!-- <script>alert(1)</script> -->",
    '"><script>alert(1)</script>',
    "<style>body{display:none}</style>",
]


def form_data(client, **overrides):
    page = client.get("/signals/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    key = re.search(r'name="client_key" type="hidden" value="([^"]+)"', html).group(1)
    school = re.search(r'name="school_location" value="([^"]*)"', html)
    data = {
        "csrf_token": csrf_token(client, "/signals/new"),
        "client_key": key,
        "occurred_on": (utcnow().date() - timedelta(days=1)).isoformat(),
        "daypart": "middag",
        "location_type": "schoolterrein",
        "category": "bedreiging",
        "severity": "midden",
        "summary": "Dreigende groep bij de ingang na schooltijd",
        "details": "Een groep jongeren wachtte bij het hek.",
        "classification": "K2",
        "sharing_scope": "stadsdeelnetwerk",
        "report_status": "geen",
        "action": "share",
    }
    if school:
        data["school_location"] = school.group(1)
    data.update(overrides)
    return data


@pytest.fixture
def author_client(app, world, client, login_as):
    login_as(client, world["users"]["author"])
    return client


def signal_count(app) -> int:
    from portal.signals.models import Signal

    with app.app_context():
        return db.session.query(Signal).count()


def test_post_signal_then_double_submit_makes_one(app, world, author_client):
    data = form_data(author_client)
    first = author_client.post("/signals/new", data=data)
    assert first.status_code == 302
    detail = author_client.get(first.headers["Location"])
    assert "Dreigende groep bij de ingang" in detail.get_data(as_text=True)
    again = author_client.post("/signals/new", data=data)  # the same client_key: a retry or a double click
    assert again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert signal_count(app) == 1


def test_validation_errors_are_per_field_and_nothing_is_saved(app, world, author_client):
    data = form_data(
        author_client, summary="", category="", occurred_on=(utcnow().date() + timedelta(days=3)).isoformat()
    )
    response = author_client.post("/signals/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="summary-error"' in html
    assert 'id="category-error"' in html
    assert signal_count(app) == 0
    future = author_client.post(
        "/signals/new", data=form_data(author_client, occurred_on=(utcnow().date() + timedelta(days=3)).isoformat())
    )
    assert future.status_code == 400
    assert 'id="occurred_on-error"' in future.get_data(as_text=True)
    assert signal_count(app) == 0


def test_personal_data_warning_then_confirmation(app, world, author_client):
    data = form_data(author_client, details="Leerling Kevin werd bedreigd, bel 06-12345678.")
    warned = author_client.post("/signals/new", data=data)
    assert warned.status_code == 400
    html = warned.get_data(as_text=True)
    assert 'id="personal-data-warning"' in html
    assert "06-12345678" in html
    assert signal_count(app) == 0
    data["pii_confirmed"] = "y"  # a confirmation without a reason is not enough
    assert author_client.post("/signals/new", data=data).status_code == 400
    data["pii_reason"] = "noodzakelijk"
    assert author_client.post("/signals/new", data=data).status_code == 302
    assert signal_count(app) == 1
    from portal.audit.models import AuditEvent
    from portal.signals.models import Signal

    with app.app_context():
        assert db.session.query(Signal).one().pii_confirmation == "noodzakelijk"
        created = db.session.query(AuditEvent).filter_by(action="signal.create").one()
        assert created.details["pii_confirmed"] == "noodzakelijk"


def test_wide_share_needs_confirmation(app, world, author_client):
    data = form_data(author_client, sharing_scope="stedelijk")
    refused = author_client.post("/signals/new", data=data)
    assert refused.status_code == 400
    assert 'id="confirm_wide_share-error"' in refused.get_data(as_text=True)
    data["confirm_wide_share"] = "y"
    assert author_client.post("/signals/new", data=data).status_code == 302


def test_missing_csrf_token_is_refused(app, world, author_client):
    data = form_data(author_client)
    del data["csrf_token"]
    assert author_client.post("/signals/new", data=data).status_code == 400
    assert signal_count(app) == 0


def test_hostile_html_is_stored_inert(app, world, author_client):
    from portal.signals.models import Signal

    for payload in HOSTILE:
        data = form_data(
            author_client,
            details=payload,
            summary="Test met " + payload[:20],
            pii_confirmed="y",
            pii_reason="geen_persoonsgegeven",
        )
        assert author_client.post("/signals/new", data=data).status_code in (302, 400), payload
    with app.app_context():
        signals = db.session.query(Signal).all()
        assert len(signals) == len(HOSTILE)
        for signal in signals:
            stored = signal.details_html  # rich text: cleaned on write; the summary is plain text, escaped on output
            assert "<script" not in stored
            assert "<iframe" not in stored
            assert "<svg" not in stored
            assert "<style" not in stored
            assert not re.search(r"<[^>]+\son\w+=", stored)
            assert not re.search(r"<[^>]+(href|src)=\"?javascript:", stored)
            page = author_client.get(f"/signals/{signal.public_id}").get_data(as_text=True)
            assert "<script>alert(1)" not in page
            assert "<img src=x onerror" not in page
            assert "<svg onload" not in page


def test_editing_is_for_the_own_organisation_only(app, world, client, login_as):
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["other_school"])
    assert client.get(f"/signals/{signal.public_id}/edit").status_code == 404
    token = csrf_token(client, f"/signals/{signal.public_id}")
    assert (
        client.post(
            f"/signals/{signal.public_id}/status", data={"csrf_token": token, "status": "ingetrokken"}
        ).status_code
        == 404
    )
    login_as(client, world["users"]["colleague"])  # same school location: may edit
    assert client.get(f"/signals/{signal.public_id}/edit").status_code == 200


def test_respond_and_recognise(app, world, client, login_as):
    from portal.signals.models import Signal

    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["police_a"])
    path = f"/signals/{signal.public_id}"
    token = csrf_token(client, path)
    key = uuid.uuid4().hex
    for _ in range(2):  # the second is a retry with the same key
        answer = client.post(
            f"{path}/responses",
            data={"csrf_token": token, "client_key": key, "kind": "actie_gestart", "text": "Extra surveillance."},
        )
        assert answer.status_code == 302
    assert client.post(f"{path}/recognise", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{path}/recognise", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        stored = db.session.get(Signal, signal.id)
        assert stored.response_count == 1
        assert stored.recognised_count == 1
    assert "Extra surveillance." in client.get(path).get_data(as_text=True)


def test_reading_a_signal_is_audited(app, world, client, login_as):
    from portal.audit.models import AuditEvent

    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["police_a"])
    assert client.get(f"/signals/{signal.public_id}").status_code == 200
    with app.app_context():
        reads = db.session.query(AuditEvent).filter_by(action="signal.read", object_id=str(signal.public_id)).all()
        assert len(reads) == 1
        assert reads[0].actor_organisation == "politie-test"
        assert "Geheime" not in str(reads[0].details)


def test_degraded_mode_without_redis(database_url, app, world, dbs, login_as):
    """Redis unreachable: /healthz says degraded, pages show a banner, posting still works (R-REL-4)."""
    from portal.extensions import limiter, socketio

    degraded = make_app(database_url, REDIS_URL="redis://127.0.0.1:1/0")
    try:
        client = degraded.test_client()
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.get_json()["status"] == "degraded"
        login_as(client, world["users"]["author"])
        room = client.get(f"/rooms/{world['rooms']['a'].public_id}")
        assert room.status_code == 200
        assert 'id="degraded-banner">' in room.get_data(as_text=True)  # present and not hidden
        response = client.post("/signals/new", data=form_data(client))
        assert response.status_code == 302
        assert signal_count(degraded) == 1
    finally:
        with degraded.app_context():  # its own engine: close its connections, not leave them to the collector
            db.engine.dispose()
        socketio.server = app.extensions["portal_socketio_server"]
        limiter._storage, limiter._limiter = app.extensions["portal_limiter_state"]


def test_link_related_signals_only_between_visible_ones(app, world, client, login_as):
    first = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    second = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    private = post(app, world["users"]["author"], "eigen_locatie", "K2")
    login_as(client, world["users"]["police_a"])
    path = f"/signals/{first.public_id}"
    token = csrf_token(client, path)
    assert client.post(f"{path}/related", data={"csrf_token": token, "reference": second.reference}).status_code == 302
    assert client.post(f"{path}/related", data={"csrf_token": token, "reference": private.reference}).status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert second.reference in page
    assert private.reference not in page  # not visible to the police: not linkable, not shown
    login_as(client, world["users"]["other_school"])
    assert second.reference in client.get(f"/signals/{first.public_id}").get_data(as_text=True)
