"""Fixtures for the real-time tests against real server processes (``tests/servers.py``).

The servers run once per module, not per database backend: they own a scratch SQLite file, not the ``app`` and
``dbs`` fixtures. Each test signs in its own account, so tests do not depend on each other's sessions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
import redis
import requests
import socketio
import websocket

from tests.conftest import missing_service
from tests.servers import HttpUser, PortalServer, prepare_database, start_servers

NAMESPACE = "/live"
DISCONNECT_WITHIN = 5.0  # seconds: R-WS-4 and R-AZ-4 ask for "within a few seconds" on every worker

# One account per scenario: a test that signs out, ends or blocks an account never disturbs another test.
ACCOUNTS = {
    "connect": "anna.connect@test.example",
    "logout": "bram.logout@test.example",
    "sessions": "chantal.sessions@test.example",
    "workers": "daan.workers@test.example",
    "block": "eva.block@test.example",
}


def pytest_configure(config):
    # Registered by pytest-xdist; registered here too so `-p no:xdist` works with --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (--dist loadgroup)")


class QuickCloseWebSocket(websocket.WebSocket):
    """websocket-client waits up to 3 s for the server's close frame, which python-engineio's read loop has usually
    consumed already: every client-side close would cost 3 s. The tests do not need the courtesy."""

    def close(self, status=websocket.STATUS_NORMAL, reason=b"", timeout=0.2):
        super().close(status, reason, timeout)


class LiveSocket:
    """A python-socketio client on ``/live`` that records how the server treated it."""

    def __init__(self, server: PortalServer, *, origin: str | None = None):
        self.server = server
        self.origin = origin or server.base_url
        self.client = socketio.Client(
            reconnection=False, websocket_extra_options={"origin": self.origin, "class_": QuickCloseWebSocket}
        )
        self.disconnected = threading.Event()
        self.connect_errors: list[object] = []
        self.client.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.client.on("connect_error", self._on_connect_error, namespace=NAMESPACE)

    def _on_disconnect(self, *reason) -> None:
        self.disconnected.set()

    def _on_connect_error(self, data) -> None:
        self.connect_errors.append(data)

    def connect(self, cookie: str | None = None, *, transport: str = "websocket") -> LiveSocket:
        headers = {"Cookie": cookie} if cookie else {}
        if transport == "polling":  # websocket-client sets Origin itself (above); requests needs the header
            headers["Origin"] = self.origin
        self.client.connect(
            self.server.base_url, headers=headers, namespaces=[NAMESPACE], transports=[transport], wait_timeout=5
        )
        return self

    @property
    def connected(self) -> bool:
        return self.client.connected and NAMESPACE in self.client.namespaces

    def wait_disconnected(self, timeout: float = DISCONNECT_WITHIN) -> bool:
        return self.disconnected.wait(timeout)

    def close(self) -> None:
        engine = self.client.eio
        if engine.state == "connected" and engine.current_transport == "polling" and engine.sid:
            # python-engineio's client can stop its polling write loop between the namespace DISCONNECT and the
            # Engine.IO CLOSE (it re-checks its state after each POST); the server then holds the pending GET until
            # its next ping, 25 s later. Sending CLOSE ourselves ends the poll at once.
            reader = engine.read_loop_task
            requests.post(self.server.url(f"/socket.io/?EIO=4&transport=polling&sid={engine.sid}"), data="1", timeout=5)
            if reader is not None:
                reader.join(timeout=5)
        self.client.disconnect()


@pytest.fixture
def live_socket() -> Iterator:
    """``live_socket(server, origin=None)`` → an unconnected LiveSocket; all are closed after the test."""
    sockets: list[LiveSocket] = []

    def _make(server: PortalServer, *, origin: str | None = None) -> LiveSocket:
        socket = LiveSocket(server, origin=origin)
        sockets.append(socket)
        return socket

    yield _make
    for socket in sockets:
        socket.close()


@pytest.fixture
def http_user() -> Iterator:
    """``http_user(server)`` → an HttpUser (a requests session); all are closed after the test."""
    users: list[HttpUser] = []

    def _make(server: PortalServer) -> HttpUser:
        user = HttpUser(server)
        users.append(user)
        return user

    yield _make
    for user in users:
        user.close()


@pytest.fixture(scope="module")
def realtime_database(tmp_path_factory) -> str:
    return prepare_database(tmp_path_factory.mktemp("realtime") / "portal.sqlite3", users=ACCOUNTS.values())


@pytest.fixture(scope="module")
def server(realtime_database, tmp_path_factory) -> Iterator[PortalServer]:
    """One portal process without a message queue (the LocalManager)."""
    with PortalServer(realtime_database, log_dir=tmp_path_factory.mktemp("logs"), name="single") as portal:
        yield portal


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "")
    if not url:
        missing_service("Redis (PORTAL_TEST_REDIS_URL)")
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        missing_service(f"Redis at {url}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="module")
def workers(realtime_database, redis_url, tmp_path_factory) -> Iterator[tuple[PortalServer, PortalServer]]:
    """Two portal processes (A, B) on one database and one Redis message queue, as in production.

    The queue's pub/sub channel is named after the Redis database index in the URL (see
    ``portal.realtime.manager.channel_for``), so runs that use different indexes never hear each other.
    """
    log_dir = tmp_path_factory.mktemp("worker-logs")
    pair = start_servers(
        [
            PortalServer(realtime_database, redis_url=redis_url, log_dir=log_dir, name="worker-a"),
            PortalServer(realtime_database, redis_url=redis_url, log_dir=log_dir, name="worker-b"),
        ]
    )
    try:
        yield pair[0], pair[1]
    finally:
        for worker in pair:
            worker.stop()
