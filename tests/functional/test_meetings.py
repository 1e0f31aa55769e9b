"""Network meetings over HTTP: the whole workflow with refused steps, proposals and reordering, school input and
partner pictures, minutes with the personal-data warning, the comment round and adoption, actions carried to the
next meeting, the .ics invitation, auditing of reads and exports, and the permissions of every role in and outside
the room."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.core.db import commit, utcnow
from portal.extensions import db
from tests.conftest import csrf_token
from tests.signal_world import post

STATUS_FLOW = ["agenda_open", "agenda_definitief", "gehouden", "verslag_concept", "verslag_vastgesteld"]


def plan(app, manager, room, *, days: int = -1, duration: int = 150, title: str = "Netwerkoverleg"):
    """A meeting planned through the service (one app context), ``days`` from now."""
    from portal.meetings import services

    with app.app_context():
        data = services.MeetingInput(
            kind="stadsdeel" if room.kind.value == "district" else "stedelijk",
            title=title,
            scheduled_at=utcnow() + timedelta(days=days),
            duration_min=duration,
            place="Stadhuis Almere",
            chair_id=str(manager.public_id),
        )
        meeting = services.create_meeting(db.session.merge(manager), db.session.merge(room), data, ip="127.0.0.1")
        commit()
        return meeting


def token(client) -> str:
    return csrf_token(client, "/account/sessions")


def set_status(client, meeting, status: str):
    return client.post(f"/meetings/{meeting.public_id}/status", data={"csrf_token": token(client), "status": status})


def agenda_ids(app, meeting) -> list[str]:
    from portal.meetings import queries

    with app.app_context():
        from portal.meetings.models import Meeting

        return [str(i.public_id) for i in queries.agenda(db.session.get(Meeting, meeting.id))]


def agenda_items(app, meeting):
    from portal.meetings import queries
    from portal.meetings.models import Meeting

    with app.app_context():
        return [
            (i.kind.code, i.title, i.accepted, i.duration_min)
            for i in queries.agenda(db.session.get(Meeting, meeting.id))
        ]


def current_status(app, meeting) -> str:
    from portal.meetings.models import Meeting

    with app.app_context():
        return db.session.get(Meeting, meeting.id).status.value


@pytest.fixture
def english(client):
    """The pages in English (the msgids): the tests read messages, and the Dutch catalogue is made separately."""
    with client.session_transaction() as session:
        session["language"] = "en"


@pytest.fixture
def manager(world):
    return world["users"]["manager_a"]


@pytest.fixture
def room_a(world):
    return world["rooms"]["a"]


def test_the_whole_workflow_with_refused_steps(app, world, client, english, login_as, manager, room_a):
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    page = client.get(f"/meetings/{meeting.public_id}")
    assert page.status_code == 200
    assert "Netwerkoverleg" in page.get_data(as_text=True)

    # Skipping steps is refused with 409 and a message.
    refused = set_status(client, meeting, "gehouden")
    assert refused.status_code == 409
    assert "cannot move to" in refused.get_data(as_text=True)
    assert set_status(client, meeting, "no_such_status").status_code == 400

    # Opening the agenda pre-fills the standard order of docs/domain.md D.5.
    assert set_status(client, meeting, "agenda_open").status_code == 302
    kinds = [k for k, *_ in agenda_items(app, meeting)]
    assert kinds == [
        "opening",
        "actielijst",
        "trendbeeld_scholen",
        "politiebeeld",
        "beeld_straat",
        "thema",
        "casuistiek",
        "afspraken",
        "rondvraag",
    ]

    # A member proposes; finalising with an open proposal is refused.
    login_as(client, world["users"]["author"])
    proposed = client.post(
        f"/meetings/{meeting.public_id}/agenda/items",
        data={"csrf_token": token(client), "kind": "thema", "title": "Vapes op het schoolplein", "duration_min": "10"},
    )
    assert proposed.status_code == 302
    login_as(client, manager)
    assert ("thema", "Vapes op het schoolplein", False, 10) in agenda_items(app, meeting)
    refused = set_status(client, meeting, "agenda_definitief")
    assert refused.status_code == 409
    assert "proposed item" in refused.get_data(as_text=True)

    page = client.get(f"/meetings/{meeting.public_id}/agenda").get_data(as_text=True)
    proposal_id = re.search(r'id="item-([0-9a-f-]+)"[^>]*data-accepted="false"', page).group(1)
    assert (
        client.post(
            f"/meetings/{meeting.public_id}/agenda/items/{proposal_id}/decision",
            data={"csrf_token": token(client), "decision": "accept"},
        ).status_code
        == 302
    )
    # 130 standard minutes + 10 is within 150: the chair finalises.
    assert set_status(client, meeting, "agenda_definitief").status_code == 302
    # The agenda is fixed now: a proposal is refused.
    late = client.post(
        f"/meetings/{meeting.public_id}/agenda/items",
        data={"csrf_token": token(client), "kind": "thema", "title": "Te laat", "duration_min": "5"},
    )
    assert late.status_code == 409

    assert set_status(client, meeting, "gehouden").status_code == 302
    refused = set_status(client, meeting, "verslag_concept")  # no minutes yet
    assert refused.status_code == 409
    assert "Write the minutes" in refused.get_data(as_text=True)

    saved = client.post(
        f"/meetings/{meeting.public_id}/minutes",
        data={"csrf_token": token(client), "base_version": "0", "body": "Opening.\n\nAfspraak: extra toezicht."},
    )
    assert saved.status_code == 302
    assert set_status(client, meeting, "verslag_concept").status_code == 302

    # The comment round: a member comments.
    login_as(client, world["users"]["police_a"])
    commented = client.post(
        f"/meetings/{meeting.public_id}/minutes/comments",
        data={"csrf_token": token(client), "text": "Graag toevoegen: surveillance vrijdag."},
    )
    assert commented.status_code == 302
    assert "surveillance vrijdag" in client.get(f"/meetings/{meeting.public_id}/minutes").get_data(as_text=True)

    login_as(client, manager)
    assert set_status(client, meeting, "verslag_vastgesteld").status_code == 302
    assert current_status(app, meeting) == "verslag_vastgesteld"
    # Adopted minutes are read-only.
    again = client.post(
        f"/meetings/{meeting.public_id}/minutes",
        data={"csrf_token": token(client), "base_version": "1", "body": "Gewijzigd"},
    )
    assert again.status_code == 409
    assert "read-only" in again.get_data(as_text=True)
    assert set_status(client, meeting, "agenda_open").status_code == 409

    from portal.meetings.models import Meeting

    with app.app_context():
        history = [c.to_status for c in db.session.get(Meeting, meeting.id).status_history]
    assert history == ["gepland", *STATUS_FLOW]


def test_agenda_longer_than_planned_cannot_be_finalised(app, world, client, english, login_as, manager, room_a):
    meeting = plan(app, manager, room_a, duration=60)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    refused = set_status(client, meeting, "agenda_definitief")
    assert refused.status_code == 409
    assert "longer than the 60 minutes planned" in refused.get_data(as_text=True)
    page = client.get(f"/meetings/{meeting.public_id}/agenda").get_data(as_text=True)
    assert "130 of 60 minutes planned" in page
    assert 'id="agenda-over"' in page


def test_reorder_with_buttons_and_with_the_full_order(app, world, client, english, login_as, manager, room_a):
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    before = agenda_ids(app, meeting)
    moved = client.post(
        f"/meetings/{meeting.public_id}/agenda/items/{before[1]}/move",
        data={"csrf_token": token(client), "direction": "up"},
    )
    assert moved.status_code == 302
    after = agenda_ids(app, meeting)
    assert after[:2] == [before[1], before[0]]
    reversed_order = list(reversed(after))
    answer = client.post(
        f"/meetings/{meeting.public_id}/agenda/order",
        json={"order": reversed_order},
        headers={"X-CSRFToken": token(client), "Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert [i["id"] for i in answer.get_json()["agenda"]["items"]] == reversed_order
    assert agenda_ids(app, meeting) == reversed_order
    incomplete = client.post(
        f"/meetings/{meeting.public_id}/agenda/order",
        json={"order": reversed_order[:-1]},
        headers={"X-CSRFToken": token(client), "Accept": "application/json"},
    )
    assert incomplete.status_code == 400
    # Members may propose but not reorder (403, audited).
    login_as(client, world["users"]["author"])
    forbidden = client.post(
        f"/meetings/{meeting.public_id}/agenda/order",
        json={"order": after},
        headers={"X-CSRFToken": token(client), "Accept": "application/json"},
    )
    assert forbidden.status_code == 403
    assert client.post(f"/meetings/{meeting.public_id}/agenda/order", json={"order": after}).status_code == 400  # CSRF


def test_proposals_link_only_signals_the_proposer_can_see(app, world, client, english, login_as, manager, room_a):
    shared = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    private = post(app, world["users"]["author"], "eigen_locatie", "K2")
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    login_as(client, world["users"]["other_school"])
    refused = client.post(
        f"/meetings/{meeting.public_id}/agenda/items",
        data={
            "csrf_token": token(client),
            "kind": "casuistiek",
            "title": "Messen",
            "duration_min": "10",
            "signals": private.reference,
        },
    )
    assert refused.status_code == 400
    assert f"No signal with reference {private.reference}" in refused.get_data(as_text=True)
    accepted = client.post(
        f"/meetings/{meeting.public_id}/agenda/items",
        data={
            "csrf_token": token(client),
            "kind": "casuistiek",
            "title": "Messen",
            "duration_min": "10",
            "signals": shared.reference,
            "themes": ["wapenbezit"],
        },
    )
    assert accepted.status_code == 302
    page = client.get(f"/meetings/{meeting.public_id}/agenda").get_data(as_text=True)
    assert shared.reference in page
    # The partner may not see K2... it may (K2 is visible to partners); the board officer has no meeting access.
    login_as(client, world["users"]["partner_a"])
    assert shared.reference in client.get(f"/meetings/{meeting.public_id}/agenda").get_data(as_text=True)


def test_personal_data_warning_on_minutes_then_confirmation(app, world, client, english, login_as, manager, room_a):
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    for status in STATUS_FLOW[:3]:
        set_status(client, meeting, status)
    data = {"csrf_token": token(client), "base_version": "0", "body": "Leerling Kevin de Vries is geschorst."}
    warned = client.post(f"/meetings/{meeting.public_id}/minutes", data=data)
    assert warned.status_code == 400
    html = warned.get_data(as_text=True)
    assert 'id="personal-data-warning"' in html
    assert "Kevin de Vries" in html
    from portal.meetings.models import MinutesVersion

    with app.app_context():
        assert db.session.query(MinutesVersion).count() == 0
    data["pii_confirmed"] = "y"
    assert client.post(f"/meetings/{meeting.public_id}/minutes", data=data).status_code == 302
    with app.app_context():
        version = db.session.query(MinutesVersion).one()
        assert version.personal_data_confirmed is True


def test_minutes_are_versioned_sanitised_and_a_stale_save_is_refused(
    app, world, client, english, login_as, manager, room_a
):
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    for status in STATUS_FLOW[:3]:
        set_status(client, meeting, status)
    path = f"/meetings/{meeting.public_id}/minutes"
    first = {"csrf_token": token(client), "base_version": "0", "body": "<script>alert(1)</script>Eerste versie"}
    assert client.post(path, data=first).status_code == 302
    second = {"csrf_token": token(client), "base_version": "1", "body": "Tweede versie"}
    assert client.post(path, data=second).status_code == 302
    stale = client.post(path, data={**second, "body": "Over elkaar heen"})
    assert stale.status_code == 409
    assert "Someone saved version 2" in stale.get_data(as_text=True)
    page = client.get(path + "?version=1").get_data(as_text=True)
    assert "&lt;script&gt;" in page  # typed text is escaped, never markup
    assert "<script>alert(1)" not in page
    assert "Tweede versie" in client.get(path).get_data(as_text=True)
    assert client.get(path + "?version=9").status_code == 404


def test_reading_minutes_and_exports_are_audited(app, world, client, english, login_as, manager, room_a):
    from portal.audit.models import AuditEvent

    meeting = plan(app, manager, room_a)
    login_as(client, world["users"]["author"])
    assert client.get(f"/meetings/{meeting.public_id}/minutes").status_code == 200
    assert client.get(f"/meetings/{meeting.public_id}/invite.ics").status_code == 200
    with app.app_context():
        actions = [
            (e.action, e.details.get("document"))
            for e in db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(meeting.public_id)))
        ]
    assert ("meeting.minutes.read", None) in actions
    assert ("meeting.export", "ics") in actions


def test_ics_invitation(app, world, client, english, login_as, manager, room_a):
    from icalendar import Calendar

    meeting = plan(app, manager, room_a, days=20)
    login_as(client, world["users"]["author"])
    response = client.get(f"/meetings/{meeting.public_id}/invite.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    event = next(iter(calendar.walk("VEVENT")))
    assert str(event["uid"]) == f"meeting-{meeting.public_id}@localhost"
    assert str(event["summary"]) == "Netwerkoverleg"
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=150)
    assert int(event["sequence"]) == 0
    assert "mailto:" in str(event["organizer"])
    assert world["users"]["author"].email in str(event["attendee"])
    assert response.data.startswith(b"BEGIN:VCALENDAR")


def test_open_actions_are_carried_to_the_next_meeting(app, world, client, english, login_as, manager, room_a):
    first = plan(app, manager, room_a, days=-30, title="Voorjaar")
    login_as(client, manager)
    for status in STATUS_FLOW[:3]:
        set_status(client, first, status)
    page = client.get(f"/meetings/{first.public_id}").get_data(as_text=True)
    org = re.search(r'name="owner_organisation"[^>]*>\s*<option[^>]*value="([^"]+)"', page).group(1)
    for description in ("Extra toezicht bij de ingang", "Voorlichting over vapes", "Afgeronde actie"):
        created = client.post(
            f"/meetings/{first.public_id}/actions",
            data={
                "csrf_token": token(client),
                "description": description,
                "owner_organisation": org,
                "due_date": (utcnow().date() + timedelta(days=14)).isoformat(),
            },
        )
        assert created.status_code == 302, created.get_data(as_text=True)
    from portal.meetings.models import ActionItem

    with app.app_context():
        done = db.session.scalar(select(ActionItem).where(ActionItem.description == "Afgeronde actie"))
    updated = client.post(
        f"/actions/{done.public_id}", data={"csrf_token": token(client), "status": "afgerond", "note": "Klaar"}
    )
    assert updated.status_code == 302

    second = plan(app, manager, room_a, days=40, title="Najaar")
    set_status(client, second, "agenda_open")
    items = agenda_ids(app, second)
    from portal.meetings import queries
    from portal.meetings.models import Meeting

    with app.app_context():
        action_list = next(i for i in queries.agenda(db.session.get(Meeting, second.id)) if i.kind.code == "actielijst")
        carried = sorted(a.description for a in action_list.actions)
    assert carried == ["Extra toezicht bij de ingang", "Voorlichting over vapes"]
    assert len(items) == 9
    page = client.get(f"/meetings/{second.public_id}/agenda").get_data(as_text=True)
    assert "Extra toezicht bij de ingang" in page
    assert "Afgeronde actie" not in page
    # The room-wide action list shows all three with their status; the history is kept.
    actions_page = client.get(f"/rooms/{room_a.public_id}/actions").get_data(as_text=True)
    assert "Afgeronde actie" in actions_page
    assert "Klaar" in actions_page


def test_actions_are_updated_by_their_owner_organisation_only(app, world, client, english, login_as, manager, room_a):
    from portal.meetings import actions, services
    from portal.meetings.models import Meeting

    meeting = plan(app, manager, room_a)
    with app.app_context():
        m = db.session.get(Meeting, meeting.id)
        user = db.session.merge(manager)
        for status in STATUS_FLOW[:3]:
            services.change_status(user, m, status, ip="")
        author = db.session.merge(world["users"]["author"])
        action = actions.create_action(
            user,
            m,
            actions.ActionInput(
                description="Kluisjescontrole herhalen",
                owner_organisation_id=str(author.organisation.public_id),
                due_date=utcnow().date() + timedelta(days=7),
            ),
            ip="",
        )
        commit()
    login_as(client, world["users"]["other_school"])
    denied = client.post(f"/actions/{action.public_id}", data={"csrf_token": token(client), "status": "loopt"})
    assert denied.status_code == 403
    login_as(client, world["users"]["colleague"])  # same school, but no seat in the room
    assert (
        client.post(f"/actions/{action.public_id}", data={"csrf_token": token(client), "status": "loopt"}).status_code
        == 404
    )
    login_as(client, world["users"]["author"])
    assert (
        client.post(f"/actions/{action.public_id}", data={"csrf_token": token(client), "status": "loopt"}).status_code
        == 302
    )
    listing = client.get(f"/rooms/{room_a.public_id}/meetings").get_data(as_text=True)
    assert "Kluisjescontrole herhalen" in listing  # a reminder: due within two weeks


def test_school_input_and_partner_picture(app, world, client, english, login_as, manager, room_a):
    shared = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    meeting = plan(app, manager, room_a)
    login_as(client, world["users"]["author"])
    closed = client.post(
        f"/meetings/{meeting.public_id}/input", data={"csrf_token": token(client), "concern_1": "Vapes"}
    )
    assert closed.status_code == 409  # the call for input starts when the agenda opens
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    login_as(client, world["users"]["author"])
    data = {
        "csrf_token": token(client),
        "concern_1": "Vapes in de toiletten",
        "concern_2": "Groepjes bij de ingang",
        "signals": shared.reference,
        "help_needed": "Voorlichting door de GGD.",
    }
    assert client.post(f"/meetings/{meeting.public_id}/input", data=data).status_code == 302
    page = client.get(f"/meetings/{meeting.public_id}").get_data(as_text=True)
    assert "Vapes in de toiletten" in page
    assert shared.reference in page
    # The police officer writes the police picture; a person's name triggers the warning.
    login_as(client, world["users"]["police_a"])
    picture = {"csrf_token": token(client), "kind": "politie", "body": "Jan Jansen is vaak bij het station."}
    warned = client.post(f"/meetings/{meeting.public_id}/picture", data=picture)
    assert warned.status_code == 400
    assert 'id="personal-data-warning"' in warned.get_data(as_text=True)
    picture["body"] = "Meer overlast bij het station op vrijdagmiddag, groep van 8-10 jongeren."
    assert client.post(f"/meetings/{meeting.public_id}/picture", data=picture).status_code == 302
    assert "groep van 8-10 jongeren" in client.get(f"/meetings/{meeting.public_id}/trend").get_data(as_text=True)
    # A school coordinator cannot write a police picture, a police officer no school input.
    login_as(client, world["users"]["author"])
    assert client.get(f"/meetings/{meeting.public_id}/picture").status_code == 403
    login_as(client, world["users"]["police_a"])
    assert client.get(f"/meetings/{meeting.public_id}/input").status_code == 403


# --- permissions: every role in and outside the room --------------------------------------------------------------

# (user, read the meeting, propose, manage)
ROOM_A_EXPECTATIONS = {
    "manager_a": (200, 302, 302),
    "author": (200, 302, 403),
    "other_school": (200, 302, 403),
    "police_a": (200, 302, 403),
    "partner_a": (200, 302, 403),
    "district_b": (404, 404, 404),  # another district's room: nothing, not even that it exists
    "same_board_b": (404, 404, 404),
    "om": (404, 404, 404),  # city room member: no district meetings
    "revoked": (404, 404, 404),  # seat revoked
    "colleague": (404, 404, 404),  # same school, no seat
    "board_x": (403, 403, 403),  # no meeting permission at all
}


def test_permissions_per_role_in_and_outside_the_room(app, world, client, english, login_as, manager, room_a):
    """One world, one meeting, every kind of user: a table of what each may do (collected, then compared)."""
    meeting = plan(app, manager, room_a)
    from portal.meetings import services
    from portal.meetings.models import Meeting

    with app.app_context():
        services.change_status(db.session.merge(manager), db.session.get(Meeting, meeting.id), "agenda_open", ip="")
        commit()
    seen = {}
    for who in ROOM_A_EXPECTATIONS:
        login_as(client, world["users"][who])
        t = token(client)
        reads = {
            client.get(f"/meetings/{meeting.public_id}{path}").status_code
            for path in ("", "/agenda", "/trend", "/minutes")
        }
        reads |= {client.get(f"/rooms/{room_a.public_id}/meetings").status_code}
        reads |= {client.get(f"/rooms/{room_a.public_id}/actions").status_code}
        reads |= {client.get(f"/meetings/{meeting.public_id}/invite.ics").status_code}
        proposal = client.post(
            f"/meetings/{meeting.public_id}/agenda/items",
            data={"csrf_token": t, "kind": "thema", "title": "Voorstel", "duration_min": "5"},
        )
        generate = client.post(f"/meetings/{meeting.public_id}/trend/generate", data={"csrf_token": t})
        seen[who] = (sorted(reads), proposal.status_code, generate.status_code)
    expected = {who: ([read], propose, manage) for who, (read, propose, manage) in ROOM_A_EXPECTATIONS.items()}
    assert seen == expected


def test_covenant_coordinator_manages_city_meetings_not_district_ones(app, world, make, client, english, login_as):
    gemeente = world["users"]["manager_a"].organisation
    coordinator = make.user("covenant_coordinator", organisation=gemeente, name="Convenantcoördinator")
    make.member(world["rooms"]["a"], coordinator)
    make.member(world["rooms"]["city"], coordinator)
    district_meeting = plan(app, world["users"]["manager_a"], world["rooms"]["a"])
    city_meeting = plan(app, coordinator, world["rooms"]["city"], title="Stedelijke bijeenkomst")
    login_as(client, coordinator)
    assert client.get(f"/meetings/{district_meeting.public_id}").status_code == 200
    assert set_status(client, district_meeting, "agenda_open").status_code == 403
    assert set_status(client, city_meeting, "agenda_open").status_code == 302
    # The district safety manager has no seat in the city room: 404.
    login_as(client, world["users"]["manager_a"])
    assert client.get(f"/meetings/{city_meeting.public_id}").status_code == 404
    # A district manager cannot plan a meeting in a room they only read (the OM officer's city room).
    login_as(client, world["users"]["om"])
    assert client.get(f"/meetings/{city_meeting.public_id}").status_code == 200
    assert client.get(f"/rooms/{world['rooms']['city'].public_id}/meetings/new").status_code == 403


def test_only_the_chair_finalises(app, world, make, client, english, login_as, manager, room_a):
    gemeente = manager.organisation
    deputy = make.user(
        "district_safety_manager",
        organisation=gemeente,
        name="Tweede manager",
        scope="district",
        scope_district=world["districts"][0],
    )
    make.member(room_a, deputy)
    meeting = plan(app, manager, room_a)  # chaired by manager_a
    login_as(client, deputy)
    assert set_status(client, meeting, "agenda_open").status_code == 302  # organising is shared
    assert set_status(client, meeting, "agenda_definitief").status_code == 403  # the chair's step


def test_plan_a_meeting_through_the_form(app, world, client, english, login_as, manager, room_a):
    login_as(client, manager)
    path = f"/rooms/{room_a.public_id}/meetings/new"
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    chair = re.search(r'<option[^>]*value="([0-9a-f-]{36})"[^>]*>Veiligheidsmanager A', html).group(1)
    data = {
        "csrf_token": token(client),
        "kind": "stadsdeel",
        "title": "Netwerk Zuid A najaar",
        "date": (utcnow().date() + timedelta(days=30)).isoformat(),
        "time": "15:00",
        "duration_min": "120",
        "place": "",
        "online_url": "http://insecure.example/meet",
        "chair": chair,
    }
    refused = client.post(path, data=data)
    assert refused.status_code == 400
    assert "https://" in refused.get_data(as_text=True)
    data["online_url"] = "https://meet.example/netwerk"
    created = client.post(path, data=data)
    assert created.status_code == 302
    detail = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Netwerk Zuid A najaar" in detail
    assert "15:00" in detail  # shown in Dutch time, stored in UTC
    assert "School A1" in detail  # every member organisation is invited by default
    login_as(client, world["users"]["author"])
    assert client.get(path).status_code == 403
    assert "Meetings" in client.get(f"/rooms/{room_a.public_id}").get_data(as_text=True)


def test_a_partner_writes_only_their_own_organisations_picture(app, world, client, english, login_as, manager, room_a):
    from portal.core.errors import PermissionDenied
    from portal.meetings import contributions
    from portal.meetings.models import Meeting, PartnerPicture

    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    police = world["users"]["police_a"]
    login_as(client, police)
    page = client.get(f"/meetings/{meeting.public_id}/picture").get_data(as_text=True)
    assert 'value="politie"' in page
    assert 'value="jongerenwerk"' not in page  # only the own kind is offered
    forged = {"csrf_token": token(client), "kind": "jongerenwerk", "body": "Rustig op straat, weinig meldingen."}
    assert client.post(f"/meetings/{meeting.public_id}/picture", data=forged).status_code == 400
    with app.app_context():
        # The service refuses it too, whatever adapter calls it.
        with pytest.raises(PermissionDenied):
            contributions.submit_partner_picture(
                db.session.merge(police), db.session.get(Meeting, meeting.id), "jongerenwerk", forged["body"], ip=""
            )
        db.session.rollback()
        assert db.session.query(PartnerPicture).filter_by(meeting_id=meeting.id).count() == 0


def test_school_input_shows_only_the_signals_the_reader_may_see(app, world, client, english, login_as, manager, room_a):
    shared = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    private = post(app, world["users"]["author"], "eigen_locatie", "K2")
    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    login_as(client, world["users"]["author"])
    data = {
        "csrf_token": token(client),
        "concern_1": "Messen in tassen",
        "signals": f"{shared.reference} {private.reference}",
    }
    assert client.post(f"/meetings/{meeting.public_id}/input", data=data).status_code == 302
    own = client.get(f"/meetings/{meeting.public_id}").get_data(as_text=True)
    assert shared.reference in own
    assert private.reference in own  # the school that shared it to its own location sees it
    for who in ("other_school", "police_a", "manager_a"):
        login_as(client, world["users"][who])
        page = client.get(f"/meetings/{meeting.public_id}").get_data(as_text=True)
        assert "Messen in tassen" in page
        assert shared.reference in page
        assert private.reference not in page, who


def test_refused_meeting_edits_keep_their_status_and_the_audit(
    app, world, client, english, login_as, manager, room_a, monkeypatch
):
    from portal.audit.models import AuditEvent
    from portal.core.errors import PermissionDenied
    from portal.meetings import services

    def denials(user, endpoint):
        with app.app_context():
            return db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "access.denied",
                    AuditEvent.actor_id == str(user.public_id),
                    AuditEvent.object_id == endpoint,
                )
            )

    meeting = plan(app, manager, room_a)
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    item_page = client.get(f"/meetings/{meeting.public_id}/agenda").get_data(as_text=True)
    item_id = re.search(r'id="item-([0-9a-f-]{36})"', item_page).group(1)
    # A member who may not manage: 403 on every manager's form, each one audited.
    author = world["users"]["author"]
    login_as(client, author)
    for path, endpoint in (
        (f"/rooms/{room_a.public_id}/meetings/new", "meetings.new_meeting"),
        (f"/meetings/{meeting.public_id}/edit", "meetings.edit"),
        (f"/meetings/{meeting.public_id}/agenda/items/{item_id}/edit", "meetings.edit_item"),
    ):
        before = denials(author, endpoint)
        assert client.get(path).status_code == 403
        assert denials(author, endpoint) == before + 1
    # A refusal from the service while saving the details: the audited 403, not the "not possible now" page.
    login_as(client, manager)
    form = client.get(f"/meetings/{meeting.public_id}/edit").get_data(as_text=True)
    chair = re.search(r'<option[^>]*value="([0-9a-f-]{36})"[^>]*>Veiligheidsmanager A', form).group(1)
    data = {
        "csrf_token": token(client),
        "kind": "stadsdeel",
        "title": "Netwerkoverleg gewijzigd",
        "date": (utcnow().date() + timedelta(days=3)).isoformat(),
        "time": "15:00",
        "duration_min": "150",
        "place": "Stadhuis Almere",
        "online_url": "",
        "chair": chair,
    }

    def refuse(*args, **kwargs):
        raise PermissionDenied("Only the chair or secretary of this network can do this.")

    monkeypatch.setattr(services, "update_meeting", refuse)
    before = denials(manager, "meetings.edit")
    denied = client.post(f"/meetings/{meeting.public_id}/edit", data=data)
    assert denied.status_code == 403
    assert denials(manager, "meetings.edit") == before + 1
    monkeypatch.undo()
    # A workflow conflict still answers with the refused page.
    for status in STATUS_FLOW[1:3]:
        set_status(client, meeting, status)
    data["csrf_token"] = token(client)
    held = client.post(f"/meetings/{meeting.public_id}/edit", data=data)
    assert held.status_code == 409
    assert "cannot change" in held.get_data(as_text=True)
