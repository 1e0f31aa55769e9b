"""Who sees what of a signal: every sharing scope × classification × kind of viewer, compared across the list
query, the detail query, the HTML room page and the raw socket payloads (R-AZ-2, R-AZ-5, issue 4)."""

from __future__ import annotations

import uuid

import pytest

from portal.core.errors import NotFound
from portal.extensions import db
from tests.signal_world import SCOPES, expected_visible, post


def test_every_viewer_sees_exactly_what_the_scope_allows(app, world):
    """All 6 scopes × 2 classifications × 11 viewers in one world (building it is the slow part)."""
    from portal.realtime.namespaces import channels_for
    from portal.signals import queries
    from portal.signals.events import plan_signal_event
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
