"""Personal access tokens: the services, the profile page /account/tokens and `flask portal token create`."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.conftest import csrf_token
from tests.functional import test_api as shared
from tests.functional.test_api import bearer, is_problem, issue_token

author_world = shared.author_world  # the fixture

TOKEN = re.compile(r'id="new-token" type="text" value="(pvs_[A-Za-z0-9_\-]+)"')


def test_services_create_list_revoke_authenticate(app, ctx, make):
    from portal.core.db import utcnow
    from portal.core.errors import NotFound, ValidationFailed
    from portal.identity import tokens
    from portal.identity.models import ApiToken

    user = db.session.merge(make.user("police_officer"))
    other = db.session.merge(make.user("police_officer"))
    issued = tokens.create_token(user, name="script", days=10)
    assert issued.secret.startswith("pvs_")
    assert len(issued.secret) > 40
    stored = db.session.scalar(select(ApiToken).where(ApiToken.id == issued.token.id))
    assert stored.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {stored.token_hash, stored.name}
    assert timedelta(days=9, hours=23) < stored.expires_at - utcnow() <= timedelta(days=10)
    assert tokens.authenticate(issued.secret)[0].id == user.id
    assert [t.id for t in tokens.list_tokens(user)] == [stored.id]
    assert tokens.list_tokens(other) == []
    with pytest.raises(NotFound):
        tokens.revoke_token(other, stored.public_id)  # someone else's token is not found
    tokens.revoke_token(user, stored.public_id)
    with pytest.raises(tokens.TokenRejected, match="revoked"):
        tokens.authenticate(issued.secret)
    assert tokens.token_status(stored) == "revoked"
    for days in (0, 366, -1, True):
        with pytest.raises(ValidationFailed):
            tokens.create_token(user, name="x", days=days)
    with pytest.raises(ValidationFailed):
        tokens.create_token(user, name="   ", days=1)
    assert tokens.create_token(user, name="default").token.expires_at - utcnow() > timedelta(days=89)


def test_every_token_action_is_audited_without_the_secret(app, ctx, make):
    from portal.audit.models import AuditEvent
    from portal.identity import tokens

    user = db.session.merge(make.user("police_officer"))
    issued = tokens.create_token(user, name="audit", days=5, ip="10.0.0.1")
    tokens.list_tokens(user)
    tokens.authenticate(issued.secret)
    with pytest.raises(tokens.TokenRejected):
        tokens.authenticate("pvs_" + "x" * 43)
    tokens.revoke_token(user, issued.token.public_id)
    events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    actions = [e.action for e in events if e.object_type == "api_token"]
    assert actions[-5:] == ["token.create", "token.list", "token.authenticate", "token.authenticate", "token.revoke"]
    assert [e.result for e in events][-2] == "failure"
    for event in events:
        assert issued.secret not in repr(event.details)
        assert "pvs_" not in repr(event.details)


def test_profile_page_creates_shows_once_and_revokes(app, client, author_world, login_as):
    login_as(client, author_world["users"]["author"])
    page = client.get("/account/tokens")
    assert page.status_code == 200
    assert "<script" not in page.get_data(as_text=True)
    assert "style=" not in page.get_data(as_text=True)
    created = client.post(
        "/account/tokens",
        data={"name": "Mijn script", "days": "30", "csrf_token": csrf_token(client, "/account/tokens")},
    )
    assert created.status_code == 200
    secret = TOKEN.search(created.get_data(as_text=True)).group(1)
    assert created.headers["Cache-Control"] == "no-store"
    # The token works, and is shown only once.
    fresh = app.test_client()
    assert fresh.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Mijn script" in listing
    assert secret not in listing
    token_id = re.search(r"/account/tokens/([0-9a-f\-]{36})/revoke", listing).group(1)
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/account/tokens")}
    )
    assert revoked.status_code == 302
    is_problem(fresh.get("/api/v1/me", headers=bearer(secret)), 401)


def test_profile_page_refuses_bad_input_and_other_peoples_tokens(app, client, author_world, make, login_as):
    login_as(client, author_world["users"]["author"])
    token = csrf_token(client, "/account/tokens")
    too_long = client.post("/account/tokens", data={"name": "x", "days": "400", "csrf_token": token})
    assert too_long.status_code == 400
    assert TOKEN.search(too_long.get_data(as_text=True)) is None
    no_csrf = client.post("/account/tokens", data={"name": "x", "days": "30"})
    assert no_csrf.status_code == 400
    other = make.user("police_officer")
    issue_token(app, other)
    from portal.identity.models import ApiToken

    with app.app_context():
        other_token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    response = client.post(f"/account/tokens/{other_token.public_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    assert client.post(f"/account/tokens/{uuid.uuid4()}/revoke", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, other_token.id).revoked_at is None


def test_tokens_page_needs_sign_in(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_cli_creates_a_working_token(app, client, make):
    user = make.user("police_officer", email="agent.cli@test.example")
    result = app.test_cli_runner().invoke(
        args=["portal", "token", "create", "--user", "agent.cli@test.example", "--days", "7", "--name", "bench"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("pvs_")
    assert client.get("/api/v1/me", headers=bearer(secret)).get_json()["user"]["id"] == str(user.public_id)
    unknown = app.test_cli_runner().invoke(args=["portal", "token", "create", "--user", "nobody@test.example"])
    assert unknown.exit_code != 0
    assert "No account" in unknown.output
    too_long = app.test_cli_runner().invoke(
        args=["portal", "token", "create", "--user", "agent.cli@test.example", "--days", "366"]
    )
    assert too_long.exit_code != 0
