"""WebSocket frames are refused by their declared length (issue 10, item 1; portal/realtime/frames.py).

Against the production worker class: gunicorn with ``gunicorn.conf.py`` and one
``portal.realtime.worker.PortalWebSocketWorker`` (tests/gunicorn_server.py) over a scratch SQLite database, no
message queue. A legitimate client is python-socketio's real client with a personal access token; the attacker and
the frame-level checks use a raw socket that writes the HTTP upgrade and hand-made frames, so a header can declare
more than is ever sent.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from geventwebsocket.websocket import Header

from portal.realtime.frames import UNAUTHENTICATED_MESSAGE_BYTES, unmask
from tests.gunicorn_server import GunicornServer
from tests.realtime.test_signal_fanout import TokenSocket, _build_world, post_signal
from tests.servers import HOST, sqlite_url

pytestmark = [pytest.mark.xdist_group("servers")]

MESSAGE_LIMIT = 64 * 1024  # the portal's max_http_buffer_size (portal/__init__.py)
ATTACK_BYTES = 8 * 1024 * 1024
DELIVERY_BUDGET = 0.5  # seconds; with gevent-websocket's own frame reading this was ~4 s
CLOSE_TOO_BIG = 1009
OP_CONTINUATION, OP_TEXT, OP_CLOSE, OP_PING = 0x0, 0x1, 0x8, 0x9


# --- a WebSocket client that writes its own frames ---------------------------------------------------------------


class ClosedByServer(Exception):
    def __init__(self, code: int | None):
        super().__init__(f"closed by the server ({code})")
        self.code = code


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, declared: int | None = None, mask: bytes | None = None
) -> bytes:
    """A masked client frame; ``declared`` puts another length in the header than the payload has."""
    length = len(payload) if declared is None else declared
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    mask = os.urandom(4) if mask is None else mask
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSocket:
    def __init__(self, server: GunicornServer, query: str = "EIO=4&transport=websocket"):
        self.server = server
        self.sock = socket.create_connection((HOST, server.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /socket.io/?{query} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {server.base_url}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ClosedByServer(None)
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def recv_frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
        return first & 0x0F, self._take(length)

    def recv_text(self, prefix: str = "") -> str:
        """The next text frame starting with ``prefix`` (Engine.IO pings are answered, others skipped)."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == OP_CLOSE:
                raise ClosedByServer(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
            text = payload.decode()
            if text == "2":
                self.send_text("3")
            elif text.startswith(prefix):
                return text

    def close_code(self, timeout: float = 5.0) -> int | None:
        """Waits for the server's close: its close code, None for a TCP close without one; fails on silence."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self.recv_text("\0never")
        except ClosedByServer as closed:
            return closed.code
        except ConnectionResetError:
            return None

    def send_text(self, text: str, **options) -> None:
        self.sock.sendall(client_frame(OP_TEXT, text.encode(), **options))

    def handshake(self) -> RawSocket:
        """Engine.IO's OPEN packet and nothing else: no Socket.IO CONNECT, so the socket is not signed in."""
        assert json.loads(self.recv_text("0")[1:])["sid"]
        return self

    def authenticate(self, token: str) -> RawSocket:
        self.send_text("40/live," + json.dumps({"token": token}))
        assert json.loads(self.recv_text("40/live,")[len("40/live,") :])["sid"]
        return self

    def call(self, ack: int, text: str, **options) -> str:
        self.send_text(f"42/live,{ack}{text}", **options)
        return self.recv_text(f"43/live,{ack}")

    def close(self) -> None:
        self.sock.close()


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames_database(tmp_path_factory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("frames") / "portal.sqlite3")


@pytest.fixture(scope="module")
def world(frames_database) -> dict:
    return _build_world(frames_database)


@pytest.fixture(scope="module")
def gunicorn(frames_database, world, tmp_path_factory) -> Iterator[GunicornServer]:
    log_dir = tmp_path_factory.mktemp("frames-logs")
    with GunicornServer(frames_database, log_dir=log_dir, name="gunicorn") as server:
        yield server


@pytest.fixture
def raw(gunicorn) -> Iterator:
    sockets: list[RawSocket] = []

    def _make(**options) -> RawSocket:
        sockets.append(RawSocket(gunicorn, **options))
        return sockets[-1]

    yield _make
    for sock in sockets:
        sock.close()


@pytest.fixture
def legit(gunicorn, world) -> Iterator[TokenSocket]:
    client = TokenSocket(gunicorn, world["tokens"]["police"]).connect()
    yield client
    client.close()


def _summary(label: str) -> str:
    return f"Frames {label} {uuid.uuid4().hex[:8]}"


def _timed_delivery(server: GunicornServer, world: dict, client: TokenSocket) -> float:
    summary = _summary("timed")
    started = time.monotonic()
    post_signal(server, world["tokens"]["author"], summary)
    client.next_event(summary=summary, timeout=30)
    return time.monotonic() - started


# --- the attack --------------------------------------------------------------------------------------------------


def test_an_oversized_frame_from_an_unauthenticated_socket_with_another_clients_delivery_timed(
    gunicorn, world, legit, raw
):
    quiet = _timed_delivery(gunicorn, world, legit)  # the worker is warm and the client receives
    attacker = raw().handshake()  # Engine.IO handshake only: never signed in

    # The 14-byte header alone. A zero mask: the NUL bytes that follow stay valid UTF-8 once unmasked, so that
    # gevent-websocket's own reading unmasks and validates all 8 MB (~4 s of the worker's loop) instead of giving up.
    attacker.sock.sendall(client_frame(OP_TEXT, b"", declared=ATTACK_BYTES, mask=bytes(4)))
    try:  # the server answers the header alone, before a byte of the payload
        code = attacker.close_code(timeout=1.0)
    except TimeoutError:
        code = "no answer to the header"
    sent = 0
    chunk = bytes(64 * 1024)
    attacker.sock.settimeout(10)
    try:  # the rest of the frame as fast as the connection takes it
        while sent < ATTACK_BYTES:
            sent += attacker.sock.send(chunk[: ATTACK_BYTES - sent])
    except OSError:  # reset or broken pipe: the server has closed the connection
        pass

    delay = _timed_delivery(gunicorn, world, legit)
    assert delay <= DELIVERY_BUDGET, f"delivery took {delay:.2f} s after the 8 MB frame (quiet: {quiet:.2f} s)"
    assert code == CLOSE_TOO_BIG, code
    attacker.sock.settimeout(3)
    with contextlib.suppress(ConnectionResetError):  # a reset: closed with the client's bytes unread
        assert attacker.sock.recv(1) == b"", "the server kept the connection open"
    assert legit.connected


def test_an_unauthenticated_socket_may_not_send_more_than_4_kib(gunicorn, raw):
    attacker = raw().handshake()
    attacker.send_text("x" * (UNAUTHENTICATED_MESSAGE_BYTES + 1))
    assert attacker.close_code() == CLOSE_TOO_BIG


def test_an_authenticated_socket_sends_10_kb_but_not_100_kb(gunicorn, world, raw):
    token = world["tokens"]["police"]
    client = raw().handshake().authenticate(token)
    big_room = "x" * 10_000  # not a room id: the handler answers, which proves the message was read
    answer = client.call(1, json.dumps(["resume", {"room": big_room}]))
    assert json.loads(answer[len("43/live,1") :]) == [{"ok": False, "error": "invalid_payload"}]
    at_limit = "42/live,2" + json.dumps(["resume", {"room": "y" * (MESSAGE_LIMIT - 40)}])
    client.send_text(at_limit + " " * (MESSAGE_LIMIT - len(at_limit)))  # exactly the limit: accepted
    assert json.loads(client.recv_text("43/live,2")[len("43/live,2") :])[0]["error"] == "invalid_payload"

    refused = raw().handshake().authenticate(token)
    refused.send_text("42/live," + json.dumps(["resume", {"room": "z" * 100_000}]))
    assert refused.close_code() == CLOSE_TOO_BIG

    one_over = raw().handshake().authenticate(token)
    one_over.send_text(at_limit + " " * (MESSAGE_LIMIT + 1 - len(at_limit)))
    assert one_over.close_code() == CLOSE_TOO_BIG


def test_a_fragmented_message_is_bounded_by_the_sum_of_its_frames(gunicorn, world, raw):
    token = world["tokens"]["police"]
    client = raw().handshake().authenticate(token)
    text = ("42/live,7" + json.dumps(["resume", {"room": "f" * 6000}])).encode()
    parts = [text[:2000], text[2000:4000], text[4000:]]
    client.sock.sendall(client_frame(OP_TEXT, parts[0], fin=False))
    client.sock.sendall(client_frame(OP_PING, b"between fragments"))  # a control frame may come in between
    client.sock.sendall(client_frame(OP_CONTINUATION, parts[1], fin=False))
    client.sock.sendall(client_frame(OP_CONTINUATION, parts[2]))
    assert client.recv_text("43/live,7") == '43/live,7[{"ok":false,"error":"invalid_payload"}]'

    spread = raw().handshake().authenticate(token)
    spread.sock.sendall(client_frame(OP_TEXT, b"4" * 30_000, fin=False))  # each frame is small enough...
    spread.sock.sendall(client_frame(OP_CONTINUATION, b"2" * 30_000, fin=False))
    spread.sock.sendall(client_frame(OP_CONTINUATION, b"", fin=False, declared=30_000))  # ...the sum is not
    assert spread.close_code() == CLOSE_TOO_BIG


def test_a_session_upgraded_from_long_polling_is_known_to_be_signed_in(gunicorn, world, raw):
    def polling_session(token: str | None) -> str:
        base = gunicorn.url("/socket.io/?EIO=4&transport=polling")
        sid = json.loads(requests.get(base, timeout=5).text[1:])["sid"]
        if token is not None:
            posted = requests.post(f"{base}&sid={sid}", data="40/live," + json.dumps({"token": token}), timeout=5)
            assert posted.status_code == 200
            assert requests.get(f"{base}&sid={sid}", timeout=5).text.startswith("40/live,{")
        return sid

    for token, expect_close in ((world["tokens"]["police"], None), (None, CLOSE_TOO_BIG)):
        sid = polling_session(token)
        upgraded = raw(query=f"EIO=4&transport=websocket&sid={sid}")
        upgraded.send_text("2probe")
        assert upgraded.recv_text("3") == "3probe"
        upgraded.send_text("5")
        if expect_close is None:
            assert upgraded.call(3, json.dumps(["resume", {"room": "u" * 10_000}])).endswith('"invalid_payload"}]')
        else:
            upgraded.send_text("42/live,3" + json.dumps(["resume", {"room": "u" * 10_000}]))
            assert upgraded.close_code() == expect_close


# --- the unmasking -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 7, 125, 126, 1000, 65_537])
def test_unmask_equals_gevent_websockets_per_byte_loop(size):
    payload, mask = os.urandom(size), os.urandom(4)
    header = Header(length=size)
    header.mask = mask
    assert unmask(payload, mask) == bytes(header.unmask_payload(payload))
    assert unmask(unmask(payload, mask), mask) == payload


def test_unmasking_the_limit_takes_well_under_a_millisecond_per_kilobyte():
    payload, mask = os.urandom(MESSAGE_LIMIT), os.urandom(4)
    started = time.perf_counter()
    for _ in range(10):
        unmask(payload, mask)
    assert (time.perf_counter() - started) / 10 < 0.005  # the per-byte loop takes ~5-10 ms for 64 KiB
