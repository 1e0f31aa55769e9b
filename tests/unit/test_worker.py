"""The production worker class reads each connection through a small buffer (portal/realtime/worker.py)."""

from __future__ import annotations

import socket
import sys

from gevent import pywsgi

from portal.realtime.worker import READ_BUFFER_BYTES, PortalWebSocketHandler, PortalWebSocketWorker


def test_the_worker_serves_with_the_small_buffer_handler():
    assert PortalWebSocketWorker.wsgi_handler is PortalWebSocketHandler


def test_a_connection_is_read_through_a_small_buffer_and_still_reads_a_long_request():
    server_side, client_side = socket.socketpair()
    handler = PortalWebSocketHandler(server_side, ("127.0.0.1", 1), server=None)
    default = pywsgi.WSGIHandler(server_side, ("127.0.0.1", 1), server=None)
    try:
        # sys.getsizeof of a buffered reader counts its buffer: the saving per connection is real.
        assert sys.getsizeof(default.rfile) - sys.getsizeof(handler.rfile) >= 8192 - READ_BUFFER_BYTES
        line = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n"
        client_side.sendall(line)
        assert handler.rfile.readline() == line  # longer than the buffer: read in several recv calls
    finally:
        handler.rfile.close()
        default.rfile.close()
        server_side.close()
        client_side.close()
