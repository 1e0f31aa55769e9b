"""The OpenAPI 3.1 document of ``/api/v1``, as a Python dict. Served (to signed-in users and token holders) at
``GET /api/v1/openapi.json``. Request bodies and query parameters are rendered from the field catalogue that
``portal.api.schemas`` validates with, so the two cannot drift. ``tests/functional/test_api_openapi.py`` checks
that it lists every route and validates; ``tests/functional/test_api_schemathesis.py`` sends generated requests
and checks every answer against it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask

from portal.api import schemas
from portal.signals.models import (
    Classification,
    Daypart,
    ReportStatus,
    ResponseKind,
    SharingScope,
    SignalStatus,
)
from portal.signals.visibility import RESTRICTED_FIELDS

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _values(enum_type) -> list[str]:
    return [member.value for member in enum_type]


def _string(description: str = "", **extra) -> dict:
    schema: dict[str, Any] = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def _problem(description: str, schema: str = "Problem") -> dict:
    return {"description": description, "content": {PROBLEM: {"schema": _ref(schema)}}}


def _ok(description: str, schema: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _header(description: str, *, required: bool = True, **schema) -> dict:
    return {"description": description, "required": required, "schema": {"type": "string", **schema}}


def _with_headers(response: dict, **headers: dict) -> dict:
    return {**response, "headers": headers}


UNAUTHORIZED = _with_headers(
    _problem("Not signed in, or the access token is invalid, expired or revoked."),
    **{"WWW-Authenticate": _header('`Bearer realm="portal"`, with `error="invalid_token"` for a bad token.')},
)
NOT_FOUND = _problem("Unknown, or not visible to you: both answer the same.")
INVALID = _problem(
    "Bad JSON, wrong types, unknown fields, a rule of the service or (cookie sessions) a missing CSRF token: "
    "`errors` names the fields.",
    "ValidationProblem",
)
FORBIDDEN = _problem("Your roles do not allow this.")
TOO_LARGE = _problem("The body is larger than the portal accepts (`PORTAL_MAX_CONTENT_LENGTH`).")
UNSUPPORTED = _problem("A body that is not `application/json`.")
RETRY_AFTER = {"Retry-After": _header("Seconds to wait.", pattern="^[0-9]+$")}
UNAVAILABLE = _with_headers(_problem("The database is unavailable; try again after `Retry-After`."), **RETRY_AFTER)
CSRF = "For cookie sessions: the CSRF token in `X-CSRFToken`. Not needed with a bearer token."
SIGNAL_ID = {
    "name": "signal_id",
    "in": "path",
    "required": True,
    "description": "The signal's public id (anything else answers 404).",
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "8-64 printable ASCII characters; a retry with the same key returns the original.",
    "schema": {"type": "string", "pattern": schemas.IDEMPOTENCY_KEY_PATTERN},
}


def _too_many(description: str) -> dict:
    return _with_headers(_problem(description + " See `Retry-After`."), **RETRY_AFTER)


def _responses(*, body: bool = False, **responses: dict) -> dict:
    """An operation's responses plus what every operation can answer: 401 (no or a bad credential) and 503 (the
    database is down); with a request body also 413 (too large) and 415 (not JSON). Statuses are keywords like
    ``_200=`` (a keyword cannot start with a digit)."""
    common = {"401": UNAUTHORIZED, "503": UNAVAILABLE}
    if body:
        common |= {"413": TOO_LARGE, "415": UNSUPPORTED}
    return {str(status).removeprefix("_"): response for status, response in responses.items()} | common


TERM = {
    "type": "object",
    "required": ["code", "label_nl", "label_en"],
    "properties": {"code": _string(), "label_nl": _string(), "label_en": _string(), "description": _string()},
}
NULLABLE_TERM = {"oneOf": [_ref("Term"), {"type": "null"}]}
NAMED = {"type": "object", "required": ["code", "name"], "properties": {"code": _string(), "name": _string()}}

SIGNAL = {
    "type": "object",
    "description": (
        "A signal as the caller may see it: the restricted fields (`school`, `organisation`, `area`, `occurred_on`, "
        "`details_html`, `involved_counts`, `age_bands`, `author`, `school_measures`, `police_follow_up`) are present "
        "only when the visibility matrix lets the caller see them; `visible_fields` lists which groups are present."
    ),
    "required": [
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
    ],
    "properties": {
        "id": _string(format="uuid"),
        "reference": _string("Readable reference, e.g. SIG-2026-0042."),
        "status": {"enum": _values(SignalStatus)},
        "classification": {"enum": _values(Classification)},
        "sharing_scope": {"enum": _values(SharingScope)},
        "district": _ref("Named"),
        "school_sector": {"type": ["string", "null"]},
        "occurred_month": _string("YYYY-MM", pattern=r"^\d{4}-\d{2}$"),
        "daypart": {"enum": _values(Daypart)},
        "location_type": _ref("Term"),
        "category": _ref("Term"),
        "subcategory": NULLABLE_TERM,
        "severity": _ref("Term"),
        "summary": _string(),
        "weapon_type": NULLABLE_TERM,
        "online_platform": {"type": ["string", "null"]},
        "police_involved": {"type": "boolean"},
        "report_status": {"enum": _values(ReportStatus)},
        "themes": {"type": "array", "items": _ref("Term")},
        "recognised_count": {"type": "integer"},
        "response_count": {"type": "integer"},
        "created_at": _string(format="date-time"),
        "updated_at": _string(format="date-time"),
        "school": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": _string(format="uuid"), "name": _string()},
                },
                {"type": "null"},
            ]
        },
        "organisation": _ref("Named"),
        "area": {"type": ["string", "null"]},
        "occurred_on": _string(format="date"),
        "details_html": _string("Sanitised HTML (allowlist: p br b i strong em ul ol li a blockquote code)."),
        "involved_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "age_bands": {"type": "array", "items": _string()},
        "author": {
            "type": "object",
            "required": ["name", "organisation"],
            "properties": {"name": _string(), "organisation": _string()},
        },
        "school_measures": {"type": "array", "items": _string()},
        "police_picked_up_at": {"type": ["string", "null"], "format": "date-time"},
        "police_follow_up": {
            "type": "array",
            "description": "The police's follow-up steps (field group `police_details`).",
            "items": {
                "type": "object",
                "required": ["status", "intervention", "police_reference", "at"],
                "properties": {
                    "status": _string(),
                    "intervention": NULLABLE_TERM,
                    "police_reference": {"type": ["string", "null"]},
                    "at": _string(format="date-time"),
                },
            },
        },
        "visible_fields": {"type": "array", "items": {"enum": sorted(RESTRICTED_FIELDS)}},
    },
}

SIGNAL_RESPONSE = {
    "type": "object",
    "required": ["id", "kind", "organisation", "created_at"],
    "properties": {
        "id": _string(format="uuid"),
        "kind": {"enum": _values(ResponseKind)},
        "organisation": _ref("Named"),
        "created_at": _string(format="date-time"),
        "text_html": _string("Present when the caller sees the signal's details."),
    },
}

SIGNAL_DETAIL = {
    "allOf": [
        _ref("Signal"),
        {
            "type": "object",
            "required": ["responses", "status_history", "related"],
            "properties": {
                "related": {
                    "type": "array",
                    "description": "Linked signals that you may see.",
                    "items": {
                        "type": "object",
                        "required": ["id", "reference", "summary", "status"],
                        "properties": {
                            "id": _string(format="uuid"),
                            "reference": _string(),
                            "summary": _string(),
                            "status": {"enum": _values(SignalStatus)},
                        },
                    },
                },
                "responses": {"type": "array", "items": _ref("SignalResponse")},
                "status_history": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["from", "to", "changed_at"],
                        "properties": {
                            "from": {"type": ["string", "null"]},
                            "to": _string(),
                            "changed_at": _string(format="date-time"),
                        },
                    },
                },
            },
        },
    ]
}

# --- requests: rendered from the field catalogue the adapter validates with (portal.api.schemas) --------------


def field_schema(field: schemas.Field) -> dict:
    """The JSON Schema of one field, exactly as strict as ``schemas`` parses it."""
    if field.kind in (schemas.STRING, schemas.CURSOR):
        schema: dict[str, Any] = {"type": "string"}
        if field.choices:
            schema["enum"] = list(field.choices)
        else:
            schema["maxLength"] = field.max_length
        if field.kind == schemas.CURSOR:
            schema["minLength"] = 1
    elif field.kind in (schemas.UUID, schemas.DATE):
        schema = {"type": "string", "format": field.kind}
    elif field.kind == schemas.INTEGER:
        schema = {"type": "integer", "minimum": field.minimum, "maximum": field.maximum}
    elif field.kind == schemas.BOOL:
        schema = {"type": "boolean"}
    elif field.kind == schemas.LIST:
        item = field_schema(schemas.Field(schemas.STRING, choices=field.choices))
        schema = {"type": "array", "maxItems": schemas.MAX_LIST, "items": item}
    elif field.kind == schemas.COUNTS:
        schema = {
            "type": "object",
            "propertyNames": {"enum": list(field.choices)},
            "additionalProperties": {"type": "integer", "minimum": field.minimum, "maximum": field.maximum},
        }
    else:
        raise AssertionError(field.kind)
    if field.nullable:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    if field.description:
        schema["description"] = field.description
    return schema


def body_schema(fields: dict[str, schemas.Field], required=(), description: str = "") -> dict:
    """A request body: exactly these fields (unknown ones are refused)."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: field_schema(field) for name, field in fields.items()},
    }
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


SIGNAL_CREATE = body_schema(schemas.SIGNAL_CREATE_FIELDS, schemas.REQUIRED_ON_CREATE)
SIGNAL_PATCH = {
    **body_schema(
        schemas.SIGNAL_PATCH_FIELDS,
        description="Only the named fields change. `school` and `district` are fixed after creation.",
    ),
    "minProperties": 1,
}
RESPONSE_CREATE = body_schema(schemas.RESPONSE_FIELDS, schemas.REQUIRED_RESPONSE)
NO_FIELDS = {**body_schema({}), "description": "No body, or an empty object."}

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _string(format="uri"),
        "title": _string(),
        "status": {"type": "integer"},
        "detail": _string(),
    },
}

VALIDATION_PROBLEM = {
    "allOf": [
        _ref("Problem"),
        {
            "type": "object",
            "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
    ]
}

ROOM = {
    "type": "object",
    "required": ["id", "code", "name", "kind", "district", "last_seq"],
    "properties": {
        "id": _string(format="uuid"),
        "code": _string(),
        "name": _string(),
        "kind": {"enum": ["district", "city", "directors"]},
        "district": {"oneOf": [_ref("Named"), {"type": "null"}]},
        "last_seq": {"type": "integer", "description": "The room's latest event sequence (for socket `resume`)."},
        "member_role": _string(),
    },
}

ME = {
    "type": "object",
    "required": ["user", "organisation", "roles", "permissions", "rooms"],
    "properties": {
        "user": {
            "type": "object",
            "required": ["id", "email", "display_name"],
            "properties": {
                "id": _string(format="uuid"),
                "email": _string(),
                "display_name": _string(),
                "job_title": _string(),
                "language": {"type": ["string", "null"]},
            },
        },
        "organisation": {
            "type": "object",
            "required": ["id", "code", "name", "kind"],
            "properties": {
                "id": _string(format="uuid"),
                "code": _string(),
                "name": _string(),
                "kind": _string(),
                "district": {"oneOf": [_ref("Named"), {"type": "null"}]},
            },
        },
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role", "scope_type", "scope", "valid_from", "valid_until"],
                "properties": {
                    "role": _string(),
                    "scope_type": _string(),
                    "scope": _string(),
                    "valid_from": _string(format="date-time"),
                    "valid_until": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
        "permissions": {"type": "array", "items": _string()},
        "rooms": {"type": "array", "items": _ref("Room")},
    },
}

TAXONOMY_ENTRY = {
    "allOf": [
        _ref("Term"),
        {"type": "object", "properties": {"children": {"type": "array", "items": _ref("Term")}}},
    ]
}

TAXONOMY = {
    "type": "object",
    "required": ["vocabularies", "choices"],
    "properties": {
        "vocabularies": {
            "type": "object",
            "description": "Per vocabulary (category, location_type, severity, ...): its active terms in order.",
            "additionalProperties": {"type": "array", "items": _ref("TaxonomyEntry")},
        },
        "choices": {
            "type": "object",
            "description": "Fixed lists (daypart, report_status, classification, sharing_scope, ...).",
            "additionalProperties": {"type": "array", "items": _string()},
        },
    },
}

SIGNAL_LIST = {
    "type": "object",
    "required": ["signals", "next_cursor", "next", "limit"],
    "properties": {
        "signals": {"type": "array", "items": _ref("Signal")},
        "next_cursor": {"type": ["string", "null"]},
        "next": {"type": ["string", "null"], "description": "The URL of the next page, or null at the end."},
        "limit": {"type": "integer"},
    },
}


LIST_PARAMETERS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": field.description,
        "schema": field_schema(replace(field, description="")),
    }
    for name, field in schemas.LIST_PARAMETERS.items()
]


def _json_body(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _paths() -> dict:
    return {
        "/me": {
            "get": {
                "operationId": "me",
                "summary": "You: account, organisation, current roles, permissions and rooms.",
                "responses": _responses(_200=_ok("You.", "Me")),
            }
        },
        "/rooms": {
            "get": {
                "operationId": "rooms",
                "summary": "The rooms you are a current member of.",
                "responses": _responses(
                    _200={
                        "description": "Your rooms.",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["rooms"],
                                    "properties": {"rooms": {"type": "array", "items": _ref("Room")}},
                                }
                            }
                        },
                    }
                ),
            }
        },
        "/signals": {
            "get": {
                "operationId": "listSignals",
                "summary": "Signals you may see, newest first, with keyset pagination. Audited.",
                "parameters": LIST_PARAMETERS,
                "responses": _responses(
                    _200=_ok("One page.", "SignalList"),
                    _400=INVALID,
                    _429=_too_many("Too many searches."),
                ),
            },
            "post": {
                "operationId": "createSignal",
                "summary": "Post a signal. Needs `signals:signal:create`. " + CSRF,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _json_body(_ref("SignalCreate")),
                "responses": _responses(
                    body=True,
                    _201=_with_headers(
                        _ok("Created (as you see it: in full).", "Signal"),
                        Location=_header("The new signal's URL."),
                    ),
                    _200=_ok("A retry with the same Idempotency-Key: the original signal.", "Signal"),
                    _400=INVALID,
                    _403=FORBIDDEN,
                    _429=_too_many("Too many signals."),
                ),
            },
        },
        "/signals/{signal_id}": {
            "parameters": [SIGNAL_ID],
            "get": {
                "operationId": "getSignal",
                "summary": "One signal with its responses, status history and related signals. Audited.",
                "responses": _responses(_200=_ok("The signal.", "SignalDetail"), _404=NOT_FOUND),
            },
            "patch": {
                "operationId": "updateSignal",
                "summary": "Change a signal of your own organisation. " + CSRF,
                "requestBody": _json_body(_ref("SignalPatch")),
                "responses": _responses(
                    body=True,
                    _200=_ok("The changed signal.", "Signal"),
                    _400=INVALID,
                    _403=FORBIDDEN,
                    _404=NOT_FOUND,
                ),
            },
        },
        "/signals/{signal_id}/responses": {
            "parameters": [SIGNAL_ID],
            "post": {
                "operationId": "addResponse",
                "summary": "Respond to a signal (kennisgenomen, aanvullende info, actie gestart, advies). " + CSRF,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": _json_body(_ref("ResponseCreate")),
                "responses": _responses(
                    body=True,
                    _201={
                        "description": "The response and the signal (a retry with the same Idempotency-Key: the "
                        "original response).",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["response", "signal"],
                                    "properties": {
                                        "response": _ref("SignalResponse"),
                                        "signal": _ref("Signal"),
                                    },
                                }
                            }
                        },
                    },
                    _400=INVALID,
                    _403=FORBIDDEN,
                    _404=NOT_FOUND,
                ),
            },
        },
        "/signals/{signal_id}/recognise": {
            "parameters": [SIGNAL_ID],
            "post": {
                "operationId": "recogniseSignal",
                "summary": '"Herkenbaar": your organisation recognises the pattern (once per person). ' + CSRF,
                "requestBody": _json_body(_ref("NoFields"), required=False),
                "responses": _responses(
                    body=True,
                    _200=_ok("The signal.", "Signal"),
                    _400=INVALID,
                    _403=FORBIDDEN,
                    _404=NOT_FOUND,
                ),
            },
        },
        "/taxonomy": {
            "get": {
                "operationId": "taxonomy",
                "summary": "Every vocabulary with codes and Dutch/English labels, and the fixed choice lists.",
                "responses": _responses(_200=_ok("The reference data.", "Taxonomy")),
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document (for signed-in users and token holders).",
                "responses": _responses(
                    _200={"description": "OpenAPI 3.1.", "content": {JSON: {"schema": {"type": "object"}}}}
                ),
            }
        },
    }


paths = _paths  # for tests that enumerate the operations


def document(app: Flask) -> dict:
    base = app.config["BASE_URL"].rstrip("/")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Schoolveiligheid Almere portal API",
            "version": "1.0.0",
            "description": (
                "The JSON API of the Almere school-safety covenant portal. Authenticate with the browser session "
                "(writes need the CSRF token in `X-CSRFToken`) or with a personal access token created on "
                "/account/tokens or with `flask portal token create`. Errors are `application/problem+json`; "
                "unknown and forbidden objects both answer 404."
            ),
        },
        "servers": [{"url": f"{base}/api/v1"}],
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token (`pvs_...`); acts as its user, never with more rights.",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": app.config["SESSION_COOKIE_NAME"]},
            },
            "schemas": {
                "Problem": PROBLEM_SCHEMA,
                "ValidationProblem": VALIDATION_PROBLEM,
                "Term": TERM,
                "Named": NAMED,
                "Signal": SIGNAL,
                "SignalDetail": SIGNAL_DETAIL,
                "SignalResponse": SIGNAL_RESPONSE,
                "SignalCreate": SIGNAL_CREATE,
                "SignalPatch": SIGNAL_PATCH,
                "ResponseCreate": RESPONSE_CREATE,
                "NoFields": NO_FIELDS,
                "SignalList": SIGNAL_LIST,
                "Room": ROOM,
                "Me": ME,
                "TaxonomyEntry": TAXONOMY_ENTRY,
                "Taxonomy": TAXONOMY,
            },
        },
    }
