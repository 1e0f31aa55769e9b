"""Socket.IO client managers that can disconnect every socket in a room, on every worker.

python-socketio can disconnect one sid across workers, but not "every socket of this user". Its ``close_room``
is broadcast to all workers through the message queue, so we use it as the carrier: closing the room
``KICK_PREFIX + room`` makes every worker disconnect its own sockets in ``room``. No extra channel, no sid
bookkeeping, and it works the same with one process (``LocalManager``) or several (``PortalRedisManager``).
"""

from __future__ import annotations

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


class PortalRedisManager(_KickMixin, socketio.RedisManager):
    def _handle_close_room(self, message):
        if not self._kick_or_close(message.get("room"), message.get("namespace")):
            super()._handle_close_room(message)
