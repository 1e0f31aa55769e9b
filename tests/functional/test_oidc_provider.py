"""Single sign-on against a real OpenID Connect provider (npm ``oidc-provider``) with two issuers, police and
schools, configured the way a partner would: the whole authorization-code flow over HTTP, RP-initiated logout and
the provider's own back-channel logout token."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from portal.authz.permissions import Role, ScopeType
from portal.extensions import db
from portal.identity.models import RoleAssignment, UserSession, UserStatus
from tests.conftest import csrf_token, missing_service
from tests.oidc.harness import (
    client_with_cookie,
    identity_user,
    is_signed_in,
    last_audit,
    query_params,
    session_cookie,
    session_count,
)
from tests.oidc.node_provider import BackchannelCatcher, NodeProvider, node_available, portal_path, walk

CLIENTS = {
    "politie": ("portal-politie", "politie-test-secret"),
    "scholen": ("portal-scholen", "scholen-test-secret"),
}
ACCOUNTS = {
    "politie": {
        "agent-jansen": {
            "name": "Agent Jansen",
            "email": "jansen@politie.example",
            "email_verified": True,
            "roles": ["jeugdagent", "unmapped-group"],
        },
    },
    "scholen": {
        "docent-vaartzicht": {
            "name": "Docent de Vries",
            "email": "devries@vaartzicht.example",
            "roles": ["coordinator"],
            "org": "vaartzicht-college",
        },
        "docent-elders": {"name": "Docent Elders", "roles": ["coordinator"], "org": "school-elders"},
    },
}


@pytest.fixture(scope="session")
def backchannel_catcher():
    catcher = BackchannelCatcher()
    yield catcher
    catcher.close()


@pytest.fixture(scope="session")
def real_idp(tmp_path_factory, backchannel_catcher):
    reason = node_available()
    if reason:
        missing_service(f"the real OpenID provider ({reason})")
    providers = []
    for slug, (client_id, secret) in CLIENTS.items():
        providers.append(
            {
                "slug": slug,
                "clients": [
                    {
                        "client_id": client_id,
                        "client_secret": secret,
                        "redirect_uris": [f"http://localhost/auth/oidc/{slug}/callback"],
                        "post_logout_redirect_uris": [f"http://localhost/auth/oidc/{slug}/logged-out"],
                        "backchannel_logout_uri": backchannel_catcher.uri(slug),
                        "backchannel_logout_session_required": True,
                    }
                ],
                "accounts": ACCOUNTS[slug],
            }
        )
    provider = NodeProvider({"providers": providers}, tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.close()


def partner_config(real_idp) -> dict:
    """What the covenant's administrators would write in the TOML file (docs/sso.md)."""
    return {
        "politie": {
            "display_name": "Politie",
            "issuer": real_idp.issuers["politie"],
            "client_id": CLIENTS["politie"][0],
            "client_secret": CLIENTS["politie"][1],
            "scopes": "openid profile email",
            "organisation": "politie-flevoland",
            "role_claim": "roles",
            "roles": {"jeugdagent": "police_officer"},
            "auto_approve": True,
        },
        "scholen": {
            "display_name": "Scholen",
            "issuer": real_idp.issuers["scholen"],
            "client_id": CLIENTS["scholen"][0],
            "client_secret": CLIENTS["scholen"][1],
            "scopes": "openid profile email",
            "organisation_claim": "org",
            "allowed_organisations": ["vaartzicht-college"],
            "role_claim": "roles",
            "roles": {"coordinator": "school_coordinator"},
            "auto_approve": False,
            "approver": "Functioneel beheer Veiligheidshuis Almere",
        },
    }


@pytest.fixture
def sso_app(build_app, dbs, make, real_idp, backchannel_catcher):
    make.organisation("police_unit", code="politie-flevoland", name="Politie Basisteam Almere")
    district = make.district("HAVEN", "Almere Haven")
    make.organisation("school_location", code="vaartzicht-college", district=district, name="Vaartzicht College")
    make.organisation("school_location", code="school-elders", district=district, name="School Elders")
    while not backchannel_catcher.tokens.empty():
        backchannel_catcher.tokens.get_nowait()
    return build_app(IDENTITY_PROVIDERS=partner_config(real_idp))


def sign_in(app, slug: str, login: str, *, client=None, browser: requests.Session | None = None):
    """Click "Sign in via ...", sign in at the provider, come back: returns (client, browser, final response)."""
    client = client or app.test_client()
    browser = browser or requests.Session()
    start = client.get(f"/auth/oidc/{slug}/login")
    assert start.status_code == 302
    back = walk(browser, start.headers["Location"], login=login)
    assert back.startswith(f"http://localhost/auth/oidc/{slug}/callback?")
    assert query_params(back)["iss"]  # RFC 9207: the real provider sends iss
    return client, browser, client.get(portal_path(back))


def test_police_officer_signs_in_end_to_end(sso_app, real_idp):
    page = sso_app.test_client().get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/oidc/politie/login"' in page
    assert 'href="/auth/oidc/scholen/login"' in page

    before = session_count()
    client, _browser, response = sign_in(sso_app, "politie", "agent-jansen")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"] == "/"
    assert session_count() == before + 1
    assert is_signed_in(client)

    user = identity_user(real_idp.issuers["politie"], "agent-jansen")
    assert user.display_name == "Agent Jansen"
    assert user.email == "jansen@politie.example"
    assert user.organisation.code == "politie-flevoland"
    assert user.status is UserStatus.ACTIVE
    roles = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).all()
    assert [(r.role, r.source) for r in roles] == [(Role.POLICE_OFFICER, "politie")]
    record = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert record.oidc_provider == "politie"
    assert record.oidc_sid  # the provider's session id, for back-channel logout
    assert last_audit("login").details == {"method": "oidc", "provider": "politie", "new_account": True}


def test_school_user_gets_the_school_from_the_claim_and_waits_for_approval(sso_app, real_idp):
    before = session_count()
    _client, _browser, response = sign_in(sso_app, "scholen", "docent-vaartzicht")
    assert response.status_code == 403
    assert "Functioneel beheer Veiligheidshuis Almere" in response.get_data(as_text=True)
    assert session_count() == before
    user = identity_user(real_idp.issuers["scholen"], "docent-vaartzicht")
    assert user.status is UserStatus.PENDING
    assert user.organisation.code == "vaartzicht-college"
    role = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).one()
    assert (role.role, role.scope_type, role.scope_organisation.code) == (
        Role.SCHOOL_COORDINATOR,
        ScopeType.LOCATION,
        "vaartzicht-college",
    )


def test_school_outside_the_providers_allowed_organisations_is_refused(sso_app, real_idp):
    before = session_count()
    _client, _browser, response = sign_in(sso_app, "scholen", "docent-elders")
    assert response.status_code == 400
    assert session_count() == before
    assert identity_user(real_idp.issuers["scholen"], "docent-elders") is None
    assert last_audit("login").details["reason"] == "organisation_not_allowed"


def test_same_subject_at_two_issuers_is_two_accounts(sso_app, real_idp):
    """Both providers know an account id; (issuer, subject) keeps them apart."""
    sign_in(sso_app, "politie", "agent-jansen")
    assert identity_user(real_idp.issuers["scholen"], "agent-jansen") is None


def test_rp_initiated_and_backchannel_logout_with_the_real_provider(sso_app, real_idp, backchannel_catcher):
    browser = requests.Session()  # one browser at the provider, two portal sessions (e.g. two tabs' cookies)
    first, _, response = sign_in(sso_app, "politie", "agent-jansen", browser=browser)
    assert response.status_code == 302
    second, _, response = sign_in(sso_app, "politie", "agent-jansen", browser=browser)
    assert response.status_code == 302
    second_cookie = session_cookie(second)
    assert is_signed_in(first)
    assert is_signed_in(second)

    # Sign out in the first: the portal ends its session, then sends the browser to the provider with a hint.
    logout = first.post("/auth/logout", data={"csrf_token": csrf_token(first, "/account/sessions")})
    assert logout.status_code == 302
    end_session = logout.headers["Location"]
    assert end_session.startswith(real_idp.issuers["politie"])
    assert query_params(end_session)["id_token_hint"]
    assert not is_signed_in(first)
    back = walk(browser, end_session, login="agent-jansen")
    assert back.startswith("http://localhost/auth/oidc/politie/logged-out?state=")
    done = first.get(portal_path(back))
    assert done.status_code == 302
    assert last_audit("logout.provider").result == "success"

    # The provider ended its session and told the portal over the back channel; forward what it sent.
    path, token = backchannel_catcher.next_token()
    assert path == "/auth/oidc/politie/backchannel-logout"
    delivered = sso_app.test_client().post(path, data={"logout_token": token})
    assert delivered.status_code == 200
    assert not is_signed_in(second)
    assert not is_signed_in(client_with_cookie(sso_app, second_cookie))
    assert last_audit("logout.backchannel").details["sessions"] == 1
    # the same token again: replay, refused
    assert sso_app.test_client().post(path, data={"logout_token": token}).status_code == 400
