"""Invited guests (the OM) at a district network's meeting without a seat in its room: they read and export the
meeting materials they are invited to, comment on draft minutes and find them under "My meetings"; nothing else of
the room opens, an uninvited or withdrawn guest gets the same 404 as a stranger, and only guest roles can be invited
from outside the room."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.db import commit
from portal.extensions import db, socketio
from tests.functional.test_meetings import STATUS_FLOW, plan, set_status, token
from tests.signal_world import post


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["language"] = "en"


@pytest.fixture
def manager(world):
    return world["users"]["manager_a"]


@pytest.fixture
def room_a(world):
    return world["rooms"]["a"]


def _invite(app, manager, meeting, *, organisations=(), users=()):
    """Replace the meeting's invitees (as its chair would on the edit form), keeping the whole network invited."""
    from portal.meetings import queries, services
    from portal.meetings.models import Meeting

    with app.app_context():
        stored = db.session.get(Meeting, meeting.id)
        network = [str(o.public_id) for o in queries.member_organisations(stored.room)]
        data = services.MeetingInput(
            kind=stored.kind.value,
            title=stored.title,
            scheduled_at=stored.scheduled_at,
            duration_min=stored.duration_min,
            place=stored.place,
            chair_id=str(manager.public_id),
            invited_organisations=network + [str(o.public_id) for o in organisations],
            invited_users=[str(u.public_id) for u in users],
        )
        services.update_meeting(db.session.merge(manager), stored, data, ip="127.0.0.1")
        commit()


def test_an_invited_om_officer_reads_the_materials_and_nothing_else_of_the_room(
    app, world, client, english, login_as, manager, room_a
):
    om = world["users"]["om"]
    for_the_network = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    for_om = post(app, world["users"]["author"], "benoemde_ontvangers", "K2")  # named: OM and police
    meeting = plan(app, manager, room_a)  # yesterday: it can be held in this test
    _invite(app, manager, meeting, organisations=[om.organisation])
    login_as(client, manager)
    assert set_status(client, meeting, "agenda_open").status_code == 302
    login_as(client, world["users"]["author"])  # the poster sees both signals and proposes an item with them
    proposed = client.post(
        f"/meetings/{meeting.public_id}/agenda/items",
        data={
            "csrf_token": token(client),
            "kind": "casuistiek",
            "title": "Messen rond school",
            "duration_min": "10",
            "signals": f"{for_the_network.reference}, {for_om.reference}",
        },
    )
    assert proposed.status_code == 302

    login_as(client, om)
    base = f"/meetings/{meeting.public_id}"
    pages = {path: client.get(base + path) for path in ("", "/agenda", "/trend", "/minutes", "/invite.ics")}
    assert {path: r.status_code for path, r in pages.items()} == dict.fromkeys(pages, 200)
    detail = pages[""].get_data(as_text=True)
    assert "invited to this meeting of" in detail
    assert "as a guest" in detail
    assert "/meetings/invitations" in detail  # the breadcrumb leads to "My meetings", not to the closed room
    assert f"/rooms/{room_a.public_id}" not in detail
    assert "School input" not in detail
    assert "Propose an agenda item" not in detail
    agenda = pages["/agenda"].get_data(as_text=True)
    assert "Messen rond school" in agenda
    assert for_om.reference in agenda  # shared with the OM: shown
    assert for_the_network.reference not in agenda  # the district's own signal: not for a guest
    assert 'id="propose"' not in agenda

    # The room itself stays closed: its meeting and action lists answer like unknown ids; its signal page is not
    # for the OM's role at all (403 before any lookup).
    for path in (f"/rooms/{room_a.public_id}/meetings", f"/rooms/{room_a.public_id}/actions"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/rooms/{room_a.public_id}").status_code == 403
    assert client.get(f"/signals/{for_the_network.public_id}").status_code == 404
    # A guest reads; organising, proposing and the school's input are refused.
    t = token(client)
    refused = {
        "propose": client.post(
            base + "/agenda/items", data={"csrf_token": t, "kind": "thema", "title": "Voorstel", "duration_min": "5"}
        ).status_code,
        "status": set_status(client, meeting, "agenda_definitief").status_code,
        "trend": client.post(base + "/trend/generate", data={"csrf_token": t}).status_code,
        "edit": client.get(base + "/edit").status_code,
        "input": client.get(base + "/input").status_code,
    }
    assert refused == {"propose": 403, "status": 403, "trend": 403, "edit": 403, "input": 403}

    invitations = client.get("/meetings/invitations")
    assert invitations.status_code == 200
    assert f"/meetings/{meeting.public_id}" in invitations.get_data(as_text=True)
    figures = client.get("/statistics").get_data(as_text=True)
    assert "Meetings you are invited to" in figures
    assert f"/meetings/{meeting.public_id}" in figures

    # The chair records the guest as present; the guest comments in the comment round and exports the minutes.
    login_as(client, manager)
    from portal.meetings.models import AgendaItem

    with app.app_context():
        item = db.session.scalar(select(AgendaItem.public_id).where(AgendaItem.title == "Messen rond school"))
    decided = client.post(
        f"{base}/agenda/items/{item}/decision", data={"csrf_token": token(client), "decision": "accept"}
    )
    assert decided.status_code == 302
    for status in STATUS_FLOW[1:3]:
        assert set_status(client, meeting, status).status_code == 302
    present = client.post(base + "/attendance", data={"csrf_token": token(client), "present": [str(om.public_id)]})
    assert present.status_code == 302
    saved = client.post(
        base + "/minutes", data={"csrf_token": token(client), "base_version": "0", "body": "Besproken."}
    )
    assert saved.status_code == 302
    assert set_status(client, meeting, "verslag_concept").status_code == 302
    login_as(client, om)
    comment = client.post(base + "/minutes/comments", data={"csrf_token": token(client), "text": "Akkoord namens OM."})
    assert comment.status_code == 302
    pdf = client.get(base + "/minutes.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"

    from portal.audit.models import AuditEvent
    from portal.meetings.models import Attendance, MinutesComment

    with app.app_context():
        assert db.session.scalar(select(Attendance.present).where(Attendance.user_id == om.id)) is True
        assert db.session.scalar(select(MinutesComment.author_id)) == om.id
        om_actions = set(
            db.session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.actor_id == str(om.public_id), AuditEvent.object_id == str(meeting.public_id)
                )
            )
        )
    assert {"meeting.minutes.read", "meeting.export", "meeting.minutes.comment"} <= om_actions


def test_an_uninvited_or_withdrawn_guest_gets_404(app, world, make, client, english, login_as, manager, room_a):
    om = world["users"]["om"]
    colleague = make.user("om_officer", organisation=om.organisation, name="Andere parketsecretaris", scope="city")
    meeting = plan(app, manager, room_a, days=7)
    base = f"/meetings/{meeting.public_id}"
    login_as(client, om)
    assert client.get(base).status_code == 404  # not invited yet
    assert f"{meeting.public_id}" not in client.get("/meetings/invitations").get_data(as_text=True)

    _invite(app, manager, meeting, users=[om])  # invited in person: the colleague is not
    assert client.get(base).status_code == 200
    login_as(client, colleague)
    assert client.get(base).status_code == 404
    assert client.get(base + "/invite.ics").status_code == 404

    _invite(app, manager, meeting)  # the invitation is withdrawn
    login_as(client, om)
    assert client.get(base).status_code == 404
    assert client.get(base + "/agenda").status_code == 404


def test_only_guest_roles_can_be_invited_from_outside_the_room(app, world, client, english, login_as, manager, room_a):
    from portal.core.errors import ValidationFailed

    meeting = plan(app, manager, room_a, days=7)
    outsider = world["users"]["district_b"]  # a school coordinator of another district
    with pytest.raises(ValidationFailed) as refused:
        _invite(app, manager, meeting, users=[outsider])
    assert refused.value.field == "invited_organisations"
    with app.app_context():
        db.session.rollback()
    login_as(client, manager)
    form = client.get(f"/meetings/{meeting.public_id}/edit").get_data(as_text=True)
    assert "Parketsecretaris (OM)" in form  # the guest is offered
    assert "Coordinator B1" not in form  # another district's people are not
    login_as(client, outsider)
    assert client.get(f"/meetings/{meeting.public_id}").status_code == 404


def test_an_invited_guest_follows_the_meeting_live_until_the_invitation_is_withdrawn(
    app, world, login_as, manager, room_a
):
    meeting = plan(app, manager, room_a, days=7)
    _invite(app, manager, meeting, users=[world["users"]["om"]])
    guest_http, member_http = app.test_client(), app.test_client()
    login_as(guest_http, world["users"]["om"])
    login_as(member_http, world["users"]["author"])
    guest = socketio.test_client(app, namespace="/live", flask_test_client=guest_http)
    member = socketio.test_client(app, namespace="/live", flask_test_client=member_http)
    for sock in (guest, member):
        ack = sock.emit("meeting.watch", {"meeting": str(meeting.public_id)}, namespace="/live", callback=True)
        assert ack["ok"] is True

    _invite(app, manager, meeting)  # withdrawn: the guest's sockets are disconnected, the member's stay
    assert not guest.is_connected(namespace="/live")
    assert member.is_connected(namespace="/live")
    guest = socketio.test_client(app, namespace="/live", flask_test_client=guest_http)
    refused = guest.emit("meeting.watch", {"meeting": str(meeting.public_id)}, namespace="/live", callback=True)
    assert refused == {"ok": False, "error": "not_found"}
    guest.disconnect(namespace="/live")
    member.disconnect(namespace="/live")


def test_my_meetings_lists_only_meetings_the_user_may_open(app, world, make, client, english, login_as, manager):
    """An organisation is invited as a whole; its people without a seat in that room (and without a guest role) do
    not get the meeting in "My meetings" (it would answer 404)."""
    room_b = world["rooms"]["b"]
    manager_b = make.user(
        "district_safety_manager",
        organisation=manager.organisation,
        name="Veiligheidsmanager B",
        scope="district",
        scope_district=world["districts"][1],
    )
    make.member(room_b, manager_b)
    meeting_b = plan(app, manager_b, room_b, days=7)  # the municipality (a member organisation of B) is invited
    login_as(client, manager)  # same organisation, no seat in room B
    assert client.get(f"/meetings/{meeting_b.public_id}").status_code == 404
    assert str(meeting_b.public_id) not in client.get("/meetings/invitations").get_data(as_text=True)
    login_as(client, manager_b)
    assert str(meeting_b.public_id) in client.get("/meetings/invitations").get_data(as_text=True)
