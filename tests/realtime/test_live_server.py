"""``/live`` against real servers: who may connect (R-WS-1, R-WS-2) and who is thrown out (R-WS-4, R-SES-1).

Flask-SocketIO's test client skips the HTTP handshake, the Origin check and the cookie; these tests use
python-socketio's real client over websocket (and long-polling where the transport matters) against
``flask portal serve`` processes. The Redis tests run two such processes on one message queue.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
import socketio
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from tests.realtime.conftest import ACCOUNTS, DISCONNECT_WITHIN
from tests.servers import SECRET_KEY, SESSION_COOKIE, block_user

pytestmark = pytest.mark.xdist_group("servers")

REFUSED = "One or more namespaces failed to connect"


def _serializer(secret: str):
    forger = Flask("forger")
    forger.secret_key = secret
    return SecureCookieSessionInterface().get_signing_serializer(forger)


def test_connect_without_session_cookie_is_refused(server, live_socket):
    socket = live_socket(server)
    with pytest.raises(socketio.exceptions.ConnectionError, match=REFUSED):
        socket.connect()
    assert socket.connect_errors == [{"message": "unauthorized"}]


@pytest.mark.parametrize("forgery", ["garbage", "wrong-key", "unknown-session"])
def test_connect_with_garbage_or_forged_cookie_is_refused(server, live_socket, http_user, forgery):
    real = http_user(server).sign_in(ACCOUNTS["connect"])
    payload = _serializer(SECRET_KEY).loads(real.session_cookie)
    assert payload["sid"]
    assert payload["_user_id"]
    if forgery == "garbage":
        cookie = "not-a-signed-session." + secrets.token_urlsafe(24)
    elif forgery == "wrong-key":  # the real session's content, signed by someone without our key
        cookie = _serializer("attacker-" + "x" * 40).dumps(payload)
    else:  # signed with our key (a leaked key), but no server-side session record exists for this token
        cookie = _serializer(SECRET_KEY).dumps({**payload, "sid": secrets.token_urlsafe(32)})
    socket = live_socket(server)
    with pytest.raises(socketio.exceptions.ConnectionError, match=REFUSED):
        socket.connect(f"{SESSION_COOKIE}={cookie}")
    assert socket.connect_errors == [{"message": "unauthorized"}]
    # The control: the genuine cookie of the same session is accepted.
    assert live_socket(server).connect(real.cookie_header).connected


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_signed_in_user_connects_with_session_cookie(server, live_socket, http_user, transport):
    user = http_user(server).sign_in(ACCOUNTS["connect"])
    socket = live_socket(server).connect(user.cookie_header, transport=transport)
    assert socket.connected
    assert socket.connect_errors == []


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_foreign_origin_is_refused(server, live_socket, http_user, transport):
    """R-WS-1: a page on another site cannot open a socket with the user's cookie (cross-site WebSocket hijacking)."""
    user = http_user(server).sign_in(ACCOUNTS["connect"])
    for origin in ("http://evil.example", f"http://localhost:{server.port}", "null"):
        socket = live_socket(server, origin=origin)
        with pytest.raises(socketio.exceptions.ConnectionError):
            socket.connect(user.cookie_header, transport=transport)
        assert not socket.connected
    # The Engine.IO handshake itself answers 400 to a foreign Origin, before any session is created.
    handshake = requests.get(
        server.url("/socket.io/?EIO=4&transport=polling"),
        headers={"Origin": "http://evil.example", "Cookie": user.cookie_header},
        timeout=5,
    )
    assert handshake.status_code == 400
    # The same cookie from the portal's own origin is fine, so it was the Origin that was refused.
    assert live_socket(server).connect(user.cookie_header, transport=transport).connected


def test_sign_out_disconnects_socket_and_old_cookie_is_dead(server, live_socket, http_user):
    user = http_user(server).sign_in(ACCOUNTS["logout"])
    cookie = user.cookie_header
    socket = live_socket(server).connect(cookie)
    assert socket.connected

    response = user.sign_out()
    assert response.status_code == 302

    assert socket.wait_disconnected(), f"socket still connected {DISCONNECT_WITHIN} s after sign-out"
    # The cookie captured before sign-out opens nothing any more: not a socket, not a page (R-SES-1).
    replay = live_socket(server)
    with pytest.raises(socketio.exceptions.ConnectionError, match=REFUSED):
        replay.connect(cookie)
    page = requests.get(server.url("/"), headers={"Cookie": cookie}, allow_redirects=False, timeout=5)
    assert page.status_code == 302
    assert "/auth/login" in page.headers["Location"]


def test_ending_a_session_from_another_browser_disconnects_only_that_session(server, live_socket, http_user):
    laptop = http_user(server).sign_in(ACCOUNTS["sessions"])
    phone = http_user(server).sign_in(ACCOUNTS["sessions"])
    laptop_socket = live_socket(server).connect(laptop.cookie_header)
    phone_socket = live_socket(server).connect(phone.cookie_header)

    # On the phone, "My sessions" lists the laptop's session with an "End session" button.
    page = phone.get("/account/sessions").text
    end_paths = [path for path in _form_actions(page) if path.endswith("/end")]
    assert len(end_paths) == 1, end_paths  # only the other browser; this one is marked "This browser"
    response = phone.post_form(end_paths[0], {}, token_from="/account/sessions")
    assert response.status_code == 302

    assert laptop_socket.wait_disconnected(), "the ended session's socket stayed connected"
    assert not laptop.is_signed_in()
    # The phone's own session and socket are untouched.
    assert phone.is_signed_in()
    assert not phone_socket.wait_disconnected(timeout=1.0)
    assert phone_socket.connected


def _form_actions(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


@pytest.mark.redis
def test_sign_out_on_worker_a_disconnects_socket_on_worker_b(workers, live_socket, http_user):
    worker_a, worker_b = workers
    user = http_user(worker_a).sign_in(ACCOUNTS["workers"])
    socket = live_socket(worker_b).connect(user.cookie_header)
    assert socket.connected

    assert user.sign_out().status_code == 302  # handled by worker A, which holds no socket of this user

    assert socket.wait_disconnected(), f"worker B kept the socket {DISCONNECT_WITHIN} s after sign-out on A"


@pytest.mark.redis
def test_blocking_an_account_disconnects_its_sockets_on_every_worker(
    workers, realtime_database, redis_url, live_socket, http_user
):
    worker_a, worker_b = workers
    email = ACCOUNTS["block"]
    user = http_user(worker_a).sign_in(email)
    sockets = [live_socket(worker).connect(user.cookie_header) for worker in (worker_a, worker_b)]
    assert all(socket.connected for socket in sockets)

    # An administrator blocks the account from a third process (identity.services.set_status, then commit).
    block_user(realtime_database, email, redis_url=redis_url)

    for socket, worker in zip(sockets, workers, strict=True):
        assert socket.wait_disconnected(), f"{worker.base_url} kept the blocked user's socket"
    assert not user.is_signed_in()
    again = http_user(worker_b)
    with pytest.raises(AssertionError, match=r"sign-in of .* failed: 401"):
        again.sign_in(email)
