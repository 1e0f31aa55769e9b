"""Who sees what over the API: every kind of viewer × sharing scope × classification, through
GET /api/v1/signals and GET /api/v1/signals/<id>, comparing the JSON (R-AZ-2, R-AZ-5)."""

from __future__ import annotations

import pytest

from portal.signals.visibility import OWN_FIELDS, POLICE_DETAILS
from tests.functional import test_api as shared
from tests.functional.test_api import bearer, is_problem, issue_token, post_signal

api_world = shared.api_world  # the fixture

SCOPES = [
    "eigen_locatie",
    "eigen_bestuur",
    "stadsdeelnetwerk",
    "meerdere_stadsdelen",
    "stedelijk",
    "benoemde_ontvangers",
]
VIEWERS = [
    "author",
    "colleague",
    "other_school",
    "same_board_b",
    "district_b",
    "police_a",
    "manager_a",
    "partner_a",
    "om",
    "board_x",
    "revoked",
]
# The JSON keys that each restricted field group adds to a signal.
KEYS = {
    "school": {"school", "organisation"},
    "area": {"area"},
    "occurred_on": {"occurred_on"},
    "details": {"details_html"},
    "involved": {"involved_counts", "age_bands"},
    "author": {"author"},
    "measures": {"school_measures"},
    POLICE_DETAILS: {"police_follow_up"},
}
BASE_KEYS = {
    "id",
    "reference",
    "status",
    "classification",
    "sharing_scope",
    "district",
    "school_sector",
    "occurred_month",
    "daypart",
    "location_type",
    "category",
    "subcategory",
    "severity",
    "summary",
    "weapon_type",
    "online_platform",
    "police_involved",
    "report_status",
    "themes",
    "recognised_count",
    "response_count",
    "created_at",
    "updated_at",
    "police_picked_up_at",
    "visible_fields",
}
SCHOOL_VIEW = {"K2": {"area", "details", "involved", "measures"}, "K3": {"involved"}}


def expected_visible(who: str, scope: str, classification: str) -> bool:
    """Written out from docs/domain.md B.5, independently of the query code."""
    if who in ("author", "colleague"):
        return True  # the posting organisation
    if who in ("board_x", "revoked"):
        return False  # aggregates only; membership revoked
    if who == "partner_a" and classification == "K3":
        return False
    if who == "om":
        return scope == "benoemde_ontvangers"  # only as a named recipient
    audiences = {
        "other_school": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
        "same_board_b": {"eigen_bestuur", "meerdere_stadsdelen", "stedelijk"},
        "district_b": {"meerdere_stadsdelen", "stedelijk"},
        "police_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk", "benoemde_ontvangers"},
        "manager_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
        "partner_a": {"stadsdeelnetwerk", "meerdere_stadsdelen", "stedelijk"},
    }
    return scope in audiences[who]


def expected_fields(who: str, classification: str) -> set[str]:
    if who in ("police_a", "om"):
        return set(OWN_FIELDS) | {POLICE_DETAILS}  # and the police's follow-up
    if who in ("author", "colleague", "manager_a"):
        return set(OWN_FIELDS)
    if who == "partner_a":
        return {"area", "details", "involved", "measures"}
    return SCHOOL_VIEW[classification]


@pytest.fixture
def posted(app, api_world):
    author = api_world["users"]["author"]
    signals = {}
    for scope in SCOPES:
        for classification in ("K2", "K3"):
            signals[post_signal(app, author, scope=scope, classification=classification)] = (scope, classification)
    tokens = {who: issue_token(app, user) for who, user in api_world["users"].items()}
    return signals, tokens


def test_who_sees_what_in_list_and_detail(app, client, api_world, posted):
    signals, tokens = posted
    for who in VIEWERS:
        headers = bearer(tokens[who])
        listed = client.get("/api/v1/signals?limit=100", headers=headers).get_json()["signals"]
        by_id = {item["id"]: item for item in listed}
        expected_ids = {sid for sid, (scope, c) in signals.items() if expected_visible(who, scope, c)}
        assert set(by_id) == expected_ids, who
        for sid, (scope, classification) in signals.items():
            response = client.get(f"/api/v1/signals/{sid}", headers=headers)
            if sid not in expected_ids:
                is_problem(response, 404)
                continue
            detail = response.get_json()
            fields = expected_fields(who, classification)
            keys = BASE_KEYS.union(*(KEYS[f] for f in fields))
            assert set(by_id[sid]) == keys, (who, scope, classification)
            assert by_id[sid]["visible_fields"] == sorted(fields)
            # The detail is the list item plus responses and status history: the same serialisation.
            assert {k: v for k, v in detail.items() if k not in ("responses", "status_history", "related")} == by_id[
                sid
            ]


def test_the_rules_spelled_out(app, client, api_world, posted):
    """The cases of the brief, each in plain words."""
    _signals, tokens = posted

    def visible(who):
        items = client.get("/api/v1/signals?limit=100", headers=bearer(tokens[who])).get_json()["signals"]
        return {(item["sharing_scope"], item["classification"]): item for item in items}

    other = visible("other_school")
    k3 = other[("stadsdeelnetwerk", "K3")]
    assert "school" not in k3
    assert "details_html" not in k3
    assert "organisation" not in k3
    assert "author" not in k3
    assert other[("stadsdeelnetwerk", "K2")]["details_html"] == "<p>Geheime details</p>"
    assert "school" not in other[("stadsdeelnetwerk", "K2")]
    assert ("eigen_locatie", "K2") not in other
    assert ("eigen_locatie", "K3") not in other

    police = visible("police_a")
    assert police[("stadsdeelnetwerk", "K3")]["school"]["name"] == "School A1"
    assert police[("stadsdeelnetwerk", "K3")]["details_html"] == "<p>Geheime details</p>"

    assert all(classification == "K2" for _scope, classification in visible("partner_a"))
    assert set(visible("om")) == {("benoemde_ontvangers", "K2"), ("benoemde_ontvangers", "K3")}
    assert visible("board_x") == {}
    assert visible("revoked") == {}
    assert set(visible("author")) == {(scope, c) for scope in SCOPES for c in ("K2", "K3")}


def test_school_filter_cannot_reveal_a_hidden_school(app, client, api_world, posted):
    _signals, tokens = posted
    school = api_world["schools"]["a1"].public_id
    other = client.get(f"/api/v1/signals?school={school}&limit=100", headers=bearer(tokens["other_school"]))
    assert other.get_json()["signals"] == []  # other schools never see which school posted
    police = client.get(f"/api/v1/signals?school={school}&limit=100", headers=bearer(tokens["police_a"]))
    assert len(police.get_json()["signals"]) == 8


def test_a_narrow_period_cannot_reveal_a_hidden_day(app, client, api_world, posted):
    from datetime import timedelta

    from portal.core.db import utcnow

    _signals, tokens = posted
    day = utcnow().date() - timedelta(days=2)  # the day of every posted signal
    wrong = day - timedelta(days=1) if day.day > 1 else day + timedelta(days=1)
    query = f"/api/v1/signals?from={wrong.isoformat()}&to={wrong.isoformat()}&limit=100"
    # Police see the day: a filter on another day finds nothing. Other schools see the month only: the filter
    # works by month for them, so it finds the same as a filter on the right day.
    assert client.get(query, headers=bearer(tokens["police_a"])).get_json()["signals"] == []
    other_wrong = client.get(query, headers=bearer(tokens["other_school"])).get_json()["signals"]
    right = f"/api/v1/signals?from={day.isoformat()}&to={day.isoformat()}&limit=100"
    other_right = client.get(right, headers=bearer(tokens["other_school"])).get_json()["signals"]
    assert [s["id"] for s in other_wrong] == [s["id"] for s in other_right] != []


def test_period_filter_keeps_signals_without_a_school(app, client, api_world, posted):
    """A signal of a non-school organisation (no school location) that hides its day is still found by month."""
    from datetime import timedelta

    from portal.core.db import utcnow

    _signals, tokens = posted
    manager_signal = post_signal(
        app, api_world["users"]["manager_a"], district_code="ZA", summary="Overlast in de wijk"
    )
    day = utcnow().date() - timedelta(days=2)
    query = f"/api/v1/signals?from={day.isoformat()}&to={day.isoformat()}&limit=100"
    ids = [s["id"] for s in client.get(query, headers=bearer(tokens["other_school"])).get_json()["signals"]]
    assert manager_signal in ids
