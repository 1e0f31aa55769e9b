"""The gunicorn worker class production runs (README): gevent-websocket's, with a smaller read buffer per connection.

gevent's WSGI handler reads every connection through ``socket.makefile("rb", -1)``: an 8 KB buffer that lives as long
as the connection. A WebSocket connection lives for hours and reads frames of a few hundred bytes (``resume``,
``meeting.watch``); HTTP requests here are small forms and JSON. With 1 KB the server holds ~7 KB less per connected
client (`make bench`, tracemalloc: the buffered reader was the largest single item per socket); larger reads simply
take more than one ``recv``.

Run it as ``gunicorn --worker-class portal.realtime.worker.PortalWebSocketWorker ... wsgi:app``.
"""

from __future__ import annotations

from geventwebsocket.gunicorn.workers import GeventWebSocketWorker
from geventwebsocket.handler import WebSocketHandler

READ_BUFFER_BYTES = 1024


class PortalWebSocketHandler(WebSocketHandler):
    def __init__(self, sock, address, server, rfile=None):
        super().__init__(sock, address, server, rfile=rfile or sock.makefile("rb", READ_BUFFER_BYTES))


class PortalWebSocketWorker(GeventWebSocketWorker):
    wsgi_handler = PortalWebSocketHandler
