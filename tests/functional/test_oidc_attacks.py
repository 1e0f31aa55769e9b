"""Single sign-on against a programmable fake provider: every forged, replayed or mixed-up response fails closed
(no session, an audit record with the reason), and the good path creates the right account (docs/security.md A1).

Two fake providers, ``alpha`` and ``beta``, run on loopback ports; the portal is a second app on the test database
(``build_app``) configured with both. Tokens are crafted with joserfc.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.authz.permissions import Role, ScopeType
from portal.extensions import db
from portal.identity import oidc
from portal.identity import services as identity_services
from portal.identity.models import OidcAuthRequest, OidcLogoutToken, RoleAssignment, UserSession, UserStatus
from tests.conftest import csrf_token
from tests.oidc.fake_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeProvider,
    hmac_with_public_key,
    new_key,
    provider_config,
    s256,
    unsigned,
)
from tests.oidc.harness import (
    callback,
    client_with_cookie,
    identity_user,
    is_signed_in,
    last_audit,
    query_params,
    session_cookie,
    session_count,
    start,
    user_count,
)


@pytest.fixture
def idps():
    alpha, beta = FakeProvider("alpha"), FakeProvider("beta")
    yield alpha, beta
    alpha.close()
    beta.close()


class Portal:
    """The portal configured with the fake providers, plus the steps a test combines."""

    def __init__(self, app, alpha: FakeProvider, beta: FakeProvider) -> None:
        self.app = app
        self.alpha = alpha
        self.beta = beta
        self.client = app.test_client()

    def configure(self, **providers: dict[str, Any]) -> None:
        self.app.config["IDENTITY_PROVIDERS"] = providers  # the registry rebuilds itself

    def provider(self, slug: str) -> oidc.Provider:
        provider = oidc.registry(self.app).get(slug)
        assert provider is not None
        return provider

    def fake(self, slug: str) -> FakeProvider:
        return {"alpha": self.alpha, "beta": self.beta}[slug]

    def sign_in(self, slug: str = "alpha", *, client=None, **claim_overrides: Any):
        """The whole good flow: start, the provider answers with a valid token, callback."""
        client = client or self.client
        fake = self.fake(slug)
        redirect = start(client, slug)
        fake.reply_with(fake.sign(fake.claims(redirect.nonce, **claim_overrides)))
        return callback(client, slug, state=redirect.state, code="code-1", iss=fake.issuer)


@pytest.fixture
def portal(build_app, dbs, make, idps) -> Portal:
    alpha, beta = idps
    make.organisation("police_unit", code="alpha-org", name="Politie Alpha")
    make.organisation("police_unit", code="beta-org", name="Beta-eenheid")
    app = build_app(IDENTITY_PROVIDERS={"alpha": provider_config(alpha), "beta": provider_config(beta)})
    return Portal(app, alpha, beta)


def assert_refused(response, reason: str, *, sessions_before: int, action: str = "login", status: int = 400) -> None:
    """Fail closed: an error page, nobody signed in, and the audit trail says why."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert session_count() == sessions_before
    event = last_audit(action)
    assert event is not None
    assert event.result == "failure"
    assert event.details["reason"] == reason, event.details
    # R-HDR-2 on the error path too
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


# --- the good path ---------------------------------------------------------------------------------------------


def test_authorization_request_uses_code_flow_pkce_state_and_nonce(portal):
    redirect = start(portal.client, "alpha")
    assert redirect.url.startswith(f"{portal.alpha.issuer}/authorize?")
    params = redirect.params
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://localhost/auth/oidc/alpha/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 20
    assert len(params["nonce"]) >= 20
    assert params["scope"].split() == ["openid", "profile", "email"]
    again = start(portal.client, "alpha")
    assert again.state != redirect.state
    assert again.nonce != redirect.nonce
    assert again.params["code_challenge"] != params["code_challenge"]
    # nothing of the request is kept in clear in the database but the nonce and the verifier
    stored = db.session.scalars(select(OidcAuthRequest)).all()
    assert all(r.state_hash not in (redirect.state, again.state) for r in stored)


def test_sign_in_creates_account_with_organisation_roles_and_a_new_session(portal):
    redirect = start(portal.client, "alpha", next_url="/account/sessions")
    fake = portal.alpha
    fake.reply_with(fake.sign(fake.claims(redirect.nonce, sub="agent-7", roles=["jeugdagent", "unmapped"])))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    assert session_count() == before + 1
    # PKCE: the verifier sent to the token endpoint is the one behind the challenge; the client authenticated
    token_request = fake.token_requests[-1]
    assert s256(token_request["code_verifier"]) == redirect.params["code_challenge"]
    assert token_request["redirect_uri"] == "http://localhost/auth/oidc/alpha/callback"
    assert token_request["_authorization"].startswith("Basic ")
    assert CLIENT_SECRET not in str(fake.token_requests)  # not in the body (client_secret_basic)

    user = identity_user(fake.issuer, "agent-7")
    assert user is not None
    assert user.organisation.code == "alpha-org"
    assert user.status is UserStatus.ACTIVE
    assignments = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).all()
    assert [(a.role, a.source, a.scope_type) for a in assignments] == [(Role.POLICE_OFFICER, "alpha", ScopeType.CITY)]
    record = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert record.oidc_provider == "alpha"
    assert record.oidc_sid == "sid-agent-7"
    assert record.oidc_id_token
    assert is_signed_in(portal.client)
    event = last_audit("login")
    assert event.result == "success"
    assert event.details == {"method": "oidc", "provider": "alpha", "new_account": True}
    assert event.actor_id == str(user.public_id)


def test_sign_in_replaces_an_existing_session_id(portal, make, login_as):
    user = make.user("police_officer")
    old_token = login_as(portal.client, user)
    old_cookie = session_cookie(portal.client)
    assert portal.sign_in().status_code == 302
    assert session_cookie(portal.client) != old_cookie
    assert not is_signed_in(client_with_cookie(portal.app, old_cookie))
    assert old_token  # the old server-side record was ended by sign_in


def test_first_sign_in_is_pending_without_auto_approve_and_says_who_approves(portal):
    portal.configure(
        alpha=provider_config(portal.alpha, auto_approve=False, approver="Functioneel beheer, beheer@almere.example")
    )
    before = session_count()
    response = portal.sign_in(sub="new-agent", roles=["jeugdagent"])
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "beheer@almere.example" in page
    assert session_count() == before
    user = identity_user(portal.alpha.issuer, "new-agent")
    assert user.status is UserStatus.PENDING
    event = last_audit("login")
    assert (event.result, event.details["reason"]) == ("denied", "account_pending")
    # the administrator approves; the next sign-in works
    identity_services.set_status(user, UserStatus.ACTIVE, actor=None, ip="")
    db.session.commit()
    assert portal.sign_in(sub="new-agent", roles=["jeugdagent"]).status_code == 302


def test_blocked_account_is_refused_with_a_clear_page(portal):
    assert portal.sign_in(sub="agent-b").status_code == 302
    user = identity_user(portal.alpha.issuer, "agent-b")
    identity_services.set_status(user, UserStatus.BLOCKED, actor=None, ip="")
    db.session.commit()
    other = portal.app.test_client()
    before = session_count()
    response = portal.sign_in(sub="agent-b", client=other)
    assert response.status_code == 403
    assert session_count() == before
    assert last_audit("login").details["reason"] == "account_blocked"


def test_roles_follow_the_claim_at_every_sign_in_and_admin_roles_stay(portal):
    assert portal.sign_in(sub="agent-r", roles=["jeugdagent", "expert"]).status_code == 302
    user = identity_user(portal.alpha.issuer, "agent-r")
    identity_services.assign_role(user, Role.PARTNER, ScopeType.CITY, actor=None)  # granted by an administrator
    db.session.commit()
    assert portal.sign_in(sub="agent-r", roles="jeugdagent", client=portal.app.test_client()).status_code == 302
    held = {
        (a.role, a.source) for a in db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id))
    }
    assert held == {(Role.POLICE_OFFICER, "alpha"), (Role.PARTNER, "admin")}


def test_organisation_claim_only_within_the_allowed_list(portal, make):
    district = make.district()
    make.organisation("school_location", code="school-a", district=district, name="School A")
    make.organisation("school_location", code="school-c", district=district, name="School C")
    portal.configure(
        alpha=provider_config(
            portal.alpha,
            organisation=None,
            organisation_claim="org",
            allowed_organisations=["school-a", "school-b"],
            roles={"coordinator": "school_coordinator"},
        )
    )
    assert portal.sign_in(sub="teacher-1", org="school-a", roles=["coordinator"]).status_code == 302
    user = identity_user(portal.alpha.issuer, "teacher-1")
    assert user.organisation.code == "school-a"
    role = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).one()
    assert (role.scope_type, role.scope_organisation.code) == (ScopeType.LOCATION, "school-a")

    before = session_count()
    response = portal.sign_in(sub="teacher-2", org="school-c", client=portal.app.test_client())  # exists, not allowed
    assert_refused(response, "organisation_not_allowed", sessions_before=before)
    assert identity_user(portal.alpha.issuer, "teacher-2") is None


def test_other_provider_asserting_the_same_email_gets_a_separate_account(portal):
    assert portal.sign_in("alpha", sub="same-sub", email="shared@covenant.example").status_code == 302
    alpha_user = identity_user(portal.alpha.issuer, "same-sub")
    users_before = user_count()
    other = portal.app.test_client()
    assert portal.sign_in("beta", client=other, sub="same-sub", email="shared@covenant.example").status_code == 302
    beta_user = identity_user(portal.beta.issuer, "same-sub")
    assert user_count() == users_before + 1
    assert beta_user.id != alpha_user.id
    assert beta_user.organisation.code == "beta-org"
    assert alpha_user.email == "shared@covenant.example"
    assert beta_user.email != "shared@covenant.example"
    assert beta_user.email.endswith("@sso.invalid")


def test_login_page_offers_one_button_per_provider_and_marks_the_broken_one(portal):
    portal.beta.discovery_status = 500
    portal.provider("beta").status(refresh=True)  # the failure is known (a sign-in attempt or the status page)
    page = portal.client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/oidc/alpha/login"' in page
    assert "Sign in via Alpha" in page or "Inloggen via Alpha" in page
    assert 'href="/auth/oidc/beta/login"' not in page
    assert 'aria-disabled="true">' in page
    # the broken provider refuses to start, the other one still works end to end
    response = portal.client.get("/auth/oidc/beta/login")
    assert response.status_code == 503
    assert last_audit("login").details["reason"] == "provider_unavailable"
    assert portal.sign_in("alpha").status_code == 302


def test_login_page_never_waits_for_a_provider(portal, monkeypatch):
    """The login page reads the cached discovery state only: it contacts no provider. One not checked yet is
    offered (starting the sign-in checks it, 503 if down); one that failed is offered again after the retry delay."""
    from portal.identity import oidc_discovery

    portal.beta.discovery_status = 500
    page = portal.client.get("/auth/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/auth/oidc/alpha/login"' in html
    assert 'href="/auth/oidc/beta/login"' in html  # never checked: offered
    assert 'aria-disabled="true">' not in html
    assert portal.alpha.discovery_fetches == 0
    assert portal.beta.discovery_fetches == 0

    assert portal.client.get("/auth/oidc/beta/login").status_code == 503
    assert portal.beta.discovery_fetches == 1
    html = portal.client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/oidc/beta/login"' not in html  # failed just now: marked
    assert 'aria-disabled="true">' in html
    assert portal.beta.discovery_fetches == 1  # the page did not retry

    monkeypatch.setattr(oidc_discovery, "DISCOVERY_RETRY_SECONDS", 0)  # the retry delay has passed
    html = portal.client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/oidc/beta/login"' in html
    assert portal.beta.discovery_fetches == 1
    portal.beta.discovery_status = 200
    assert portal.sign_in("beta").status_code == 302  # the provider is back: the sign-in checks it again


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"issuer": "http://127.0.0.1:1"}, "discovery_issuer_mismatch"),
        ({"jwks_uri": None}, "discovery_incomplete"),
        ({"code_challenge_methods_supported": ["plain"]}, "discovery_no_pkce_s256"),
    ],
)
def test_a_bad_discovery_document_disables_only_that_provider(portal, override, reason):
    portal.beta.metadata_overrides = override
    assert portal.client.get("/auth/oidc/beta/login").status_code == 503
    assert portal.provider("beta").status().error == reason
    assert portal.sign_in("alpha").status_code == 302


def test_configuration_errors_disable_only_that_provider(portal):
    portal.configure(
        alpha=provider_config(portal.alpha),
        beta=provider_config(portal.beta, roles={"root": "functional_admin"}),
    )
    assert not portal.provider("beta").enabled
    assert "functional_admin" in portal.provider("beta").config_error
    assert portal.client.get("/auth/oidc/beta/login").status_code == 503
    assert portal.client.get("/auth/oidc/nobody/login").status_code == 404
    assert portal.sign_in("alpha").status_code == 302


# --- forged ID tokens (T01-T09) --------------------------------------------------------------------------------


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"


FORGERIES = {
    # name: (how the token is made from (fake, nonce), expected reason)
    "bad_signature": (lambda f, n: _tamper(f.sign(f.claims(n))), "bad_signature"),
    "wrong_key_right_kid": (
        lambda f, n: f.sign(f.claims(n), key=new_key(f.signing_key.kid)),
        "bad_signature",
    ),
    "alg_none": (lambda f, n: unsigned(f.claims(n), {"kid": f.signing_key.kid}), "alg_not_allowed"),
    "hmac_with_public_key": (lambda f, n: hmac_with_public_key(f, f.claims(n)), "alg_not_allowed"),
    "wrong_iss": (lambda f, n: f.sign(f.claims(n, iss="https://evil.example")), "iss_mismatch"),
    "iss_with_trailing_slash": (lambda f, n: f.sign(f.claims(n, iss=f.issuer + "/")), "iss_mismatch"),
    "wrong_aud": (lambda f, n: f.sign(f.claims(n, aud="another-client")), "aud_mismatch"),
    "missing_aud": (lambda f, n: f.sign(f.claims(n, aud=None)), "aud_missing"),
    "untrusted_extra_aud": (
        lambda f, n: f.sign(f.claims(n, aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID)),
        "aud_untrusted",
    ),
    "expired": (lambda f, n: f.sign(f.claims(n, exp=int(time.time()) - 3600, iat=int(time.time()) - 4000)), "expired"),
    "future_iat": (lambda f, n: f.sign(f.claims(n, iat=int(time.time()) + 3600)), "iat_in_future"),
    "missing_iat": (lambda f, n: f.sign(f.claims(n, iat=None)), "iat_missing"),
    "missing_exp": (lambda f, n: f.sign(f.claims(n, exp=None)), "exp_missing"),
    "missing_sub": (lambda f, n: f.sign(f.claims(n, sub="x") | {"sub": None}), "sub_missing"),
    "wrong_nonce": (lambda f, n: f.sign(f.claims("not-the-nonce")), "nonce_mismatch"),
    "missing_nonce": (lambda f, n: f.sign(f.claims(None)), "nonce_mismatch"),
    "wrong_azp": (lambda f, n: f.sign(f.claims(n, azp="another-client")), "azp_mismatch"),
    "key_in_header": (
        lambda f, n: f.sign(f.claims(n), header={"jku": "https://evil.example/jwks"}),
        "header_not_allowed",
    ),
    "no_id_token": (lambda f, n: None, "id_token_missing"),
    "garbage": (lambda f, n: "not.a.jwt", "token_malformed"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_id_token_is_refused(portal, name):
    make_token, reason = FORGERIES[name]
    fake = portal.alpha
    redirect = start(portal.client, "alpha")
    fake.reply_with(make_token(fake, redirect.nonce))
    before, users_before = session_count(), user_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, reason, sessions_before=before)
    assert user_count() == users_before
    assert not is_signed_in(portal.client)
    page = response.get_data(as_text=True)
    assert 'class="portal-narrow portal-error"' in page  # the generic error page, in the user's language


def test_at_hash_is_checked_by_the_second_opinion(portal):
    fake = portal.alpha
    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce, at_hash="AAAAAAAAAAAAAAAAAAAAAA")))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, "id_token_invalid", sessions_before=before)


def test_token_from_another_provider_is_refused(portal):
    """Beta's genuine token returned by alpha's token endpoint: beta's key is unknown to alpha, its iss wrong."""
    redirect = start(portal.client, "alpha")
    portal.alpha.reply_with(portal.beta.sign(portal.beta.claims(redirect.nonce)))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=portal.alpha.issuer)
    assert_refused(response, "unknown_kid", sessions_before=before)


def test_required_acr_refuses_a_sign_in_without_mfa(portal):
    portal.configure(
        alpha=provider_config(portal.alpha, required_acr=["urn:almere:mfa"]), beta=provider_config(portal.beta)
    )
    redirect = start(portal.client, "alpha")
    assert redirect.params["acr_values"] == "urn:almere:mfa"
    portal.alpha.reply_with(portal.alpha.sign(portal.alpha.claims(redirect.nonce, acr="urn:almere:password")))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=portal.alpha.issuer)
    assert_refused(response, "acr_not_accepted", sessions_before=before)
    assert portal.sign_in(acr="urn:almere:mfa").status_code == 302


# --- keys (T08) ------------------------------------------------------------------------------------------------


def test_unknown_kid_forces_one_refetch_then_fails_and_the_refetch_is_rate_limited(portal):
    fake = portal.alpha
    stranger = new_key("alpha-unknown")
    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce), key=stranger))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, "unknown_kid", sessions_before=before)
    assert fake.jwks_fetches == 2  # the first load, then exactly one forced refetch

    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce), key=stranger))
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, "unknown_kid", sessions_before=before)
    assert fake.jwks_fetches == 2  # no second refetch within jwks_refetch_seconds

    provider = portal.provider("alpha")
    provider._clock = lambda: time.time() + 3600  # later: one refetch is allowed again
    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce), key=stranger))
    callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert fake.jwks_fetches == 4  # hourly reload of a stale JWKS, plus the one forced refetch


def test_key_rotation_is_picked_up_by_the_refetch(portal):
    fake = portal.alpha
    assert portal.sign_in(sub="rotating").status_code == 302
    assert fake.jwks_fetches == 1
    fake.signing_key = new_key("alpha-k2")
    fake.published = [fake.signing_key]
    assert portal.sign_in(sub="rotating", client=portal.app.test_client()).status_code == 302
    assert fake.jwks_fetches == 2


def test_jwks_failure_fails_closed(portal):
    fake = portal.alpha
    fake.metadata_overrides = {"jwks_uri": f"{fake.issuer}/nowhere"}
    before = session_count()
    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce)))
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, "jwks_unavailable", sessions_before=before)


# --- state, replay and mix-up (T10-T15) ------------------------------------------------------------------------


def test_replayed_callback_is_refused_before_the_token_endpoint(portal):
    fake = portal.alpha
    redirect = start(portal.client, "alpha")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce)))
    first = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert first.status_code == 302
    assert len(fake.token_requests) == 1
    before = session_count()
    again = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(again, "state_unknown", sessions_before=before)
    assert len(fake.token_requests) == 1


def test_replay_with_the_cookie_from_before_the_callback_is_refused(portal):
    """The cookie session is client-side: a copy taken before the callback still holds the binding. The state
    itself is single-use on the server, so the copy is worthless."""
    fake = portal.alpha
    redirect = start(portal.client, "alpha")
    copy = client_with_cookie(portal.app, session_cookie(portal.client))
    fake.reply_with(fake.sign(fake.claims(redirect.nonce)))
    assert callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=fake.issuer).status_code == 302
    before = session_count()
    response = callback(copy, "alpha", state=redirect.state, code="code-1", iss=fake.issuer)
    assert_refused(response, "state_unknown", sessions_before=before)


def test_state_from_another_browser_session_is_refused(portal):
    fake = portal.alpha
    redirect = start(portal.client, "alpha")  # the attacker's browser
    victim = portal.app.test_client()
    victim.get("/auth/login")
    fake.reply_with(fake.sign(fake.claims(redirect.nonce, sub="attacker")))
    before = session_count()
    response = callback(victim, "alpha", state=redirect.state, code="attacker-code", iss=fake.issuer)
    assert_refused(response, "state_other_session", sessions_before=before)
    assert fake.token_requests == []
    # and the state is gone: the attacker cannot use it afterwards either
    response = callback(portal.client, "alpha", state=redirect.state, code="attacker-code", iss=fake.issuer)
    assert_refused(response, "state_unknown", sessions_before=before)


@pytest.mark.parametrize(
    ("state", "reason"),
    [(None, "state_missing"), ("forged-state-value", "state_unknown"), ("x" * 600, "state_missing")],
)
def test_missing_or_forged_state_is_refused(portal, state, reason):
    start(portal.client, "alpha")
    before = session_count()
    response = callback(portal.client, "alpha", state=state, code="code-1", iss=portal.alpha.issuer)
    assert_refused(response, reason, sessions_before=before)
    assert portal.alpha.token_requests == []


def test_expired_state_is_refused(portal):
    redirect = start(portal.client, "alpha")
    for pending in db.session.scalars(select(OidcAuthRequest)):
        pending.expires_at = pending.created_at
    db.session.commit()
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=portal.alpha.issuer)
    assert_refused(response, "state_expired", sessions_before=before)


def test_mix_up_iss_of_provider_b_on_provider_a_flow(portal):
    redirect = start(portal.client, "alpha")
    portal.alpha.reply_with(portal.alpha.sign(portal.alpha.claims(redirect.nonce)))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1", iss=portal.beta.issuer)
    assert_refused(response, "iss_param_mismatch", sessions_before=before)
    assert portal.alpha.token_requests == []  # checked before the token request
    assert portal.beta.token_requests == []


def test_mix_up_state_of_provider_a_at_provider_b_redirect_uri(portal):
    redirect = start(portal.client, "alpha")
    portal.beta.reply_with(portal.beta.sign(portal.beta.claims(redirect.nonce)))
    before = session_count()
    response = callback(portal.client, "beta", state=redirect.state, code="code-1", iss=portal.beta.issuer)
    assert_refused(response, "state_wrong_provider", sessions_before=before)
    assert portal.alpha.token_requests == []
    assert portal.beta.token_requests == []


def test_missing_iss_parameter_is_refused_when_the_provider_advertises_it(portal):
    redirect = start(portal.client, "alpha")
    portal.alpha.reply_with(portal.alpha.sign(portal.alpha.claims(redirect.nonce)))
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, code="code-1")
    assert_refused(response, "iss_param_missing", sessions_before=before)
    assert portal.alpha.token_requests == []


def test_missing_iss_parameter_is_accepted_when_the_provider_does_not_advertise_it(portal):
    portal.alpha.metadata_overrides = {"authorization_response_iss_parameter_supported": None}
    redirect = start(portal.client, "alpha")
    portal.alpha.reply_with(portal.alpha.sign(portal.alpha.claims(redirect.nonce)))
    assert callback(portal.client, "alpha", state=redirect.state, code="code-1").status_code == 302


def test_error_from_the_provider_and_failing_token_endpoint(portal):
    redirect = start(portal.client, "alpha")
    before = session_count()
    response = callback(portal.client, "alpha", state=redirect.state, error="access_denied", iss=portal.alpha.issuer)
    assert_refused(response, "provider_error", sessions_before=before)
    assert last_audit("login").details["detail"] == "access_denied"

    redirect = start(portal.client, "alpha")
    portal.alpha.token_reply = None  # invalid_grant
    response = callback(portal.client, "alpha", state=redirect.state, code="stale", iss=portal.alpha.issuer)
    assert_refused(response, "token_request_failed", sessions_before=before)


def test_duplicated_callback_parameters_are_refused(portal):
    redirect = start(portal.client, "alpha")
    before = session_count()
    response = portal.client.get(
        f"/auth/oidc/alpha/callback?state={redirect.state}&code=a&code=b&iss={portal.alpha.issuer}"
    )
    assert_refused(response, "provider_error", sessions_before=before)


def test_audit_records_never_hold_tokens_codes_or_state(portal):
    redirect = start(portal.client, "alpha")
    token = portal.alpha.sign(portal.alpha.claims(redirect.nonce))
    portal.alpha.reply_with(token)
    callback(portal.client, "alpha", state=redirect.state, code="secret-code-value", iss=portal.alpha.issuer)
    everything = " ".join(str(e.details) + e.actor_name for e in db.session.scalars(select(AuditEvent)))
    for secret in (token, redirect.state, redirect.nonce, "secret-code-value", CLIENT_SECRET):
        assert secret not in everything


# --- logout (T17-T19, T21-T22) ---------------------------------------------------------------------------------


@pytest.fixture
def kicked(monkeypatch) -> list[str]:
    """Rooms whose sockets the portal disconnected (after commit)."""
    from portal.realtime import publish

    rooms: list[str] = []
    monkeypatch.setattr(publish, "_kick", rooms.append)
    return rooms


def _signed_in(portal: Portal, sub: str = "user-1", client=None):
    client = client or portal.client
    assert portal.sign_in(sub=sub, client=client).status_code == 302
    user = identity_user(portal.alpha.issuer, sub)
    record = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).first()
    return user, record, session_cookie(client)


def _backchannel(portal: Portal, token: str | None, slug: str = "alpha"):
    data = {"logout_token": token} if token is not None else {}
    return portal.app.test_client().post(f"/auth/oidc/{slug}/backchannel-logout", data=data)


def test_backchannel_logout_ends_the_session_and_its_sockets(portal, kicked):
    _user, record, cookie = _signed_in(portal)
    fake = portal.alpha
    response = _backchannel(portal, fake.sign(fake.logout_claims(sub="user-1"), header={"typ": "logout+jwt"}))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert db.session.get(UserSession, record.id) is None
    assert not is_signed_in(portal.client)
    assert not is_signed_in(client_with_cookie(portal.app, cookie))
    assert f"session:{record.public_id}" in kicked
    event = last_audit("logout.backchannel")
    assert (event.result, event.details["sessions"]) == ("success", 1)


def test_backchannel_logout_by_sid_only_ends_that_session(portal, kicked):
    _signed_in(portal)
    second_client = portal.app.test_client()
    portal.sign_in(sub="user-1", client=second_client, sid="sid-other-browser")
    response = _backchannel(portal, portal.alpha.sign(portal.alpha.logout_claims(sub=None, sid="sid-other-browser")))
    assert response.status_code == 200
    assert is_signed_in(portal.client)
    assert not is_signed_in(second_client)


def _defect(name: str, fake: FakeProvider) -> str:
    good = fake.logout_claims(sub="user-1", sid="sid-user-1")
    now = int(time.time())
    return {
        "bad_signature": lambda: _tamper(fake.sign(good)),
        "wrong_key_right_kid": lambda: fake.sign(good, key=new_key(fake.signing_key.kid)),
        "alg_none": lambda: unsigned(good),
        "hmac_with_public_key": lambda: hmac_with_public_key(fake, good),
        "nonce_present": lambda: fake.sign(good | {"nonce": "n"}),
        "events_missing": lambda: fake.sign({k: v for k, v in good.items() if k != "events"}),
        "events_wrong": lambda: fake.sign(good | {"events": {"http://schemas.openid.net/event/other": {}}}),
        "sub_and_sid_missing": lambda: fake.sign({k: v for k, v in good.items() if k not in {"sub", "sid"}}),
        "wrong_aud": lambda: fake.sign(good | {"aud": "another-client"}),
        "wrong_iss": lambda: fake.sign(good | {"iss": "https://evil.example"}),
        "stale_iat": lambda: fake.sign(good | {"iat": now - 3600}),
        "future_iat": lambda: fake.sign(good | {"iat": now + 3600}),
        "missing_jti": lambda: fake.sign({k: v for k, v in good.items() if k != "jti"}),
        "an_id_token": lambda: fake.sign(fake.claims("n", sub="user-1")),
        "garbage": lambda: "garbage",
    }[name]()


BACKCHANNEL_DEFECTS = {
    "bad_signature": "bad_signature",
    "wrong_key_right_kid": "bad_signature",
    "alg_none": "alg_not_allowed",
    "hmac_with_public_key": "alg_not_allowed",
    "nonce_present": "nonce_present",
    "events_missing": "events_missing",
    "events_wrong": "events_missing",
    "sub_and_sid_missing": "sub_and_sid_missing",
    "wrong_aud": "aud_mismatch",
    "wrong_iss": "iss_mismatch",
    "stale_iat": "iat_stale",
    "future_iat": "iat_in_future",
    "missing_jti": "jti_missing",
    "an_id_token": "nonce_present",
    "garbage": "token_malformed",
}


@pytest.mark.parametrize("name", sorted(BACKCHANNEL_DEFECTS))
def test_defective_logout_token_gets_400_and_changes_nothing(portal, kicked, name):
    _user, record, cookie = _signed_in(portal)
    sessions_before = session_count()
    response = _backchannel(portal, _defect(name, portal.alpha))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert session_count() == sessions_before
    assert db.session.get(UserSession, record.id) is not None
    assert is_signed_in(client_with_cookie(portal.app, cookie))
    assert kicked == []
    assert db.session.scalars(select(OidcLogoutToken)).all() == []
    event = last_audit("logout.backchannel")
    assert (event.result, event.details["reason"]) == ("failure", BACKCHANNEL_DEFECTS[name])


def test_missing_logout_token_and_unknown_provider(portal):
    _signed_in(portal)
    before = session_count()
    assert _backchannel(portal, None).status_code == 400
    assert _backchannel(portal, "x", slug="nobody").status_code == 400
    assert session_count() == before


def test_replayed_logout_token_is_refused(portal, kicked):
    _signed_in(portal)
    token = portal.alpha.sign(portal.alpha.logout_claims(sub="user-1"))
    assert _backchannel(portal, token).status_code == 200
    _user, record, _cookie = _signed_in(portal, client=portal.app.test_client())  # signs in again
    response = _backchannel(portal, token)
    assert response.status_code == 400
    assert db.session.get(UserSession, record.id) is not None
    assert last_audit("logout.backchannel").details["reason"] == "jti_replayed"


def test_backchannel_logout_needs_no_csrf_token_but_other_posts_do(portal):
    """CSRF-exempt is this one route only (R-HDR-1)."""
    _signed_in(portal)
    assert portal.client.post("/auth/logout").status_code == 400  # no CSRF token: refused


def test_rp_initiated_logout_sends_hint_and_state_and_checks_the_state(portal, kicked):
    _user, record, cookie = _signed_in(portal)
    id_token = record.oidc_id_token
    token = csrf_token(portal.client, "/account/sessions")
    response = portal.client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{portal.alpha.issuer}/session/end?")
    params = query_params(location)
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://localhost/auth/oidc/alpha/logged-out"
    assert params["client_id"] == CLIENT_ID
    assert len(params["state"]) >= 32
    # the local session is gone already, with its sockets
    assert not is_signed_in(client_with_cookie(portal.app, cookie))
    assert f"session:{record.public_id}" in kicked

    forged = portal.client.get("/auth/oidc/alpha/logged-out", query_string={"state": "forged"})
    assert forged.status_code == 400
    assert last_audit("logout.provider").details["reason"] == "state_unknown"
    back = portal.client.get("/auth/oidc/alpha/logged-out", query_string={"state": params["state"]})
    assert back.status_code == 302
    assert back.headers["Location"] == "/auth/login"
    assert last_audit("logout.provider").result == "success"
    replay = portal.client.get("/auth/oidc/alpha/logged-out", query_string={"state": params["state"]})
    assert replay.status_code == 400


def test_logout_state_is_bound_to_the_browser(portal):
    _signed_in(portal)
    token = csrf_token(portal.client, "/account/sessions")
    location = portal.client.post("/auth/logout", data={"csrf_token": token}).headers["Location"]
    stranger = portal.app.test_client()
    response = stranger.get("/auth/oidc/alpha/logged-out", query_string={"state": query_params(location)["state"]})
    assert response.status_code == 400
    assert last_audit("logout.provider").details["reason"] == "state_other_session"


def test_local_logout_without_provider_session_stays_local(portal, make, login_as):
    user = make.user("police_officer")
    login_as(portal.client, user)
    token = csrf_token(portal.client, "/account/sessions")
    response = portal.client.post("/auth/logout", data={"csrf_token": token})
    assert response.headers["Location"] == "/auth/login"


# --- administration --------------------------------------------------------------------------------------------


def test_admin_status_page_shows_providers_last_sign_in_and_pending(portal, make, login_as):
    portal.configure(
        alpha=provider_config(portal.alpha, auto_approve=False),
        beta=provider_config(portal.beta),
    )
    portal.sign_in(sub="waiting")  # pending
    portal.beta.discovery_status = 503
    admin = make.user("functional_admin")
    client = portal.app.test_client()
    login_as(client, admin)
    page = client.get("/admin/identity-providers")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-provider="alpha"' in html
    assert 'data-status="available"' in html
    assert 'data-status="unavailable"' in html
    assert "http://localhost/auth/oidc/alpha/callback" in html
    assert "http://localhost/auth/oidc/alpha/backchannel-logout" in html
    assert ": 1" in html  # one account waiting for approval

    officer = make.user("police_officer")
    other = portal.app.test_client()
    login_as(other, officer)
    assert other.get("/admin/identity-providers").status_code == 403
    assert portal.app.test_client().get("/admin/identity-providers").status_code == 302


def test_required_amr_and_required_claims(portal):
    portal.configure(
        alpha=provider_config(
            portal.alpha, required_amr=["mfa", "otp"], required_claims={"eduPersonAffiliation": ["employee", "staff"]}
        ),
        beta=provider_config(portal.beta),
    )
    before = session_count()
    response = portal.sign_in(amr=["pwd"], eduPersonAffiliation="employee")
    assert_refused(response, "amr_not_accepted", sessions_before=before)
    response = portal.sign_in(client=portal.app.test_client(), amr=["pwd", "mfa"], eduPersonAffiliation=["student"])
    assert_refused(response, "claim_not_accepted", sessions_before=before)
    assert identity_user(portal.alpha.issuer, "user-1") is None  # a pupil gets no (pending) account either
    other = portal.app.test_client()
    assert portal.sign_in(client=other, amr=["pwd", "mfa"], eduPersonAffiliation=["staff"]).status_code == 302


def test_allowed_organisations_as_a_table_maps_claim_values_to_codes(portal, make):
    district = make.district()
    make.organisation("school_location", code="vaartzicht", district=district, name="Vaartzicht")
    portal.configure(
        alpha=provider_config(
            portal.alpha,
            organisation=None,
            organisation_claim="nlEduPersonHomeOrganizationId",
            allowed_organisations={"11ZZ03": "vaartzicht"},
        ),
        beta=provider_config(portal.beta),
    )
    assert portal.sign_in(sub="brin-user", nlEduPersonHomeOrganizationId="11ZZ03").status_code == 302
    assert identity_user(portal.alpha.issuer, "brin-user").organisation.code == "vaartzicht"
    before = session_count()
    response = portal.sign_in(client=portal.app.test_client(), sub="other", nlEduPersonHomeOrganizationId="vaartzicht")
    assert_refused(response, "organisation_not_allowed", sessions_before=before)
