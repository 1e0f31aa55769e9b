"""The gunicorn worker class production runs (README): gevent-websocket's, with a smaller read buffer per connection,
WebSocket messages refused by their declared length, and an access log without query strings.

gevent's WSGI handler reads every connection through ``socket.makefile("rb", -1)``: an 8 KB buffer that lives as long
as the connection. A WebSocket connection lives for hours and reads frames of a few hundred bytes (``resume``,
``meeting.watch``); HTTP requests here are small forms and JSON. With 1 KB the server holds ~7 KB less per connected
client (`make bench`, tracemalloc: the buffered reader was the largest single item per socket); larger reads simply
take more than one ``recv``.

Message size: gevent-websocket reads every frame whole, whatever its header declares, and unmasks it in pure Python
before python-engineio applies ``max_http_buffer_size``; one 8 MB frame from a socket that never signed in held the
worker for 3-5 s. The handler turns each WebSocket it accepts into ``frames.PortalWebSocket``, which
closes the connection with 1009 as soon as a header (or the sum of a fragmented message) declares more than 64 KiB
(the app's ``max_http_buffer_size``), or more than 4 KiB before the socket's Socket.IO session has authenticated on
``/live``, without reading the payload (``portal/realtime/frames.py``).

Access log: search and filter terms (``?q=``, a school, a subject key) may name a pupil, and ``/socket.io/?sid=``
carries a session id, so no log line of the portal ever holds a query string, of any route (docs/logging.md).
gevent-websocket's handler logs requests to its own, normally silent logger and never to gunicorn's access log;
this handler writes every request to gunicorn's access log (``gunicorn.conf.py`` sets its format and file) from a
copy of the request with the query strings, credentials and objects removed, so even a format with ``%(r)s``,
``%(q)s``, ``%({referer}i)s`` or ``%({set-cookie}o)s`` cannot print one. Outside gunicorn (``flask portal serve`` in
gevent mode) it writes gevent's usual line, with the path only.

Run it as ``gunicorn --config gunicorn.conf.py wsgi:app`` (the config names this class).
"""

from __future__ import annotations

from datetime import timedelta

from gevent import pywsgi
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker
from geventwebsocket.handler import WebSocketHandler
from geventwebsocket.websocket import WebSocket
from gunicorn.workers.ggevent import GeventResponse

from portal.realtime.frames import FrameGate, PortalWebSocket

READ_BUFFER_BYTES = 1024
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization"}
_URL_HEADERS = {"referer", "location"}
_URL_VARIABLES = ("RAW_URI", "REQUEST_URI", "HTTP_REFERER")


def without_query(text: str) -> str:
    """``GET /search?q=Jan de Vries HTTP/1.1`` → ``GET /search HTTP/1.1``; ``/x?a=1`` → ``/x``. Also for a request
    line quoted in an error message, and for a query with spaces (a malformed request): everything from the ``?``
    up to the protocol, or to the end, goes."""
    head, mark, rest = text.partition("?")
    if not mark:
        return text
    _, space, last = rest.rpartition(" ")
    return f"{head} {last}" if space and last.startswith("HTTP/") else head


def loggable_environ(environ: dict | None, path: str | None) -> dict[str, str]:
    """What an access-log format may read of a request: text variables only (Flask's request object in the environ
    prints its URL), no credentials, no query strings."""
    safe = {
        key: value
        for key, value in (environ or {}).items()
        if isinstance(value, str) and key not in ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION")
    }
    safe["QUERY_STRING"] = ""
    for key in _URL_VARIABLES:
        if key in safe:
            safe[key] = without_query(safe[key])
    safe.setdefault("RAW_URI", without_query(path or "-"))  # gunicorn's %(r)s reads it; gevent does not set it
    for key in ("REQUEST_METHOD", "PATH_INFO", "SERVER_PROTOCOL"):  # absent when the request line was malformed
        safe.setdefault(key, "-")
    return safe


def loggable_headers(headers) -> list[tuple[str, str]]:
    """Request or response headers for the log: no credentials or cookies, URLs without their query."""
    pairs = []
    for name, value in headers or ():
        name, value = (item.decode("latin-1") if isinstance(item, bytes) else str(item) for item in (name, value))
        if name.lower() in _SECRET_HEADERS:
            continue
        pairs.append((name, without_query(value) if name.lower() in _URL_HEADERS else value))
    return pairs


class PortalWebSocketHandler(WebSocketHandler):
    def __init__(self, sock, address, server, rfile=None):
        super().__init__(sock, address, server, rfile=rfile or sock.makefile("rb", READ_BUFFER_BYTES))

    def upgrade_connection(self):
        """gevent-websocket's upgrade, with the WebSocket it made turned into a ``PortalWebSocket`` (same slots) that
        reads within this connection's ``FrameGate``, before the application sees it."""
        result = super().upgrade_connection()
        websocket = getattr(self, "websocket", None)
        if type(websocket) is WebSocket:
            self.frame_gate = FrameGate(self.environ, self.application)
            websocket.__class__ = PortalWebSocket
        return result

    def log_request(self):
        log = getattr(self.server, "log", None)
        if not hasattr(log, "access"):  # not under gunicorn: gevent's own line (format_request below)
            return pywsgi.WSGIHandler.log_request(self)
        status = self.status.decode("latin-1") if isinstance(self.status, bytes) else self.status
        response = GeventResponse(status or "-", loggable_headers(self.response_headers), self.response_length)
        headers = getattr(self, "headers", None)  # not set when the request line was malformed
        request_headers = loggable_headers(headers.items() if headers is not None else ())
        duration = timedelta(seconds=max(0.0, (self.time_finish or self.time_start) - self.time_start))
        log.access(response, request_headers, loggable_environ(self.environ, self.path), duration)

    def format_request(self):
        requestline = self.requestline
        self.requestline = without_query(requestline or "")  # the request is done: only this log line reads it
        try:
            return super().format_request()
        finally:
            self.requestline = requestline

    def log_error(self, msg, *args):
        # gevent quotes a malformed request line, query and all, in its "Invalid request" messages.
        if not args:
            return super().log_error(without_query(str(msg)))
        return super().log_error(msg, *(without_query(a) if isinstance(a, str) else a for a in args))


class PortalWebSocketWorker(GeventWebSocketWorker):
    wsgi_handler = PortalWebSocketHandler
