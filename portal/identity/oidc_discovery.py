"""Discovery and signing keys of one OpenID Connect provider (docs/security.md A1), the lower layer of
``oidc.Provider``:

- discovery per provider, with time-outs and failure isolation: a broken discovery document marks that provider
  unavailable (retried after ``DISCOVERY_RETRY_SECONDS``) without affecting any other;
- the provider's JWKS, with at most one forced refetch on an unknown ``kid`` per provider per
  ``jwks_refetch_seconds`` (R-AUTH-6).

:class:`ProviderDiscovery` holds these methods; the state they cache (declared on the class) is set up by
``oidc.Provider.__init__``, so one provider object carries its configuration, caches, keys and Authlib client.
It touches neither the request, the session nor the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from portal.identity.oidc_config import OidcError, ProviderConfig

log = logging.getLogger(__name__)

_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
DISCOVERY_TTL = 3600  # refresh discovery and JWKS hourly
DISCOVERY_RETRY_SECONDS = 30  # a failed discovery is retried after this long (no slow login page meanwhile)
HTTP_TIMEOUT = (3.05, 5)  # connect, read: a hanging provider cannot hang a worker

AUTHLIB_METADATA_KEYS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint")


@dataclass(frozen=True)
class ProviderStatus:
    slug: str
    display_name: str
    issuer: str
    configured: bool
    available: bool
    error: str
    checked_at: float | None


def http_json(url: str) -> Any:
    response = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise OidcError("http_status", str(response.status_code))
    try:
        return response.json()
    except ValueError as exc:
        raise OidcError("not_json") from exc


class ProviderDiscovery:
    """The discovery document and JWKS of one provider, fetched and cached; a base of ``oidc.Provider``, whose
    ``__init__`` sets the attributes below."""

    slug: str
    display_name: str
    config: ProviderConfig | None
    config_error: str
    _fetch_json: Callable[[str], Any]
    _clock: Callable[[], float]
    _lock: threading.RLock
    _metadata: dict[str, Any] | None
    _metadata_at: float
    _discovery_error: str
    _checked_at: float | None
    _jwks: list[dict[str, Any]] | None
    _jwks_at: float
    _last_forced_refetch: float | None
    _client: Any

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

    def offered_for_sign_in(self) -> bool:
        """Whether the login page offers this provider, judged from what is cached: no network while a page renders
        (discovery of a broken provider could take seconds). A provider not checked yet is offered, and so is one
        whose failed check is older than the retry delay (starting a sign-in checks again, and answers 503 if
        discovery still fails); only a misconfigured provider or one that failed just now, with no earlier
        document to fall back on, is marked unavailable."""
        # No lock: ``metadata()`` holds it while it fetches, and the page must not wait for that. Each attribute
        # read is atomic; a check finishing meanwhile at worst shows the state of a moment ago.
        if self.config is None:
            return False
        checked_at = self._checked_at
        if self._metadata is not None or checked_at is None or not self._discovery_error:
            return True
        return self._clock() - checked_at >= DISCOVERY_RETRY_SECONDS

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
