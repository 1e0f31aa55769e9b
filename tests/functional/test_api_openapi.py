"""The OpenAPI 3.1 document: it lists every /api/v1 route, validates as OpenAPI 3.1, and real responses match it."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from portal.api import schemas
from tests.functional import test_api as shared
from tests.functional.test_api import bearer, is_problem, issue_token, post_signal, signal_body

api_world = shared.api_world  # the fixture


@pytest.fixture
def document(app, client, api_world):
    secret = issue_token(app, api_world["users"]["police_a"])
    response = client.get("/api/v1/openapi.json", headers=bearer(secret))
    assert response.status_code == 200
    return response.get_json()


def test_document_lists_every_route_and_method(app, document):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert routes == documented
    assert len(routes) == 10


def test_document_is_valid_openapi_31(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_request_shapes_are_the_field_catalogue_of_the_validation(document):
    components = document["components"]["schemas"]
    for name, fields in [
        ("SignalCreate", schemas.SIGNAL_CREATE_FIELDS),
        ("SignalPatch", schemas.SIGNAL_PATCH_FIELDS),
        ("ResponseCreate", schemas.RESPONSE_FIELDS),
        ("NoFields", {}),
    ]:
        assert set(components[name]["properties"]) == set(fields), name
        assert components[name]["additionalProperties"] is False, name  # unknown fields are refused
    assert components["SignalCreate"]["required"] == list(schemas.REQUIRED_ON_CREATE)
    assert components["SignalCreate"]["properties"]["status"]["enum"] == ["concept", "gedeeld"]
    parameters = document["paths"]["/signals"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == list(schemas.LIST_PARAMETERS)
    by_name = {p["name"]: p["schema"] for p in parameters}
    assert by_name["limit"] == {"type": "integer", "minimum": 1, "maximum": schemas.MAX_LIMIT}
    assert by_name["from"] == {"type": "string", "format": "date"}


def test_every_operation_documents_the_failures_it_can_answer(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert {"401", "503"} <= set(responses), (path, method)
            assert "WWW-Authenticate" in responses["401"]["headers"]
            assert "Retry-After" in responses["503"]["headers"]
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (path, method)
            if method != "get":
                assert "403" in responses, (path, method)  # every write needs a permission
            if "{signal_id}" in path:
                assert "404" in responses, (path, method)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert set(response["content"]) == {"application/problem+json"}, (path, method, status)
    for path, method in [("/signals", "post"), ("/signals/{signal_id}/responses", "post")]:
        names = [p["name"] for p in document["paths"][path][method]["parameters"]]
        assert "Idempotency-Key" in names, (path, method)


def test_document_is_not_public(client):
    is_problem(client.get("/api/v1/openapi.json"), 401)


def _validator(document, name: str) -> Draft202012Validator:
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:portal:openapi", resource)
    return Draft202012Validator({"$ref": f"urn:portal:openapi#/components/schemas/{name}"}, registry=registry)


def test_responses_match_the_schemas(app, client, api_world, document):
    author, police = api_world["users"]["author"], api_world["users"]["police_a"]
    post_signal(app, author, classification="K3")
    author_token, police_token, school_token = (
        issue_token(app, author),
        issue_token(app, police),
        issue_token(app, api_world["users"]["other_school"]),
    )
    created = client.post("/api/v1/signals", json=signal_body(themes=[]), headers=bearer(author_token)).get_json()
    _validator(document, "Signal").validate(created)
    client.post(
        f"/api/v1/signals/{created['id']}/responses",
        json={"kind": "kennisgenomen"},
        headers=bearer(police_token),
    )
    for token in (author_token, police_token, school_token):
        listed = client.get("/api/v1/signals", headers=bearer(token)).get_json()
        _validator(document, "SignalList").validate(listed)
        detail = client.get(f"/api/v1/signals/{created['id']}", headers=bearer(token)).get_json()
        _validator(document, "SignalDetail").validate(detail)
    _validator(document, "Me").validate(client.get("/api/v1/me", headers=bearer(police_token)).get_json())
    _validator(document, "Taxonomy").validate(client.get("/api/v1/taxonomy", headers=bearer(police_token)).get_json())
    for room in client.get("/api/v1/rooms", headers=bearer(police_token)).get_json()["rooms"]:
        _validator(document, "Room").validate(room)
    problem = client.post("/api/v1/signals", json={"summary": 1}, headers=bearer(author_token)).get_json()
    _validator(document, "ValidationProblem").validate(problem)
    _validator(document, "SignalCreate").validate(signal_body())
    assert not _validator(document, "SignalCreate").is_valid({**signal_body(), "unknown": 1})
