"""``/healthz`` and the live status follow the message-queue listener, not only a Redis ping (issue 10, item 5).

After an outage Redis answers a ping at once, but python-socketio's listener slept 1, 2, 4 ... up to 60 s between
attempts to subscribe again: ``/healthz`` said ok while what other workers published did not reach this worker's
sockets. Here ``ok`` must mean that delivery across workers works: the test posts on worker A at the moment
worker B first says ok, and B's socket must receive it live. Redis is a redis-server of the module's own
(``PrivateRedis``), stopped and started; the shared Redis is never touched.
"""

from __future__ import annotations

import queue
import time
import uuid

import pytest

from portal.realtime.manager import STALE_AFTER, ListenerState
from tests.realtime.conftest import NAMESPACE
from tests.realtime.test_gap_client import (  # noqa: F401 (gap_world and outage_pair are fixtures)
    DEGRADED_WITHIN,
    HEALTHY_WITHIN,
    gap_world,
    health,
    outage_pair,
    wait_health,
)
from tests.realtime.test_signal_fanout import post_signal, token_socket  # noqa: F401 (fixture)

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("servers")]

OUTAGE_SECONDS = 7.0  # long enough for python-socketio's own backoff to reach 4-8 s between attempts
LIVE_WITHIN = 2.0  # a post on A reaches B's socket this soon once B says ok


def _status_recorder(socket) -> queue.Queue:
    statuses: queue.Queue = queue.Queue()
    socket.client.on("live.status", lambda status: statuses.put((time.monotonic(), status)), namespace=NAMESPACE)
    return statuses


def test_healthz_is_ok_only_once_delivery_across_workers_works_again(outage_pair, token_socket):  # noqa: F811
    a, b, private, world = outage_pair["a"], outage_pair["b"], outage_pair["redis"], outage_pair["world"]
    tokens = world["tokens"]
    watcher = token_socket(b, tokens["police"]).connect()  # starts B's listener (python-socketio: first socket)
    wait_health(b, "ok", HEALTHY_WITHIN)
    assert health(b)["checks"] == {"database": "ok", "redis": "ok", "listener": "ok"}

    private.stop()
    try:
        wait_health(b, "degraded", DEGRADED_WITHIN)  # the listener notices first: its connection closes
        time.sleep(1.1)  # the cached ping has expired
        down = health(b)
        assert down["checks"]["redis"] == "unavailable"
        assert down["checks"]["listener"] in ("broken", "subscribing")
        assert set(down["degraded"]) == {"redis", "listener"}
        time.sleep(OUTAGE_SECONDS)
    finally:
        private.start()
    back = time.monotonic()
    answers = []
    while time.monotonic() - back < HEALTHY_WITHIN:
        answers.append(health(b))
        if answers[-1]["status"] == "ok":
            break
        time.sleep(0.02)
    healthy_after = time.monotonic() - back
    assert answers[-1]["status"] == "ok", f"not ok {HEALTHY_WITHIN} s after Redis was back: {answers[-1]}"
    for answer in answers[:-1]:  # while degraded, the answer names the part
        assert answer["degraded"], answer
        assert answer["checks"].get("listener") != "ok" or answer["checks"]["redis"] != "ok", answer

    # "ok" means what it says: a signal posted on A now reaches B's socket live.
    summary = f"Gezond {uuid.uuid4().hex[:8]}"
    post_signal(a, tokens["author"], summary)
    watcher.next_event(summary=summary, timeout=LIVE_WITHIN)
    print(f"\nhealthz ok {healthy_after * 1000:.0f} ms after Redis was back ({len(answers)} polls)")


def test_live_status_reaches_a_connected_socket_when_degraded_starts_and_ends(
    outage_pair,  # noqa: F811
    token_socket,  # noqa: F811
):
    b, private, world = outage_pair["b"], outage_pair["redis"], outage_pair["world"]
    socket = token_socket(b, world["tokens"]["resumer"]).connect()
    statuses = _status_recorder(socket)
    room = world["rooms"]["a"]
    wait_health(b, "ok", HEALTHY_WITHIN)
    assert socket.resume(room, 0)["degraded"] is False  # the state at (re)connect, in the resume answer

    stopped = time.monotonic()
    private.stop()
    try:
        at, status = statuses.get(timeout=DEGRADED_WITHIN)
        assert status == {"degraded": True}
        shown_after = at - stopped
        assert socket.resume(room, 0)["degraded"] is True
    finally:
        private.start()
    back = time.monotonic()
    at, status = statuses.get(timeout=HEALTHY_WITHIN + 1)
    assert status == {"degraded": False}
    hidden_after = at - back
    assert socket.resume(room, 0)["degraded"] is False
    assert statuses.empty()
    assert socket.connected  # the status came over the same connection, while Redis was down
    print(f"\nlive.status degraded {shown_after * 1000:.0f} ms after the stop, ok {hidden_after * 1000:.0f} ms after")


def test_a_listener_that_receives_nothing_is_not_healthy():
    """A subscription on a connection that a network fault left open receives nothing: after STALE_AFTER seconds
    without a message (the heartbeat goes round every second when the channel is quiet) it is not healthy."""
    state = ListenerState()
    assert state.healthy() is None  # no socket yet: the listener has not started
    state.subscribing()
    assert state.healthy() is None  # the first subscription, not late yet
    state.listening()
    assert state.healthy() is True
    now = time.monotonic()
    assert state.healthy(now + STALE_AFTER - 0.1) is True
    assert state.healthy(now + STALE_AFTER + 0.1) is False
    state.last_message -= STALE_AFTER + 1
    state.since -= STALE_AFTER + 1
    assert state.status()["state"] == "silent"
    state.broken("ConnectionError: closed")
    assert state.healthy() is False
    state.subscribing()
    assert state.status()["state"] == "subscribing"
    assert state.healthy() is False
