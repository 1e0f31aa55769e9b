"""Health of the parts the portal depends on. Redis is optional: without it live updates degrade to catch-up
on reconnect and pages say so (R-REL-4); the answer is cached briefly so pages do not ping on every request."""

from __future__ import annotations

import time

from flask import Flask, current_app

_CACHE_SECONDS = 5.0


def redis_ok(app: Flask | None = None) -> bool | None:
    """True/False when Redis is configured, None when it is not."""
    app = app or current_app._get_current_object()
    client = app.extensions.get("portal_redis")
    if client is None:
        return None
    cached = app.extensions.get("portal_redis_health")
    now = time.monotonic()
    if cached is not None and now - cached[1] < _CACHE_SECONDS:
        return cached[0]
    try:
        healthy = bool(client.ping())
    except Exception:  # any connection problem: degraded, never a 500
        healthy = False
    app.extensions["portal_redis_health"] = (healthy, now)
    return healthy


def live_degraded() -> bool:
    return redis_ok() is False
