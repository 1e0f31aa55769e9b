"""Faults of the message queue, against a real server process (issue 10).

Redis here is reached through a proxy on a loopback port of its own (``tests/faults.py``), never by stopping the
shared server: blackholing the proxy makes Redis reachable-but-silent for this server only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.faults import BlackholeProxy
from tests.realtime.test_signal_fanout import _build_world, post_signal, token_socket  # noqa: F401 (fixture)
from tests.servers import PortalServer, sqlite_url

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("servers")]

POST_WITHIN = 1.0  # seconds: a post answers in well under a second whatever Redis does


@pytest.fixture(scope="module")
def proxied(redis_url, tmp_path_factory) -> Iterator[dict]:
    """A server whose Redis (message queue, rate limits) is behind a proxy that the test can blackhole."""
    parts = urlsplit(redis_url)
    proxy = BlackholeProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    through_proxy = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
    database = sqlite_url(tmp_path_factory.mktemp("faults") / "portal.sqlite3")
    world = _build_world(database)
    server = PortalServer(database, redis_url=through_proxy, log_dir=tmp_path_factory.mktemp("fault-logs"), name="x")
    server.start().wait_ready()
    try:
        yield {"server": server, "proxy": proxy, "world": world}
    finally:
        server.stop()
        proxy.close()


def _timed_post(server, token) -> tuple[float, dict]:
    started = time.monotonic()
    body = post_signal(server, token, f"Fout-test {uuid.uuid4().hex[:8]}")
    return time.monotonic() - started, body


def test_posting_answers_at_once_while_redis_is_blackholed(proxied, token_socket):  # noqa: F811
    server, proxy, world = proxied["server"], proxied["proxy"], proxied["world"]
    author = world["tokens"]["author"]
    watcher = token_socket(server, world["tokens"]["police"]).connect()
    before, _ = _timed_post(server, author)  # the queue works: warm connections
    assert before < POST_WITHIN

    proxy.blackhole()
    try:
        timings = [_timed_post(server, author) for _ in range(5)]
    finally:
        proxy.restore()
    slowest = max(seconds for seconds, _body in timings)
    assert slowest < POST_WITHIN, f"posts took {[round(s, 2) for s, _ in timings]} s with Redis blackholed"
    # Nothing is lost: every post is stored and in the room's stream, for clients to resume.
    answer = watcher.resume(world["rooms"]["a"], 0)
    assert answer["ok"] is True
    resumed = {event["signal"]["id"] for event in answer["events"]}
    assert {body["id"] for _seconds, body in timings} <= resumed
