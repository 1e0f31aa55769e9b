"""The per-party configuration of single sign-on with OpenID Connect (docs/security.md A1), and the errors of the OIDC
modules.

- :func:`parse_provider` checks one ``[identity_providers.<slug>]`` table of the configuration and returns a
  :class:`ProviderConfig`, or raises :class:`ProviderConfigError` saying what to fix (the registry in ``oidc`` then
  disables that provider on its own, fail closed, and the others keep working);
- :class:`OidcError` is what a failed sign-in or logout step raises, in discovery (``oidc_discovery``), token
  validation (``oidc_tokens``) and the flow (``oidc``) alike, with :func:`short_code` for provider-sent codes.

Like the other ``oidc*`` protocol modules it touches neither the request, the session nor the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from portal.authz.permissions import Role
from portal.authz.policy import ADMINISTRATIVE_ROLES

#: Asymmetric algorithms a provider may sign with. Never ``none``, never HMAC: a provider's tokens must be
#: verifiable with its public keys only (R-AUTH-2).
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
DEFAULT_SIGNING_ALGS = ("RS256", "PS256", "ES256")

MAX_LEEWAY = 120  # seconds of clock skew tolerated on exp/iat/nbf, at most (R-AUTH-2)
DEFAULT_LEEWAY = 60
DEFAULT_JWKS_REFETCH_SECONDS = 60

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{0,31}$")
_REASON = re.compile(r"[^a-z0-9_.\-]")

CONFIG_KEYS = frozenset(
    {
        "display_name",
        "issuer",
        "client_id",
        "client_secret",
        "client_secret_env",
        "scopes",
        "organisation",
        "organisation_claim",
        "allowed_organisations",
        "role_claim",
        "roles",
        "auto_approve",
        "required_acr",
        "required_amr",
        "required_claims",
        "signing_algs",
        "leeway",
        "trusted_audiences",
        "approver",
        "token_endpoint_auth_method",
        "jwks_refetch_seconds",
    }
)


class OidcError(Exception):
    """A sign-in or logout step failed. ``reason`` is a stable code for the audit trail (never shown to users,
    never containing token material)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ProviderConfigError(ValueError):
    """The ``[identity_providers.<slug>]`` table cannot be used; the message says what to fix."""


def short_code(value: object, limit: int = 40) -> str:
    """A provider-sent error code reduced to something safe for the audit trail."""
    return _REASON.sub("", str(value or "").lower())[:limit] or "unknown"


# --- configuration ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderConfig:
    slug: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid profile email"
    organisation: str | None = None
    organisation_claim: str | None = None
    # claim value → organisation code: the organisations this provider may assert (a list in the TOML file
    # means claim value == code; a table maps e.g. a BRIN number to the organisation's code)
    allowed_organisations: Mapping[str, str] = field(default_factory=dict)
    role_claim: str | None = None
    roles: Mapping[str, Role] = field(default_factory=dict)
    auto_approve: bool = False
    required_acr: tuple[str, ...] = ()
    required_amr: tuple[str, ...] = ()
    required_claims: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    signing_algs: tuple[str, ...] = DEFAULT_SIGNING_ALGS
    leeway: int = DEFAULT_LEEWAY
    trusted_audiences: tuple[str, ...] = ()
    approver: str = ""
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 (a method name, not a secret)
    jwks_refetch_seconds: int = DEFAULT_JWKS_REFETCH_SECONDS

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _string(raw: Mapping[str, Any], key: str, *, default: str | None = None, required: bool = False) -> str | None:
    value = raw.get(key, default)
    if value is None:
        if required:
            raise ProviderConfigError(f"{key} is required")
        return None
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ProviderConfigError(f"{key} must be a non-empty string without surrounding spaces")
    return value


def _string_list(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ProviderConfigError(f"{key} must be a list of strings")
    return tuple(value)


def _check_url(url: str, *, production: bool, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.netloc or parts.query or parts.fragment:
        raise ProviderConfigError(f"{what} must be an absolute https URL without query or fragment")
    if parts.scheme == "http" and production:
        raise ProviderConfigError(f"{what} must use https in production")


def parse_provider(slug: str, raw: Any, *, environ: Mapping[str, str], production: bool) -> ProviderConfig:
    """Check one ``[identity_providers.<slug>]`` table; raise :class:`ProviderConfigError` with what to fix."""
    if not SLUG_PATTERN.match(slug):
        raise ProviderConfigError("the name must be 1-32 lower-case letters, digits or hyphens (it is in URLs)")
    if not isinstance(raw, Mapping):
        raise ProviderConfigError("must be a table")
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise ProviderConfigError(f"unknown keys: {', '.join(unknown)}")

    issuer = _string(raw, "issuer", required=True)
    assert issuer is not None
    _check_url(issuer, production=production, what="issuer")
    client_id = _string(raw, "client_id", required=True)
    assert client_id is not None

    secret_env = _string(raw, "client_secret_env")
    secret = raw.get("client_secret")
    if secret_env and secret is not None:
        raise ProviderConfigError("give client_secret_env or client_secret, not both")
    if secret_env:
        secret = environ.get(secret_env, "")
        if not secret:
            raise ProviderConfigError(f"the environment variable {secret_env} (client_secret_env) is not set")
    if not isinstance(secret, str) or not secret:
        raise ProviderConfigError("client_secret_env (or client_secret) is required")

    scopes = _string(raw, "scopes", default="openid profile email")
    assert scopes is not None
    if "openid" not in scopes.split():
        raise ProviderConfigError("scopes must include openid")

    organisation = _string(raw, "organisation")
    organisation_claim = _string(raw, "organisation_claim")
    raw_allowed = raw.get("allowed_organisations", [])
    if isinstance(raw_allowed, Mapping):
        allowed = {str(k): v for k, v in raw_allowed.items()}
        if not all(isinstance(v, str) and v for v in allowed.values()):
            raise ProviderConfigError("allowed_organisations: each claim value maps to an organisation code")
    else:
        allowed = {code: code for code in _string_list(raw, "allowed_organisations")}
    if bool(organisation) == bool(organisation_claim):
        raise ProviderConfigError("give exactly one of organisation and organisation_claim")
    if organisation_claim and not allowed:
        raise ProviderConfigError("organisation_claim needs allowed_organisations: the codes this provider may assert")
    if organisation and allowed:
        raise ProviderConfigError("allowed_organisations only applies with organisation_claim")

    role_claim = _string(raw, "role_claim")
    raw_roles = raw.get("roles", {})
    if not isinstance(raw_roles, Mapping):
        raise ProviderConfigError("roles must be a table of claim value = portal role")
    roles: dict[str, Role] = {}
    for claim_value, role_name in raw_roles.items():
        try:
            role = Role(role_name)
        except ValueError as exc:
            raise ProviderConfigError(f"roles.{claim_value}: {role_name!r} is not a portal role") from exc
        if role in ADMINISTRATIVE_ROLES:
            raise ProviderConfigError(f"roles.{claim_value}: {role_name} is only held through a break-glass account")
        roles[str(claim_value)] = role
    if roles and not role_claim:
        raise ProviderConfigError("roles needs role_claim: the claim that carries them")

    auto_approve = raw.get("auto_approve", False)
    if not isinstance(auto_approve, bool):
        raise ProviderConfigError("auto_approve must be true or false")

    algs = _string_list(raw, "signing_algs") if "signing_algs" in raw else DEFAULT_SIGNING_ALGS
    bad = [a for a in algs if a not in ASYMMETRIC_ALGS]
    if bad or not algs:
        raise ProviderConfigError(f"signing_algs must be chosen from {', '.join(ASYMMETRIC_ALGS)}")

    leeway = raw.get("leeway", DEFAULT_LEEWAY)
    if not isinstance(leeway, int) or isinstance(leeway, bool) or not 0 <= leeway <= MAX_LEEWAY:
        raise ProviderConfigError(f"leeway must be a whole number of seconds from 0 to {MAX_LEEWAY}")

    refetch = raw.get("jwks_refetch_seconds", DEFAULT_JWKS_REFETCH_SECONDS)
    if not isinstance(refetch, int) or isinstance(refetch, bool) or refetch < 1:
        raise ProviderConfigError("jwks_refetch_seconds must be a positive whole number")

    auth_method = raw.get("token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in {"client_secret_basic", "client_secret_post"}:
        raise ProviderConfigError("token_endpoint_auth_method must be client_secret_basic or client_secret_post")

    raw_required = raw.get("required_claims", {})
    if not isinstance(raw_required, Mapping):
        raise ProviderConfigError("required_claims must be a table of claim = [accepted values]")
    required_claims = {str(name): _string_list(raw_required, name) for name in raw_required}
    if any(not values for values in required_claims.values()):
        raise ProviderConfigError("required_claims: list at least one accepted value per claim")

    display_name = _string(raw, "display_name", default=slug)
    approver = raw.get("approver", "")
    if not isinstance(approver, str):
        raise ProviderConfigError("approver must be a string")

    return ProviderConfig(
        slug=slug,
        display_name=display_name or slug,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        scopes=scopes,
        organisation=organisation,
        organisation_claim=organisation_claim,
        allowed_organisations=allowed,
        role_claim=role_claim,
        roles=roles,
        auto_approve=auto_approve,
        required_acr=_string_list(raw, "required_acr"),
        required_amr=_string_list(raw, "required_amr"),
        required_claims=required_claims,
        signing_algs=tuple(algs),
        leeway=leeway,
        trusted_audiences=_string_list(raw, "trusted_audiences"),
        approver=approver.strip(),
        token_endpoint_auth_method=auth_method,
        jwks_refetch_seconds=refetch,
    )
