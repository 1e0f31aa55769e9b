"""The garbage collector in a long-running worker.

Measured with ``make bench`` and a gc callback (bench/README.md): a worker's heap holds ~260,000 container objects
after start-up (Flask, SQLAlchemy, Babel, the models) and another ~70,000 once its first requests have filled
SQLAlchemy's statement cache and the templates. CPython's full (generation 2) collection walks all of them: every
few dozen requests one request stood still for 80-155 ms, which was the whole p99 of the list API. ``gc.freeze()``
moves what exists into a permanent generation that collections skip; a request's own garbage is still collected as
before. Freezing twice, at start-up and after the warm-up, leaves full collections of ~10-20 ms."""

from __future__ import annotations

import gc

from flask import Flask

WARM_UP_REQUESTS = 300  # by then the statement cache and the templates of the busy pages are filled


def freeze() -> None:
    gc.collect()
    gc.freeze()


def freeze_after_warm_up(app: Flask, requests: int = WARM_UP_REQUESTS) -> None:
    """Freeze now, and once more after this worker has served ``requests`` requests. For the production entry
    point only: objects frozen are never freed, which a test run that builds many apps must not pay for."""
    freeze()
    served = 0

    def count_request(_error: BaseException | None) -> None:
        nonlocal served
        served += 1
        if served == requests:
            freeze()

    app.teardown_request(count_request)
