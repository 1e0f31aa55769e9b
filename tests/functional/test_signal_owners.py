"""Who reads a signal as their own, and who may change it, over every channel (issue 15, items 1-3; the rule is
``portal/signals/audience.py``, written down in docs/security.md).

1. Without a signal-reading permission nobody sees a signal, not even one their own organisation posted: the
   privacy officer and the functional administrator of the municipality get 404 over HTML, the API and exports.
2. An organisation that works in several districts (the municipality) reads and edits its colleagues' signals as its
   own only in the districts where the person has a seat: the district safety manager of district B neither reads
   district A's K3 signal nor changes it; a colleague in district A does both.
3. The school a signal is about reads it in full and responds, but does not rewrite or withdraw what another
   organisation posted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.db import commit, utcnow
from portal.extensions import db
from tests.conftest import csrf_token
from tests.functional.test_api import bearer, is_problem, issue_token


@pytest.fixture
def owners(app, world, make):
    from portal.organisations.models import Organisation

    with app.app_context():
        gemeente = db.session.scalar(select(Organisation).where(Organisation.code == "gemeente-test"))
    d_a, d_b = world["districts"]
    rooms = world["rooms"]

    def manager(name, district, room):
        user = make.user(
            "district_safety_manager", organisation=gemeente, name=name, scope="district", scope_district=district
        )
        make.member(room, user)
        return user

    users = dict(world["users"])
    users["manager_a2"] = manager("Veiligheidsmanager A2", d_a, rooms["a"])
    users["manager_b"] = manager("Veiligheidsmanager B", d_b, rooms["b"])
    users["privacy"] = make.user("privacy_officer", organisation=gemeente, name="FG Gemeente")
    users["admin"] = make.user("functional_admin", organisation=gemeente, name="Beheer Gemeente")
    return {**world, "users": users}


def post_as(app, author, *, scope="stadsdeelnetwerk", classification="K3", school=None, **overrides):
    from portal.signals import services

    data = services.SignalInput(
        client_key=uuid.uuid4().hex,
        occurred_on=utcnow().date() - timedelta(days=3),
        category="wapens",
        subcategory="wapens.mes_overig",
        location_type="in_schoolgebouw",
        severity="midden",
        summary=f"Mes bij de ingang ({scope} {classification})",
        details_html="<p>Geheime details van de gemeente</p>",
        classification=classification,
        sharing_scope=scope,
        school_location_id=str(school.public_id) if school is not None else "",
        district_code="" if school is not None else "ZA",
        recipients=["politie-test"],
        **overrides,
    )
    with app.app_context():
        signal = services.create_signal(db.session.merge(author), data, ip="127.0.0.1").signal
        commit()
        return signal


def channels_reached(app, signal, user) -> list[dict]:
    """The socket payloads of ``signal`` that would reach ``user``'s sockets (pure planning, no sockets)."""
    from portal.signals import queries
    from portal.signals.audience import channels_for
    from portal.signals.events import plan_signal_event
    from portal.signals.models import RoomEvent

    with app.app_context():
        events = [(e.room_id, e.seq) for e in db.session.query(RoomEvent).filter_by(signal_id=signal.id)]
        joined = set(channels_for(queries.viewer_for(db.session.merge(user))))
        return [
            p["signal"]
            for _e, p, channels in plan_signal_event("signal.created", signal.id, events)
            if joined & set(channels)
        ]


def reads(app, client, login_as, user, signal) -> dict[str, object]:
    """What ``user`` gets of ``signal`` over each reading channel."""
    secret = issue_token(app, user)
    login_as(client, user)
    detail = client.get(f"/api/v1/signals/{signal.public_id}", headers=bearer(secret))
    listed = client.get("/api/v1/signals?limit=100", headers=bearer(secret))
    listed_ids = {s["id"] for s in listed.get_json()["signals"]} if listed.status_code == 200 else set()
    return {
        "html": client.get(f"/signals/{signal.public_id}").status_code,
        "api": detail.status_code,
        "api_body": detail.get_json() if detail.status_code == 200 else None,
        "listed": str(signal.public_id) in listed_ids,
        "access_report": client.get(f"/signals/{signal.public_id}/access").status_code,
        "socket": channels_reached(app, signal, user),
    }


def writes(app, client, login_as, user, signal) -> dict[str, int]:
    """What ``user`` may do to ``signal`` over each writing channel (edit page, status, person reference, PATCH)."""
    secret = issue_token(app, user)
    login_as(client, user)
    path = f"/signals/{signal.public_id}"
    token = csrf_token(client, "/")
    return {
        "edit_page": client.get(f"{path}/edit").status_code,
        "withdraw": client.post(f"{path}/status", data={"csrf_token": token, "status": "ingetrokken"}).status_code,
        "person": client.post(
            f"{path}/people",
            data={"csrf_token": token, "subject_key": "K-1", "pseudonym": "Leerling A", "role": "getuige"}
            | {"age_band": "12-15"},
        ).status_code,
        "patch": client.patch(
            f"/api/v1/signals/{signal.public_id}",
            json={"summary": "Herschreven door iemand anders"},
            headers=bearer(secret),
        ).status_code,
    }


def stored(app, signal):
    from portal.signals.models import Signal

    with app.app_context():
        row = db.session.get(Signal, signal.id)
        return row.summary, row.status.value


# --- 1. no signal-reading permission: nothing, whoever posted it ---------------------------------------------


@pytest.mark.parametrize("who", ["privacy", "admin"])
def test_people_without_a_signal_reading_permission_see_no_signal_of_their_own_organisation(
    app, client, owners, login_as, who
):
    signal = post_as(app, owners["users"]["manager_a"], scope="stedelijk", classification="K2")
    got = reads(app, client, login_as, owners["users"][who], signal)
    assert got["html"] == 404
    assert got["api"] == 404
    assert is_problem(
        client.get(f"/api/v1/signals/{signal.public_id}", headers=bearer(issue_token(app, owners["users"][who]))), 404
    )
    assert got["listed"] is False
    assert got["access_report"] == 404
    assert got["socket"] == []


def test_the_audience_clause_is_empty_without_a_reading_permission(app, owners):
    from portal.signals import queries

    post_as(app, owners["users"]["manager_a"], scope="stedelijk", classification="K2")
    with app.app_context():
        viewer = queries.viewer_for(db.session.merge(owners["users"]["privacy"]))
        assert queries.list_signals(viewer, queries.SignalFilter(), limit=100)[0] == []


# --- 2. an organisation of several districts: own only where the person has a seat ---------------------------


def test_manager_of_another_district_neither_reads_nor_edits_a_district_signal(app, client, owners, login_as):
    signal = post_as(app, owners["users"]["manager_a"], scope="stadsdeelnetwerk", classification="K3")
    manager_b = owners["users"]["manager_b"]
    got = reads(app, client, login_as, manager_b, signal)
    assert (got["html"], got["api"], got["listed"], got["access_report"], got["socket"]) == (404, 404, False, 404, [])
    assert writes(app, client, login_as, manager_b, signal) == {
        "edit_page": 404,
        "withdraw": 404,
        "person": 404,
        "patch": 404,
    }
    assert stored(app, signal) == ("Mes bij de ingang (stadsdeelnetwerk K3)", "gedeeld")


def test_manager_of_another_district_reads_a_city_wide_signal_as_a_room_member_not_as_its_owner(
    app, client, owners, login_as
):
    from portal.signals import queries
    from portal.signals.presenter import present

    signal = post_as(app, owners["users"]["manager_a"], scope="stedelijk", classification="K3")
    manager_b = owners["users"]["manager_b"]
    got = reads(app, client, login_as, manager_b, signal)
    assert (got["html"], got["api"], got["listed"]) == (200, 200, True)
    with app.app_context():
        viewer = queries.viewer_for(db.session.merge(manager_b))
        loaded = queries.get_visible_signal(viewer, signal.public_id)
        assert not viewer.is_own(loaded)
        assert not viewer.may_edit(loaded)
        expected = present(loaded, viewer.fields_for(loaded))
    assert got["socket"], "a city-wide signal reaches district B's room"
    assert all(payload == expected for payload in got["socket"])
    assert writes(app, client, login_as, manager_b, signal) == {
        "edit_page": 404,
        "withdraw": 404,
        "person": 404,
        "patch": 404,
    }
    assert stored(app, signal) == ("Mes bij de ingang (stedelijk K3)", "gedeeld")
    # Nor does it count as "herkenbaar" for its own organisation's signal: that counts other organisations.
    login_as(client, manager_b)
    token = csrf_token(client, f"/signals/{signal.public_id}")
    client.post(f"/signals/{signal.public_id}/recognise", data={"csrf_token": token})
    with app.app_context():
        from portal.signals.models import Signal

        assert db.session.get(Signal, signal.id).recognised_count == 0


def test_a_colleague_in_the_same_district_reads_and_edits_the_signal_as_its_own(app, client, owners, login_as):
    signal = post_as(app, owners["users"]["manager_a"], scope="stadsdeelnetwerk", classification="K3")
    colleague = owners["users"]["manager_a2"]
    got = reads(app, client, login_as, colleague, signal)
    assert (got["html"], got["api"], got["listed"], got["access_report"]) == (200, 200, True, 200)
    assert got["api_body"]["details_html"] == "<p>Geheime details van de gemeente</p>"
    assert got["socket"]
    assert all(p["details_html"] for p in got["socket"])
    login_as(client, colleague)
    assert client.get(f"/signals/{signal.public_id}/edit").status_code == 200
    patched = client.patch(
        f"/api/v1/signals/{signal.public_id}",
        json={"summary": "Aangevuld door een collega"},
        headers=bearer(issue_token(app, colleague)),
    )
    assert patched.status_code == 200
    assert stored(app, signal)[0] == "Aangevuld door een collega"


def test_own_signals_without_a_room_stream_reach_only_the_owners_district(app, owners):
    """Named shares travel outside the room streams: the municipality's own copy goes to its people with a seat in
    the signal's district, not to the whole organisation."""
    signal = post_as(app, owners["users"]["manager_a"], scope="benoemde_ontvangers", classification="K3")
    assert channels_reached(app, signal, owners["users"]["manager_a2"])
    assert channels_reached(app, signal, owners["users"]["manager_b"]) == []
    assert channels_reached(app, signal, owners["users"]["police_a"])  # the named recipient


# --- 3. the school a signal is about --------------------------------------------------------------------------


def test_the_school_concerned_reads_in_full_and_responds_but_does_not_rewrite(app, client, owners, login_as):
    school = owners["schools"]["a1"]
    signal = post_as(app, owners["users"]["manager_a"], scope="stadsdeelnetwerk", classification="K3", school=school)
    coordinator = owners["users"]["author"]  # the coordinator of school A1
    got = reads(app, client, login_as, coordinator, signal)
    assert (got["html"], got["api"], got["listed"], got["access_report"]) == (200, 200, True, 200)
    assert got["api_body"]["details_html"] == "<p>Geheime details van de gemeente</p>"
    assert got["socket"]
    assert all(p["details_html"] for p in got["socket"])
    assert writes(app, client, login_as, coordinator, signal) == {
        "edit_page": 404,
        "withdraw": 404,
        "person": 404,
        "patch": 404,
    }
    assert stored(app, signal) == ("Mes bij de ingang (stadsdeelnetwerk K3)", "gedeeld")
    login_as(client, coordinator)
    page = client.get(f"/signals/{signal.public_id}").get_data(as_text=True)
    assert f"/signals/{signal.public_id}/edit" not in page
    assert 'name="subject_key"' not in page
    token = csrf_token(client, f"/signals/{signal.public_id}")
    response = client.post(
        f"/signals/{signal.public_id}/responses",
        data={
            "csrf_token": token,
            "client_key": uuid.uuid4().hex,
            "kind": "aanvullende_info",
            "text": "Wij pakken dit op.",
        },
    )
    assert response.status_code == 302
    answered = client.post(
        f"/api/v1/signals/{signal.public_id}/responses",
        json={"kind": "advies", "text_html": "<p>Ook via de API.</p>"},
        headers=bearer(issue_token(app, coordinator)) | {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answered.status_code == 201
    # The poster still edits it.
    login_as(client, owners["users"]["manager_a"])
    assert client.get(f"/signals/{signal.public_id}/edit").status_code == 200


# --- drafts ------------------------------------------------------------------------------------------------------


def test_a_draft_withdrawn_without_being_shared_stays_its_authors_alone(app, client, owners, login_as):
    """Withdrawing a draft used to publish it: a live ``signal.created`` to the rooms and readable by every room
    member over the API, though it was never shared."""
    from portal.signals.models import RoomEvent

    author = owners["users"]["manager_a"]
    draft = post_as(app, author, classification="K2", status="concept")
    login_as(client, author)
    token = csrf_token(client, f"/signals/{draft.public_id}")
    assert (
        client.post(
            f"/signals/{draft.public_id}/status", data={"csrf_token": token, "status": "ingetrokken"}
        ).status_code
        == 302
    )
    assert stored(app, draft)[1] == "ingetrokken"
    with app.app_context():
        assert db.session.query(RoomEvent).filter_by(signal_id=draft.id).count() == 0
    for who in ("manager_a2", "police_a", "partner_a"):
        got = reads(app, client, login_as, owners["users"][who], draft)
        assert (got["html"], got["api"], got["listed"], got["socket"]) == (404, 404, False, []), who
    assert reads(app, client, login_as, author, draft)["api"] == 200
