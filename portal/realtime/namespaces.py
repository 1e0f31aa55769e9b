"""The ``/live`` namespace. Authentication happens in ``connect`` (``login_required`` does not work on socket
handlers); the server, never the client, decides which rooms a socket joins (R-WS-2, R-WS-3)."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, SocketIO, join_room

from portal.identity.web import current_session_record
from portal.realtime.publish import NAMESPACE, session_room, user_room
from portal.rooms.queries import room_ids_of


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


class LiveNamespace(Namespace):
    def on_connect(self, auth=None):
        # current_user was loaded from the signed cookie *and* the live server-side session record.
        if not current_user.is_authenticated:
            raise ConnectionRefusedError("unauthorized")
        record = current_session_record()
        join_room(user_room(current_user.id))
        if record is not None:
            join_room(session_room(record.public_id))
        for room_id in sorted(room_ids_of(current_user)):
            join_room(room_channel(room_id))
        return True

    def on_disconnect(self, reason=None):
        return None


def register(socketio: SocketIO) -> None:
    socketio.on_namespace(LiveNamespace(NAMESPACE))
