"""A programmable OpenID provider for the attack tests: discovery, JWKS, a token endpoint and an end-session
endpoint on a loopback port, serving whatever (crafted) tokens the test hands it.

The browser never visits it in these tests: the test reads state and nonce from the authorization URL the portal
redirects to, tells the fake which ID token its token endpoint should return, and calls the portal's callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

CLIENT_ID = "portal"
CLIENT_SECRET = "fake-client-secret"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


_POOL: list[dict[str, Any]] = []
_draws = itertools.count()


def new_key(kid: str) -> RSAKey:
    """A fresh-looking RSA key with this ``kid``: drawn in turn from a small pool generated once per run (RSA key
    generation is slow); consecutive draws are always different keys."""
    if not _POOL:
        _POOL.extend(RSAKey.generate_key(2048).as_dict(private=True) for _ in range(8))
    material = {k: v for k, v in _POOL[next(_draws) % len(_POOL)].items() if k != "kid"}
    return RSAKey.import_key(material, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class FakeProvider:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.signing_key = new_key(f"{name}-k1")
        self.published: list[RSAKey] = [self.signing_key]
        self.metadata_overrides: dict[str, Any] = {}
        self.discovery_status = 200
        self.token_reply: dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]] | None = None
        self.token_requests: list[dict[str, str]] = []
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                return

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    with provider.lock:
                        provider.discovery_fetches += 1
                    if provider.discovery_status != 200:
                        self._send(provider.discovery_status, {"error": "down"})
                    else:
                        self._send(200, provider.metadata())
                elif path == "/jwks":
                    with provider.lock:
                        provider.jwks_fetches += 1
                    self._send(200, provider.jwks())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                form["_authorization"] = self.headers.get("Authorization", "")
                if urlsplit(self.path).path != "/token":
                    self._send(404, {"error": "not_found"})
                    return
                with provider.lock:
                    provider.token_requests.append(form)
                    reply = provider.token_reply
                if callable(reply):
                    reply = reply(form)
                if reply is None:
                    self._send(400, {"error": "invalid_grant"})
                else:
                    self._send(200, reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-idp-{name}", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- documents ---------------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/session/end",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
        document.update(self.metadata_overrides)
        return {k: v for k, v in document.items() if v is not None}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.published]}

    # --- tokens ------------------------------------------------------------------------------------------

    def claims(self, nonce: str | None, sub: str = "user-1", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Test Persoon",
            "email": f"{sub}@{self.name}.example",
            "sid": f"sid-{sub}",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: RSAKey | OctKey | None = None,
        alg: str = "RS256",
        header: dict[str, Any] | None = None,
    ) -> str:
        key = key or self.signing_key
        head = {"alg": alg}
        kid = key.kid if isinstance(key, RSAKey) else None
        if kid:
            head["kid"] = kid
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}
        return jwt.encode(head, claims, key, algorithms=[alg])

    def reply_with(self, id_token: str | None, **extra: Any) -> None:
        reply: dict[str, Any] = {"access_token": f"at-{uuid.uuid4().hex}", "token_type": "Bearer", "expires_in": 300}
        if id_token is not None:
            reply["id_token"] = id_token
        reply.update(extra)
        self.token_reply = reply

    def logout_claims(self, *, sub: str | None = "user-1", sid: str | None = None, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
            "events": {BACKCHANNEL_EVENT: {}},
            "sub": sub,
            "sid": sid,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}


def unsigned(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An ``alg: none`` JWT (joserfc refuses to make one, rightly)."""
    head = {"alg": "none", "typ": "JWT", **(header or {})}
    return f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}."


def hmac_with_public_key(provider: FakeProvider, claims: dict[str, Any]) -> str:
    """The classic key-confusion token: HS256 with the provider's *public* key (PEM) as the HMAC secret. Made by
    hand: joserfc refuses to use an asymmetric public key as an HMAC secret, as a verifier should."""
    pem = provider.signing_key.as_pem(private=False)
    head = {"alg": "HS256", "typ": "JWT", "kid": provider.signing_key.kid}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def provider_config(provider: FakeProvider, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "display_name": provider.name.capitalize(),
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "openid profile email",
        "organisation": f"{provider.name}-org",
        "role_claim": "roles",
        "roles": {"jeugdagent": "police_officer", "expert": "police_expert"},
        "auto_approve": True,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}
