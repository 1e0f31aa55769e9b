"""Police and OM: the overview, follow-up (restricted police reference), acute signals, figures with
small-number suppression (issue 6)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from portal.core.db import commit, utcnow
from portal.extensions import db
from tests.conftest import csrf_token
from tests.signal_world import post


def test_police_overview_lists_only_shared_signals_in_their_districts(app, world, client, login_as):
    shared = post(app, world["users"]["author"], "stadsdeelnetwerk", "K3")
    own_only = post(app, world["users"]["author"], "eigen_locatie", "K2")
    login_as(client, world["users"]["police_a"])
    page = client.get("/police").get_data(as_text=True)
    assert shared.summary in page
    assert own_only.summary not in page
    assert client.get("/police?follow_up=picked_up").get_data(as_text=True).count(shared.summary) == 0
    login_as(client, world["users"]["other_school"])
    assert client.get("/police").status_code == 403


def test_follow_up_reference_reaches_police_and_om_never_the_school(app, world, client, login_as):
    signal = post(app, world["users"]["author"], "benoemde_ontvangers", "K2")  # shared with OM and police
    login_as(client, world["users"]["police_a"])
    path = f"/signals/{signal.public_id}/follow-up"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "status": "overgedragen",
            "intervention": "halt",
            "police_reference": "PL0900-2026123456",
        },
    )
    assert response.status_code == 302
    assert "PL0900-2026123456" in client.get(f"/signals/{signal.public_id}").get_data(as_text=True)
    login_as(client, world["users"]["om"])
    assert "PL0900-2026123456" in client.get(f"/signals/{signal.public_id}").get_data(as_text=True)
    for who in ("author", "colleague"):
        login_as(client, world["users"][who])
        page = client.get(f"/signals/{signal.public_id}").get_data(as_text=True)
        assert "PL0900-2026123456" not in page
        assert 'id="police-heading"' not in page
        assert 'id="police-picked-up"' in page  # the school does see that (and when) the police picked it up
    with app.app_context():
        from portal.signals import queries
        from portal.signals.presenter import present

        viewer = queries.viewer_for(db.session.merge(world["users"]["author"]))
        loaded = queries.get_visible_signal(viewer, signal.public_id)
        payload = present(loaded, viewer.fields_for(loaded))
        assert payload["police_picked_up_at"]
        assert "police_follow_up" not in payload


def test_school_cannot_record_police_follow_up(app, world, client, login_as):
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["other_school"])
    path = f"/signals/{signal.public_id}/follow-up"
    assert client.get(path).status_code == 403


def test_acute_signal_alerts_police_then_escalates(app, world, client, login_as, make):
    from portal.police.models import AcuteAlert
    from portal.police.services import escalate_overdue
    from portal.signals import services

    data = services.SignalInput(
        client_key=uuid.uuid4().hex,
        occurred_on=utcnow().date(),
        category="wapens",
        location_type="directe_schoolomgeving",
        severity="acuut",
        summary="Jongen met vuurwapen bij de ingang gezien",
        sharing_scope="stedelijk",
    )
    with app.app_context():
        signal = services.create_signal(db.session.merge(world["users"]["author"]), data, ip="127.0.0.1").signal
        commit()
    login_as(client, world["users"]["police_a"])
    home = client.get("/").get_data(as_text=True)
    assert "Jongen met vuurwapen" in home  # the banner on every page of the room's police
    with app.app_context():
        alert = db.session.query(AcuteAlert).filter_by(signal_id=signal.id).one()
        alert.raised_at = utcnow() - timedelta(minutes=30)
        commit()
        assert escalate_overdue(15) == 1
        commit()
        assert escalate_overdue(15) == 0  # escalated once
    path = f"/signals/{signal.public_id}"
    # An officer of another district who may read the signal (it is shared city-wide) cannot silence this alert.
    elsewhere = make.user(
        "police_officer",
        organisation=world["users"]["police_a"].organisation,
        name="Agent B",
        scope="district",
        scope_district=world["districts"][1],
    )
    make.member(world["rooms"]["b"], elsewhere)
    login_as(client, elsewhere)
    assert client.get(path).status_code == 200
    refused = client.post(f"{path}/acknowledge", data={"csrf_token": csrf_token(client, path)})
    assert refused.status_code in (302, 400)
    with app.app_context():
        assert db.session.query(AcuteAlert).filter_by(signal_id=signal.id).one().acknowledged_at is None
    login_as(client, world["users"]["police_a"])
    assert client.post(f"{path}/acknowledge", data={"csrf_token": csrf_token(client, path)}).status_code == 302
    with app.app_context():
        alert = db.session.query(AcuteAlert).filter_by(signal_id=signal.id).one()
        assert alert.acknowledged_at is not None
        assert alert.acknowledged_by_id == world["users"]["police_a"].id
    assert "Jongen met vuurwapen" not in client.get("/").get_data(as_text=True)


def test_figures_suppress_small_numbers(app, world, client, login_as):
    for _ in range(3):
        post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")  # wapens in Zuid A: 3, shown
    login_as(client, world["users"]["om"])
    page = client.get("/statistics").get_data(as_text=True)
    assert ">3<" in page.replace(" ", "")
    post(app, world["users"]["author"], "stedelijk", "K2")
    with app.app_context():
        from portal.privacy.aggregates import category_by_district

        table = category_by_district(utcnow().date() - timedelta(days=30), utcnow().date())
        assert table.cells[("Wapens", "Zuid A")] == 4
        from portal.signals import services

        data = services.SignalInput(
            client_key=uuid.uuid4().hex,
            occurred_on=utcnow().date(),
            category="drugs",
            location_type="online",
            severity="laag",
            summary="Handel via Snapchat gezien",
        )
        services.create_signal(db.session.merge(world["users"]["author"]), data, ip="127.0.0.1")
        commit()
        table = category_by_district(utcnow().date() - timedelta(days=30), utcnow().date())
        assert table.cells[("Drugs en middelen", "Zuid A")] is None  # 1 < 3: suppressed
        assert table.column_totals["Zuid A"] is None  # would reveal the suppressed cell
        assert table.as_json()["cells"]
    page = client.get("/statistics").get_data(as_text=True)
    assert "&lt;3" in page
    login_as(client, world["users"]["other_school"])
    assert client.get("/statistics").status_code == 403


def test_figures_list_a_named_share_also_behind_many_newer_room_signals(app, world, client, login_as):
    """The safety manager reads rooms too: the shares named for the municipality are selected in SQL, not picked out
    of the newest signals of every kind."""
    from portal.signals import services

    manager = world["users"]["manager_a"]
    data = services.SignalInput(
        client_key=uuid.uuid4().hex,
        occurred_on=utcnow().date() - timedelta(days=3),
        category="wapens",
        location_type="in_schoolgebouw",
        severity="midden",
        summary="Alleen gedeeld met de gemeente",
        classification="K2",
        sharing_scope="benoemde_ontvangers",
        recipients=[manager.organisation.code],
    )
    with app.app_context():
        services.create_signal(db.session.merge(world["users"]["author"]), data, ip="127.0.0.1")
        commit()
    for _ in range(51):
        post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, manager)
    page = client.get("/statistics").get_data(as_text=True)
    assert "Alleen gedeeld met de gemeente" in page
