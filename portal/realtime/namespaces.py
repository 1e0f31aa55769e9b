"""The ``/live`` namespace. Authentication happens in ``connect`` (``login_required`` does not work on socket
handlers); the server, never the client, decides which channels a socket joins (R-WS-2, R-WS-3). Every event
handler re-checks the session and the membership in the database (R-AZ-4): the socket's copy of the cookie is
not trusted beyond the connect."""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from flask import current_app, request
from flask_login import current_user
from flask_socketio import Namespace, SocketIO, disconnect, join_room
from socketio.exceptions import ConnectionRefusedError as Refused

from portal.core.db import commit, parse_public_id, safe_rollback
from portal.core.errors import DomainError
from portal.core.limits import MAX_INT
from portal.identity import tokens
from portal.identity.web import current_session_record
from portal.main.health import live_degraded
from portal.realtime.publish import NAMESPACE, session_room, user_room
from portal.realtime.status import watch as status_watch
from portal.signals import queries
from portal.signals.audience import channels_for
from portal.signals.presenter import present

EVENTS_PER_MINUTE = 120
log = logging.getLogger(__name__)
MAX_TOKEN_TEXT = 256  # personal access tokens are far shorter; a megabyte "token" is not hashed and looked up


class _RateLimiter:
    """A token bucket per socket (per worker): a flood of events gets error acks, not work."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute) / 4
        self.buckets: dict[str, tuple[float, float]] = defaultdict(lambda: (self.capacity, time.monotonic()))

    def allow(self, sid: str) -> bool:
        tokens, last = self.buckets[sid]
        now = time.monotonic()
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[sid] = (tokens, now)
            return False
        self.buckets[sid] = (tokens - 1, now)
        return True

    def forget(self, sid: str) -> None:
        self.buckets.pop(sid, None)


def _error(code: str) -> dict:
    return {"ok": False, "error": code}


MAX_ID_TEXT = 64  # a public id is a 36-character UUID; longer text is not looked at


def _payload(args: tuple, required: frozenset[str], optional: frozenset[str] = frozenset()) -> dict | None:
    """The event's one argument if it is exactly a dict with the required keys and no others; None otherwise.

    Handlers take ``*args``: python-socketio passes every argument a client sends as a parameter, so a handler with
    one parameter raised TypeError for two payloads and the client never got its ack. An argument that could not
    be decoded at all arrives as ``core.json.UNREADABLE`` and is refused here like any other non-dict.
    """
    if len(args) != 1 or type(args[0]) is not dict:
        return None
    data = args[0]
    return data if required <= data.keys() <= required | optional else None


def _public_id(value: object):
    return parse_public_id(value) if isinstance(value, str) and len(value) <= MAX_ID_TEXT else None


def _sequence(value: object) -> int | None:
    """A room sequence number: an INTEGER column, so 2**31 or more would overflow in the driver (SQLite:
    OverflowError beyond 2**63) rather than simply match nothing."""
    return value if type(value) is int and 0 <= value <= MAX_INT else None


class LiveNamespace(Namespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.limiter = _RateLimiter(EVENTS_PER_MINUTE)
        self.token_secrets: dict[str, str] = {}  # sid -> token, for sockets that connected with one (this worker)

    def on_connect(self, auth=None):
        """The browser's session cookie (loaded with its live server-side record), or a personal access token in
        ``auth={"token": ...}`` for programs. Anything else is refused here, before any channel is joined."""
        user = current_user._get_current_object() if current_user.is_authenticated else None
        if user is None:
            user = self._token_user(auth, connecting=True)
        if user is None:
            # python-socketio's own exception: the builtin one reaches the client as a generic refusal.
            raise Refused("unauthorized")
        join_room(user_room(user.id))
        record = current_session_record() if current_user.is_authenticated else None
        if record is not None:
            join_room(session_room(record.public_id))
        for channel in channels_for(queries.viewer_for(user)):
            join_room(channel)
        status_watch.ensure_started(current_app._get_current_object(), NAMESPACE)
        return True

    def _token_user(self, auth, *, connecting: bool = False):
        """Token sockets re-check their token at every event: revoked, expired or blocked means disconnected."""
        if connecting:
            secret = auth.get("token") if type(auth) is dict else None
            if not isinstance(secret, str) or len(secret) > MAX_TOKEN_TEXT:
                return None
        else:
            secret = self.token_secrets.get(request.sid)
            if secret is None:
                return None
        try:
            user, _token = tokens.authenticate(secret, ip=request.remote_addr or "")
        except tokens.TokenRejected:
            commit()  # the refusal is audited
            self.token_secrets.pop(request.sid, None)
            return None
        commit()
        if connecting:
            self.token_secrets[request.sid] = secret
        return user

    def _user(self):
        """The socket's user for this event: the cookie session re-loaded from the database, or the token."""
        if current_user.is_authenticated:
            return current_user._get_current_object()
        return self._token_user(None)

    def on_disconnect(self, reason=None):
        self.limiter.forget(request.sid)
        self.token_secrets.pop(request.sid, None)

    def on_resume(self, *args):
        """``{"room": <room id>, "after": <seq>}`` → every event after ``seq`` the user may (still) see, in order,
        and ``degraded``: whether this worker's live delivery is degraded now (later changes come as
        ``live.status``)."""
        user = self._user()
        if user is None:
            disconnect()
            return _error("unauthorized")
        if not self.limiter.allow(request.sid):
            return _error("rate_limited")
        data = _payload(args, frozenset({"room"}), frozenset({"after"}))
        if data is None:
            return _error("invalid_payload")
        room_id, after = _public_id(data["room"]), _sequence(data.get("after", 0))
        if room_id is None or after is None:
            return _error("invalid_payload")
        viewer = queries.viewer_for(user)
        try:
            room = queries.get_room_for(viewer, room_id)
        except DomainError:
            return _error("not_found")
        rows = queries.events_after(viewer, room, after, limit=queries.RESUME_BATCH)
        more = len(rows) == queries.RESUME_BATCH
        events = [
            {
                "event": event.kind,
                "room": str(room.public_id),
                "seq": event.seq,
                "signal": present(signal, viewer.fields_for(signal)),
            }
            for event, signal in rows
        ]
        # `after` for the next call: past the events the user may not see, unless the batch was cut short.
        next_after = rows[-1][0].seq if more else room.last_seq
        return {
            "ok": True,
            "room": str(room.public_id),
            "events": events,
            "next_after": next_after,
            "more": more,
            "degraded": live_degraded(),  # this worker's live delivery, as live.status reports its changes
        }


def register(socketio: SocketIO) -> None:
    socketio.on_namespace(LiveNamespace(NAMESPACE))
    socketio.on_error(NAMESPACE)(_unexpected)


def _unexpected(error: Exception):
    """Any other failure in a handler (the database down, a bug): roll back, log, and answer -- a connect is
    refused (fail closed, R-AZ-1), an event gets an error ack instead of silence."""

    safe_rollback()
    log.error("live event failed: %s", error.__class__.__name__, exc_info=error)
    if (getattr(request, "event", None) or {}).get("message") == "connect":
        return False
    return _error("unavailable")


# --- meetings ---------------------------------------------------------------------------------------------------


def _on_meeting_watch(self, *args):
    """``{"meeting": <meeting id>, "editing": <bool>}``: follow a meeting's agenda and minutes live.

    The channel is joined only after the database says the user holds a current seat in the meeting's room or is
    invited to the meeting as a guest (the same query as the pages); ``editing`` marks the user as editing the
    minutes, which the others see. The page repeats the call every 30 s while it is open (presence expires after
    90 s)."""
    from portal.meetings import presenter as meeting_presenter
    from portal.meetings import queries as meeting_queries
    from portal.meetings import services as meeting_services
    from portal.meetings.events import meeting_channel

    user = self._user()
    if user is None:
        disconnect()
        return _error("unauthorized")
    if not self.limiter.allow(request.sid):
        return _error("rate_limited")
    data = _payload(args, frozenset({"meeting"}), frozenset({"editing"}))
    if data is None:
        return _error("invalid_payload")
    meeting_id, editing = _public_id(data["meeting"]), data.get("editing", False)
    if meeting_id is None or type(editing) is not bool:
        return _error("invalid_payload")
    try:
        meeting = meeting_queries.meeting_for(user, meeting_id)
        editors = meeting_services.watch(user, meeting, editing=editing)
    except DomainError:
        return _error("not_found")
    join_room(meeting_channel(meeting.id))
    commit()
    return {
        "ok": True,
        "meeting": str(meeting.public_id),
        "editors": meeting_presenter.editor_list(editors),
    }


# Flask-SocketIO dispatches an event to the method named "on_" + the event name; "meeting.watch" has a dot.
setattr(LiveNamespace, "on_meeting.watch", _on_meeting_watch)
