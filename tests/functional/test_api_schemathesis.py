"""Property-based: schemathesis generates requests for every operation of /api/v1/openapi.json, valid ones and ones
the document calls invalid, and sends them in-process (WSGI) with a personal access token. Every answer must be no
5xx, a documented status code with its documented content type, headers and body schema, and a request the
document calls invalid must be refused.

Deterministic for CI: Hypothesis is derandomized (the examples follow from the test) and keeps no example database.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.api import openapi
from tests.functional import test_api as shared
from tests.functional.test_api import bearer, issue_token, post_signal

author_world = shared.author_world  # the fixture

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 25  # per operation and mode: the whole file stays well under a minute on both databases
METHODS = ("get", "post", "patch", "put", "delete")
OPERATIONS = [(path, method) for path, item in openapi.paths().items() for method in METHODS if method in item]


def _has_inputs(path: str, method: str) -> bool:
    """Whether the document declares anything a request could get wrong (else there is no invalid request)."""
    item = openapi.paths()[path]
    operation = item[method]
    return bool(item.get("parameters") or operation.get("parameters") or operation.get("requestBody"))


CASES = [
    pytest.param(path, method, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_inputs(path, method)
]


@pytest.fixture
def fuzzing(app, dbs, author_world, monkeypatch):
    """A school coordinator's token and one of their signals; rate limits out of the way so that every generated
    request reaches the parsing under test (the limits have their own tests in test_api.py)."""
    monkeypatch.setitem(app.config, "API_SIGNAL_CREATE_LIMIT", "100000 per minute")
    monkeypatch.setitem(app.config, "API_SEARCH_LIMIT", "100000 per minute")
    author = author_world["users"]["author"]
    return {
        "headers": bearer(issue_token(app, author)),
        "signal_id": post_signal(app, author, extra_districts=[], recipients=[]),
    }


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_operation_conforms_to_the_document(app, fuzzing, path, method, mode):
    headers = fuzzing["headers"]
    # Security parameters are not generated: the bearer token below is the credential of every request.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers, config=config)
    operation = schema[path][method.upper()]
    strategy = operation.as_strategy(mode)
    if "{signal_id}" in path:
        # Random ids only reach the 404; half the examples use a signal the token holder owns.
        strategy = st.one_of(strategy, operation.as_strategy(mode, path_parameters={"signal_id": fuzzing["signal_id"]}))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # Generation of whole signal bodies is slow-ish and filters a little; that is expected here.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
