"""Socket.IO client managers that can disconnect every socket in a room, on every worker.

python-socketio can disconnect one sid across workers, but not "every socket of this user". Its ``close_room``
is broadcast to all workers through the message queue, so we use it as the carrier: closing the room
``KICK_PREFIX + room`` makes every worker disconnect its own sockets in ``room``. No extra channel, no sid
bookkeeping, and it works the same with one process (``LocalManager``) or several (``PortalRedisManager``).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import socketio

KICK_PREFIX = "portal-kick:"


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


class PortalRedisManager(_KickMixin, socketio.RedisManager):
    def __init__(self, url: str, channel: str | None = None, **kwargs):
        super().__init__(url, channel=channel or channel_for(url), **kwargs)

    def _redis_connect(self):
        super()._redis_connect()
        if "sentinel" in urlsplit(self.redis_url).scheme:
            return
        # The listener waits on a read between messages. With a read timeout (``socket_timeout``, which publishing
        # needs so that a dead Redis cannot hang a request), redis-py raises after every quiet spell; python-socketio
        # then sleeps a second before it subscribes again, and whatever other workers publish meanwhile (kicks,
        # room events) is lost: pub/sub keeps nothing for absent subscribers. So the listener gets a connection of
        # its own without a read timeout; TCP keep-alive and Redis closing the socket still end a dead one.
        options = {k: v for k, v in self.redis_options.items() if k != "socket_timeout"}
        listener = type(self.redis).from_url(self.redis_url, **options, socket_keepalive=True)
        self.pubsub = listener.pubsub(ignore_subscribe_messages=True)

    def _handle_close_room(self, message):
        if not self._kick_or_close(message.get("room"), message.get("namespace")):
            super()._handle_close_room(message)
