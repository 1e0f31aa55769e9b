"""Bench mode only: count the SQL statements of each request and report them in the ``X-Query-Count`` header.

``create_app`` installs this only when the environment has ``PORTAL_BENCH_COUNT_QUERIES=1`` (``make bench`` sets it
for its HTTP phase, to show that a page costs a constant number of queries, not one per row). Without that variable
this module is not imported, no event listener is registered and no header is sent.
"""

from __future__ import annotations

import os

from flask import Flask, Response, g, has_request_context
from sqlalchemy import event

from portal.extensions import db

ENV_VAR = "PORTAL_BENCH_COUNT_QUERIES"
HEADER = "X-Query-Count"


def enabled(environ: dict | None = None) -> bool:
    return (os.environ if environ is None else environ).get(ENV_VAR) == "1"


def _count(conn, cursor, statement, parameters, context, executemany) -> None:
    if has_request_context():
        g.portal_query_count = g.get("portal_query_count", 0) + 1


def install(app: Flask) -> None:
    """Register the counter. Call before the other ``after_request`` hooks so that this one runs last."""
    with app.app_context():
        for engine in db.engines.values():
            if not event.contains(engine, "before_cursor_execute", _count):
                event.listen(engine, "before_cursor_execute", _count)

    @app.after_request
    def _report(response: Response) -> Response:
        response.headers[HEADER] = str(g.get("portal_query_count", 0))
        return response
