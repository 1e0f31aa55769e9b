"""The /live namespace in-process (Flask-SocketIO's test client): auth on connect, server-chosen channels,
pushes after commit with the per-viewer payload, `resume` by sequence, malformed payloads, revocation."""

from __future__ import annotations

import uuid

from portal.core.db import commit, utcnow
from portal.extensions import db, socketio
from tests.signal_world import post


def token_for(app, user) -> str:
    from portal.identity import tokens

    with app.app_context():
        issued = tokens.create_token(db.session.merge(user), name="test", days=1)
        commit()
        return issued.secret


def connect(app, *, client=None, token=None):
    auth = {"token": token} if token else None
    return socketio.test_client(app, namespace="/live", flask_test_client=client, auth=auth)


def received(sock, name="signal.created"):
    return [m["args"][0] for m in sock.get_received("/live") if m["name"] == name]


def test_anonymous_and_forged_credentials_are_refused(app, world, client):
    assert not connect(app).is_connected("/live")
    assert not connect(app, token="pvs_forged-token-value").is_connected("/live")
    client.set_cookie("portal_session", "forged.cookie.value")
    assert not connect(app, client=client).is_connected("/live")


def test_cookie_socket_receives_its_view_and_other_district_nothing(app, world, client, login_as):
    users = world["users"]
    login_as(client, users["other_school"])
    same_room = connect(app, client=client)
    other_district = connect(app, token=token_for(app, users["district_b"]))
    assert same_room.is_connected("/live")
    assert other_district.is_connected("/live")
    same_room.get_received("/live")
    other_district.get_received("/live")

    signal = post(app, users["author"], "stadsdeelnetwerk", "K3")
    pushed = received(same_room)
    assert len(pushed) == 1
    payload = pushed[0]
    assert payload["room"] == str(world["rooms"]["a"].public_id)
    assert payload["seq"] >= 1
    assert payload["signal"]["id"] == str(signal.public_id)
    assert "school" not in payload["signal"]  # another school does not see who posted it
    assert "details_html" not in payload["signal"]  # nor K3 details
    assert received(other_district) == []


def test_token_socket_police_gets_full_payload(app, world):
    sock = connect(app, token=token_for(app, world["users"]["police_a"]))
    assert sock.is_connected("/live")
    sock.get_received("/live")
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K3")
    pushed = received(sock)
    assert [p["signal"]["school"]["name"] for p in pushed] == ["School A1"]
    assert pushed[0]["signal"]["details_html"] == "<p>Geheime details</p>"
    assert pushed[0]["signal"]["reference"] == signal.reference


def test_resume_replays_exactly_what_was_missed_in_order(app, world):
    users = world["users"]
    room_id = str(world["rooms"]["a"].public_id)
    sock = connect(app, token=token_for(app, users["other_school"]))
    first = sock.emit("resume", {"room": room_id, "after": 0}, namespace="/live", callback=True)
    assert first["ok"] is True
    assert first["events"] == []
    start = first["next_after"]
    sock.disconnect(namespace="/live")

    shared = [post(app, users["author"], "stadsdeelnetwerk", "K2") for _ in range(3)]
    hidden = post(app, users["author"], "eigen_locatie", "K2")  # in the room's stream, but not for this user
    later = post(app, users["author"], "stadsdeelnetwerk", "K2")

    sock = connect(app, token=token_for(app, users["other_school"]))
    ack = sock.emit("resume", {"room": room_id, "after": start}, namespace="/live", callback=True)
    ids = [e["signal"]["id"] for e in ack["events"]]
    assert ids == [str(s.public_id) for s in [*shared, later]]
    assert str(hidden.public_id) not in ids
    seqs = [e["seq"] for e in ack["events"]]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    again = sock.emit("resume", {"room": room_id, "after": ack["next_after"]}, namespace="/live", callback=True)
    assert again["events"] == []


MALFORMED = [
    None,
    "room",
    42,
    [],
    {"room": "x"},
    {"room": str(uuid.uuid4()), "after": -1},
    {"room": str(uuid.uuid4()), "after": "1"},
    {"room": str(uuid.uuid4()), "after": True},
    {"room": str(uuid.uuid4()), "after": 0, "extra": 1},
]


def test_malformed_resume_gets_an_error_ack(app, world):
    sock = connect(app, token=token_for(app, world["users"]["police_a"]))
    for payload in MALFORMED:
        ack = sock.emit("resume", payload, namespace="/live", callback=True)
        assert ack == {"ok": False, "error": "invalid_payload"}, payload
    assert sock.is_connected("/live")


def test_resume_of_another_room_or_after_revocation_is_not_found(app, world):
    users = world["users"]
    sock = connect(app, token=token_for(app, users["other_school"]))
    other_room = {"room": str(world["rooms"]["b"].public_id), "after": 0}
    assert sock.emit("resume", other_room, namespace="/live", callback=True)["error"] == "not_found"
    own_room = {"room": str(world["rooms"]["a"].public_id), "after": 0}
    assert sock.emit("resume", own_room, namespace="/live", callback=True)["ok"] is True
    with app.app_context():
        from portal.rooms.models import RoomMembership

        membership = db.session.query(RoomMembership).filter_by(user_id=users["other_school"].id).one()
        membership.revoked_at = utcnow()
        commit()
    assert sock.emit("resume", own_room, namespace="/live", callback=True)["error"] == "not_found"


def test_revoked_token_socket_is_cut_off_at_its_next_event(app, world):
    from portal.identity import tokens

    user = world["users"]["police_a"]
    secret = token_for(app, user)
    sock = connect(app, token=secret)
    room = {"room": str(world["rooms"]["a"].public_id), "after": 0}
    assert sock.emit("resume", room, namespace="/live", callback=True)["ok"] is True
    with app.app_context():
        _user, token = tokens.authenticate(secret)
        tokens.revoke_token(db.session.merge(user), token.public_id)
        commit()
    ack = sock.emit("resume", room, namespace="/live", callback=True)
    assert ack == {"ok": False, "error": "unauthorized"}
    assert not sock.is_connected("/live")


def test_rate_limit_per_socket(app, world):
    sock = connect(app, token=token_for(app, world["users"]["police_a"]))
    room = {"room": str(world["rooms"]["a"].public_id), "after": 0}
    answers = []
    while len(answers) < 200 and {"ok": False, "error": "rate_limited"} not in answers:
        answers.append(sock.emit("resume", room, namespace="/live", callback=True))
    assert answers[0]["ok"] is True
    assert answers[-1] == {"ok": False, "error": "rate_limited"}
    assert 30 <= len(answers) < 200  # the bucket holds 30 events, refilled at 2 per second
