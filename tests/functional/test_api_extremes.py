"""Extreme and forged input to /api/v1 (issue 15): each answers a documented 4xx problem, never a 500, and a value
the OpenAPI document calls invalid is refused. The property-based sweep is test_api_schemathesis.py; these pin the
findings one by one."""

from __future__ import annotations

import base64
import json

import pytest

from portal.api import openapi
from tests.functional import test_api as shared
from tests.functional.test_api import bearer, is_problem, issue_token, post_signal, signal_body

api_world = shared.api_world  # the fixtures
author_world = shared.author_world


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- query strings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("who", ["author", "other_school"])  # exact dates, and whole months only (other school)
def test_calendar_edges_in_from_and_to_are_a_list(app, client, api_world, day, who):
    post_signal(app, api_world["users"]["author"])
    secret = issue_token(app, api_world["users"][who])
    for query in (f"from={day}", f"to={day}", f"from={day}&to={day}"):
        response = client.get(f"/api/v1/signals?{query}", headers=bearer(secret))
        assert response.status_code == 200, (query, response.get_data(as_text=True))
        assert isinstance(response.get_json()["signals"], list)


@pytest.mark.parametrize(
    "cursor",
    [
        "czk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # "s" and 26 nines: beyond any integer column
        _cursor("s2147483648"),  # one past the largest INTEGER
        _cursor("s²"),  # a Unicode digit that int() refuses
        _cursor("s-1"),
        _cursor("s0"),
        _cursor("s 1"),
        "x" * 10_000,
        "!!",
        "",
    ],
)
def test_forged_cursors_are_400(app, client, author_world, cursor):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.get("/api/v1/signals", query_string={"cursor": cursor}, headers=bearer(secret))
    assert set(is_problem(response, 400)["errors"]) == {"cursor"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "²"),  # str.isdigit() is true, int() raises
        ("limit", "١٠"),  # Arabic-Indic ten
        ("limit", "9" * 400),
        ("limit", ""),
        ("from", "２０２６-01-01"),  # full-width digits, which date.fromisoformat takes
        ("from", "2026-W01-1"),  # an ISO week date, not a calendar date
        ("to", "20260101"),
        ("from", "10000-01-01"),
        ("room", ""),  # the document says format uuid: empty is not "no filter"
        ("school", ""),
        ("status", ""),
        ("status", "geheim"),
        ("q", "x" * 201),
    ],
)
def test_query_values_the_document_refuses_are_400(app, client, author_world, name, value):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.get("/api/v1/signals", query_string={name: value}, headers=bearer(secret))
    assert set(is_problem(response, 400)["errors"]) == {name}


def test_empty_code_filters_and_search_mean_no_filter(app, client, author_world):
    post_signal(app, author_world["users"]["author"], extra_districts=[], recipients=[])
    secret = issue_token(app, author_world["users"]["author"])
    response = client.get("/api/v1/signals?category=&severity=&q=", headers=bearer(secret))
    assert response.status_code == 200
    assert len(response.get_json()["signals"]) == 1


# --- bodies -------------------------------------------------------------------------------------------------------


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("body", [_deep(10_000), b"[" * 10_000 + b"]" * 10_000])
def test_json_nested_10000_deep_is_400_everywhere(app, client, author_world, body):
    author = author_world["users"]["author"]
    signal_id = post_signal(app, author, extra_districts=[], recipients=[])
    headers = {**bearer(issue_token(app, author)), "Content-Type": "application/json"}
    for method, path in [
        ("POST", "/api/v1/signals"),
        ("PATCH", f"/api/v1/signals/{signal_id}"),
        ("POST", f"/api/v1/signals/{signal_id}/responses"),
        ("POST", f"/api/v1/signals/{signal_id}/recognise"),
    ]:
        response = client.open(path, method=method, data=body, headers=headers)
        assert is_problem(response, 400)["type"].endswith("invalid_json"), (method, path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"involved_counts": {"leerlingen": 10**30}}, "involved_counts"),  # would overflow any integer column
        ({"involved_counts": {"leerlingen": -1}}, "involved_counts"),
        ({"involved_counts": {"onbekende_groep": 1}}, "involved_counts"),
        ({"occurred_on": "9999-12-31"}, "occurred_on"),
        ({"occurred_on": "0001-01-01"}, "occurred_on"),
        ({"occurred_on": "２０２６-01-01"}, "occurred_on"),
        ({"daypart": ""}, "daypart"),  # not one of the document's values
        ({"daypart": None}, "daypart"),
        ({"classification": None}, "classification"),
        ({"summary": "x" * 281}, "summary"),
        ({"age_bands": [None]}, "age_bands"),
        ({"school": ""}, "school"),
    ],
)
def test_values_the_document_refuses_are_400_on_create_and_patch(app, client, author_world, change, field):
    author = author_world["users"]["author"]
    secret = issue_token(app, author)
    created = client.post("/api/v1/signals", json=signal_body(**change), headers=bearer(secret))
    assert field in is_problem(created, 400)["errors"]
    if field != "school":  # fixed after creation: refused on PATCH anyway
        signal_id = post_signal(app, author, extra_districts=[], recipients=[])
        patched = client.patch(f"/api/v1/signals/{signal_id}", json=change, headers=bearer(secret))
        assert field in is_problem(patched, 400)["errors"]


def test_a_number_too_long_to_parse_is_invalid_json(app, client, author_world):
    secret = issue_token(app, author_world["users"]["author"])
    body = json.dumps(signal_body()).replace('"leerlingen": 1', '"leerlingen": ' + "9" * 5000).encode()
    response = client.post("/api/v1/signals", data=body, headers={**bearer(secret), "Content-Type": "application/json"})
    is_problem(response, 400)


@pytest.mark.parametrize("key", ["kort", "x" * 65, "sleutel-\u00e9\u00e9\u00e9\u00e9", "tab\there-123"])
def test_idempotency_keys_outside_the_documented_pattern_are_400(app, client, author_world, key):
    secret = issue_token(app, author_world["users"]["author"])
    response = client.post("/api/v1/signals", json=signal_body(), headers={**bearer(secret), "Idempotency-Key": key})
    assert "Idempotency-Key" in is_problem(response, 400)["errors"]


# --- every status the write operations answer is in the document ----------------------------------------------


def _documented(path: str, method: str) -> set[int]:
    return {int(status) for status in openapi.paths()[path][method]["responses"]}


def test_patch_and_responses_answer_only_documented_statuses(app, client, api_world):
    author, police = api_world["users"]["author"], api_world["users"]["police_a"]
    signal_id = post_signal(app, author)
    author_token, police_token = bearer(issue_token(app, author)), bearer(issue_token(app, police))
    patch_path, responses_path = f"/api/v1/signals/{signal_id}", f"/api/v1/signals/{signal_id}/responses"
    too_large = b'{"summary": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = {
        ("/signals/{signal_id}", "patch"): [
            (200, client.patch(patch_path, json={"police_involved": True}, headers=author_token)),
            (400, client.patch(patch_path, json={"status": "concept"}, headers=author_token)),
            (401, client.patch(patch_path, json={"police_involved": True})),
            (403, client.patch(patch_path, json={"police_involved": True}, headers=police_token)),
            (404, client.patch("/api/v1/signals/not-an-id", json={"police_involved": True}, headers=author_token)),
            (413, client.patch(patch_path, data=too_large, headers={**author_token, **json_type})),
            (415, client.patch(patch_path, data="summary=x", headers={**author_token, **form_type})),
        ],
        ("/signals/{signal_id}/responses", "post"): [
            (201, client.post(responses_path, json={"kind": "kennisgenomen"}, headers=police_token)),
            (400, client.post(responses_path, json={"kind": "boos"}, headers=police_token)),
            (401, client.post(responses_path, json={"kind": "kennisgenomen"})),
            (403, client.post(responses_path, json={"kind": "kennisgenomen"}, headers=_om_token(app, api_world))),
            (404, client.post("/api/v1/signals/not-an-id/responses", json={"kind": "advies"}, headers=police_token)),
            (413, client.post(responses_path, data=too_large, headers={**police_token, **json_type})),
            (415, client.post(responses_path, data="kind=advies", headers={**police_token, **form_type})),
        ],
    }
    for (path, method), pairs in answers.items():
        for status, response in pairs:
            assert response.status_code == status, (path, method, status, response.get_data(as_text=True))
            assert status in _documented(path, method), (path, method, status)
            if status >= 400:
                is_problem(response, status)


def _om_token(app, api_world) -> dict:
    return bearer(issue_token(app, api_world["users"]["om"]))  # the OM may read, not respond


def test_database_down_is_the_documented_503_problem(app, build_app, tmp_path):
    # A database file in a folder that does not exist: every query raises OperationalError, as when it is down.
    down = build_app(DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'portal.sqlite3'}")
    response = down.test_client().get("/api/v1/me", headers=bearer("pvs_" + "x" * 40))
    problem = is_problem(response, 503)
    assert problem["detail"]
    assert response.headers["Retry-After"].isdigit()
    assert all(
        "503" in item[method]["responses"]
        for item in openapi.paths().values()
        for method in item
        if method != "parameters"
    )
