"""WebSocket messages refused by their declared length, before a byte of the payload is read (issue 10).

gevent-websocket reads any frame whole, whatever length its header declares, unmasks it byte by byte in Python
and validates UTF-8 with a byte-by-byte state machine, before python-engineio compares the message with
``max_http_buffer_size``: one 8 MB frame from a socket that never signed in held its worker's event loop for ~4 s,
and every delivery of that worker waited. ``PortalWebSocket`` (the class of every WebSocket the portal's worker
accepts, ``portal/realtime/worker.py``) reads the header first and closes the connection with 1009 (message too big)
when the declared length, or the sum of a fragmented message's frames, is above the limit:

- the portal's ``max_http_buffer_size`` (64 KiB, read from the app's Engine.IO server) for a socket whose Socket.IO
  session is connected to ``/live``, i.e. passed the namespace's authentication;
- 4 KiB before that: such a socket only sends Engine.IO handshake packets (``2probe``, ``5``) and the Socket.IO
  CONNECT with its token (at most ~300 bytes).

Whether a socket has authenticated is the Socket.IO server's own record: the manager's ``is_connected`` for the
Engine.IO session, which is not "connected" while the connect handler is still deciding and no longer after a
disconnect. The worker learns the Engine.IO session id of a connection from the ``sid`` of the upgrade URL (a
session that began with long-polling) or from the Engine.IO OPEN packet it sends itself (a WebSocket-first session,
as the portal's pages and programs connect).

What is read is unmasked with one big-integer XOR (0.2 ms for 64 KiB instead of the per-byte loop's 15 ms) and a
text message is decoded once by ``bytes.decode``, which validates UTF-8 in C (1007 when it is not; the per-byte
validator took 21 ms for 64 KiB, twice). The close frame carries its status code, which gevent-websocket's omits.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from urllib.parse import parse_qs

from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.websocket import MSG_ALREADY_CLOSED, Header, WebSocket

from portal.realtime.publish import NAMESPACE

UNAUTHENTICATED_MESSAGE_BYTES = 4 * 1024
FALLBACK_MESSAGE_BYTES = 64 * 1024  # only for an application without the portal's Socket.IO server
CLOSE_MESSAGE_TOO_BIG = 1009
# After the 1009 close frame: what is read and thrown away (no unmasking) so that the close frame reaches the client
# instead of a TCP reset, which closing a socket with unread bytes sends, and which makes the client drop the frame.
LINGER_BYTES = 256 * 1024
LINGER_SECONDS = 1.0


class MessageTooBig(Exception):
    """A frame or fragmented message declared more bytes than the socket may send (not a socket.error, so that
    gevent-websocket's ``receive`` lets it through to ours)."""


def unmask(payload: bytes, mask: bytes) -> bytes:
    """RFC 6455 5.3: XOR with the 4-byte key repeated, as one integer operation instead of a loop per byte."""
    size = len(payload)
    if not size or not mask:
        return bytes(payload)
    key = (bytes(mask) * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


def socketio_server(application):
    """The portal app's Socket.IO server (``create_app`` keeps it in the app's extensions), or None."""
    return getattr(application, "extensions", {}).get("portal_socketio_server")


class FrameGate:
    """Per connection: the Engine.IO session it carries and the limit that applies to its next message."""

    __slots__ = ("eio_sid", "limit", "manager")

    def __init__(self, environ: dict, application) -> None:
        server = socketio_server(application)
        self.limit = server.eio.max_http_buffer_size if server is not None else FALLBACK_MESSAGE_BYTES
        self.manager = server.manager if server is not None else None
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]  # an upgrade from long-polling
        self.eio_sid = sid if sid and len(sid) <= 64 else None

    def authenticated(self) -> bool:
        if self.manager is None:  # not the portal's app: one limit for every socket
            return True
        if self.eio_sid is None:
            return False
        sid = self.manager.sid_from_eio_sid(self.eio_sid, NAMESPACE)
        return sid is not None and self.manager.is_connected(sid, NAMESPACE)

    def message_limit(self) -> int:
        return self.limit if self.authenticated() else min(self.limit, UNAUTHENTICATED_MESSAGE_BYTES)

    def sending(self, message) -> None:
        """The server's first text frame of a WebSocket-first session is Engine.IO's OPEN: ``0{"sid": ...}``."""
        if self.eio_sid is None and isinstance(message, str) and message.startswith("0{"):
            try:
                sid = json.loads(message[1:]).get("sid")
            except (ValueError, AttributeError):
                return
            self.eio_sid = sid if isinstance(sid, str) else None


class PortalWebSocket(WebSocket):
    """gevent-websocket's WebSocket reading messages within the connection's limit. No slots of its own: the worker's
    handler turns the WebSocket it just made into this class, and keeps the ``FrameGate`` itself."""

    __slots__ = ()

    @property
    def gate(self) -> FrameGate:
        return self.handler.frame_gate

    def read_frame(self):
        """One frame, within the limit (``read_message`` below does not use it; kept for gevent-websocket's API)."""
        header = self._header(self.gate.message_limit())
        return header, self._payload(header)

    def _header(self, limit: int) -> Header:
        header = Header.decode_header(self.stream)  # reads the 2-14 header bytes only
        if header.flags:
            raise ProtocolError
        if header.length > limit:  # control frames are already refused above 125 bytes
            raise MessageTooBig(header.length)
        return header

    def _payload(self, header: Header) -> bytes:
        if not header.length:
            return b""
        try:
            payload = self.raw_read(header.length)
        except Exception:  # gevent-websocket's own read_frame treats every read failure as EOF
            payload = b""
        if len(payload) != header.length:
            raise WebSocketError("Unexpected EOF reading frame payload")
        return unmask(payload, header.mask) if header.mask else payload

    def read_message(self):
        """The next text or binary message, as gevent-websocket's ``read_message`` returns it, but the declared
        length of every data frame is added up before its payload is read."""
        limit = self.gate.message_limit()
        opcode = None
        total = 0
        parts: list[bytes] = []
        while True:
            header = self._header(limit)
            kind = header.opcode
            if kind in (self.OPCODE_TEXT, self.OPCODE_BINARY):
                if opcode:
                    raise ProtocolError(f"The opcode in non-fin frame is expected to be zero, got {kind!r}")
                opcode = kind
            elif kind == self.OPCODE_CONTINUATION:
                if not opcode:
                    raise ProtocolError("Unexpected frame with opcode=0")
            elif kind not in (self.OPCODE_PING, self.OPCODE_PONG, self.OPCODE_CLOSE):
                raise ProtocolError(f"Unexpected opcode={kind!r}")
            else:  # a control frame (at most 125 bytes) between the fragments of a message
                payload = self._payload(header)
                if kind == self.OPCODE_PING:
                    self.handle_ping(header, payload)
                    continue
                if kind == self.OPCODE_PONG:
                    self.handle_pong(header, payload)
                    continue
                self.handle_close(header, payload)
                return None
            total += header.length
            if total > limit:
                raise MessageTooBig(total)
            parts.append(self._payload(header))
            if header.fin:
                break
        message = b"".join(parts)
        if opcode == self.OPCODE_TEXT:
            return message.decode("utf-8")  # UnicodeDecodeError: gevent-websocket's receive closes with 1007
        return bytearray(message)

    def receive(self):
        try:
            return super().receive()
        except MessageTooBig:
            self.close(CLOSE_MESSAGE_TOO_BIG)
            _linger(getattr(self.handler, "socket", None))
            return None

    def close(self, code=1000, message=b""):
        """gevent-websocket's ``close``, with the status code in the close frame: 0.10.1 sends an empty close frame
        whatever ``code`` says (and a bytes reason as its ``repr``), so a client never saw 1009 or 1007."""
        if self.closed:
            self.current_app.on_close(MSG_ALREADY_CLOSED)
        try:
            reason = message.encode() if isinstance(message, str) else bytes(message or b"")
            self.send_frame(struct.pack("!H", code) + reason[:123], opcode=self.OPCODE_CLOSE)
        except WebSocketError:
            self.logger.debug("Failed to write closing frame -> closing socket")
        finally:
            self.closed = True
            self.stream = self.raw_write = self.raw_read = self.environ = None

    def send_frame(self, message, opcode):
        if opcode == self.OPCODE_TEXT:
            self.gate.sending(message)
        return super().send_frame(message, opcode)


def _linger(sock) -> None:
    """Half-close, then discard what the client still sends (bounded in bytes and time; gevent's recv waits without
    blocking the worker), so that the close frame is read before the connection is reset."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_SECONDS
        left = LINGER_BYTES
        while left > 0 and (wait := deadline - time.monotonic()) > 0:
            sock.settimeout(wait)
            chunk = sock.recv(min(left, 64 * 1024))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:  # timed out, reset: the connection ends either way
        pass
