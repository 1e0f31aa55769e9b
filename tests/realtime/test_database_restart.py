"""A PostgreSQL restart under a running portal (issue 10, item 7): during the outage every answer is a clean error
(503 problem+json with Retry-After for the API, a 503 page for people, an error ack on the socket), never a 500 and
never a traceback; once the database is back, the portal recovers by itself (``pool_pre_ping``) and no signal is
lost or duplicated: live delivery carries on and ``resume`` returns exactly what was stored.

The database is a PostgreSQL cluster of this module's own (``tests.faults.PrivatePostgres``, a free loopback port),
stopped and started with ``pg_ctl -m fast``; the shared server is never touched. The portal is one real
``flask portal serve`` process on the Redis message queue, so posts go through the Outbox.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import requests
from sqlalchemy import exc as sa_exc

from tests.conftest import missing_service
from tests.faults import PrivatePostgres
from tests.realtime.test_signal_fanout import (  # noqa: F401 (token_socket is a fixture)
    _build_world,
    _today,
    last_seq,
    post_signal,
    token_socket,
)
from tests.servers import HOST, HttpUser, PortalServer

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("servers")]

RECOVER_WITHIN = 10.0  # seconds after PostgreSQL accepts connections again: "within a few seconds"
ANSWER_WITHIN = 5.0  # seconds: a request during the outage is refused quickly, it does not hang
OUTAGE_ROUNDS = 3  # the first failure and the ones after it take different paths (a dead pooled connection, none)
TRACEBACK = re.compile(r"Traceback|File \"|sqlalchemy|psycopg|OperationalError|PendingRollback", re.IGNORECASE)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    why = PrivatePostgres.unavailable()
    if why:
        missing_service(why)
    with PrivatePostgres() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def restart_world(postgres) -> tuple[str, dict]:
    url = postgres.create_database("portal_restart")
    return url, _build_world(url)


@pytest.fixture(scope="module")
def portal(restart_world, redis_url, tmp_path_factory) -> Iterator[PortalServer]:
    url, _world = restart_world
    with PortalServer(url, redis_url=redis_url, log_dir=tmp_path_factory.mktemp("restart-logs"), name="restart") as s:
        yield s


def _summary(label: str) -> str:
    return f"Restart {label} {uuid.uuid4().hex[:8]}"


def _post(server: PortalServer, token: str, summary: str, key: str | None = None) -> requests.Response:
    body = {
        "occurred_on": _today(),
        "category": "geweld",
        "location_type": "schoolterrein",
        "severity": "laag",
        "summary": summary,
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex}
    return requests.post(server.url("/api/v1/signals"), json=body, headers=headers, timeout=10)


def _assert_api_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    assert response.headers.get("Retry-After", "").isdigit(), response.headers
    problem = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("database_unavailable"), problem
    assert not TRACEBACK.search(response.text), response.text


def _assert_page_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("text/html"), response.headers
    assert response.headers.get("Retry-After", "").isdigit(), response.headers
    assert not TRACEBACK.search(response.text), response.text[:2000]


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_postgres_restart_gives_clean_503s_and_loses_no_signal(postgres, restart_world, portal, token_socket):  # noqa: F811
    _url, world = restart_world
    tokens, room = world["tokens"], world["rooms"]["a"]
    author, police_token = tokens["author"], tokens["police"]
    api = {"Authorization": f"Bearer {police_token}"}

    person = HttpUser(portal).sign_in(world["emails"]["police"])
    room_page = f"/rooms/{room}"
    assert person.get(room_page).status_code == 200
    police = token_socket(portal, police_token).connect()
    before = last_seq(portal, police_token, room)

    stored = [post_signal(portal, author, _summary("before"))]
    police.next_event(summary=stored[0]["summary"])

    postgres.stop()
    refused: list[str] = []
    latencies: dict[str, list[float]] = {}
    try:
        for n in range(OUTAGE_ROUNDS):
            summary = _summary(f"during {n}")
            response, took = _timed(lambda s=summary: _post(portal, author, s))
            latencies.setdefault("POST /api/v1/signals", []).append(took)
            _assert_api_unavailable(response)
            refused.append(summary)

            response, took = _timed(lambda: requests.get(portal.url("/api/v1/signals"), headers=api, timeout=10))
            latencies.setdefault("GET /api/v1/signals", []).append(took)
            _assert_api_unavailable(response)

            response, took = _timed(lambda: person.get(room_page))
            latencies.setdefault("GET room page", []).append(took)
            _assert_page_unavailable(response)

            response, took = _timed(lambda: requests.get(portal.url("/healthz"), timeout=10))
            latencies.setdefault("GET /healthz", []).append(took)
            assert response.status_code == 503, response.text
            assert response.json()["checks"]["database"] == "unavailable"
            assert response.headers.get("Retry-After", "").isdigit()

            answer, took = _timed(lambda: police.resume(room, before))
            latencies.setdefault("socket resume", []).append(took)
            assert answer == {"ok": False, "error": "unavailable"}, answer
            assert police.connected  # the socket stays: the database is not a reason to throw clients out
    finally:
        postgres.start()
    back_at = time.monotonic()
    for name, took in latencies.items():
        assert max(took) < ANSWER_WITHIN, (name, took)

    # Back: posting works again within a few seconds, by itself.
    attempts = 0
    while True:
        attempts += 1
        summary = _summary(f"after {attempts}")
        response = _post(portal, author, summary)
        if response.status_code == 201:
            break
        _assert_api_unavailable(response)  # still a clean refusal while the pool reconnects
        refused.append(summary)
        assert time.monotonic() - back_at < RECOVER_WITHIN, f"no successful post {RECOVER_WITHIN} s after restart"
        time.sleep(0.1)
    recovered_after = time.monotonic() - back_at
    stored.append(response.json())
    assert police.next_event(summary=summary)["signal"]["id"] == stored[-1]["id"]  # live delivery carries on
    stored.append(post_signal(portal, author, _summary("after, again")))
    police.next_event(summary=stored[-1]["summary"])

    assert person.get(room_page).status_code == 200  # the browser session survived the outage
    health = requests.get(portal.url("/healthz"), timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["database"] == "ok"

    # A resume from before the outage: every stored signal, once, in order; nothing refused was stored.
    answer = police.resume(room, before)
    assert answer["ok"] is True, answer
    assert answer["more"] is False
    ids = [e["signal"]["id"] for e in answer["events"]]
    assert ids == [s["id"] for s in stored], (ids, [s["id"] for s in stored])
    seqs = [e["seq"] for e in answer["events"]]
    assert seqs == list(range(before + 1, before + 1 + len(stored)))  # no gap, no duplicate
    summaries = {e["signal"]["summary"] for e in answer["events"]}
    assert not summaries & set(refused)
    assert police.received() == []  # no event twice

    log = portal.log_tail(400)
    assert "PendingRollbackError" not in log, log
    assert " 500 " not in log, log
    person.close()
    print(
        "\noutage latencies (s): "
        + ", ".join(f"{name} max {max(took):.3f}" for name, took in latencies.items())
        + f"\nrecovered {recovered_after:.2f} s after restart ({attempts} attempts); "
        + f"stored {len(stored)}, refused {len(refused)}, lost 0, duplicated 0"
    )


PLAN_TABLE = "police_follow_ups"  # read by the live update's plan after the commit, never by the post before it


def test_restart_between_a_posts_commit_and_its_push(postgres, restart_world, portal, token_socket):  # noqa: F811
    """The post's transaction commits, then the live update's plan finds the database gone. The plan's error is
    rolled back (no PendingRollbackError later in the request), the post answers a clean 503 (the answer's own
    reads fail too) or 201, and nothing is lost or doubled: the same Idempotency-Key gives the stored signal once
    the database is back, and the signal, never pushed live, reaches the socket through ``resume``.

    Deterministic: this test holds an ACCESS EXCLUSIVE lock on a table that only the plan reads, waits until the
    server's plan is blocked on it with the signal already committed, and then stops PostgreSQL."""
    _url, world = restart_world
    tokens, room = world["tokens"], world["rooms"]["a"]
    author, police_token = tokens["author"], tokens["police"]
    police = token_socket(portal, police_token).connect()
    before = last_seq(portal, police_token, room)
    summary, key = _summary("between commit and push"), uuid.uuid4().hex

    lock = psycopg.connect(host=HOST, port=postgres.port, user="postgres", dbname="portal_restart")
    lock.execute(f"LOCK TABLE {PLAN_TABLE} IN ACCESS EXCLUSIVE MODE")
    answers: list[requests.Response | Exception] = []

    def post() -> None:
        try:
            answers.append(_post(portal, author, summary, key))
        except Exception as error:  # reported below, in the test's thread
            answers.append(error)

    poster = threading.Thread(target=post, daemon=True)
    poster.start()
    deadline = time.monotonic() + 10
    committed = blocked = False
    try:
        while time.monotonic() < deadline and not (committed and blocked):
            time.sleep(0.02)
            blocked = bool(
                lock.execute(
                    "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE NOT l.granted AND c.relname = %s",
                    (PLAN_TABLE,),
                ).fetchone()
            )
            committed = bool(lock.execute("SELECT 1 FROM signals WHERE summary = %s", (summary,)).fetchone())
            assert poster.is_alive() or committed, f"the post ended before its plan blocked: {answers}"
        assert committed, "the post never committed"
        assert blocked, "the plan never blocked on the lock"
    finally:
        lock.close()
        postgres.stop()  # the blocked plan's connection is cut
    try:
        poster.join(timeout=ANSWER_WITHIN)
        assert answers, "the post did not answer while the database was down"
    finally:
        postgres.start()
    first = answers[0]
    assert isinstance(first, requests.Response), first
    if first.status_code != 201:
        _assert_api_unavailable(first)  # committed, but the answer could not be read back: a clean 503

    # The client retries with the same key (as it must after a 503): the stored signal, not a second one.
    deadline = time.monotonic() + RECOVER_WITHIN
    while (again := _post(portal, author, summary, key)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert again.status_code in (200, 201), (again.status_code, again.text[:500])
    posted = again.json()
    if first.status_code == 201:
        assert first.json()["id"] == posted["id"]

    # The push may be lost (or, if the plan's connection survived the restart, arrive late); the signal is not:
    # resume returns it, once; the next post is pushed live as before.
    answer = police.resume(room, before)
    assert answer["ok"] is True, answer
    assert [e["signal"]["id"] for e in answer["events"]] == [posted["id"]]
    later = post_signal(portal, author, _summary("after the cut push"))
    event = police.next_event(summary=later["summary"])
    assert event["seq"] == answer["next_after"] + 1
    late = [payload for _name, payload in police.received() if payload["signal"]["id"] == posted["id"]]
    assert len(late) <= 1, late  # never twice
    log = portal.log_tail(400)
    assert "PendingRollbackError" not in log, log
    assert " 500 " not in log, log
    print(f"\nbetween commit and push: first answer {first.status_code}, retry {again.status_code}, resume has it once")


# --- regression tests in process: each way the database can fail is a 503, for the API and for a page -----------

DATABASE_FAILURES = {
    "operational": lambda: sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    "interface": lambda: sa_exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")),
    "disconnection": lambda: sa_exc.DisconnectionError("a pooled connection was found dead"),
    "pool_timeout": lambda: sa_exc.TimeoutError("QueuePool limit reached"),
    "pending_rollback": lambda: sa_exc.PendingRollbackError("a previous error was swallowed without rollback"),
}


def _failing(name: str):
    def fail(*args, **kwargs):
        raise DATABASE_FAILURES[name]()

    return fail


@pytest.mark.parametrize("failure", DATABASE_FAILURES)
def test_a_signed_in_page_answers_the_503_page_when_loading_the_user_fails(
    failure, client, make, login_as, monkeypatch
):
    """Before: the 503 handler rendered the layout, whose current_user loaded the user again from the failed
    database, and the handler's own error became werkzeug's bare 500 page."""
    from portal.identity import services as identity

    login_as(client, make.user())
    assert client.get("/").status_code == 200
    monkeypatch.setattr(identity, "resolve_session", _failing(failure))
    response = client.get("/")
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert "portal-error" in page  # the portal's own error page in its layout, not a fallback
    assert not TRACEBACK.search(page)


@pytest.mark.parametrize("failure", DATABASE_FAILURES)
def test_the_api_answers_503_problem_json_for_every_database_failure(failure, client, monkeypatch):
    from portal.identity import tokens

    monkeypatch.setattr(tokens, "authenticate", _failing(failure))
    response = client.get("/api/v1/signals", headers={"Authorization": "Bearer pvs_" + "x" * 43})
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["type"] == "urn:portal:problem:database_unavailable"
    assert not TRACEBACK.search(response.get_data(as_text=True))


def test_an_error_page_that_cannot_be_rendered_falls_back_to_a_bare_page(client, monkeypatch):
    """The last resort: a template that fails (here: on purpose) gives a small self-contained page with the right
    status, never werkzeug's 500."""
    from portal.main import errors

    def broken(*args, **kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr(errors, "render_template", broken)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Veiligheidsportaal" in response.get_data(as_text=True)
