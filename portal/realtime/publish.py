"""Everything services send to sockets goes through here, and only after the transaction commits.

What is sent is planned in the request, right after its commit (that needs the database); the sending itself leaves
the request at once when a message queue carries it (``Outbox``): a Redis that is slow, blackholed or down must not
hold up a post. The database stays the source of truth: whatever does not get out, clients fetch with ``resume``.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable

import socketio as socketio_lib

from portal.core.db import on_commit, safe_rollback
from portal.extensions import socketio
from portal.realtime.manager import KICK_PREFIX

NAMESPACE = "/live"
OUTBOX_SIZE = 10_000  # emits waiting for the message queue; beyond this, new ones are dropped (clients resume)
EMIT_STALE_AFTER = 30.0  # seconds: an emit still waiting by then is dropped; the page's resume has it by now
log = logging.getLogger(__name__)

# Priorities in the outbox: disconnects before emits. A disconnect (sign-out, a blocked account, a revoked seat) is
# never dropped and never waits behind a backlog of emits (R-AZ-4); emits keep their order among themselves.
KICK, EMIT = 0, 1


class Outbox:
    """One sender per process: emits and disconnects wait here, not in the request, for the message queue.

    Without a message queue (one process, ``LocalManager``) a send is a local, immediate operation and runs in place,
    so a page and the tests see its effect at once. With Redis each send may take the queue's timeouts (two attempts
    of 2 s in python-socketio's ``RedisManager``); a post answered in ~29 s while Redis was blackholed, with its
    transaction open. The background task is started by the Socket.IO server (a greenlet under gevent, a thread
    otherwise) on first use in each worker process, and again if it ever died.

    Emits are bounded in number and in age: payloads planned at commit time must not reach, hours later, whoever
    is in a channel by then. Clients fill any hole with ``resume``, which reads the database with today's rights.
    """

    def __init__(self, size: int = OUTBOX_SIZE, stale_after: float = EMIT_STALE_AFTER) -> None:
        self.size = size
        self.stale_after = stale_after
        self._queue: queue.PriorityQueue | None = None
        self._pid: int | None = None
        self._drainer = None
        self._order = itertools.count()
        self._lock = threading.Lock()
        self.dropped = 0

    def send(self, server, action: Callable[[], None], *, priority: int = EMIT) -> None:
        if not isinstance(server.manager, socketio_lib.PubSubManager):
            _run(action)
            return
        waiting = self._running_queue(server)
        if priority == EMIT and waiting.qsize() >= self.size:
            self._drop("outbox full")
            return
        waiting.put((priority, next(self._order), time.monotonic(), action))

    def _running_queue(self, server) -> queue.PriorityQueue:
        with self._lock:
            if self._queue is None or self._pid != os.getpid():  # a new worker after fork starts its own sender
                self._queue, self._pid, self._drainer = queue.PriorityQueue(), os.getpid(), None
                atexit.register(self.flush)  # a CLI command (block a user, escalate) exits right after its commit
            if self._drainer is None or _finished(self._drainer):
                self._drainer = server.start_background_task(self._drain, self._queue)
            return self._queue

    def _drop(self, why: str) -> None:
        self.dropped += 1
        log.error("live updates: %s, an emit was dropped (clients catch up with resume)", why)

    def pending(self) -> int:
        return self._queue.unfinished_tasks if self._queue is not None else 0

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` seconds) until every queued send has been tried; True if none is left."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.pending()

    def _drain(self, waiting: queue.PriorityQueue) -> None:
        while True:
            priority, _order, queued_at, action = waiting.get()
            try:
                if priority == EMIT and time.monotonic() - queued_at > self.stale_after:
                    self._drop(f"emit older than {self.stale_after:.0f} s")
                else:
                    _run(action)
            finally:
                waiting.task_done()


def _finished(task) -> bool:
    """Whether a background task (a thread, or a greenlet under gevent) has ended."""
    alive = getattr(task, "is_alive", None)
    if alive is not None:
        return not alive()
    return bool(getattr(task, "dead", False))


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # the queue is down: the events are in room_events, sockets re-check their session
        log.exception("could not send a live update")


outbox = Outbox()


def _send(action: Callable[[], None], *, priority: int = EMIT) -> None:
    server = getattr(socketio, "server", None)
    if server is None:  # the CLI or a test without sockets
        return
    outbox.send(server, action, priority=priority)


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_public_id) -> str:
    return f"session:{session_public_id}"


def _kick(room: str) -> None:
    """Disconnect every socket in ``room``: this worker's at once, the other workers' through the message queue."""
    server = getattr(socketio, "server", None)
    if server is None:  # the CLI or a test without sockets
        return
    local = getattr(server.manager, "_disconnect_local_participants", None)
    if local is not None and isinstance(server.manager, socketio_lib.PubSubManager):
        _run(lambda: local(room, NAMESPACE))
    server_close = server.close_room
    _send(lambda: server_close(KICK_PREFIX + room, namespace=NAMESPACE), priority=KICK)


def disconnect_user(user_id: int) -> None:
    """After commit: every socket of this user, on every worker, is disconnected."""
    on_commit(lambda: _kick(user_room(user_id)))


def disconnect_user_session(user_id: int, session_public_id) -> None:
    """After commit: the sockets opened from one browser session are disconnected."""
    on_commit(lambda: _kick(session_room(session_public_id)))


# --- events planned by the domains ---------------------------------------------------------------------------
#
# What an event says and to whom is the domain's (signals/events.py, meetings/events.py): it plans, after the
# commit, a list of (event, payload, channels); this module only carries them.


def emit_after_commit(plan: Callable[[], Iterable[tuple[str, dict, list[str] | str]]], what: str) -> None:
    """After commit: run ``plan`` (it may read the database) and send each (event, payload, channels) it yields."""
    on_commit(lambda: _emit_planned(plan, what))


def _emit_planned(plan, what: str) -> None:
    if getattr(socketio, "server", None) is None:
        return
    for event_name, payload, channels in _plan_safely(lambda: list(plan()), what) or ():
        _send(lambda e=event_name, p=payload, c=channels: socketio.emit(e, p, to=c, namespace=NAMESPACE))


def _plan_safely(plan: Callable[[], object], what: str):
    """Run a plan's reads after the commit. The sending happens in the outbox, outside the request's transaction,
    so nothing waits on the message queue with a transaction open. A database error is rolled back here (a swallowed
    error left the session unusable: PendingRollbackError, a 500 later in the request); the event itself is in
    room_events and reaches clients through ``resume``."""
    try:
        return plan()
    except Exception:
        safe_rollback()
        log.exception("could not plan the live update %s", what)
        return None


def notify_user(user_id: int, event: str, payload: dict) -> None:
    """After commit: a personal notification to every socket of one user (on every worker)."""
    on_commit(lambda: _send(lambda: socketio.emit(event, payload, to=user_room(user_id), namespace=NAMESPACE)))
