"""Everything services send to sockets goes through here, and only after the transaction commits."""

from __future__ import annotations

import logging

from portal.core.db import on_commit
from portal.extensions import socketio
from portal.realtime.manager import KICK_PREFIX

NAMESPACE = "/live"
log = logging.getLogger(__name__)


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_public_id) -> str:
    return f"session:{session_public_id}"


def _kick(room: str) -> None:
    server = getattr(socketio, "server", None)
    if server is None:  # the CLI or a test without sockets
        return
    try:
        server.close_room(KICK_PREFIX + room, namespace=NAMESPACE)
    except Exception:  # the queue is down: sockets re-check their session on every event and at reconnect
        log.exception("could not disconnect sockets in %s", room)


def disconnect_user(user_id: int) -> None:
    """After commit: every socket of this user, on every worker, is disconnected."""
    on_commit(lambda: _kick(user_room(user_id)))


def disconnect_user_session(user_id: int, session_public_id) -> None:
    """After commit: the sockets opened from one browser session are disconnected."""
    on_commit(lambda: _kick(session_room(session_public_id)))
