"""Helpers shared by the SSO tests: drive the portal's side of the flow with Flask's test client, and look at what
it left in the database (sessions, accounts, audit records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.identity.models import OidcIdentity, User, UserSession

SESSION_COOKIE = "portal_session"


@dataclass
class AuthorizationRedirect:
    url: str
    params: dict[str, str]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


def query_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start(client, slug: str, *, next_url: str | None = None) -> AuthorizationRedirect:
    response = client.get(f"/auth/oidc/{slug}/login", query_string={"next": next_url} if next_url else None)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    return AuthorizationRedirect(location, query_params(location))


def callback(client, slug: str, **params: Any):
    return client.get(f"/auth/oidc/{slug}/callback", query_string={k: v for k, v in params.items() if v is not None})


def session_count() -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession)) or 0


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def last_audit(action: str) -> AuditEvent | None:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()


def identity_user(issuer: str, subject: str) -> User | None:
    identity = db.session.scalar(
        select(OidcIdentity).where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
    )
    return identity.user if identity is not None else None


def is_signed_in(client) -> bool:
    """A page only signed-in users get: 200 when the cookie's server-side session is alive, else a redirect."""
    response = client.get("/account/sessions")
    return response.status_code == 200


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE)
    return cookie.value if cookie is not None else None


def client_with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie(SESSION_COOKIE, value)
    return other
