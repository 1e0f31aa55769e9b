"""Explicit validation of OpenID Connect ID tokens (R-AUTH-2/3) and back-channel logout tokens (R-AUTH-7).

The signature is checked with a pinned algorithm allowlist and the provider's own keys (``oidc_discovery``), every
claim explicitly; then the ID token is handed to Authlib's ``CodeIDToken`` with explicit ``claims_options`` for
``iss`` and ``aud`` as a second, independent check (the Airflow PR 72645 pitfall), and the logout token to
joserfc's ``JWTClaimsRegistry``. :class:`ProviderTokens` holds these methods as the upper layer of ``oidc.Provider``.
It touches neither the request, the session nor the database.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from portal.identity.oidc_config import OidcError, ProviderConfig, short_code
from portal.identity.oidc_discovery import ProviderDiscovery

ID_TOKEN_MAX_AGE = 600  # an ID token is issued at the token request: one older than this is stale
LOGOUT_TOKEN_MAX_AGE = 300  # the "iat window" of back-channel logout tokens
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class LogoutClaims:
    jti: str
    sub: str | None
    sid: str | None
    expires_at: float


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ProviderTokens(ProviderDiscovery):
    """The token checks of one provider, against its configuration and its keys; a base of ``oidc.Provider``."""

    # -- signature and audience -----------------------------------------------------------------------------

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
