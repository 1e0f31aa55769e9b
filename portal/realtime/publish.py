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
from collections.abc import Callable

import socketio as socketio_lib

from portal.core.db import on_commit
from portal.extensions import db, socketio
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


# --- signal events --------------------------------------------------------------------------------------------
#
# The channels and who reads a signal as their own are the audience rule's (portal/signals/audience.py). An event is
# encoded once per variant and emitted to the list of channels of that variant: no per-recipient loop.


def signal_event(kind: str, signal_id: int, room_seqs: list[tuple[int, int]]) -> None:
    """After commit: push ``kind`` for the signal to every socket whose user may see it, in each room's stream."""
    on_commit(lambda: _emit_signal_event(kind, signal_id, room_seqs))


def _emit_signal_event(kind: str, signal_id: int, room_seqs: list[tuple[int, int]]) -> None:
    if getattr(socketio, "server", None) is None:
        return
    planned = _plan_safely(lambda: list(plan_signal_event(kind, signal_id, room_seqs)), f"{kind} {signal_id}")
    for event_name, payload, channels in planned or ():
        _send(lambda e=event_name, p=payload, c=channels: socketio.emit(e, p, to=c, namespace=NAMESPACE))


def _plan_safely(plan: Callable[[], object], what: str):
    """Run a plan's reads after the commit. The sending happens in the outbox, outside the request's transaction,
    so nothing waits on the message queue with a transaction open. A database error is rolled back here (a swallowed
    error left the session unusable: PendingRollbackError, a 500 later in the request); the event itself is in
    room_events and reaches clients through ``resume``."""
    try:
        return plan()
    except Exception:
        db.session.rollback()
        log.exception("could not plan the live update %s", what)
        return None


def plan_signal_event(kind: str, signal_id: int, room_seqs: list[tuple[int, int]]):
    """Yield (event, payload, channels) per variant. Pure planning over the database: tested without sockets."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.identity.models import User
    from portal.organisations.models import Organisation
    from portal.rooms.models import Room, RoomMembership
    from portal.rooms.queries import current_membership_clause
    from portal.signals import audience
    from portal.signals.models import SharingScope, Signal
    from portal.signals.presenter import present
    from portal.signals.queries import _eager, load_reference_data
    from portal.signals.visibility import OWN_FIELDS, POLICE_DETAILS, VIEWER_KINDS

    signal = db.session.scalar(select(Signal).where(Signal.id == signal_id).options(*_eager()))
    if signal is None:
        return
    load_reference_data([signal])
    visibility = audience.matrix()
    own_orgs = audience.owner_organisations(signal)
    classification = signal.classification.value
    variants = {
        k: present(signal, visibility[k][classification])
        for k in VIEWER_KINDS
        if visibility[k][classification] is not None
    }
    # The posting organisation sees its own fields; police details only where its row of the matrix grants them.
    own_fields = {
        k: OWN_FIELDS | ((visibility[k][classification] or frozenset()) & {POLICE_DETAILS}) for k in VIEWER_KINDS
    }
    own_variants: dict[frozenset, tuple[dict, list[str]]] = {}
    for k, fields in own_fields.items():
        own_variants.setdefault(fields, (present(signal, fields), []))[1].append(k)
    rooms = {r.id: r for r in db.session.scalars(select(Room).where(Room.id.in_([r for r, _ in room_seqs])))}

    scope = signal.sharing_scope
    if scope in (SharingScope.OWN_LOCATION, SharingScope.OWN_BOARD, SharingScope.NAMED):
        if scope is SharingScope.NAMED:
            targets = {o.id for o in signal.recipients} - own_orgs
            channel = audience.named_channel
        elif scope is SharingScope.OWN_BOARD and signal.school_location and signal.school_location.parent_id:
            board_id = signal.school_location.parent_id
            targets = set(db.session.scalars(select(Organisation.id).where(Organisation.parent_id == board_id)))
            targets -= own_orgs
            channel = audience.org_channel
        else:
            targets, channel = set(), audience.org_channel
        for room_id, seq in room_seqs:
            room_key = str(rooms[room_id].public_id)
            for payload, kinds in own_variants.values():
                yield kind, {"room": room_key, "seq": seq, "signal": payload}, audience.owner_channels(signal, kinds)
            for viewer_kind, payload in variants.items():
                channels = [channel(o, viewer_kind) for o in sorted(targets)]
                if channels:
                    yield kind, {"room": room_key, "seq": seq, "signal": payload}, channels
        return

    for room_id, seq in room_seqs:
        room = rooms[room_id]
        member_orgs = set(
            db.session.scalars(
                select(User.organisation_id)
                .join(RoomMembership, RoomMembership.user_id == User.id)
                .where(RoomMembership.room_id == room_id, *current_membership_clause())
                .distinct()
            )
        )
        room_key = str(room.public_id)
        own_in_room = audience.owning_organisations_in_room(signal, room, member_orgs)
        if own_in_room:
            for payload, kinds in own_variants.values():
                yield (
                    kind,
                    {"room": room_key, "seq": seq, "signal": payload},
                    [audience.aud_channel(room_id, k, o) for o in sorted(own_in_room) for k in kinds],
                )
        others = sorted(member_orgs - own_in_room)
        for viewer_kind, payload in variants.items():
            channels = [audience.aud_channel(room_id, viewer_kind, o) for o in others]
            if channels:
                yield kind, {"room": room_key, "seq": seq, "signal": payload}, channels


def notify_user(user_id: int, event: str, payload: dict) -> None:
    """After commit: a personal notification to every socket of one user (on every worker)."""
    on_commit(lambda: _send(lambda: socketio.emit(event, payload, to=user_room(user_id), namespace=NAMESPACE)))


# --- meeting events ---------------------------------------------------------------------------------------------
#
#   meeting:<meeting id>  - sockets of people who have a meeting's page open. Joined only by the ``meeting.watch``
#                           handler in realtime/namespaces.py, after it checked the user's current seat in the
#                           meeting's room in the database; never a name a client chose.
# The agenda, its status and who is editing the minutes are the same for every member of the room (linked
# signals, which depend on the viewer, are left out), so one payload per event serves the whole channel.


def meeting_channel(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def meeting_event(kind: str, meeting_id: int) -> None:
    """After commit: push ``kind`` (meeting.agenda, meeting.status, meeting.minutes, meeting.presence) to the
    people watching the meeting."""
    on_commit(lambda: _emit_meeting_event(kind, meeting_id))


def _emit_meeting_event(kind: str, meeting_id: int) -> None:
    if getattr(socketio, "server", None) is None:
        return
    payload = _plan_safely(lambda: plan_meeting_event(kind, meeting_id), f"{kind} {meeting_id}")
    if payload is not None:
        _send(lambda: socketio.emit(kind, payload, to=meeting_channel(meeting_id), namespace=NAMESPACE))


def plan_meeting_event(kind: str, meeting_id: int) -> dict | None:
    """The payload of a meeting event, read from the database after the commit (tested without sockets)."""
    from portal.extensions import db
    from portal.meetings.models import Meeting
    from portal.meetings.presenter import live_payload

    meeting = db.session.get(Meeting, meeting_id)
    return None if meeting is None else live_payload(kind, meeting)
