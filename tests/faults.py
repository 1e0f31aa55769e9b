"""Fault injection for the fault tests: a TCP proxy on a loopback port of its own that can blackhole a service.

A blackholed service is the nasty case: it is reachable (connections are accepted, writes succeed) but never
answers, so every client waits for its own timeout. A stopped service refuses at once, which is easy.
The proxy only ever talks to loopback addresses.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from tests.servers import HOST, free_port


class BlackholeProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` until ``blackhole()``; from then on it accepts and reads
    everything and forwards nothing, in either direction, until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.holed = threading.Event()
        self._listener = socket.create_server((HOST, self.port))
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()

    def blackhole(self) -> None:
        self.holed.set()

    def restore(self) -> None:
        """Forward again; connections opened while the service was blackholed are closed, as a failed-over network
        would, so that clients reconnect instead of waiting on a dead stream."""
        self.holed.clear()
        self._close_connections()

    def close(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self._listener.close()
        self._close_connections()

    def _close_connections(self) -> None:
        connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(client)
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._connections.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="blackhole-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if not self.holed.is_set():
                    sink.sendall(data)
        for conn in (source, sink):
            with suppress(OSError):
                conn.close()
