"""A small world for signal tests: two districts with a room each, a city room, schools of two boards and one
user of every kind of viewer. ``post`` shares a signal from the world's author."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from portal.core.db import commit, utcnow
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
    return {
        "users": users,
        "rooms": {"a": room_a, "b": room_b, "city": city},
        "districts": (d_a, d_b),
        "schools": {"a1": a1, "a2": a2, "a3": a3, "b1": b1},
    }


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
        commit()
        return result.signal
