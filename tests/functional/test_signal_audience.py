"""Who sees what of a signal: every sharing scope × classification × kind of viewer, compared across the list
query, the detail query, the HTML room page and the raw socket payloads (R-AZ-2, R-AZ-5, issue 4)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from portal.core.db import utcnow
from portal.core.errors import NotFound
from portal.extensions import db

SCOPES = [
    "eigen_locatie",
    "eigen_bestuur",
    "stadsdeelnetwerk",
    "meerdere_stadsdelen",
    "stedelijk",
    "benoemde_ontvangers",
]


@pytest.fixture
def world(app, make):
    """Two districts with a room each, a city room, schools of two boards, and one user of each kind."""
    from portal.signals.taxonomy import load_reference_data

    with app.app_context():
        load_reference_data()
        db.session.commit()
    d_a, d_b = make.district("ZA", "Zuid A"), make.district("ZB", "Zuid B")
    room_a, room_b = make.room(d_a, code="room-a"), make.room(d_b, code="room-b")
    city = make.room(None, code="room-city", kind="city")
    board_x = make.organisation("school_board", code="board-x", name="Bestuur X")
    board_y = make.organisation("school_board", code="board-y", name="Bestuur Y")
    a1 = make.organisation("school_location", code="school-a1", district=d_a, parent=board_x, name="School A1")
    a2 = make.organisation("school_location", code="school-a2", district=d_a, parent=board_y, name="School A2")
    a3 = make.organisation("school_location", code="school-a3", district=d_b, parent=board_x, name="School A3")
    b1 = make.organisation("school_location", code="school-b1", district=d_b, parent=board_y, name="School B1")
    police = make.organisation("police_unit", code="politie-test", name="Politie")
    gemeente = make.organisation("municipality_unit", code="gemeente-test", name="Gemeente")
    partner = make.organisation("youth_work", code="jongerenwerk-test", name="Jongerenwerk")
    om = make.organisation("om_office", code="om-test", name="OM")

    def person(name, role, org, rooms, scope="city", **kw):
        user = make.user(role, organisation=org, name=name, scope=scope, **kw)
        for room in rooms:
            make.member(room, user)
        return user

    users = {
        "author": person("Auteur A1", "school_coordinator", a1, [room_a], "location", scope_organisation=a1),
        "colleague": person("Collega A1", "school_coordinator", a1, [], "location", scope_organisation=a1),
        "other_school": person("Coordinator A2", "school_coordinator", a2, [room_a], "location", scope_organisation=a2),
        "same_board_b": person("Coordinator A3", "school_coordinator", a3, [room_b], "location", scope_organisation=a3),
        "district_b": person("Coordinator B1", "school_coordinator", b1, [room_b], "location", scope_organisation=b1),
        "police_a": person("Agent A", "police_officer", police, [room_a], "district", scope_district=d_a),
        "manager_a": person(
            "Veiligheidsmanager A", "district_safety_manager", gemeente, [room_a], "district", scope_district=d_a
        ),
        "partner_a": person("Jongerenwerker A", "partner", partner, [room_a]),
        "om": person("Parketsecretaris", "om_officer", om, [city]),
        "board_x": person("Bestuurder X", "board_officer", board_x, [], "board", scope_organisation=board_x),
        "revoked": person("Oud-lid A", "school_coordinator", a2, [room_a], "location", scope_organisation=a2),
    }
    with app.app_context():
        from portal.rooms.models import RoomMembership

        membership = db.session.query(RoomMembership).filter_by(user_id=users["revoked"].id).one()
        membership.revoked_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    return {"users": users, "rooms": {"a": room_a, "b": room_b, "city": city}, "districts": (d_a, d_b)}


def expected_visible(who: str, scope: str, classification: str) -> bool:
    if who in ("author", "colleague"):
        return True
    if who in ("board_x", "revoked"):
        return False
    if who == "partner_a" and classification == "K3":
        return False
    if who == "om":
        return scope == "benoemde_ontvangers"
    room_scopes = {
        "other_school": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
        "same_board_b": {"eigen_bestuur", "meerdere_stadsdelen", "stedelijk"},
        "district_b": {"meerdere_stadsdelen", "stedelijk"},
        "police_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk", "benoemde_ontvangers"},
        "manager_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
        "partner_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
    }
    return scope in room_scopes[who]


def post(app, author, scope: str, classification: str):
    from portal.signals import services

    data = services.SignalInput(
        client_key=uuid.uuid4().hex,
        occurred_on=utcnow().date() - timedelta(days=2),
        category="wapens",
        subcategory="wapens.mes_overig",
        location_type="in_schoolgebouw",
        severity="midden",
        summary=f"Mes gevonden ({scope} {classification})",
        details_html="<p>Geheime details</p>",
        classification=classification,
        sharing_scope=scope,
        extra_districts=["ZB"],
        recipients=["om-test", "politie-test"],
        involved_counts={"leerlingen": 2},
    )
    with app.app_context():
        result = services.create_signal(db.session.merge(author), data, ip="127.0.0.1")
        from portal.core.db import commit

        commit()
        return result.signal


def test_every_viewer_sees_exactly_what_the_scope_allows(app, world):
    """All 6 scopes × 2 classifications × 11 viewers in one world (building it is the slow part)."""
    from portal.realtime.namespaces import channels_for
    from portal.realtime.publish import plan_signal_event
    from portal.signals import queries
    from portal.signals.models import RoomEvent
    from portal.signals.presenter import present

    posted = {(scope, c): post(app, world["users"]["author"], scope, c) for scope in SCOPES for c in ("K2", "K3")}
    with app.app_context():
        viewers = {who: queries.viewer_for(db.session.merge(user)) for who, user in world["users"].items()}
        listed = {
            who: {s.id for s in queries.list_signals(v, queries.SignalFilter(), limit=100)[0]}
            for who, v in viewers.items()
        }
        for (scope, classification), signal in posted.items():
            events = [(e.room_id, e.seq) for e in db.session.query(RoomEvent).filter_by(signal_id=signal.id)]
            assert events, "a shared signal is appended to at least one room stream"
            plan = list(plan_signal_event("signal.created", signal.id, events))
            for who, viewer in viewers.items():
                case = f"{who} / {scope} / {classification}"
                should = expected_visible(who, scope, classification)
                assert (signal.id in listed[who]) is should, f"list: {case}"
                joined = set(channels_for(viewer))
                received = [payload for _event, payload, channels in plan if joined & set(channels)]
                if not should:
                    assert received == [], f"socket: {case} must receive nothing"
                    with pytest.raises(NotFound):
                        queries.get_visible_signal(viewer, signal.public_id)
                    continue
                loaded = queries.get_visible_signal(viewer, signal.public_id)
                expected_payload = present(loaded, viewer.fields_for(loaded))
                assert all(p["signal"] == expected_payload for p in received), f"socket payload: {case}"
                if who != "colleague":  # the author's colleague is in no room: lists only, no room push
                    assert received, f"socket: {case} receives nothing"


def test_other_school_sees_no_school_name_and_no_k3_details(app, world):
    from portal.signals import queries
    from portal.signals.presenter import present

    k2 = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    k3 = post(app, world["users"]["author"], "stadsdeelnetwerk", "K3")
    with app.app_context():
        other = queries.viewer_for(db.session.merge(world["users"]["other_school"]))
        police = queries.viewer_for(db.session.merge(world["users"]["police_a"]))
        seen_k2 = present(queries.get_visible_signal(other, k2.public_id), other.fields_for(k2))
        seen_k3 = present(queries.get_visible_signal(other, k3.public_id), other.fields_for(k3))
        assert "school" not in seen_k2
        assert "author" not in seen_k2
        assert "occurred_on" not in seen_k2
        assert seen_k2["details_html"] == "<p>Geheime details</p>"
        assert "details_html" not in seen_k3
        assert "school" not in seen_k3
        assert seen_k3["school_sector"] == "VO"
        assert seen_k3["district"]["code"] == "ZA"
        by_police = present(queries.get_visible_signal(police, k3.public_id), police.fields_for(k3))
        assert by_police["school"]["name"] == "School A1"
        assert by_police["details_html"]


def test_room_page_shows_only_visible_signals(app, world, client, login_as):
    visible = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    hidden = post(app, world["users"]["author"], "eigen_locatie", "K2")
    login_as(client, world["users"]["other_school"])
    page = client.get(f"/rooms/{world['rooms']['a'].public_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert visible.summary in html
    assert hidden.summary not in html
    assert "School A1" not in html  # the school's name is hidden from other schools
    assert client.get(f"/signals/{hidden.public_id}").status_code == 404
    assert client.get(f"/rooms/{world['rooms']['b'].public_id}").status_code == 404  # not a member


def test_revoked_member_and_unknown_ids_get_404(app, world, client, login_as):
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["revoked"])
    assert client.get(f"/rooms/{world['rooms']['a'].public_id}").status_code == 404
    assert client.get(f"/signals/{signal.public_id}").status_code == 404
    assert client.get("/signals/not-a-uuid").status_code == 404
    assert client.get(f"/signals/{uuid.uuid4()}").status_code == 404
