"""A gap-aware client following ``static/js/live.js``'s sequence rules (R1-R8 in its header), against real servers
(issue 10, item 4).

A page connected to worker B misses what worker A sends while A cannot reach Redis: the room's sequence then jumps.
The client must notice the jump, resume from its last gap-free sequence and end with every signal exactly once, in
order, on the same connection. Two outages:

* A alone is cut off from Redis (a proxy between A and Redis refuses connections; B keeps its link). B is healthy
  throughout, so only the jump in the sequence shows the hole.
* Redis itself stops (a redis-server of this module's own, on a free loopback port; the shared Redis is never
  touched). B reports ``live.status {degraded: true}``; when Redis is back it reports ``false`` and the client
  resumes without waiting for a later event.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests

from tests.faults import BlackholeProxy
from tests.realtime.conftest import NAMESPACE
from tests.realtime.test_signal_fanout import (  # noqa: F401 (token_socket is a fixture)
    SIGNAL_EVENTS,
    TokenSocket,
    _build_world,
    last_seq,
    post_signal,
    token_socket,
)
from tests.servers import HOST, PortalServer, free_port, sqlite_url, start_servers

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("servers")]

HEALTHY_WITHIN = 5.0  # seconds from Redis back to /healthz ok: backoff cap 2 s + subscribe + 1 s ping cache, doubled
DEGRADED_WITHIN = 5.0  # seconds from Redis stopping to live.status on the socket: 1 s ping cache + 1 s poll, doubled
FILLED_WITHIN = 3.0  # seconds from the jump to a hole-free sequence: one resume round trip, generous


# --- the client ------------------------------------------------------------------------------------------------


class GapAwareClient(TokenSocket):
    """live.js's rules, rule for rule (the R numbers are live.js's). One room; JS is single-threaded, so every
    handler here runs under one lock (python-socketio calls handlers from its read thread, timers from theirs)."""

    DEGRADED_RESUME = 10.0
    RESUME_TIMEOUT = 10.0
    RETRY = 5.0

    def __init__(self, server: PortalServer, token: str, room: str, last_gap_free: int):
        super().__init__(server, token)
        self.room = room
        self.last_gap_free = last_gap_free  # R1 (the page's data-last-seq)
        self.buffered: dict[int, dict] = {}
        self.resuming = False
        self.resume_again = False
        self.resume_generation = 0
        self.retry_timer: threading.Timer | None = None
        self.degraded_timer: threading.Timer | None = None
        self.degraded = False
        self.seen: set[str] = set()
        self.pending: list[dict] = []  # the page's "n new signals" list, in arrival order
        self.applied: list[tuple[int, str, str]] = []  # (seq, event, signal id), in application order
        self.resumes: list[int] = []  # every `after` sent
        self.statuses: list[tuple[float, bool]] = []  # (monotonic time, degraded) of every live.status
        self.hole_since: float | None = None
        self.holes_filled: list[float] = []  # seconds each hole stayed open
        self.connects = 0
        self.lock = threading.RLock()
        for name in SIGNAL_EVENTS:
            self.client.on(name, self._live(name), namespace=NAMESPACE)
        self.client.on("live.status", self._on_status, namespace=NAMESPACE)
        self.client.on("connect", self._on_connect, namespace=NAMESPACE)

    # socket handlers
    def _on_connect(self) -> None:
        with self.lock:
            self.connects += 1
        threading.Thread(target=self._resume_when_connected, daemon=True).start()  # not in the read thread

    def _resume_when_connected(self) -> None:
        deadline = time.monotonic() + 5
        while not self.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        self.resume()

    def _live(self, name: str):
        def receive(payload) -> None:
            with self.lock:
                if isinstance(payload, dict):
                    payload["event"] = name
                self._take(payload)
                self._apply_buffered()
                if self._has_hole():
                    self.resume()  # R4

        return receive

    def _on_status(self, status) -> None:
        with self.lock:
            if isinstance(status, dict) and isinstance(status.get("degraded"), bool):
                self.statuses.append((time.monotonic(), status["degraded"]))
                self._set_degraded(status["degraded"])

    def _on_disconnect(self, *reason) -> None:
        with self.lock:
            self.resuming = False
        super()._on_disconnect(*reason)

    # the rules
    def _apply(self, payload: dict) -> None:  # R8
        signal = payload["signal"]
        self.applied.append((payload["seq"], payload["event"], signal["id"]))
        if payload["event"] == "signal.created" and signal["id"] not in self.seen:
            self.seen.add(signal["id"])
            self.pending.append(signal)

    def _take(self, payload) -> None:  # R2, R3
        if not isinstance(payload, dict) or payload.get("room") != self.room or type(payload.get("seq")) is not int:
            return
        seq = payload["seq"]
        if seq <= self.last_gap_free or seq in self.buffered:
            return
        self.buffered[seq] = payload

    def _remember(self, seq: int) -> None:
        self.last_gap_free = max(self.last_gap_free, seq)

    def _apply_buffered(self) -> None:  # R3, R5
        for seq in sorted(self.buffered):
            if seq <= self.last_gap_free:
                self._apply(self.buffered.pop(seq))
        while self.last_gap_free + 1 in self.buffered:
            following = self.buffered.pop(self.last_gap_free + 1)
            self._apply(following)
            self._remember(following["seq"])
        if self._has_hole() and self.hole_since is None:
            self.hole_since = time.monotonic()
        elif not self._has_hole() and self.hole_since is not None:
            self.holes_filled.append(time.monotonic() - self.hole_since)
            self.hole_since = None

    def _has_hole(self) -> bool:
        return bool(self.buffered)

    def _set_degraded(self, flag: bool, from_answer: bool = False) -> None:  # R6
        was, self.degraded = self.degraded, flag
        if self.degraded and self.degraded_timer is None:
            self._start_degraded_timer()
        elif not self.degraded and self.degraded_timer is not None:
            self.degraded_timer.cancel()
            self.degraded_timer = None
        if was and not self.degraded and not from_answer:
            self.resume()

    def _start_degraded_timer(self) -> None:  # setInterval
        def tick() -> None:
            with self.lock:
                if self.degraded_timer is None:
                    return
                self._start_degraded_timer()
                self.resume()

        self.degraded_timer = threading.Timer(self.DEGRADED_RESUME, tick)
        self.degraded_timer.daemon = True
        self.degraded_timer.start()

    def _retry_later(self) -> None:  # R7
        if self.retry_timer is not None:
            return

        def retry() -> None:
            with self.lock:
                self.retry_timer = None
                if self._has_hole() or self.degraded:
                    self.resume()

        self.retry_timer = threading.Timer(self.RETRY, retry)
        self.retry_timer.daemon = True
        self.retry_timer.start()

    def resume(self) -> None:
        with self.lock:
            if not self.connected:
                return
            if self.resuming:
                self.resume_again = True
                return
            self.resuming, self.resume_again = True, False
            self.resume_generation += 1
            generation, after = self.resume_generation, self.last_gap_free
            self.resumes.append(after)
            timeout = threading.Timer(self.RESUME_TIMEOUT, self._answer, args=(generation, None, True))
            timeout.daemon = True
            timeout.start()
        self.client.emit(
            "resume",
            {"room": self.room, "after": after},
            namespace=NAMESPACE,
            callback=lambda ack=None: (timeout.cancel(), self._answer(generation, ack, False)),
        )

    def _answer(self, generation: int, ack, timed_out: bool) -> None:
        with self.lock:
            if generation != self.resume_generation:
                return  # the other of answer and timeout came first (socket.timeout() calls back once)
            self.resume_generation += 1
            self.resuming = False
            if isinstance(ack, dict) and ack.get("error") == "not_found":
                self.client.disconnect()
                return
            if timed_out or not isinstance(ack, dict) or not ack.get("ok"):
                if self.resume_again:
                    self.resume()
                else:
                    self._retry_later()
                return
            for event in ack["events"]:
                self._take(event)  # R5
            self._remember(ack["next_after"])
            self._apply_buffered()
            if isinstance(ack.get("degraded"), bool):
                self._set_degraded(ack["degraded"], from_answer=True)
            if ack["more"] or self._has_hole() or self.resume_again:
                self.resume()

    # for the tests
    def close(self) -> None:
        with self.lock:
            for timer in (self.retry_timer, self.degraded_timer):
                if timer is not None:
                    timer.cancel()
            self.retry_timer = self.degraded_timer = None
        super().close()

    def wait_for(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return True
            time.sleep(0.02)
        with self.lock:
            return bool(condition())

    def shown_ids(self) -> list[str]:
        with self.lock:
            return [signal["id"] for signal in self.pending]


# --- faults ------------------------------------------------------------------------------------------------------


class CutProxy(BlackholeProxy):
    """A proxy that can also be *cut*: its port refuses connections and open ones are closed, as for a worker whose
    network to Redis failed (a refusal is immediate, so what the worker sends meanwhile fails at once)."""

    def cut(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread, which then ends
        with suppress(OSError):
            self._listener.close()
        self._close_connections()

    def reconnect(self) -> None:
        self._listener = socket.create_server((HOST, self.port))
        threading.Thread(target=self._accept, daemon=True, name="cut-proxy-accept").start()


class PrivateRedis:
    """A redis-server of our own on a free loopback port (no persistence), to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        command += ["--daemonize", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                with suppress(redis.RedisError):
                    if client.ping():
                        return self
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()  # our own child, by its pid
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


class ChannelServer(PortalServer):
    """A server with a given Socket.IO channel: ``portal_env`` names the channel after the Redis URL, and a server
    behind a proxy has another URL than its peer on the same Redis."""

    def __init__(self, *args, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PORTAL_SOCKETIO_CHANNEL"] = self.channel
        return env


def health(server: PortalServer) -> dict:
    return requests.get(server.url("/healthz"), timeout=5).json()


def wait_health(server: PortalServer, status: str, timeout: float) -> float:
    """Seconds until /healthz says ``status``; fails after ``timeout``."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        last = health(server)
        if last["status"] == status:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{server.base_url} not {status} within {timeout} s: {last}")


def _summary(label: str) -> str:
    return f"Gat {label} {uuid.uuid4().hex[:8]}"


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gap_world(tmp_path_factory) -> tuple[str, dict]:
    database = sqlite_url(tmp_path_factory.mktemp("gap") / "portal.sqlite3")
    return database, _build_world(database)


@pytest.fixture(scope="module")
def split_pair(redis_url, gap_world, tmp_path_factory) -> Iterator[dict]:
    """Worker A reaches the shared Redis through a proxy that can be cut, worker B directly; one channel."""
    database, world = gap_world
    parts = urlsplit(redis_url)
    proxy = CutProxy(parts.hostname or HOST, parts.port or 6379)
    through_proxy = urlunsplit(parts._replace(netloc=f"{HOST}:{proxy.port}"))
    channel = f"portal-test-gap:{uuid.uuid4().hex}"
    log_dir = tmp_path_factory.mktemp("gap-logs")
    servers = start_servers(
        [
            ChannelServer(database, redis_url=through_proxy, log_dir=log_dir, name="gap-a", channel=channel),
            ChannelServer(database, redis_url=redis_url, log_dir=log_dir, name="gap-b", channel=channel),
        ]
    )
    try:
        yield {"a": servers[0], "b": servers[1], "proxy": proxy, "world": world}
    finally:
        for server in servers:
            server.stop()
        proxy.close()


@pytest.fixture(scope="module")
def outage_pair(gap_world, tmp_path_factory) -> Iterator[dict]:
    """Workers A and B on a redis-server of this module's own, which the test stops and starts."""
    database, world = gap_world
    private = PrivateRedis(tmp_path_factory.mktemp("gap-redis")).start()
    log_dir = tmp_path_factory.mktemp("outage-logs")
    try:
        servers = start_servers(
            [
                PortalServer(database, redis_url=private.url, log_dir=log_dir, name="outage-a"),
                PortalServer(database, redis_url=private.url, log_dir=log_dir, name="outage-b"),
            ]
        )
        try:
            yield {"a": servers[0], "b": servers[1], "redis": private, "world": world}
        finally:
            for server in servers:
                server.stop()
    finally:
        private.stop()


@pytest.fixture
def gap_client() -> Iterator:
    clients: list[GapAwareClient] = []

    def _make(server: PortalServer, token: str, room: str, last_gap_free: int) -> GapAwareClient:
        client = GapAwareClient(server, token, room, last_gap_free)
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.close()


# --- tests -------------------------------------------------------------------------------------------------------


def _assert_exactly_once_in_order(client: GapAwareClient, posted: list[dict]) -> None:
    ids = [signal["id"] for signal in posted]
    assert client.shown_ids() == ids, "every signal exactly once, in posting order"
    seqs = [seq for seq, _event, _id in client.applied]
    assert seqs == sorted(set(seqs)), f"applied out of order or twice: {seqs}"
    assert client.buffered == {}
    assert client.connects == 1, "caught up without a reconnect"
    assert not client.disconnected.is_set()


def test_client_fills_a_hole_from_a_jump_in_the_sequence(split_pair, gap_client, token_socket):  # noqa: F811
    """A loses Redis, B does not: B stays healthy, so only the sequence shows that events went missing."""
    a, b, proxy, world = split_pair["a"], split_pair["b"], split_pair["proxy"], split_pair["world"]
    tokens, room = world["tokens"], world["rooms"]["a"]
    client = gap_client(b, tokens["police"], room, last_seq(b, tokens["police"], room)).connect()
    on_a = token_socket(a, tokens["police"]).connect()  # sees A's own sends, which stay local
    old_rules = token_socket(b, tokens["police"]).connect()  # live.js before: highest seq seen, resume on connect
    assert client.wait_for(lambda: client.resumes, 5)  # R6: resumed on connect
    start_seq = client.last_gap_free

    before = post_signal(a, tokens["author"], _summary("before"))
    assert client.wait_for(lambda: before["id"] in client.seen, 5)

    proxy.cut()
    try:
        missed = [post_signal(a, tokens["author"], _summary(f"missed {n}")) for n in (1, 2)]
        for signal in missed:  # A delivered it to its own socket, so it has tried (and failed) to publish it
            on_a.next_event(summary=signal["summary"])
        time.sleep(0.3)
        assert not client.wait_for(lambda: any(s["id"] in client.seen for s in missed), 0.5), "no hole was made"
    finally:
        proxy.reconnect()
    wait_health(a, "ok", HEALTHY_WITHIN)
    resumes_before, gap_free = len(client.resumes), client.last_gap_free
    assert gap_free == next(seq for seq, _event, signal_id in client.applied if signal_id == before["id"])

    after = post_signal(a, tokens["author"], _summary("after"))
    assert client.wait_for(lambda: after["id"] in client.seen and not client.buffered, FILLED_WITHIN)
    assert client.resumes[resumes_before:] == [gap_free], "one resume, from the last gap-free sequence"
    assert client.statuses == [], "B never reported degraded: the jump alone found the hole"
    _assert_exactly_once_in_order(client, [before, *missed, after])
    old_ids = {payload["signal"]["id"] for _name, payload in old_rules.received()}
    assert old_ids == {before["id"], after["id"]}, "without gap detection the hole stays (until a reconnect)"
    assert client.last_gap_free == last_seq(b, tokens["police"], room) == start_seq + 4
    print(f"\nhole filled {client.holes_filled[-1] * 1000:.0f} ms after the jump")


def test_client_catches_up_when_the_server_reports_recovery(outage_pair, gap_client):
    """Redis stops: B says degraded (the banner), signals posted on A meanwhile reach nobody on B; Redis returns:
    B says recovered and the client resumes at once, before any later event could show the hole."""
    a, b, private, world = outage_pair["a"], outage_pair["b"], outage_pair["redis"], outage_pair["world"]
    tokens, room = world["tokens"], world["rooms"]["a"]
    client = gap_client(b, tokens["resumer"], room, last_seq(b, tokens["resumer"], room)).connect()
    first = post_signal(a, tokens["author"], _summary("first"))
    assert client.wait_for(lambda: first["id"] in client.seen, 5)

    stopped = time.monotonic()
    private.stop()
    try:
        assert client.wait_for(lambda: client.statuses, DEGRADED_WITHIN), "no live.status while Redis was down"
        banner_after = client.statuses[0][0] - stopped
        assert client.statuses[0][1] is True
        assert health(b)["status"] == "degraded"
        missed = [post_signal(a, tokens["author"], _summary(f"outage {n}")) for n in (1, 2, 3)]
        time.sleep(0.5)
        assert not any(s["id"] in client.seen for s in missed)
    finally:
        private.start()
    back = time.monotonic()
    healthy_after = wait_health(b, "ok", HEALTHY_WITHIN)
    assert client.wait_for(lambda: all(s["id"] in client.seen for s in missed), FILLED_WITHIN + 2)
    caught_up_after = time.monotonic() - back
    assert [degraded for _t, degraded in client.statuses] == [True, False]

    last = post_signal(a, tokens["author"], _summary("last"))  # live again, in the same sequence
    assert client.wait_for(lambda: last["id"] in client.seen, 5)
    _assert_exactly_once_in_order(client, [first, *missed, last])
    print(
        f"\nbanner {banner_after * 1000:.0f} ms after Redis stopped; healthz ok {healthy_after * 1000:.0f} ms and"
        f" caught up {caught_up_after * 1000:.0f} ms after it was back"
    )
