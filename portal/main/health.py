"""Health of the parts the portal depends on. Redis is optional: without it live updates degrade to catch-up
on reconnect and pages say so (R-REL-4).

Live delivery is healthy when Redis answers a ping *and* this worker's pub/sub listener is subscribed and receiving
(``portal.realtime.manager.ListenerState``): after an outage Redis answers again seconds before the listener has
subscribed again, and until then what other workers publish never reaches this worker's sockets. The ping is
cached for a second so that pages and the status watch do not ping on every call; the listener's state is read
from memory.
"""

from __future__ import annotations

import time

from flask import Flask, current_app

_CACHE_SECONDS = 1.0


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()


def redis_ok(app: Flask | None = None) -> bool | None:
    """True/False when Redis is configured, None when it is not."""
    app = _app(app)
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


def listener_status(app: Flask | None = None) -> dict | None:
    """This worker's message-queue listener (``state``, ``healthy``: True/False, or None when no socket has
    connected to this worker yet and the listener has not started), or None without a message queue."""
    server = _app(app).extensions.get("portal_socketio_server")
    status = getattr(getattr(server, "manager", None), "listener_status", None)
    return status() if callable(status) else None


def live_health(app: Flask | None = None) -> dict[str, str]:
    """The live-delivery parts and their state: ``{"redis": "ok"|"unavailable", "listener": <state>}``; empty
    when Redis is not configured. ``degraded_parts`` says which of them are not ok."""
    app = _app(app)
    redis_state = redis_ok(app)
    if redis_state is None:
        return {}
    parts = {"redis": "ok" if redis_state else "unavailable"}
    listener = listener_status(app)
    if listener is not None:
        parts["listener"] = "ok" if listener["healthy"] is not False else listener["state"]
    return parts


def degraded_parts(parts: dict[str, str]) -> list[str]:
    return [name for name, state in parts.items() if state != "ok"]


def live_degraded(app: Flask | None = None) -> bool:
    """The banner's answer, the same as ``/healthz``'s: Redis down or this worker's listener not receiving."""
    return bool(degraded_parts(live_health(app)))
