"""The portal served the way production serves it: gunicorn with ``gunicorn.conf.py`` (the worker class
``portal.realtime.worker.PortalWebSocketWorker``), gevent monkey-patching in ``wsgi.py``, on a free port of
127.0.0.1 over a scratch database. Same interface as ``tests.servers.PortalServer``; ended by the object that
started it (SIGTERM to the gunicorn master, which stops its workers)."""

from __future__ import annotations

import sys

from tests.servers import HOST, ROOT, PortalServer

WORKER_CLASS = "portal.realtime.worker.PortalWebSocketWorker"


class GunicornServer(PortalServer):
    def __init__(self, *args, workers: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.workers = workers

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PORTAL_SOCKETIO_ASYNC_MODE"] = "gevent"  # as in production: wsgi.py monkey-patches first
        return env

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--worker-class",
            WORKER_CLASS,  # what gunicorn.conf.py names; repeated so the test cannot silently run another class
            "--workers",
            str(self.workers),
            "--bind",
            f"{HOST}:{self.port}",
            "--graceful-timeout",
            "2",  # open WebSockets would otherwise hold the stop for 30 s
            "--no-control-socket",
            "wsgi:app",
        ]
