"""Single sign-on with OpenID Connect, one identity provider per covenant party (docs/security.md A1).

This module, ``oidc_config``, ``oidc_discovery`` and ``oidc_tokens`` are the protocol half and touch neither the
request, the session nor the database:

- ``oidc_config``: the provider configuration, from the ``[identity_providers.<slug>]`` tables of the
  configuration, and the errors; a provider whose configuration is wrong is disabled on its own by the registry
  here (fail closed) and the others keep working;
- ``oidc_discovery``: discovery per provider, with time-outs and failure isolation: a broken discovery document
  marks that provider unavailable (retried after ``DISCOVERY_RETRY_SECONDS``) without affecting any other; and the
  provider's JWKS, with at most one forced refetch on an unknown ``kid`` per provider per ``jwks_refetch_seconds``
  (R-AUTH-6);
- ``oidc_tokens``: explicit validation of ID tokens (R-AUTH-2/3) and back-channel logout tokens (R-AUTH-7);
- here: the provider registry, and each :class:`Provider` (built on ``ProviderDiscovery`` and ``ProviderTokens``)
  with its Authlib client and the steps of the flow.

Authlib's Flask client (``OAuth.register`` with ``server_metadata_url`` and ``code_challenge_method="S256"``)
builds the authorization URL (state, nonce, PKCE verifier) and performs the token request. We do not use its
``authorize_redirect``/``authorize_access_token`` pair: they keep the state in the cookie session (a replayed
cookie replays the state) and check the ID token with whatever algorithms the provider's metadata advertises and
an unlimited JWKS refetch. Instead the state lives server-side (``oidc_services``), and the ID token is verified
in ``oidc_tokens`` with a pinned algorithm allowlist and explicit claim checks, then handed to Authlib's
``CodeIDToken`` with explicit ``claims_options`` for ``iss`` and ``aud`` as a second, independent check (the
Airflow PR 72645 pitfall).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from portal.identity.oidc_config import OidcError, ProviderConfig, ProviderConfigError, parse_provider, short_code
from portal.identity.oidc_discovery import http_json
from portal.identity.oidc_tokens import ProviderTokens

log = logging.getLogger(__name__)

TOKEN_TIMEOUT = 10


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


# --- one provider at run time ----------------------------------------------------------------------------------


class Provider(ProviderTokens):
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
        fetch_json: Callable[[str], Any] = http_json,
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
