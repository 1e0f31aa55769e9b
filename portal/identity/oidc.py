"""Single sign-on with OpenID Connect, one identity provider per covenant party (SECURITY.md A1).

This module is the protocol half and touches neither the request, the session nor the database:

- the provider registry, built from the ``[identity_providers.<slug>]`` tables of the configuration; a provider
  whose configuration is wrong is disabled on its own (fail closed) and the others keep working;
- discovery per provider, with time-outs and failure isolation: a broken discovery document marks that provider
  unavailable (retried after ``DISCOVERY_RETRY_SECONDS``) without affecting any other;
- the provider's JWKS, with at most one forced refetch on an unknown ``kid`` per provider per
  ``jwks_refetch_seconds`` (R-AUTH-6);
- explicit validation of ID tokens (R-AUTH-2/3) and back-channel logout tokens (R-AUTH-7).

Authlib's Flask client (``OAuth.register`` with ``server_metadata_url`` and ``code_challenge_method="S256"``)
builds the authorization URL (state, nonce, PKCE verifier) and performs the token request. We do not use its
``authorize_redirect``/``authorize_access_token`` pair: they keep the state in the cookie session (a replayed
cookie replays the state) and check the ID token with whatever algorithms the provider's metadata advertises and
an unlimited JWKS refetch. Instead the state lives server-side (``oidc_services``), and the ID token is verified
here with a pinned algorithm allowlist and explicit claim checks, then handed to Authlib's ``CodeIDToken`` with
explicit ``claims_options`` for ``iss`` and ``aud`` as a second, independent check (the Airflow PR 72645 pitfall).
"""

from __future__ import annotations

import copy
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.flask_client import OAuth
from authlib.oidc.core import CodeIDToken
from flask import Flask, current_app
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from portal.authz.permissions import Role
from portal.authz.policy import ADMINISTRATIVE_ROLES

log = logging.getLogger(__name__)

#: Asymmetric algorithms a provider may sign with. Never ``none``, never HMAC: a provider's tokens must be
#: verifiable with its public keys only (R-AUTH-2).
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
DEFAULT_SIGNING_ALGS = ("RS256", "PS256", "ES256")
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

MAX_LEEWAY = 120  # seconds of clock skew tolerated on exp/iat/nbf, at most (R-AUTH-2)
DEFAULT_LEEWAY = 60
ID_TOKEN_MAX_AGE = 600  # an ID token is issued at the token request: one older than this is stale
LOGOUT_TOKEN_MAX_AGE = 300  # the "iat window" of back-channel logout tokens
DISCOVERY_TTL = 3600  # refresh discovery and JWKS hourly
DISCOVERY_RETRY_SECONDS = 30  # a failed discovery is retried after this long (no slow login page meanwhile)
DEFAULT_JWKS_REFETCH_SECONDS = 60
HTTP_TIMEOUT = (3.05, 5)  # connect, read: a hanging provider cannot hang a worker
TOKEN_TIMEOUT = 10

AUTHLIB_METADATA_KEYS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint")
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
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


# --- validated tokens ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class LogoutClaims:
    jti: str
    sub: str | None
    sid: str | None
    expires_at: float


@dataclass(frozen=True)
class ProviderStatus:
    slug: str
    display_name: str
    issuer: str
    configured: bool
    available: bool
    error: str
    checked_at: float | None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _http_json(url: str) -> Any:
    response = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise OidcError("http_status", str(response.status_code))
    try:
        return response.json()
    except ValueError as exc:
        raise OidcError("not_json") from exc


# --- one provider at run time ----------------------------------------------------------------------------------


class Provider:
    """One configured identity provider: its configuration (or why it is disabled), its discovery document and
    keys, and its Authlib client. Shared by the threads of one process; every cache update holds ``_lock``."""

    def __init__(
        self,
        slug: str,
        *,
        config: ProviderConfig | None,
        config_error: str,
        display_name: str,
        base_url: str,
        oauth: OAuth,
        fetch_json: Callable[[str], Any],
        clock: Callable[[], float],
    ) -> None:
        self.slug = slug
        self.config = config
        self.config_error = config_error
        self.display_name = display_name
        self.redirect_uri = f"{base_url}/auth/oidc/{slug}/callback"
        self.post_logout_redirect_uri = f"{base_url}/auth/oidc/{slug}/logged-out"
        self.backchannel_logout_uri = f"{base_url}/auth/oidc/{slug}/backchannel-logout"
        self._fetch_json = fetch_json
        self._clock = clock
        self._lock = threading.RLock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._discovery_error = ""
        self._checked_at: float | None = None
        self._jwks: list[dict[str, Any]] | None = None
        self._jwks_at = 0.0
        self._last_forced_refetch: float | None = None
        self._client = None
        if config is not None:
            # Authlib's Flask client, registered the documented way. Discovery itself is ours (time-outs,
            # isolation, issuer check); the result is handed to the client so it never fetches on its own.
            self._client = oauth.register(
                name=slug,
                client_id=config.client_id,
                client_secret=config.client_secret,
                server_metadata_url=config.discovery_url,
                authorize_url=None,
                access_token_url=None,
                api_base_url=None,
                client_kwargs={
                    "scope": config.scopes,
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": config.token_endpoint_auth_method,
                    "default_timeout": TOKEN_TIMEOUT,
                },
            )

    # -- discovery ------------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.config is not None

    def _require_config(self) -> ProviderConfig:
        if self.config is None:
            raise OidcError("provider_misconfigured")
        return self.config

    def metadata(self) -> dict[str, Any]:
        """The validated discovery document; :class:`OidcError` ``provider_unavailable`` if there is none."""
        config = self._require_config()
        now = self._clock()
        with self._lock:
            if self._metadata is not None and now - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
            failed_recently = (
                bool(self._discovery_error)
                and self._checked_at is not None
                and now - self._checked_at < DISCOVERY_RETRY_SECONDS
            )
            if failed_recently:
                if self._metadata is None:
                    raise OidcError("provider_unavailable", self._discovery_error)
                return self._metadata  # a stale but once-valid document beats none while the provider hiccups
            self._checked_at = now
            try:
                metadata = self._validate_metadata(config, self._fetch_json(config.discovery_url))
            except Exception as exc:  # any failure of one provider stays with that provider
                reason = exc.reason if isinstance(exc, OidcError) else "discovery_failed"
                self._discovery_error = reason
                log.warning("OIDC discovery for %s failed: %s", self.slug, exc)
                if self._metadata is None:
                    raise OidcError("provider_unavailable", reason) from exc
                return self._metadata
            self._metadata = metadata
            self._metadata_at = now
            self._discovery_error = ""
            assert self._client is not None
            # Only the endpoints go to Authlib: it merges the document into the client's settings, and a
            # provider must not be able to switch off PKCE or change our client authentication that way.
            self._client.server_metadata.update({k: metadata[k] for k in AUTHLIB_METADATA_KEYS if k in metadata})
            self._client.server_metadata["_loaded_at"] = now
            return metadata

    @staticmethod
    def _validate_metadata(config: ProviderConfig, metadata: Any) -> dict[str, Any]:
        if not isinstance(metadata, dict):
            raise OidcError("discovery_not_an_object")
        # OpenID Connect Discovery 1.0, section 4.3: the issuer in the document is exactly the one configured.
        if metadata.get("issuer") != config.issuer:
            raise OidcError("discovery_issuer_mismatch")
        allow_http = config.issuer.startswith("http://")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
            value = metadata.get(key)
            if value is None and key == "end_session_endpoint":
                continue
            if not isinstance(value, str):
                raise OidcError("discovery_incomplete", key)
            scheme = urlsplit(value).scheme
            if scheme != "https" and not (allow_http and scheme == "http"):
                raise OidcError("discovery_insecure_endpoint", key)
        methods = metadata.get("code_challenge_methods_supported")
        if isinstance(methods, list) and methods and "S256" not in methods:
            raise OidcError("discovery_no_pkce_s256")
        return metadata

    def status(self, *, refresh: bool = False) -> ProviderStatus:
        available = False
        if self.config is not None and refresh:
            try:
                self.metadata()
                available = True
            except OidcError:
                available = False
        elif self.config is not None:
            available = self._metadata is not None
        return ProviderStatus(
            slug=self.slug,
            display_name=self.display_name,
            issuer=self.config.issuer if self.config else "",
            configured=self.config is not None,
            available=available,
            error=self.config_error if self.config is None else self._discovery_error,
            checked_at=self._checked_at,
        )

    # -- keys -----------------------------------------------------------------------------------------------

    def _load_jwks(self, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            document = self._fetch_json(metadata["jwks_uri"])
        except Exception as exc:
            raise OidcError("jwks_unavailable", getattr(exc, "reason", "")) from exc
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise OidcError("jwks_invalid")
        return [k for k in keys if isinstance(k, dict)]

    @staticmethod
    def _candidates(keys: list[dict[str, Any]], kid: str | None, alg: str) -> list[dict[str, Any]]:
        kty = "EC" if alg.startswith("ES") else "RSA"
        found = []
        for key in keys:
            if key.get("kty") != kty or key.get("use", "sig") != "sig":
                continue
            if key.get("alg") not in (None, alg):
                continue
            if kty == "EC" and key.get("crv") != _EC_CURVES[alg]:
                continue
            if kid is not None and key.get("kid") != kid:
                continue
            found.append(key)
        return found

    def signing_key(self, kid: str | None, alg: str):
        """The public key for ``kid``. An unknown ``kid`` triggers one forced JWKS refetch, at most once per
        ``jwks_refetch_seconds`` for this provider; then the sign-in fails closed (R-AUTH-6)."""
        config = self._require_config()
        metadata = self.metadata()
        now = self._clock()
        with self._lock:
            if self._jwks is None or now - self._jwks_at >= DISCOVERY_TTL:
                self._jwks = self._load_jwks(metadata)
                self._jwks_at = now
            found = self._candidates(self._jwks, kid, alg)
            if not found:
                may_refetch = (
                    self._last_forced_refetch is None or now - self._last_forced_refetch >= config.jwks_refetch_seconds
                )
                if not may_refetch:
                    raise OidcError("unknown_kid", "refetch rate-limited")
                self._last_forced_refetch = now
                self._jwks = self._load_jwks(metadata)
                self._jwks_at = now
                found = self._candidates(self._jwks, kid, alg)
            if not found:
                raise OidcError("unknown_kid")
            if len(found) > 1:
                raise OidcError("ambiguous_key")  # no kid and several keys, or a kid used twice
            try:
                key_cls = ECKey if alg.startswith("ES") else RSAKey
                public = {k: v for k, v in found[0].items() if k not in {"d", "p", "q", "dp", "dq", "qi", "oth"}}
                return key_cls.import_key(public)
            except (JoseError, ValueError, TypeError) as exc:
                raise OidcError("jwks_invalid_key") from exc

    def _verify_signature(self, raw: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the JWS with a pinned algorithm and the provider's key; return (header, claims)."""
        config = self._require_config()
        if not isinstance(raw, str) or raw.count(".") != 2 or len(raw) > 16_384:
            raise OidcError("token_malformed")
        try:
            header = jws.extract_compact(raw.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise OidcError("token_malformed") from exc
        alg = header.get("alg")
        if alg not in config.signing_algs:  # refuses none, HS256 (with the public key as secret), unknown algs
            raise OidcError("alg_not_allowed", short_code(alg))
        if "crit" in header or "jku" in header or "x5u" in header or "jwk" in header:
            raise OidcError("header_not_allowed")  # keys come from the provider's JWKS, never from the token
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcError("token_malformed")
        key = self.signing_key(kid, alg)
        try:
            token = jwt.decode(raw, key, algorithms=[alg])
        except BadSignatureError as exc:
            raise OidcError("bad_signature") from exc
        except JoseError as exc:
            raise OidcError("token_malformed") from exc
        return dict(token.header), dict(token.claims)

    def _check_audience(self, config: ProviderConfig, claims: dict[str, Any]) -> None:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) for a in audiences):
            raise OidcError("aud_missing")
        if config.client_id not in audiences:
            raise OidcError("aud_mismatch")
        if set(audiences) - {config.client_id} - set(config.trusted_audiences):
            raise OidcError("aud_untrusted")
        azp = claims.get("azp")
        if len(audiences) > 1 and azp is None:
            raise OidcError("azp_missing")
        if azp is not None and azp != config.client_id:
            raise OidcError("azp_mismatch")

    # -- ID tokens ------------------------------------------------------------------------------------------

    def validate_id_token(
        self, raw: Any, *, nonce: str, access_token: str | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """Every check of R-AUTH-2, explicitly, then Authlib's ``CodeIDToken`` with explicit ``claims_options``."""
        config = self._require_config()
        if not raw:
            raise OidcError("id_token_missing")
        header, claims = self._verify_signature(raw)
        now = self._clock() if now is None else now
        leeway = config.leeway

        if claims.get("iss") != config.issuer:  # exact string comparison, no normalisation
            raise OidcError("iss_mismatch")
        self._check_audience(config, claims)
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_number(exp):
            raise OidcError("exp_missing")
        if now >= exp + leeway:
            raise OidcError("expired")
        if not _is_number(iat):
            raise OidcError("iat_missing")
        if iat > now + leeway:
            raise OidcError("iat_in_future")
        if iat < now - ID_TOKEN_MAX_AGE - leeway:
            raise OidcError("iat_too_old")
        if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
            raise OidcError("not_yet_valid")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise OidcError("sub_missing")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not nonce or not hmac.compare_digest(token_nonce, nonce):
            raise OidcError("nonce_mismatch")
        if config.required_acr and claims.get("acr") not in config.required_acr:
            raise OidcError("acr_not_accepted")
        if config.required_amr:
            amr = claims.get("amr")
            if not isinstance(amr, list) or not set(config.required_amr) & {m for m in amr if isinstance(m, str)}:
                raise OidcError("amr_not_accepted")
        for name, accepted in config.required_claims.items():
            value = claims.get(name)
            values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            if not set(accepted) & {v for v in values if isinstance(v, str)}:
                raise OidcError("claim_not_accepted", name)

        # The second opinion: Authlib's OpenID Connect claims class with explicit options (R-AUTH-3); it also
        # checks at_hash against the access token and the types of auth_time and amr.
        claims_options = {
            "iss": {"essential": True, "value": config.issuer},
            "aud": {"essential": True, "value": config.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        params = {"nonce": nonce, "client_id": config.client_id}
        if access_token:
            params["access_token"] = access_token
        try:
            CodeIDToken(claims, header, claims_options, params).validate(now=int(now), leeway=leeway)
        except JoseError as exc:
            raise OidcError("id_token_invalid", short_code(getattr(exc, "error", ""))) from exc
        assert claims["iss"] == config.issuer
        assert config.client_id in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
        return claims

    # -- back-channel logout tokens --------------------------------------------------------------------------

    def validate_logout_token(self, raw: Any, *, now: float | None = None) -> LogoutClaims:
        """OpenID Connect Back-Channel Logout 1.0, section 2.6, with every check explicit (R-AUTH-7)."""
        config = self._require_config()
        if not raw:
            raise OidcError("logout_token_missing")
        header, claims = self._verify_signature(raw)
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in {"logout+jwt", "jwt"}:
            raise OidcError("typ_not_allowed")
        now = self._clock() if now is None else now
        leeway = config.leeway
        if claims.get("iss") != config.issuer:
            raise OidcError("iss_mismatch")
        self._check_audience(config, claims)
        iat = claims.get("iat")
        if not _is_number(iat):
            raise OidcError("iat_missing")
        if iat > now + leeway:
            raise OidcError("iat_in_future")
        if iat < now - LOGOUT_TOKEN_MAX_AGE - leeway:
            raise OidcError("iat_stale")
        exp = claims.get("exp")
        if exp is not None and (not _is_number(exp) or now >= exp + leeway):
            raise OidcError("expired")
        if "nonce" in claims:
            raise OidcError("nonce_present")  # an ID token is not a logout token
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise OidcError("events_missing")
        sub, sid = claims.get("sub"), claims.get("sid")
        if sub is not None and (not isinstance(sub, str) or not sub or len(sub) > 255):
            raise OidcError("sub_invalid")
        if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > 255):
            raise OidcError("sid_invalid")
        if sub is None and sid is None:
            raise OidcError("sub_and_sid_missing")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise OidcError("jti_missing")
        # Second opinion with joserfc's registry and explicit options.
        try:
            JWTClaimsRegistry(
                now=int(now),
                leeway=leeway,
                iss={"essential": True, "value": config.issuer},
                aud={"essential": True, "value": config.client_id},
                iat={"essential": True},
                jti={"essential": True},
            ).validate(claims)
        except JoseError as exc:
            raise OidcError("logout_token_invalid", short_code(getattr(exc, "error", ""))) from exc
        expires = max(float(exp) if _is_number(exp) else 0.0, float(iat) + LOGOUT_TOKEN_MAX_AGE) + leeway
        return LogoutClaims(jti=jti, sub=sub, sid=sid, expires_at=expires)

    # -- the flow through Authlib's client -------------------------------------------------------------------

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh authorization URL: response_type=code, state, nonce, PKCE S256 (R-AUTH-1)."""
        config = self._require_config()
        self.metadata()
        assert self._client is not None
        extra: dict[str, str] = {}
        if config.required_acr:
            extra["acr_values"] = " ".join(config.required_acr)
        try:
            rv = self._client.create_authorization_url(self.redirect_uri, **extra)
        except Exception as exc:
            raise OidcError("authorization_url_failed") from exc
        if not rv.get("code_verifier") or not rv.get("nonce") or not rv.get("state"):
            raise OidcError("authorization_url_failed", "pkce, nonce or state missing")
        return AuthorizationRequest(
            url=rv["url"], state=rv["state"], nonce=rv["nonce"], code_verifier=rv["code_verifier"]
        )

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token request (client authentication and PKCE verifier by Authlib)."""
        self._require_config()
        self.metadata()
        assert self._client is not None
        try:
            token = self._client.fetch_access_token(
                redirect_uri=redirect_uri,
                code=code,
                code_verifier=code_verifier,
                timeout=TOKEN_TIMEOUT,
                allow_redirects=False,
            )
        except Exception as exc:  # OAuthError from the provider, a time-out, a malformed answer: all the same
            raise OidcError("token_request_failed", short_code(getattr(exc, "error", type(exc).__name__))) from exc
        if not isinstance(token, Mapping):
            raise OidcError("token_request_failed", "not_an_object")
        return dict(token)

    def logout_url(self, *, id_token_hint: str | None, state: str) -> str | None:
        """RP-initiated logout at the provider, or None when it has no end_session_endpoint (R-AUTH-8)."""
        if self.config is None:
            return None
        try:
            metadata = self.metadata()
        except OidcError:
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        assert self._client is not None
        result = self._client.create_logout_url(
            post_logout_redirect_uri=self.post_logout_redirect_uri,
            id_token_hint=id_token_hint,
            state=state,
            client_id=self.config.client_id,
        )
        return result["url"]


# --- the registry ----------------------------------------------------------------------------------------------


class Registry:
    """Every configured provider, in configuration order. Rebuilt when ``IDENTITY_PROVIDERS`` changes."""

    def __init__(
        self,
        app: Flask,
        raw: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        fetch_json: Callable[[str], Any] = _http_json,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = copy.deepcopy(dict(raw))
        self.oauth = OAuth(app)
        base_url = app.config["BASE_URL"].rstrip("/")
        production = app.config.get("ENV") == "production"
        environ = os.environ if environ is None else environ
        self.providers: dict[str, Provider] = {}
        issuers: dict[str, str] = {}
        for slug, table in raw.items():
            config: ProviderConfig | None = None
            error = ""
            try:
                config = parse_provider(str(slug), table, environ=environ, production=production)
                if config.issuer in issuers:
                    raise ProviderConfigError(f"issuer is also configured for {issuers[config.issuer]}")
                issuers[config.issuer] = config.slug
            except ProviderConfigError as exc:
                error = f"configuration: {exc}"
                config = None
                log.error("identity provider %s is disabled: %s", slug, exc)
            name = table.get("display_name") if isinstance(table, Mapping) else None
            self.providers[str(slug)] = Provider(
                str(slug),
                config=config,
                config_error=error,
                display_name=name if isinstance(name, str) and name.strip() else str(slug),
                base_url=base_url,
                oauth=self.oauth,
                fetch_json=fetch_json,
                clock=clock,
            )

    def get(self, slug: str) -> Provider | None:
        return self.providers.get(slug)

    def by_issuer(self, issuer: str) -> Provider | None:
        for provider in self.providers.values():
            if provider.config is not None and provider.config.issuer == issuer:
                return provider
        return None

    def __iter__(self) -> Iterator[Provider]:
        return iter(self.providers.values())

    def __len__(self) -> int:
        return len(self.providers)


_EXTENSION_KEY = "portal_oidc"


def init_app(app: Flask) -> None:
    """Build the registry once at start-up, so configuration errors show in the log straight away."""
    app.extensions[_EXTENSION_KEY] = Registry(app, app.config.get("IDENTITY_PROVIDERS") or {})


def registry(app: Flask | None = None) -> Registry:
    """The app's registry; rebuilt if ``IDENTITY_PROVIDERS`` was changed after start-up (tests, reloads)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    raw = app.config.get("IDENTITY_PROVIDERS") or {}
    current = app.extensions.get(_EXTENSION_KEY)
    if current is None or current.source != raw:
        current = Registry(app, raw)
        app.extensions[_EXTENSION_KEY] = current
    return current
