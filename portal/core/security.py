"""HTTP hardening shared by every response: security headers, safe redirects, the client's address."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(base_url: str) -> str:
    parts = urlsplit(base_url)
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {socket_scheme}://{parts.netloc}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def install_security_headers(app: Flask) -> None:
    csp = content_security_policy(app.config["BASE_URL"])
    https = app.config["BASE_URL"].startswith("https://")

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = csp
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if https:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if response.mimetype and response.mimetype.startswith("text/") and "charset" not in response.content_type:
            response.content_type = f"{response.mimetype}; charset=utf-8"
        if request.endpoint != "static":
            # Pages with signal data must not linger in shared caches or the back-button cache.
            headers.setdefault("Cache-Control", "no-store")
        return response


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")


def safe_next(target: str | None, app: Flask, default: str = "/") -> str:
    """Return ``target`` only if it is a relative path to one of our own GET routes (R-IO-4); else ``default``.

    Refuses ``//host``, ``/\\host``, backslashes, schemes, control characters and their percent-encoded forms.
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return default
    decoded = target
    for _ in range(3):  # double and triple encoding
        decoded = unquote(decoded)
    for candidate in (target, decoded):
        if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
            return default
        if _SCHEME.match(candidate) or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(parts.path, method="GET")
    except RequestRedirect:
        return default
    except HTTPException:
        return default
    return target


def client_ip() -> str:
    """The caller's address. ProxyFix (configured with the number of trusted hops) has already applied
    X-Forwarded-For; headers from untrusted hops are ignored."""
    return request.remote_addr or ""


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
