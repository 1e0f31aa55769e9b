"""WSGI entry point: ``gunicorn --worker-class portal.realtime.worker.PortalWebSocketWorker ... wsgi:app``
(see README). Imports only ``portal``."""

import os

if os.environ.get("PORTAL_SOCKETIO_ASYNC_MODE") == "gevent":  # monkey-patch before anything opens a socket
    from gevent import monkey

    monkey.patch_all()

from portal import create_app
from portal.core.heap import freeze_after_warm_up

app = create_app()
freeze_after_warm_up(app)
