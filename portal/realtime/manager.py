"""Socket.IO client managers that can disconnect every socket in a room, on every worker.

python-socketio can disconnect one sid across workers, but not "every socket of this user". Its ``close_room``
is broadcast to all workers through the message queue, so we use it as the carrier: closing the room
``KICK_PREFIX + room`` makes every worker disconnect its own sockets in ``room``. No extra channel, no sid
bookkeeping, and it works the same with one process (``LocalManager``) or several (``PortalRedisManager``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry

KICK_PREFIX = "portal-kick:"
log = logging.getLogger(__name__)

# The listener (see ``ListenerState``). A heartbeat goes round the channel when nothing else arrived for a second;
# no message for STALE_AFTER seconds means the subscription is dead even if its TCP connection looks open.
HEARTBEAT_EVERY = 1.0
STALE_AFTER = 3.0
RETRY_FIRST, RETRY_MAX = 0.25, 2.0  # seconds between subscription attempts (python-socketio: 1, 2, 4 ... 60)
HEARTBEAT_TIMEOUT = 0.5
HEARTBEAT = b'{"method":"portal.heartbeat"}'  # python-socketio ignores a method it does not know


class _KickMixin:
    def _disconnect_local_participants(self, room: str, namespace: str) -> None:
        for sid, _eio_sid in list(self.get_participants(namespace, room)):
            self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    def _kick_or_close(self, room: str, namespace: str) -> bool:
        if room and room.startswith(KICK_PREFIX):
            self._disconnect_local_participants(room[len(KICK_PREFIX) :], namespace)
            return True
        return False


class LocalManager(_KickMixin, socketio.Manager):
    def close_room(self, room, namespace):
        if not self._kick_or_close(room, namespace):
            super().close_room(room, namespace)


def channel_for(redis_url: str) -> str:
    """The pub/sub channel for a Redis URL, named after its database index.

    Redis pub/sub ignores the database index: every client of a Redis server hears every channel. With the
    library's fixed default channel ("socketio"), two portals that share a Redis server on different database
    indexes (staging and production, or two test runs) would receive each other's emits and disconnects: user 5 of
    one would be kicked, or worse sent room events, by the other. Naming the channel after the index keeps the
    separation that the index suggests.
    """
    parts = urlsplit(redis_url)
    segments = [s for s in parts.path.split("/") if s.isdigit()]  # redis://h/3; redis+sentinel://h/master/3
    index = parse_qs(parts.query).get("db", [""])[0] or (segments[-1] if segments else "0")
    return f"portal-socketio:db{index}"


class ListenerState:
    """Is this worker's pub/sub listener subscribed and receiving? What other workers publish reaches this
    worker's sockets only through it, and pub/sub keeps nothing for a listener that is away.

    ``starting``: the first subscription of this process is on its way (no socket connected before, so nothing was
    missed); ``subscribing``: (re)connecting after a failure; ``listening``: Redis confirmed the subscription;
    ``broken``: the connection failed or went silent. Healthy means listening with a message (any message, or our
    own heartbeat) received within ``STALE_AFTER`` seconds: a subscription on a connection that a network fault
    left open but dead receives nothing, and only a message that went round proves it works.
    """

    def __init__(self) -> None:
        self.state = "idle"  # the manager is started by python-socketio at the first socket connection
        self.since = time.monotonic()
        self.since_wall = datetime.now(UTC)
        self.last_message = 0.0
        self.error = ""
        self.lock = threading.Lock()

    def _set(self, state: str, error: str = "") -> None:
        with self.lock:
            before, self.state, self.error = self.state, state, error
            self.since, self.since_wall = time.monotonic(), datetime.now(UTC)
        if state == "broken" and before not in ("broken", "subscribing"):  # once per outage, not per attempt
            log.warning("live updates: the listener is broken (%s); subscribing again", error)
        elif state == "listening" and before != "listening" and before != "starting":
            log.warning("live updates: the listener is subscribed again")

    def subscribing(self) -> None:
        self._set("starting" if self.state in ("idle", "starting") else "subscribing", self.error)

    def listening(self) -> None:
        self.last_message = time.monotonic()
        self._set("listening")

    def received(self) -> None:
        self.last_message = time.monotonic()

    def broken(self, error: str) -> None:
        self._set("broken", error)

    def silence(self, now: float | None = None) -> float:
        """Seconds since the last message (or since the current state began, if that is later)."""
        now = time.monotonic() if now is None else now
        return now - max(self.last_message, self.since)

    def healthy(self, now: float | None = None) -> bool | None:
        """True: receiving; False: not receiving; None: not started, or starting for the first time (not yet
        late), when there is no socket on this worker that could miss anything."""
        state = self.state
        if state == "idle" or (state == "starting" and self.silence(now) <= STALE_AFTER):
            return None
        return state == "listening" and self.silence(now) <= STALE_AFTER

    def status(self) -> dict:
        healthy = self.healthy()
        return {
            "state": self.state if healthy is not False or self.state != "listening" else "silent",
            "healthy": healthy,
            "since": self.since_wall.isoformat(timespec="seconds"),
            "last_message_seconds_ago": round(self.silence(), 1) if self.last_message else None,
        }


class PortalRedisManager(_KickMixin, socketio.RedisManager):
    def __init__(self, url: str, channel: str | None = None, *, redis_options: dict | None = None, **kwargs):
        # No retries inside redis-py for publishing either: its default (three, with a jittered backoff of up to
        # 10 s) made one emit take seconds against a Redis that refuses, on top of python-socketio's own two
        # attempts; the outbox behind it waited, and emits came out late instead of failing (clients resume).
        redis_options = {"retry": Retry(NoBackoff(), 0), **(redis_options or {})}
        super().__init__(url, channel=channel or channel_for(url), redis_options=redis_options, **kwargs)
        self.listener = ListenerState()
        self._listening_pubsub = None
        self._heartbeat_client = None

    def listener_status(self) -> dict:
        return self.listener.status()

    def _redis_connect(self):
        super()._redis_connect()
        if "sentinel" in urlsplit(self.redis_url).scheme:
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=False)
            return
        # The listener waits on a read between messages. With a read timeout (``socket_timeout``, which publishing
        # needs so that a dead Redis cannot hang a request), redis-py raises after every quiet spell; python-socketio
        # then sleeps a second before it subscribes again, and whatever other workers publish meanwhile (kicks,
        # room events) is lost: pub/sub keeps nothing for absent subscribers. So the listener gets a connection of
        # its own without a read timeout; TCP keep-alive, Redis closing the socket and the heartbeat watch
        # (``_watch_listener``) end a dead one. No retries inside redis-py (its default retries three times with a
        # backoff of up to 10 s, unseen): ``_redis_listen_with_retries`` retries, and knows the state.
        options = {k: v for k, v in self.redis_options.items() if k not in ("socket_timeout", "retry")}
        listener = type(self.redis).from_url(
            self.redis_url, **options, socket_keepalive=True, retry=Retry(NoBackoff(), 0)
        )
        # Subscription confirmations are read: the confirmation is when listening (re)starts.
        self.pubsub = listener.pubsub(ignore_subscribe_messages=False)

    def initialize(self):
        super().initialize()
        if not self.write_only:
            self.server.start_background_task(self._watch_listener)

    def _redis_listen_with_retries(self):
        """python-socketio's loop with the state recorded and a short, capped backoff: after an outage it slept
        1, 2, 4 ... up to 60 s between attempts, so delivery across workers stayed broken for up to a minute
        after Redis was back, while a ping already said ok."""
        retry_sleep = RETRY_FIRST
        while True:
            pubsub = None
            try:
                self.listener.subscribing()
                self._redis_connect()
                pubsub = self._listening_pubsub = self.pubsub
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self.listener.listening()
                        retry_sleep = RETRY_FIRST
                        continue
                    self.listener.received()
                    if message.get("data") != HEARTBEAT:
                        yield message
                raise ConnectionError("the subscription ended")
            except Exception as exc:
                self.listener.broken(f"{type(exc).__name__}: {exc}")
            finally:
                if pubsub is not None:
                    with suppress(Exception):
                        pubsub.close()
            time.sleep(retry_sleep)  # gevent's when monkey-patched, like python-socketio's own loop
            retry_sleep = min(retry_sleep * 2, RETRY_MAX)

    def _listen(self):
        channel = self.channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message["channel"] == channel and message["type"] == "message" and "data" in message:
                yield message["data"]

    def _watch_listener(self):
        """Every second: publish a heartbeat if the channel was quiet (cost: at most one tiny PUBLISH per second
        per worker, none while there is traffic), and end a subscription that received nothing for STALE_AFTER
        seconds, so that the listener subscribes again on a fresh connection."""
        while True:
            time.sleep(HEARTBEAT_EVERY)
            try:
                self._heartbeat_once()
            except Exception:  # the watch must outlive anything
                log.exception("live updates: heartbeat failed")

    def _heartbeat_once(self) -> None:
        state, silence = self.listener.state, self.listener.silence()
        if state in ("listening", "starting", "subscribing") and silence > STALE_AFTER:
            self.listener.broken(f"no message for {silence:.1f} s")
            self._end_listening_connection()
        elif state == "listening" and silence >= HEARTBEAT_EVERY:
            with suppress(Exception):  # an outage shows as silence; publishing errors say nothing more
                self._heartbeat_redis().publish(self.channel, HEARTBEAT)

    def _heartbeat_redis(self):
        if self._heartbeat_client is None:
            if "sentinel" in urlsplit(self.redis_url).scheme:
                return self.redis
            self._heartbeat_client = type(self.redis).from_url(
                self.redis_url,
                socket_timeout=HEARTBEAT_TIMEOUT,
                socket_connect_timeout=HEARTBEAT_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
        return self._heartbeat_client

    def _end_listening_connection(self) -> None:
        """Shut the listener's socket down: its blocked read returns and raises in ``_redis_listen_with_retries``."""
        pubsub = self._listening_pubsub
        sock = getattr(getattr(pubsub, "connection", None), "_sock", None)
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _handle_close_room(self, message):
        if not self._kick_or_close(message.get("room"), message.get("namespace")):
            super()._handle_close_room(message)
