"""The outbox that takes live sends off the request path (portal/realtime/publish.py): disconnects are never dropped
and overtake waiting emits, emits are bounded in number and age, and without a message queue nothing waits."""

from __future__ import annotations

import threading

import pytest
import socketio

from portal.realtime.publish import EMIT, KICK, Outbox


@pytest.fixture
def queued_server(redis_url):
    """A python-socketio server on a Redis message queue (nothing is published: the actions are plain callables)."""
    return socketio.Server(client_manager=socketio.RedisManager(redis_url, write_only=True), async_mode="threading")


def _held(outbox: Outbox, server) -> threading.Event:
    """Occupy the sender with one action until the returned event is set, so that what follows waits in the queue."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    outbox.send(server, hold, priority=KICK)  # never stale, never dropped
    assert started.wait(5)
    return release


def test_disconnects_overtake_waiting_emits_and_emits_keep_their_order(queued_server):
    outbox, done = Outbox(), []
    release = _held(outbox, queued_server)
    for n in range(3):
        outbox.send(queued_server, lambda n=n: done.append(f"emit {n}"), priority=EMIT)
    outbox.send(queued_server, lambda: done.append("kick"), priority=KICK)
    release.set()
    assert outbox.flush(5)
    assert done == ["kick", "emit 0", "emit 1", "emit 2"]


def test_a_full_outbox_drops_emits_but_never_a_disconnect(queued_server):
    outbox, done = Outbox(size=2), []
    release = _held(outbox, queued_server)
    for n in range(4):
        outbox.send(queued_server, lambda n=n: done.append(n))
    outbox.send(queued_server, lambda: done.append("kick"), priority=KICK)
    release.set()
    assert outbox.flush(5)
    assert done == ["kick", 0, 1]
    assert outbox.dropped == 2


def test_stale_emits_are_dropped_disconnects_are_not(queued_server):
    outbox, done = Outbox(stale_after=0.0), []
    release = _held(outbox, queued_server)
    outbox.send(queued_server, lambda: done.append("emit"))
    outbox.send(queued_server, lambda: done.append("kick"), priority=KICK)
    release.set()
    assert outbox.flush(5)
    assert done == ["kick"]


def test_a_failing_send_does_not_stop_the_sender(queued_server):
    outbox, done = Outbox(), []

    def broken() -> None:
        raise ConnectionError("the queue is down")

    outbox.send(queued_server, broken)
    outbox.send(queued_server, lambda: done.append("next"))
    assert outbox.flush(5)
    assert done == ["next"]


def test_without_a_message_queue_a_send_runs_in_place():
    server = socketio.Server(async_mode="threading")
    outbox, done = Outbox(), []
    outbox.send(server, lambda: done.append("now"))
    assert done == ["now"]
    assert outbox.pending() == 0
