"""Live meeting pages over the /live namespace (Flask-SocketIO's test client): ``meeting.watch`` joins the
meeting's channel only after the membership check in the database, agenda changes and "who is editing the
minutes" are pushed after commit to the watchers, and nobody outside the room can listen in."""

from __future__ import annotations

from portal.core.db import commit
from portal.extensions import db, socketio
from tests.conftest import csrf_token
from tests.functional.test_meetings import STATUS_FLOW, plan


def watcher(app, client, login_as, user):
    login_as(client, user)
    return socketio.test_client(app, namespace="/live", flask_test_client=client)


def events(sock, name):
    return [m["args"][0] for m in sock.get_received("/live") if m["name"] == name]


def test_agenda_changes_reach_watchers_of_the_room_only(app, world, login_as):
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    member_http, outsider_http, manager_http = app.test_client(), app.test_client(), app.test_client()
    member = watcher(app, member_http, login_as, world["users"]["author"])
    outsider = watcher(app, outsider_http, login_as, world["users"]["district_b"])
    ack = member.emit("meeting.watch", {"meeting": str(meeting.public_id)}, namespace="/live", callback=True)
    assert ack["ok"] is True
    refused = outsider.emit("meeting.watch", {"meeting": str(meeting.public_id)}, namespace="/live", callback=True)
    assert refused == {"ok": False, "error": "not_found"}
    for bad in ({"meeting": "x"}, {"meeting": str(meeting.public_id), "editing": "yes"}, {"room": "meeting:1"}, []):
        assert outsider.emit("meeting.watch", bad, namespace="/live", callback=True)["error"] == "invalid_payload"

    login_as(manager_http, manager)
    token = csrf_token(manager_http, "/account/sessions")
    assert (
        manager_http.post(
            f"/meetings/{meeting.public_id}/status", data={"csrf_token": token, "status": "agenda_open"}
        ).status_code
        == 302
    )
    pushed = events(member, "meeting.agenda")
    assert pushed, "the watcher sees the agenda appear"
    assert len(pushed[-1]["items"]) == 9
    assert pushed[-1]["total_min"] == 130
    assert "signals" not in pushed[-1]["items"][0]  # linked signals depend on the viewer: never in the broadcast
    assert events(outsider, "meeting.agenda") == []
    member.disconnect(namespace="/live")
    outsider.disconnect(namespace="/live")


def test_who_else_is_editing_the_minutes(app, world, make, login_as):
    manager = world["users"]["manager_a"]
    deputy = make.user(
        "district_safety_manager",
        organisation=manager.organisation,
        name="Notulist A",
        scope="district",
        scope_district=world["districts"][0],
    )
    make.member(world["rooms"]["a"], deputy)
    meeting = plan(app, manager, world["rooms"]["a"])
    from portal.meetings import services
    from portal.meetings.models import Meeting

    with app.app_context():
        for status in STATUS_FLOW[:3]:
            services.change_status(db.session.merge(manager), db.session.get(Meeting, meeting.id), status, ip="")
        commit()
    first = watcher(app, app.test_client(), login_as, manager)
    second = watcher(app, app.test_client(), login_as, deputy)
    reader = watcher(app, app.test_client(), login_as, world["users"]["author"])
    first.emit("meeting.watch", {"meeting": str(meeting.public_id), "editing": True}, namespace="/live", callback=True)
    ack = second.emit(
        "meeting.watch", {"meeting": str(meeting.public_id), "editing": True}, namespace="/live", callback=True
    )
    assert sorted(e["name"] for e in ack["editors"]) == ["Notulist A", "Veiligheidsmanager A"]
    # A reader cannot mark themselves as editing (they may not edit), but sees who does.
    ack = reader.emit(
        "meeting.watch", {"meeting": str(meeting.public_id), "editing": True}, namespace="/live", callback=True
    )
    assert [e["name"] for e in ack["editors"]] == ["Notulist A", "Veiligheidsmanager A"]
    presence = events(first, "meeting.presence")
    assert presence
    assert [e["name"] for e in presence[-1]["editors"]] == ["Notulist A", "Veiligheidsmanager A"]
    second.emit(
        "meeting.watch", {"meeting": str(meeting.public_id), "editing": False}, namespace="/live", callback=True
    )
    assert [e["name"] for e in events(reader, "meeting.presence")[-1]["editors"]] == ["Veiligheidsmanager A"]
    for sock in (first, second, reader):
        sock.disconnect(namespace="/live")


def test_nobody_is_registered_as_editing_adopted_minutes(app, world, login_as):
    """Presence follows what may be saved: once the minutes are adopted, a manager's socket that asks to be shown
    as editing is not registered (whatever the page shows)."""
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    from portal.meetings import minutes, services
    from portal.meetings.models import Meeting

    with app.app_context():
        user = db.session.merge(manager)
        for status in STATUS_FLOW[:3]:
            services.change_status(user, db.session.get(Meeting, meeting.id), status, ip="")
        minutes.save_minutes(
            user, db.session.get(Meeting, meeting.id), "Opening.", base_version=0, confirmed=True, ip=""
        )
        for status in STATUS_FLOW[3:]:
            services.change_status(user, db.session.get(Meeting, meeting.id), status, ip="")
        commit()
    sock = watcher(app, app.test_client(), login_as, manager)
    ack = sock.emit(
        "meeting.watch", {"meeting": str(meeting.public_id), "editing": True}, namespace="/live", callback=True
    )
    assert ack["ok"] is True
    assert ack["editors"] == []
    assert events(sock, "meeting.presence") == []
    from portal.meetings.models import MeetingPresence

    with app.app_context():
        assert db.session.query(MeetingPresence).filter_by(meeting_id=meeting.id).count() == 0
    sock.disconnect(namespace="/live")
