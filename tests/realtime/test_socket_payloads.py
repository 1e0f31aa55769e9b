"""Malformed socket events get an error ack and the socket keeps working (issue 15 item 5, issue 10 item 6).

Every ``/live`` event handler takes exactly one dict with known keys: integers within the INTEGER columns, ids as
short strings, no second argument. Before, ``resume`` with ``after`` of 2**31 or more reached SQL (OverflowError on
SQLite beyond 2**63), two arguments raised TypeError before the handler ran, and a payload nested 5,000 deep (or a
number of more than 100 digits) failed in python-socketio's decoding: in each case the client waited for an ack
that never came. Most tests use Flask-SocketIO's test client (the real packet decoding, in-process, both
databases); the last one sends the same events to a real server process over a websocket.
"""

from __future__ import annotations

import sys
import uuid

import pytest
import sqlalchemy as sa

from portal.core.json import UNREADABLE, SocketJSON
from portal.extensions import socketio
from tests.functional.test_meetings import plan
from tests.realtime.conftest import ACCOUNTS, NAMESPACE

INVALID = {"ok": False, "error": "invalid_payload"}
DEEP = 5_000


def _deep_dict(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def connect(app, client, login_as, user):
    login_as(client, user)
    sock = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)
    assert sock.is_connected(NAMESPACE)
    return sock


def emit_raw(sock, event: str, arguments: str):
    """Send an event whose arguments are given as JSON text (``"{...}"``, ``"{...},{...}"``): the test client's
    ``emit`` encodes with json.dumps, which cannot even write a payload nested 5,000 deep. Returns the ack."""
    sock.callback_counter += 1
    socketio.server._handle_eio_message(sock.eio_sid, f'2{NAMESPACE},{sock.callback_counter}["{event}",{arguments}]')
    ack, sock.acks = sock.acks, None
    assert ack is not None, "no ack"
    return ack["args"][0] if len(ack["args"]) == 1 else ack["args"]


@pytest.fixture
def room_id(world) -> str:
    return str(world["rooms"]["a"].public_id)


# --- resume -----------------------------------------------------------------------------------------------------

BAD_AFTER = [2**31, 2**63, 2**64, 10**30, -1, "5", 1.5, True, None, [], {}]


@pytest.mark.parametrize("after", BAD_AFTER, ids=repr)
def test_resume_with_an_after_outside_the_column_is_invalid(app, world, client, login_as, room_id, after):
    sock = connect(app, client, login_as, world["users"]["author"])
    ack = sock.emit("resume", {"room": room_id, "after": after}, namespace=NAMESPACE, callback=True)
    assert ack == INVALID
    assert sock.emit("resume", {"room": room_id, "after": 2**31 - 1}, namespace=NAMESPACE, callback=True)["ok"]


# Arguments as the JSON text a client sends; {room} is replaced by the room's id.
BAD_RESUME = {
    "no payload": None,
    "two payloads": '{"room": "{room}", "after": 0}, {"room": "{room}", "after": 0}',
    "a list": '["{room}", 0]',
    "a string": '"{room}"',
    "a number": "5",
    "null": "null",
    "unknown key": '{"room": "{room}", "after": 0, "limit": 1000}',
    "no room": '{"after": 0}',
    "room as a dict": '{"room": {"id": "{room}"}, "after": 0}',
    "room of 100 KB": '{"room": "' + "a" * 100_000 + '", "after": 0}',
    "a 150-digit after": '{"room": "{room}", "after": ' + "9" * 150 + "}",
    "5,000 deep": _deep_dict(DEEP),
    "5,000 deep after": '{"room": "{room}", "after": ' + _deep_dict(DEEP) + "}",
    "5,000 deep list": "[" * DEEP + "]" * DEEP,
    "broken JSON": '{"room": "{room}", "after": }',
}


@pytest.mark.parametrize("arguments", BAD_RESUME.values(), ids=BAD_RESUME.keys())
def test_malformed_resume_gets_an_error_ack_and_the_socket_keeps_working(
    app, world, client, login_as, room_id, arguments
):
    sock = connect(app, client, login_as, world["users"]["author"])
    if arguments is None:
        ack = sock.emit("resume", namespace=NAMESPACE, callback=True)
    else:
        ack = emit_raw(sock, "resume", arguments.replace("{room}", room_id))
    assert ack == INVALID
    assert sock.is_connected(NAMESPACE)
    again = sock.emit("resume", {"room": room_id, "after": 0}, namespace=NAMESPACE, callback=True)
    assert again["ok"] is True
    assert again["room"] == room_id


def test_resume_with_two_payloads_through_emit(app, world, client, login_as, room_id):
    sock = connect(app, client, login_as, world["users"]["author"])
    payload = {"room": room_id, "after": 0}
    assert sock.emit("resume", payload, payload, namespace=NAMESPACE, callback=True) == INVALID
    assert sock.emit("resume", payload, namespace=NAMESPACE, callback=True)["ok"] is True


# --- meeting.watch ----------------------------------------------------------------------------------------------

BAD_WATCH = {
    "no payload": None,
    "two payloads": '{"meeting": "{meeting}"}, {"meeting": "{meeting}"}',
    "a list": '["{meeting}"]',
    "a number": "7",
    "meeting as a number": '{"meeting": ' + "9" * 23 + "}",
    "meeting as a 150-digit number": '{"meeting": ' + "9" * 150 + "}",
    "meeting of 100 KB": '{"meeting": "' + "a" * 100_000 + '"}',
    "unknown key": '{"meeting": "{meeting}", "room": "x"}',
    "editing as a string": '{"meeting": "{meeting}", "editing": "yes"}',
    "editing as a number": '{"meeting": "{meeting}", "editing": 1}',
    "5,000 deep": _deep_dict(DEEP),
    "5,000 deep editing": '{"meeting": "{meeting}", "editing": ' + _deep_dict(DEEP) + "}",
}


@pytest.mark.parametrize("arguments", BAD_WATCH.values(), ids=BAD_WATCH.keys())
def test_malformed_meeting_watch_gets_an_error_ack_and_the_socket_keeps_working(
    app, world, client, login_as, arguments
):
    manager = world["users"]["manager_a"]
    meeting = str(plan(app, manager, world["rooms"]["a"]).public_id)
    sock = connect(app, client, login_as, manager)
    if arguments is None:
        ack = sock.emit("meeting.watch", namespace=NAMESPACE, callback=True)
    else:
        ack = emit_raw(sock, "meeting.watch", arguments.replace("{meeting}", meeting))
    assert ack == INVALID
    again = sock.emit("meeting.watch", {"meeting": meeting}, namespace=NAMESPACE, callback=True)
    assert again["ok"] is True
    assert again["meeting"] == meeting


# --- the decoding itself ----------------------------------------------------------------------------------------


def test_socket_json_keeps_the_event_name_of_an_unreadable_event():
    assert SocketJSON.loads('["resume",{"room":"r","after":1}]') == ["resume", {"room": "r", "after": 1}]
    assert SocketJSON.loads('["resume",' + _deep_dict(DEEP) + "]") == ["resume", UNREADABLE]
    assert SocketJSON.loads('["meeting.watch",' + "1" * 150 + "]") == ["meeting.watch", UNREADABLE]
    # Engine.IO probes every message for JSON and keeps the raw text on ValueError: that must stay so.
    for text in ('2/live,1["resume",{}]', "[" * DEEP, '{"a": 1', "[1, 2", '["' + "x" * 100 + '", {]'):
        with pytest.raises(ValueError):
            SocketJSON.loads(text)


# --- a real server ----------------------------------------------------------------------------------------------


@pytest.mark.xdist_group("servers")
def test_a_real_worker_answers_malformed_events_and_keeps_serving(server, live_socket, http_user):
    user = http_user(server).sign_in(ACCOUNTS["connect"])
    socket = live_socket(server).connect(user.cookie_header)
    room = str(uuid.uuid4())  # a well-formed id of no room of this user: the answer is "not_found"

    def call(*arguments):
        return socket.client.call(
            "resume", arguments if len(arguments) > 1 else arguments[0], namespace=NAMESPACE, timeout=10
        )

    assert call({"room": room, "after": 2**63}) == INVALID
    assert call({"room": room, "after": 10**150}) == INVALID
    assert call({"room": room, "after": 0}, {"room": room, "after": 0}) == INVALID
    deep: dict = {}
    for _ in range(DEEP):
        deep = {"a": deep}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(4 * DEEP)  # only so that this process can write it; the server reads it with its default
    try:
        assert call({"room": room, "after": deep}) == INVALID
    finally:
        sys.setrecursionlimit(limit)
    assert call({"room": room, "after": 0}) == {"ok": False, "error": "not_found"}
    assert socket.connected


# --- failures inside a handler ----------------------------------------------------------------------------------


def test_a_database_failure_in_a_handler_answers_an_error_ack(app, world, client, login_as, room_id, dbs):
    """Not silence and no half-finished transaction: the table resume reads is gone (inside the test's transaction,
    which is rolled back afterwards), the handler fails in the database, and the client hears why."""
    sock = connect(app, client, login_as, world["users"]["author"])
    dbs.execute(sa.text("DROP TABLE room_events"))
    ack = sock.emit("resume", {"room": room_id, "after": 0}, namespace=NAMESPACE, callback=True)
    assert ack == {"ok": False, "error": "unavailable"}
    assert sock.is_connected(NAMESPACE)
