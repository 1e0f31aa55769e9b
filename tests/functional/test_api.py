"""The JSON API (/api/v1): happy paths, authentication (cookie + CSRF, bearer tokens), problems, idempotency, IDOR,
hostile HTML, rate limits and a constant number of queries. The visibility matrix is in test_api_audience.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from portal.core.db import utcnow
from portal.extensions import db
from tests.conftest import csrf_token

PROBLEM = "application/problem+json"


# --- fixtures and helpers (also used by the other test_api_*.py modules) -----------------------------------------


@pytest.fixture
def api_world(world):
    """The shared signal world of tests/signal_world.py (two districts, schools of two boards, every viewer kind)."""
    return world


@pytest.fixture
def author_world(app, make):
    """Just a school coordinator with the taxonomy: for tests of one poster's requests (fast to build)."""
    from portal.signals.taxonomy import load_reference_data

    with app.app_context():
        load_reference_data()
        db.session.commit()
    district = make.district("ZA", "Zuid A")
    room = make.room(district, code="room-a")
    school = make.organisation("school_location", code="school-a1", district=district, name="School A1")
    author = make.user("school_coordinator", organisation=school, scope="location", scope_organisation=school)
    make.member(room, author)
    return {"users": {"author": author}, "rooms": {"a": room}, "schools": {"a1": school}}


def issue_token(app, user, days: int = 90, name: str = "test") -> str:
    from portal.identity import tokens

    with app.app_context():
        issued = tokens.create_token(db.session.merge(user), name=name, days=days)
        db.session.commit()
        return issued.secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def signal_body(**overrides) -> dict:
    body = {
        "occurred_on": (utcnow().date() - timedelta(days=2)).isoformat(),
        "category": "wapens",
        "subcategory": "wapens.mes_overig",
        "location_type": "in_schoolgebouw",
        "severity": "midden",
        "summary": "Mes gevonden bij de ingang",
        "details_html": "<p>Er werd een mes gevonden in een tas.</p>",
        "classification": "K2",
        "sharing_scope": "stadsdeelnetwerk",
        "involved_counts": {"leerlingen": 1},
    }
    body.update(overrides)
    return body


def post_signal(app, author, scope: str = "stadsdeelnetwerk", classification: str = "K2", **overrides):
    """A signal through the service (fast set-up); the API is what the tests then read through."""
    from portal.core.db import commit
    from portal.signals import services

    values = {
        "client_key": uuid.uuid4().hex,
        "occurred_on": utcnow().date() - timedelta(days=2),
        "category": "wapens",
        "subcategory": "wapens.mes_overig",
        "location_type": "in_schoolgebouw",
        "severity": "midden",
        "summary": f"Mes gevonden ({scope} {classification})",
        "details_html": "<p>Geheime details</p>",
        "classification": classification,
        "sharing_scope": scope,
        "extra_districts": ["ZB"],
        "recipients": ["om-test", "politie-test"],
        "involved_counts": {"leerlingen": 2},
    }
    values.update(overrides)
    with app.app_context():
        result = services.create_signal(db.session.merge(author), services.SignalInput(**values), ip="127.0.0.1")
        commit()
        return str(result.signal.public_id)


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return body


def audit_actions(app) -> list[str]:
    from portal.audit.models import AuditEvent

    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- happy paths --------------------------------------------------------------------------------------------------


def test_me_lists_user_organisation_roles_and_rooms(app, client, api_world, login_as):
    user = api_world["users"]["author"]
    login_as(client, user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["user"]["id"] == str(user.public_id)
    assert body["organisation"]["code"] == "school-a1"
    assert [r["role"] for r in body["roles"]] == ["school_coordinator"]
    assert "signals:signal:create" in body["permissions"]
    assert [r["code"] for r in body["rooms"]] == ["room-a"]


def test_rooms_lists_only_current_memberships(app, client, api_world, login_as):
    login_as(client, api_world["users"]["author"])
    body = client.get("/api/v1/rooms").get_json()
    assert [r["id"] for r in body["rooms"]] == [str(api_world["rooms"]["a"].public_id)]
    assert body["rooms"][0]["district"] == {"code": "ZA", "name": "Zuid A"}
    assert isinstance(body["rooms"][0]["last_seq"], int)
    revoked = app.test_client()
    login_as(revoked, api_world["users"]["revoked"])
    assert revoked.get("/api/v1/rooms").get_json() == {"rooms": []}


def test_taxonomy_has_every_vocabulary_with_codes_and_labels(app, client, api_world, login_as):
    from portal.signals.models import Vocabulary

    login_as(client, api_world["users"]["police_a"])
    body = client.get("/api/v1/taxonomy").get_json()
    assert set(body["vocabularies"]) == {v.value for v in Vocabulary}
    weapons = next(t for t in body["vocabularies"]["category"] if t["code"] == "wapens")
    assert weapons["label_nl"]
    assert weapons["label_en"]
    assert "wapens.mes_overig" in {c["code"] for c in weapons["children"]}
    assert "stadsdeelnetwerk" in body["choices"]["sharing_scope"]


def test_post_get_patch_respond_recognise(app, client, api_world):
    author, police = api_world["users"]["author"], api_world["users"]["police_a"]
    token = issue_token(app, author)
    created = client.post("/api/v1/signals", json=signal_body(), headers=bearer(token))
    assert created.status_code == 201, created.get_json()
    signal = created.get_json()
    assert signal["reference"].startswith("SIG-")
    assert signal["school"]["name"] == "School A1"  # the poster sees everything
    assert created.headers["Location"] == f"/api/v1/signals/{signal['id']}"

    detail = client.get(f"/api/v1/signals/{signal['id']}", headers=bearer(token)).get_json()
    assert detail["summary"] == "Mes gevonden bij de ingang"
    assert detail["status_history"][0]["to"] == "gedeeld"

    patched = client.patch(
        f"/api/v1/signals/{signal['id']}",
        json={"summary": "Mes gevonden bij de achteringang", "status": "in_behandeling"},
        headers=bearer(token),
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["summary"] == "Mes gevonden bij de achteringang"
    assert patched.get_json()["status"] == "in_behandeling"
    assert patched.get_json()["details_html"] == signal["details_html"]  # unnamed fields are unchanged

    police_token = issue_token(app, police)
    responded = client.post(
        f"/api/v1/signals/{signal['id']}/responses",
        json={"kind": "advies", "text_html": "<p>Wij komen langs.</p>"},
        headers=bearer(police_token),
    )
    assert responded.status_code == 201, responded.get_json()
    assert responded.get_json()["response"]["kind"] == "advies"
    assert responded.get_json()["signal"]["response_count"] == 1

    recognised = client.post(f"/api/v1/signals/{signal['id']}/recognise", headers=bearer(police_token))
    assert recognised.status_code == 200, recognised.get_json()
    assert recognised.get_json()["recognised_count"] == 1
    again = client.post(f"/api/v1/signals/{signal['id']}/recognise", json={}, headers=bearer(police_token))
    assert again.get_json()["recognised_count"] == 1  # once per person

    detail = client.get(f"/api/v1/signals/{signal['id']}", headers=bearer(token)).get_json()
    assert [r["text_html"] for r in detail["responses"]] == ["<p>Wij komen langs.</p>"]
    own = client.post(f"/api/v1/signals/{signal['id']}/recognise", headers=bearer(token))
    assert is_problem(own, 400)["errors"] == {"signal": "You cannot recognise a signal of your own organisation."}


def test_list_filters_cursor_and_search(app, client, api_world, login_as):
    author = api_world["users"]["author"]
    ids = [post_signal(app, author, summary=f"Vechtpartij nummer {n}") for n in range(5)]
    post_signal(app, author, summary="Fietsendiefstal bij de stalling", category="vermogen", subcategory="")
    login_as(client, api_world["users"]["police_a"])
    room = api_world["rooms"]["a"].public_id

    page1 = client.get(f"/api/v1/signals?room={room}&category=wapens&limit=2").get_json()
    assert [s["id"] for s in page1["signals"]] == ids[::-1][:2]
    assert page1["next_cursor"]
    page2 = client.get(page1["next"]).get_json()
    assert [s["id"] for s in page2["signals"]] == ids[::-1][2:4]
    page3 = client.get(f"/api/v1/signals?room={room}&category=wapens&limit=2&cursor={page2['next_cursor']}").get_json()
    assert [s["id"] for s in page3["signals"]] == ids[:1]
    assert page3["next_cursor"] is None
    assert page3["next"] is None

    found = client.get("/api/v1/signals?q=fietsendiefstal").get_json()["signals"]
    assert [s["summary"] for s in found] == ["Fietsendiefstal bij de stalling"]
    school = api_world["schools"]["a1"].public_id
    assert len(client.get(f"/api/v1/signals?school={school}&severity=midden").get_json()["signals"]) == 6
    assert client.get("/api/v1/signals?status=afgesloten").get_json()["signals"] == []
    today = utcnow().date()
    since = (today - timedelta(days=1)).isoformat()
    assert client.get(f"/api/v1/signals?from={since}").get_json()["signals"] == []
    span = f"from={(today - timedelta(days=3)).isoformat()}&to={today.isoformat()}"
    assert len(client.get(f"/api/v1/signals?{span}&location_type=in_schoolgebouw").get_json()["signals"]) == 6


def test_search_does_not_reveal_hidden_details(app, client, api_world, login_as):
    """Words that only occur in details the viewer may not see do not find the signal (search oracle)."""
    author = api_world["users"]["author"]
    post_signal(app, author, classification="K3", summary="Incident bij de kantine", details_html="<p>Zwaardvis</p>")
    other = app.test_client()
    login_as(other, api_world["users"]["other_school"])  # sees K3 signals without details
    police = app.test_client()
    login_as(police, api_world["users"]["police_a"])
    assert other.get("/api/v1/signals?q=kantine").get_json()["signals"][0]["summary"] == "Incident bij de kantine"
    assert other.get("/api/v1/signals?q=zwaardvis").get_json()["signals"] == []
    assert other.get("/api/v1/signals?q=kantine+zwaardvis").get_json()["signals"] == []
    assert len(police.get("/api/v1/signals?q=zwaardvis").get_json()["signals"]) == 1


def test_detail_lists_only_related_signals_the_viewer_may_see(app, client, api_world):
    from portal.core.db import commit
    from portal.signals import services
    from portal.signals.models import Signal

    author, police = api_world["users"]["author"], api_world["users"]["police_a"]
    wide = post_signal(app, author, scope="meerdere_stadsdelen")  # district A and B
    narrow = post_signal(app, author, scope="stadsdeelnetwerk")  # district A only
    with app.app_context():
        reference = db.session.scalar(select(Signal.reference).where(Signal.public_id == uuid.UUID(narrow)))
        services.link_related(db.session.merge(police), uuid.UUID(wide), reference, ip="127.0.0.1")
        commit()
    seen_by_a = client.get(f"/api/v1/signals/{wide}", headers=bearer(issue_token(app, police))).get_json()
    assert [r["id"] for r in seen_by_a["related"]] == [narrow]
    seen_by_b = client.get(
        f"/api/v1/signals/{wide}", headers=bearer(issue_token(app, api_world["users"]["district_b"]))
    )
    assert seen_by_b.get_json()["related"] == []


def test_reads_and_searches_are_audited(app, client, api_world, login_as):
    signal_id = post_signal(app, api_world["users"]["author"])
    login_as(client, api_world["users"]["police_a"])
    client.get("/api/v1/signals")
    client.get("/api/v1/signals?q=mes")
    client.get(f"/api/v1/signals/{signal_id}")
    actions = audit_actions(app)
    assert actions[-3:] == ["signal.list", "signal.search", "signal.read"]


# --- authentication -----------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/me"),
    ("get", "/api/v1/rooms"),
    ("get", "/api/v1/taxonomy"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/signals"),
    ("post", "/api/v1/signals"),
    ("get", "/api/v1/signals/{id}"),
    ("patch", "/api/v1/signals/{id}"),
    ("post", "/api/v1/signals/{id}/responses"),
    ("post", "/api/v1/signals/{id}/recognise"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_calls_get_401_problem(client, method, path):
    response = getattr(client, method)(path.format(id=uuid.uuid4()), json={})
    body = is_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("case", ["forged", "not_prefixed", "empty", "revoked", "expired", "blocked", "pending"])
def test_refused_tokens_get_401_with_www_authenticate(app, client, author_world, case):
    from portal.identity import services, tokens
    from portal.identity.models import ApiToken, UserStatus

    user = author_world["users"]["author"]
    secret = issue_token(app, user)
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        if case == "revoked":
            tokens.revoke_token(db.session.merge(user), token.public_id)
        elif case == "expired":
            token.expires_at = utcnow() - timedelta(seconds=1)
        elif case in ("blocked", "pending"):
            services.set_status(db.session.merge(user), UserStatus(case), actor=None, ip="")
        db.session.commit()
    presented = {
        "forged": "pvs_" + uuid.uuid4().hex + uuid.uuid4().hex,
        "not_prefixed": "abc.def.ghi",
        "empty": "",
    }.get(case, secret)
    response = client.get("/api/v1/me", headers=bearer(presented))
    is_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="portal", error="invalid_token"'
    assert audit_actions(app)[-1] == "token.authenticate"


def test_a_valid_token_acts_as_its_user_and_never_with_more_rights(app, client, api_world):
    police_token = issue_token(app, api_world["users"]["police_a"])
    me = client.get("/api/v1/me", headers=bearer(police_token)).get_json()
    assert me["user"]["display_name"] == "Agent A"
    # Police officers may not post signals; neither may their token.
    is_problem(client.post("/api/v1/signals", json=signal_body(), headers=bearer(police_token)), 403)


def test_an_invalid_bearer_is_not_rescued_by_a_valid_cookie(app, client, author_world, login_as):
    login_as(client, author_world["users"]["author"])
    assert client.get("/api/v1/me").status_code == 200
    is_problem(client.get("/api/v1/me", headers=bearer("pvs_forged")), 401)


def test_bearer_tokens_do_not_open_html_pages(app, client, author_world):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.get("/account/sessions", headers=bearer(secret))
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_token_use_updates_last_used_at(app, client, author_world):
    from portal.identity.models import ApiToken

    user = author_world["users"]["author"]
    secret = issue_token(app, user)
    client.get("/api/v1/me", headers=bearer(secret))
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert token.last_used_at is not None
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()


# --- CSRF ---------------------------------------------------------------------------------------------------------


def test_cookie_write_needs_the_csrf_header(app, client, author_world, login_as):
    login_as(client, author_world["users"]["author"])
    refused = client.post("/api/v1/signals", json=signal_body())
    assert is_problem(refused, 400)["type"].endswith("csrf_failed")
    token = csrf_token(client, "/account/sessions")
    accepted = client.post("/api/v1/signals", json=signal_body(), headers={"X-CSRFToken": token})
    assert accepted.status_code == 201, accepted.get_json()
    signal_id = accepted.get_json()["id"]
    is_problem(client.patch(f"/api/v1/signals/{signal_id}", json={"summary": "Iets anders gebeurd"}), 400)
    wrong = client.patch(
        f"/api/v1/signals/{signal_id}", json={"summary": "Iets anders gebeurd"}, headers={"X-CSRFToken": "x" + token}
    )
    is_problem(wrong, 400)


def test_bearer_write_needs_no_csrf(app, client, author_world):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.post("/api/v1/signals", json=signal_body(), headers=bearer(secret))
    assert response.status_code == 201, response.get_json()


# --- idempotency --------------------------------------------------------------------------------------------------


def test_idempotency_key_retry_returns_the_original(app, client, author_world):
    from portal.signals.models import Signal

    secret = issue_token(app, author_world["users"]["author"])
    headers = {**bearer(secret), "Idempotency-Key": "retry-key-0001"}
    first = client.post("/api/v1/signals", json=signal_body(), headers=headers)
    second = client.post("/api/v1/signals", json=signal_body(), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Signal).where(Signal.client_key == "retry-key-0001"))
    assert count == 1
    bad = client.post("/api/v1/signals", json=signal_body(), headers={**bearer(secret), "Idempotency-Key": "short"})
    assert "Idempotency-Key" in is_problem(bad, 400)["errors"]


# --- IDOR ---------------------------------------------------------------------------------------------------------


def test_unknown_and_forbidden_signals_answer_the_same_404(app, client, api_world):
    hidden = post_signal(app, api_world["users"]["author"], scope="stadsdeelnetwerk")  # district A only
    secret = issue_token(app, api_world["users"]["district_b"])
    bodies = []
    for target in (hidden, str(uuid.uuid4()), "not-a-uuid", "1"):
        response = client.get(f"/api/v1/signals/{target}", headers=bearer(secret))
        bodies.append(is_problem(response, 404))
    assert all(body == bodies[0] for body in bodies)
    for path in (f"/api/v1/signals/{hidden}/responses", f"/api/v1/signals/{hidden}/recognise"):
        body = {"kind": "kennisgenomen"} if path.endswith("responses") else {}
        assert is_problem(client.post(path, json=body, headers=bearer(secret)), 404) == bodies[0]
    patched = client.patch(f"/api/v1/signals/{hidden}", json={"summary": "Overgenomen"}, headers=bearer(secret))
    assert is_problem(patched, 404) == bodies[0]


def test_patch_of_someone_elses_visible_signal_is_404(app, client, api_world):
    signal_id = post_signal(app, api_world["users"]["author"], scope="stadsdeelnetwerk")
    secret = issue_token(app, api_world["users"]["other_school"])  # sees it, may not change it
    assert client.get(f"/api/v1/signals/{signal_id}", headers=bearer(secret)).status_code == 200
    response = client.patch(f"/api/v1/signals/{signal_id}", json={"summary": "Overgenomen!"}, headers=bearer(secret))
    is_problem(response, 404)
    owner = issue_token(app, api_world["users"]["author"])
    assert client.get(f"/api/v1/signals/{signal_id}", headers=bearer(owner)).get_json()["summary"].startswith("Mes")


def test_room_and_school_filters_for_rooms_not_joined_are_refused(app, client, api_world):
    secret = issue_token(app, api_world["users"]["district_b"])
    response = client.get(f"/api/v1/signals?room={api_world['rooms']['a'].public_id}", headers=bearer(secret))
    unknown = client.get(f"/api/v1/signals?room={uuid.uuid4()}", headers=bearer(secret))
    assert is_problem(response, 400)["errors"] == is_problem(unknown, 400)["errors"] == {"room": "Unknown room."}


# --- input handling -----------------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script><p>tekst</p>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">klik</a>',
    '<a href="JaVaScRiPt:alert(1)" onclick="alert(1)">klik</a>',
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))" onmouseover="alert(1)">x</p>',
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    "<!--<script>alert(1)</script>--><b>vet</b>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_is_cleaned_before_storage(app, client, author_world, payload):
    import re

    from portal.signals.models import Signal

    secret = issue_token(app, author_world["users"]["author"])
    response = client.post("/api/v1/signals", json=signal_body(details_html=payload), headers=bearer(secret))
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        stored = db.session.scalar(
            select(Signal.details_html).where(Signal.public_id == uuid.UUID(response.json["id"]))
        )
    for html in (stored, response.get_json()["details_html"]):
        lowered = html.lower()
        assert "<script" not in lowered
        assert "javascript:" not in lowered
        assert not re.search(r"<[^>]*\son\w+\s*=", lowered)
        assert "<iframe" not in lowered
        assert "<svg" not in lowered
        assert "style=" not in lowered


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"summary": "kort"}, "summary"),
        ({"summary": 5}, "summary"),
        ({"category": "bestaat-niet"}, "category"),
        ({"subcategory": "vermogen.diefstal"}, "subcategory"),
        ({"occurred_on": "2999-01-01"}, "occurred_on"),
        ({"occurred_on": "gisteren"}, "occurred_on"),
        ({"sharing_scope": "iedereen"}, "sharing_scope"),
        ({"involved_counts": {"leerlingen": "twee"}}, "involved_counts"),
        ({"involved_counts": {"leerlingen": 9999}}, "involved_counts"),
        ({"police_involved": "ja"}, "police_involved"),
        ({"themes": "geen-lijst"}, "themes"),
        ({"age_bands": ["99+"]}, "age_bands"),
        ({"school": "not-a-uuid"}, "school"),
        ({"school": str(uuid.uuid4())}, "school"),
        ({"summary": "Nul\u0000teken in de tekst"}, "summary"),
        ({"summary": "Losse \ud800 surrogate hier"}, "summary"),
        ({"onbekend_veld": 1}, "onbekend_veld"),
        ({"details_html": "<p>" + "x" * 6000 + "</p>"}, "details_html"),
    ],
)
def test_validation_errors_name_the_field(app, client, author_world, change, field):
    secret = issue_token(app, author_world["users"]["author"])
    body = signal_body(**change)
    response = client.post(
        "/api/v1/signals",
        data=json.dumps(body),  # json.dumps keeps a lone surrogate as the escape \ud800
        headers={**bearer(secret), "Content-Type": "application/json"},
    )
    problem = is_problem(response, 400)
    assert field in problem["errors"], problem


def test_personal_data_needs_a_confirmation(app, client, author_world):
    from portal.signals.models import Signal

    secret = issue_token(app, author_world["users"]["author"])
    body = signal_body(summary="Ruzie met Jan de Vries", details_html="<p>Bel 0612345678</p>")
    refused = is_problem(client.post("/api/v1/signals", json=body, headers=bearer(secret)), 400)
    assert set(refused["errors"]) == {"summary", "details_html"}
    assert "0612345678" not in json.dumps(refused)  # the message names the kind of data, not the text
    bad_reason = client.post("/api/v1/signals", json={**body, "pii_confirmation": "omdat"}, headers=bearer(secret))
    assert "pii_confirmation" in is_problem(bad_reason, 400)["errors"]
    kept = client.post("/api/v1/signals", json={**body, "pii_confirmation": "noodzakelijk"}, headers=bearer(secret))
    assert kept.status_code == 201, kept.get_json()
    with app.app_context():
        stored = db.session.scalar(select(Signal).where(Signal.public_id == uuid.UUID(kept.get_json()["id"])))
        assert stored.pii_confirmation == "noodzakelijk"
    path = f"/api/v1/signals/{kept.get_json()['id']}"
    patched = client.patch(path, json={"summary": "Ruzie met Piet Jansen"}, headers=bearer(secret))
    assert "summary" in is_problem(patched, 400)["errors"]


def test_missing_required_fields_are_listed(app, client, author_world):
    secret = issue_token(app, author_world["users"]["author"])
    problem = is_problem(client.post("/api/v1/signals", json={}, headers=bearer(secret)), 400)
    assert set(problem["errors"]) == {"occurred_on", "category", "location_type", "severity", "summary"}


def test_patch_cannot_move_a_signal_or_be_empty(app, client, author_world):
    signal_id = post_signal(app, author_world["users"]["author"])
    secret = issue_token(app, author_world["users"]["author"])
    moved = client.patch(f"/api/v1/signals/{signal_id}", json={"district": "ZB"}, headers=bearer(secret))
    assert "district" in is_problem(moved, 400)["errors"]
    is_problem(client.patch(f"/api/v1/signals/{signal_id}", json={}, headers=bearer(secret)), 400)
    bad_status = client.patch(f"/api/v1/signals/{signal_id}", json={"status": "concept"}, headers=bearer(secret))
    assert "status" in is_problem(bad_status, 400)["errors"]


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b"summary=x", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
    ],
)
def test_bad_json_is_a_problem_never_a_500(app, client, author_world, raw, content_type, status):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.post("/api/v1/signals", data=raw, headers={**bearer(secret), "Content-Type": content_type})
    is_problem(response, status)


def test_bad_list_parameters_are_named(app, client, api_world):
    secret = issue_token(app, api_world["users"]["police_a"])
    response = client.get(
        "/api/v1/signals?limit=500&from=gisteren&cursor=!!&status=weg&school=x&colour=red", headers=bearer(secret)
    )
    assert set(is_problem(response, 400)["errors"]) == {"colour"}
    response = client.get(
        "/api/v1/signals?limit=500&from=gisteren&cursor=!!&status=weg&school=x", headers=bearer(secret)
    )
    assert set(is_problem(response, 400)["errors"]) == {"limit", "from", "cursor", "status", "school"}


def test_response_validation_and_unknown_fields(app, client, api_world):
    signal_id = post_signal(app, api_world["users"]["author"])
    secret = issue_token(app, api_world["users"]["police_a"])
    path = f"/api/v1/signals/{signal_id}/responses"
    assert "kind" in is_problem(client.post(path, json={"kind": "boos"}, headers=bearer(secret)), 400)["errors"]
    assert "text_html" in is_problem(client.post(path, json={"kind": "advies"}, headers=bearer(secret)), 400)["errors"]
    assert "x" in is_problem(client.post(path, json={"kind": "advies", "x": 1}, headers=bearer(secret)), 400)["errors"]
    named = {"kind": "advies", "text_html": "<p>Mail jan@example.org</p>"}
    assert "text_html" in is_problem(client.post(path, json=named, headers=bearer(secret)), 400)["errors"]
    confirmed = {**named, "pii_confirmation": "noodzakelijk"}
    assert client.post(path, json=confirmed, headers=bearer(secret)).status_code == 201
    recognise = client.post(f"/api/v1/signals/{signal_id}/recognise", json={"really": True}, headers=bearer(secret))
    assert "really" in is_problem(recognise, 400)["errors"]


# --- rate limits --------------------------------------------------------------------------------------------------


def test_posting_and_searching_are_rate_limited(app, client, api_world, monkeypatch):
    monkeypatch.setitem(app.config, "API_SIGNAL_CREATE_LIMIT", "2 per minute")
    monkeypatch.setitem(app.config, "API_SEARCH_LIMIT", "2 per minute")
    secret = issue_token(app, api_world["users"]["author"])
    statuses = [client.post("/api/v1/signals", json=signal_body(), headers=bearer(secret)).status_code for _ in "abc"]
    assert statuses == [201, 201, 429]
    limited = client.post("/api/v1/signals", json=signal_body(), headers=bearer(secret))
    is_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    searches = [client.get("/api/v1/signals?q=mes", headers=bearer(secret)).status_code for _ in "abc"]
    assert searches == [200, 200, 429]
    assert client.get("/api/v1/signals", headers=bearer(secret)).status_code == 200  # plain listing is not limited


# --- performance --------------------------------------------------------------------------------------------------


def _count_queries(app, call) -> int:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200
    return len(statements)


def test_list_uses_a_constant_number_of_queries(app, client, api_world, login_as):
    author = api_world["users"]["author"]
    login_as(client, api_world["users"]["police_a"])
    for n in range(5):
        post_signal(app, author, scope="stedelijk", classification="K3" if n % 2 else "K2")
    client.get("/api/v1/signals")  # warm-up (the session record's first touch)
    few = _count_queries(app, lambda: client.get("/api/v1/signals?limit=100"))
    for n in range(25):
        post_signal(app, author, classification="K3" if n % 2 else "K2", area="", themes=[])
    many = _count_queries(app, lambda: client.get("/api/v1/signals?limit=100"))
    assert len(client.get("/api/v1/signals?limit=100").get_json()["signals"]) == 30
    assert few == many, (few, many)
    print(f"GET /api/v1/signals: {few} queries for 5 signals, {many} for 30")
