"""Tell this worker's open pages when its live delivery degrades and recovers.

Each worker polls its own health (``portal.main.health.live_degraded``: Redis ping and this worker's message-queue
listener) every ``POLL_SECONDS`` and on a change emits ``live.status {"degraded": bool}`` to its own ``/live``
sockets with ``ignore_queue=True``: the local emit of python-socketio, which does not go through Redis, so it
arrives precisely when Redis is what failed. A socket learns the state at (re)connect from the ``resume`` answer.
"""

from __future__ import annotations

import logging
import os

import socketio as socketio_lib
from flask import Flask

from portal.extensions import socketio
from portal.main.health import live_degraded

STATUS_EVENT = "live.status"
POLL_SECONDS = 1.0
log = logging.getLogger(__name__)


class StatusWatch:
    """One watch per worker process, started at the first socket connection of that process."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self.degraded = False

    def ensure_started(self, app: Flask, namespace: str) -> None:
        server = getattr(socketio, "server", None)
        if server is None or not isinstance(server.manager, socketio_lib.PubSubManager):
            return  # one process without a message queue: nothing to degrade
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self.degraded = live_degraded(app)
        server.start_background_task(self._run, app, namespace)

    def _run(self, app: Flask, namespace: str) -> None:
        while True:
            socketio.sleep(POLL_SECONDS)
            try:
                self.check(app, namespace)
            except Exception:  # the watch outlives any one failure
                log.exception("live updates: status check failed")

    def check(self, app: Flask, namespace: str) -> None:
        degraded = live_degraded(app)
        if degraded != self.degraded:
            self.degraded = degraded
            socketio.emit(STATUS_EVENT, {"degraded": degraded}, namespace=namespace, ignore_queue=True)


watch = StatusWatch()
