"""Signal events between real server processes: who receives ``signal.created`` across two workers (one database,
one Redis message queue), what happens to a connected socket whose membership is revoked, and how ``resume`` fills
the gap after a disconnect. Sockets are python-socketio's real client, connecting with a personal access token in
``auth={"token": ...}``; signals are posted through ``POST /api/v1/signals`` with a bearer token.

The world (two districts with a room each, schools, a police unit, one account per scenario) is made by a small
script in the servers' database, so this module does not depend on the demo data.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import socketio

from tests.realtime.conftest import DISCONNECT_WITHIN, NAMESPACE, LiveSocket
from tests.servers import (
    ROOT,
    PortalServer,
    ServerError,
    portal_env,
    sqlite_url,
    start_servers,
)

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("servers")]

DELIVERY_WITHIN = 5.0  # seconds: "within a blink"; generous for a loaded CI machine
QUIET_FOR = 1.0  # seconds a socket that must receive nothing is watched after the others received the event
SIGNAL_EVENTS = ("signal.created", "signal.updated", "signal.response", "signal.recognised")

# Runs in a helper process with the servers' PORTAL_* environment; prints the world as JSON on its last line.
_WORLD_SCRIPT = r"""
import json

from flask_migrate import upgrade

from portal import create_app
from portal.authz.permissions import Role, ScopeType
from portal.core.db import commit
from portal.identity import services as identity
from portal.identity import tokens
from portal.organisations import services as organisations
from portal.organisations.models import OrganisationKind, SchoolSector
from portal.rooms import services as rooms
from portal.rooms.models import RoomKind
from portal.signals.taxonomy import load_reference_data

PASSWORD = "Realtime-test-2026!"

app = create_app()
with app.app_context():
    upgrade()  # what `flask db upgrade` runs: the schema as in production
    load_reference_data()
    district_a = organisations.create_district("FA", "Fan-out A")
    district_b = organisations.create_district("FB", "Fan-out B")
    room_a = rooms.create_room("fanout-a", "Netwerk Fan-out A", RoomKind.DISTRICT, district_a)
    room_b = rooms.create_room("fanout-b", "Netwerk Fan-out B", RoomKind.DISTRICT, district_b)

    def organisation(code, kind, district=None):
        sector = SchoolSector.VO if kind is OrganisationKind.SCHOOL_LOCATION else None
        return organisations.save_organisation(
            None, code=code, name=code.replace("-", " ").title(), kind=kind, district=district, sector=sector
        )

    school_a1 = organisation("school-fa1", OrganisationKind.SCHOOL_LOCATION, district_a)
    school_a2 = organisation("school-fa2", OrganisationKind.SCHOOL_LOCATION, district_a)
    school_b1 = organisation("school-fb1", OrganisationKind.SCHOOL_LOCATION, district_b)
    police = organisation("politie-fanout", OrganisationKind.POLICE_UNIT)
    youth_work = organisation("jongerenwerk-fanout", OrganisationKind.YOUTH_WORK)
    municipality = organisation("gemeente-fanout", OrganisationKind.MUNICIPALITY_UNIT)

    # name -> (organisation, role, scope, scope organisation, scope district, rooms)
    people = {
        "author": (school_a1, Role.SCHOOL_COORDINATOR, ScopeType.LOCATION, school_a1, None, [room_a]),
        "police": (police, Role.POLICE_OFFICER, ScopeType.DISTRICT, None, district_a, [room_a]),
        "outsider": (school_b1, Role.SCHOOL_COORDINATOR, ScopeType.LOCATION, school_b1, None, [room_b]),
        "leaver": (school_a2, Role.SCHOOL_COORDINATOR, ScopeType.LOCATION, school_a2, None, [room_a]),
        "resumer": (youth_work, Role.PARTNER, ScopeType.CITY, None, None, [room_a]),
        "admin": (municipality, Role.FUNCTIONAL_ADMIN, ScopeType.CITY, None, None, []),
    }
    users, memberships = {}, {}
    for name, (org, role, scope, scope_org, scope_district, member_of) in people.items():
        user = identity.create_user(
            email=f"{name}@fanout.example", display_name=name.title(), organisation=org, password=PASSWORD
        )
        identity.assign_role(user, role, scope, organisation=scope_org, district=scope_district, actor=None)
        for room in member_of:
            memberships[name] = rooms.add_member(room, user, actor=None)
        users[name] = user
    issued = {name: tokens.create_token(user, name="fan-out test", via="cli") for name, user in users.items()}
    commit()
    world = {
        "rooms": {"a": str(room_a.public_id), "b": str(room_b.public_id)},
        "tokens": {name: token.secret for name, token in issued.items()},
        "emails": {name: user.email for name, user in users.items()},
        "memberships": {name: str(m.public_id) for name, m in memberships.items()},
    }
print(json.dumps(world))
"""


def _build_world(database_url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _WORLD_SCRIPT],
        cwd=ROOT,
        env=portal_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ServerError(f"building the fan-out world failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fanout_database(tmp_path_factory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("fanout") / "portal.sqlite3")


@pytest.fixture(scope="module")
def world(fanout_database) -> dict:
    """Migrates the new database and fills it, in one helper process (each start costs an app import)."""
    return _build_world(fanout_database)


@pytest.fixture(scope="module")
def pair(redis_url, fanout_database, world, tmp_path_factory) -> Iterator[tuple[PortalServer, PortalServer]]:
    """Workers A and B: two ``flask portal serve`` processes on one database and one Redis queue."""
    log_dir = tmp_path_factory.mktemp("fanout-logs")
    servers = start_servers(
        [
            PortalServer(fanout_database, redis_url=redis_url, log_dir=log_dir, name="fanout-a"),
            PortalServer(fanout_database, redis_url=redis_url, log_dir=log_dir, name="fanout-b"),
        ]
    )
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


class TokenSocket(LiveSocket):
    """A ``/live`` client that authenticates with a personal access token and records every signal event."""

    def __init__(self, server: PortalServer, token: str):
        super().__init__(server)
        self.token = token
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        for name in SIGNAL_EVENTS:
            self.client.on(name, self._recorder(name), namespace=NAMESPACE)

    def _recorder(self, name: str):
        def record(payload) -> None:
            self.events.put((name, payload))

        return record

    def connect(self, cookie: str | None = None, *, transport: str = "websocket") -> TokenSocket:
        assert cookie is None, "a token socket sends no cookie"
        self.client.connect(
            self.server.base_url,
            auth={"token": self.token},
            namespaces=[NAMESPACE],
            transports=[transport],
            wait_timeout=5,
        )
        return self

    def next_event(self, name: str = "signal.created", *, summary: str, timeout: float = DELIVERY_WITHIN) -> dict:
        """The first ``name`` event for the signal with ``summary``; other events are kept, in order."""
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    event = self.events.get(timeout=left)
                except queue.Empty:
                    break
                if event[0] == name and event[1]["signal"]["summary"] == summary:
                    return event[1]
                skipped.append(event)
        finally:
            for event in skipped:  # put back what was not asked for, for a later call
                self.events.put(event)
        raise AssertionError(f"no {name} for {summary!r} within {timeout} s on {self.server.base_url}")

    def received(self) -> list[tuple[str, dict]]:
        drained = []
        while True:
            try:
                drained.append(self.events.get_nowait())
            except queue.Empty:
                return drained

    def resume(self, room: str, after: int) -> dict:
        return self.client.call("resume", {"room": room, "after": after}, namespace=NAMESPACE, timeout=5)


@pytest.fixture
def token_socket() -> Iterator:
    """``token_socket(server, token)`` → an unconnected TokenSocket; all are closed after the test."""
    sockets: list[TokenSocket] = []

    def _make(server: PortalServer, token: str) -> TokenSocket:
        socket = TokenSocket(server, token)
        sockets.append(socket)
        return socket

    yield _make
    for socket in sockets:
        socket.close()


def _today() -> str:
    # The server checks "not in the future" against its UTC date; yesterday is valid in every time zone.
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def post_signal(server: PortalServer, token: str, summary: str, **fields) -> dict:
    body = {
        "occurred_on": _today(),
        "category": "geweld",
        "location_type": "schoolterrein",
        "severity": "laag",
        "summary": summary,
        **fields,
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    response = requests.post(server.url("/api/v1/signals"), json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def api_view(server: PortalServer, token: str, signal_id: str) -> dict:
    """The signal as this token's user sees it in ``GET /api/v1/signals`` (the presenter's shape, which socket
    payloads share): what their socket payload must equal, field for field."""
    response = requests.get(
        server.url("/api/v1/signals"),
        params={"limit": 100},  # the whole of this module's small world
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    listed = {signal["id"]: signal for signal in response.json()["signals"]}
    assert signal_id in listed, f"{signal_id} is not in this user's list"
    return listed[signal_id]


def last_seq(server: PortalServer, token: str, room: str) -> int:
    response = requests.get(server.url("/api/v1/rooms"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return next(r["last_seq"] for r in response.json()["rooms"] if r["id"] == room)


def _summary(label: str) -> str:
    return f"Fan-out {label} {uuid.uuid4().hex[:8]}"


def test_signal_posted_on_worker_a_reaches_room_members_on_worker_b_only(pair, world, token_socket):
    worker_a, worker_b = pair
    tokens, room_a = world["tokens"], world["rooms"]["a"]
    police = token_socket(worker_b, tokens["police"]).connect()
    author = token_socket(worker_a, tokens["author"]).connect()  # the poster's own organisation, other worker
    outsiders = [token_socket(worker, tokens["outsider"]).connect() for worker in pair]  # room B only
    before = last_seq(worker_a, tokens["police"], room_a)

    summary = _summary("created")
    started = time.monotonic()
    posted = post_signal(worker_a, tokens["author"], summary)
    event = police.next_event(summary=summary)
    delivered_after = time.monotonic() - started

    assert event == {"room": room_a, "seq": before + 1, "signal": api_view(worker_b, tokens["police"], posted["id"])}
    assert event["signal"]["id"] == posted["id"]
    own = author.next_event(summary=summary)
    assert own == {"room": room_a, "seq": before + 1, "signal": api_view(worker_a, tokens["author"], posted["id"])}
    assert own["signal"] == posted  # the poster's variant is what the API answered to the POST

    time.sleep(QUIET_FOR)  # bounded: the event already reached both workers; anything else would be here by now
    for socket in outsiders:
        assert socket.received() == [], f"a room B member on {socket.server.base_url} received a room A signal"
    assert police.received() == []  # exactly one event, no duplicate from the second worker
    assert delivered_after < DELIVERY_WITHIN


def test_revoked_membership_disconnects_socket_on_other_worker_and_resume_is_not_found(
    pair, world, token_socket, http_user
):
    worker_a, worker_b = pair
    tokens, room_a = world["tokens"], world["rooms"]["a"]
    leaver = token_socket(worker_b, tokens["leaver"]).connect()
    assert leaver.resume(room_a, 0)["ok"] is True  # a member: the room answers
    police = token_socket(worker_b, tokens["police"]).connect()

    # The functional administrator revokes the membership in the admin UI, served by worker A.
    admin = http_user(worker_a).sign_in(world["emails"]["admin"])
    room_page = f"/admin/rooms/{room_a}"
    revoke = f"{room_page}/members/{world['memberships']['leaver']}/revoke"
    started = time.monotonic()
    response = admin.post_form(revoke, {}, token_from=room_page)
    assert response.status_code == 302, response.text
    assert response.headers["Location"].endswith(room_page)

    assert leaver.wait_disconnected(), f"worker B kept the socket {DISCONNECT_WITHIN} s after the revocation on A"
    assert time.monotonic() - started < DISCONNECT_WITHIN
    assert not police.wait_disconnected(timeout=0.5)  # only the revoked user's sockets were thrown out
    assert police.connected

    # The token still works (the account is active), but the room is gone for this user.
    again = token_socket(worker_b, tokens["leaver"]).connect()
    assert again.connected
    assert again.resume(room_a, 0) == {"ok": False, "error": "not_found"}
    summary = _summary("after revocation")
    post_signal(worker_a, tokens["author"], summary)
    police.next_event(summary=summary)
    time.sleep(QUIET_FOR)
    assert again.received() == [], "the former member still receives the room's signals"


def test_resume_after_disconnect_returns_exactly_the_missed_events_in_order(pair, world, token_socket):
    worker_a, worker_b = pair
    tokens, room_a = world["tokens"], world["rooms"]["a"]
    author, resumer_token = tokens["author"], tokens["resumer"]

    first = token_socket(worker_b, resumer_token).connect()
    seen = first.next_event(summary=post_signal(worker_a, author, _summary("seen"))["summary"])
    first.close()
    assert not first.connected

    # While the partner is away: three signals they may see, and three room events they may not.
    missed = [post_signal(worker_a, author, _summary(f"missed {n}")) for n in range(1, 4)]
    hidden = [
        post_signal(worker_a, author, _summary("own location"), sharing_scope="eigen_locatie"),
        post_signal(worker_a, author, _summary("K3"), classification="K3"),  # partners do not see K3
        post_signal(worker_a, tokens["outsider"], _summary("room B")),  # another district's room
    ]
    missed.append(post_signal(worker_a, author, _summary("missed late")))  # after the gap in the sequence
    head = last_seq(worker_a, author, room_a)
    assert head == seen["seq"] + 6  # 4 visible + 2 hidden events in room A; room B has its own sequence

    back = token_socket(worker_b, resumer_token).connect()
    answer = back.resume(room_a, seen["seq"])
    assert answer["ok"] is True
    assert answer["room"] == room_a
    assert answer["more"] is False
    assert answer["next_after"] == head  # past the hidden events, so they are never asked for again
    events = answer["events"]
    assert [e["signal"]["id"] for e in events] == [s["id"] for s in missed]  # exact, in posting order
    assert [e["event"] for e in events] == ["signal.created"] * len(missed)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), seqs  # strictly increasing: ordered, no duplicates
    assert all(seen["seq"] < seq <= head for seq in seqs)
    hidden_ids = {s["id"] for s in hidden}
    assert not hidden_ids & {e["signal"]["id"] for e in events}
    for e in events:
        assert e["room"] == room_a
        assert e["signal"] == api_view(worker_b, resumer_token, e["signal"]["id"])

    # Resuming from where the answer ended gives nothing twice; a live event continues the same sequence.
    assert back.resume(room_a, answer["next_after"])["events"] == []
    summary = _summary("live again")
    post_signal(worker_a, author, summary)
    live = back.next_event(summary=summary)
    assert live["seq"] == head + 1
    assert back.received() == []
    # And from the start of the gap once more: the same events, the same order (idempotent catch-up).
    assert [e["seq"] for e in back.resume(room_a, seen["seq"])["events"]] == [*seqs, live["seq"]]


def test_resume_rejects_a_room_of_another_district(pair, world, token_socket):
    _worker_a, worker_b = pair
    socket = token_socket(worker_b, world["tokens"]["police"]).connect()
    assert socket.resume(world["rooms"]["b"], 0) == {"ok": False, "error": "not_found"}
    with pytest.raises(socketio.exceptions.ConnectionError):
        token_socket(worker_b, "pvs_" + "x" * 43).connect()
