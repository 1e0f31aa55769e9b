"""The OpenAPI 3.1 document of ``/api/v1``, as a Python dict. Served (to signed-in users and token holders) at
``GET /api/v1/openapi.json``; ``tests/functional/test_api_openapi.py`` checks that it lists every route and
validates, and that real responses match its schemas."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.signals.models import (
    AGE_BANDS,
    INVOLVED_GROUPS,
    ONLINE_PLATFORMS,
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


UNAUTHORIZED = _problem(
    "Not signed in, or the access token is invalid, expired or revoked (`WWW-Authenticate: Bearer`)."
)
NOT_FOUND = _problem("Unknown, or not visible to you: both answer the same.")
INVALID = _problem(
    "Bad JSON, wrong types, unknown fields or a rule of the service: `errors` names the fields.", "ValidationProblem"
)
FORBIDDEN = _problem("Your roles do not allow this.")
CSRF = "For cookie sessions: the CSRF token in `X-CSRFToken`. Not needed with a bearer token."
SIGNAL_ID = {
    "name": "signal_id",
    "in": "path",
    "required": True,
    "description": "The signal's public id.",
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "8-64 printable ASCII characters; a retry with the same key returns the original.",
    "schema": {"type": "string", "minLength": 8, "maxLength": 64},
}

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

_CODE_LIST = {"type": ["array", "null"], "items": _string(), "maxItems": 50}
_EDITABLE: dict[str, Any] = {
    "occurred_on": {"type": ["string", "null"], "format": "date", "description": "Not in the future, within a year."},
    "daypart": {"enum": _values(Daypart)},
    "category": _string("A main category code (taxonomy `category`)."),
    "subcategory": {"type": ["string", "null"], "description": "A child code of the category."},
    "location_type": _string("Taxonomy `location_type` code."),
    "severity": _string("Taxonomy `severity` code."),
    "summary": _string("5-280 characters, no names.", maxLength=280),
    "details_html": {"type": ["string", "null"], "description": "HTML; cleaned by the allowlist on every write."},
    "area": {"type": ["string", "null"], "description": "Name of an area in the signal's district."},
    "involved_counts": {
        "type": ["object", "null"],
        "propertyNames": {"enum": list(INVOLVED_GROUPS)},
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 500},
    },
    "age_bands": {"type": ["array", "null"], "items": {"enum": list(AGE_BANDS)}},
    "weapon_type": {"type": ["string", "null"]},
    "online_platform": {"type": ["string", "null"], "enum": [*ONLINE_PLATFORMS, "", None]},
    "school_measures": _CODE_LIST,
    "police_involved": {"type": "boolean"},
    "report_status": {"enum": _values(ReportStatus)},
    "classification": {"enum": _values(Classification)},
    "sharing_scope": {"enum": _values(SharingScope)},
    "extra_districts": {**_CODE_LIST, "description": "District codes, for `meerdere_stadsdelen`."},
    "recipients": {**_CODE_LIST, "description": "Organisation codes, for `benoemde_ontvangers`."},
    "themes": _CODE_LIST,
    "status": {"enum": _values(SignalStatus)},
    "pii_confirmation": {
        "enum": ["geen_persoonsgegeven", "noodzakelijk", "", None],
        "description": (
            "Text that looks like personal data (names, phone numbers, e-mail, addresses) is refused unless you "
            "confirm why it stays: `geen_persoonsgegeven` (it is not personal data) or `noodzakelijk` (necessary)."
        ),
    },
}

SIGNAL_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["occurred_on", "category", "location_type", "severity", "summary"],
    "properties": {
        **_EDITABLE,
        "status": {"enum": [SignalStatus.DRAFT.value, SignalStatus.SHARED.value]},
        "school": {
            "type": ["string", "null"],
            "format": "uuid",
            "description": "School location (default: your own).",
        },
        "district": {"type": ["string", "null"], "description": "District code, when not tied to a school."},
    },
}

SIGNAL_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": "Only the named fields change. `school` and `district` are fixed after creation.",
    "properties": _EDITABLE,
}

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


def _query(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


LIST_PARAMETERS = [
    _query("room", "A room you are a member of (public id).", type="string", format="uuid"),
    _query("from", "Occurred on or after (YYYY-MM-DD; by month where you see only the month).", type="string"),
    _query("to", "Occurred on or before (YYYY-MM-DD; by month where you see only the month).", type="string"),
    _query("category", "Category or subcategory code.", type="string"),
    _query("location_type", "Location type code.", type="string"),
    _query("severity", "Severity code.", type="string"),
    _query("status", "Signal status.", enum=_values(SignalStatus)),
    _query("school", "School location (public id).", type="string", format="uuid"),
    _query("q", "Full-text search (rate limited).", type="string", maxLength=200),
    _query("cursor", "`next_cursor` of the previous page.", type="string"),
    _query("limit", "Page size, 1-100 (default 25).", type="integer", minimum=1, maximum=100),
]


def _paths() -> dict:
    return {
        "/me": {
            "get": {
                "operationId": "me",
                "summary": "You: account, organisation, current roles, permissions and rooms.",
                "responses": {"200": _ok("You.", "Me"), "401": UNAUTHORIZED},
            }
        },
        "/rooms": {
            "get": {
                "operationId": "rooms",
                "summary": "The rooms you are a current member of.",
                "responses": {
                    "200": {
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
                    },
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/signals": {
            "get": {
                "operationId": "listSignals",
                "summary": "Signals you may see, newest first, with keyset pagination. Audited.",
                "parameters": LIST_PARAMETERS,
                "responses": {
                    "200": _ok("One page.", "SignalList"),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "429": _problem("Too many searches; see `Retry-After`."),
                },
            },
            "post": {
                "operationId": "createSignal",
                "summary": "Post a signal. Needs `signals:signal:create`. " + CSRF,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("SignalCreate")}}},
                "responses": {
                    "201": _ok("Created (as you see it: in full).", "Signal"),
                    "200": _ok("A retry with the same Idempotency-Key: the original signal.", "Signal"),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "415": _problem("The body is not application/json."),
                    "429": _problem("Too many signals; see `Retry-After`."),
                },
            },
        },
        "/signals/{signal_id}": {
            "parameters": [SIGNAL_ID],
            "get": {
                "operationId": "getSignal",
                "summary": "One signal with its responses, status history and related signals. Audited.",
                "responses": {"200": _ok("The signal.", "SignalDetail"), "401": UNAUTHORIZED, "404": NOT_FOUND},
            },
            "patch": {
                "operationId": "updateSignal",
                "summary": "Change a signal of your own organisation. " + CSRF,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("SignalPatch")}}},
                "responses": {
                    "200": _ok("The changed signal.", "Signal"),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                },
            },
        },
        "/signals/{signal_id}/responses": {
            "parameters": [SIGNAL_ID],
            "post": {
                "operationId": "addResponse",
                "summary": "Respond to a signal (kennisgenomen, aanvullende info, actie gestart, advies). " + CSRF,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["kind"],
                                "properties": {
                                    "kind": {"enum": _values(ResponseKind)},
                                    "text_html": {"type": ["string", "null"]},
                                    "pii_confirmation": {"enum": ["geen_persoonsgegeven", "noodzakelijk", "", None]},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "The response and the signal.",
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
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                },
            },
        },
        "/signals/{signal_id}/recognise": {
            "parameters": [SIGNAL_ID],
            "post": {
                "operationId": "recogniseSignal",
                "summary": '"Herkenbaar": your organisation recognises the pattern (once per person). ' + CSRF,
                "responses": {
                    "200": _ok("The signal.", "Signal"),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                },
            },
        },
        "/taxonomy": {
            "get": {
                "operationId": "taxonomy",
                "summary": "Every vocabulary with codes and Dutch/English labels, and the fixed choice lists.",
                "responses": {"200": _ok("The reference data.", "Taxonomy"), "401": UNAUTHORIZED},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document (for signed-in users and token holders).",
                "responses": {
                    "200": {"description": "OpenAPI 3.1.", "content": {JSON: {"schema": {"type": "object"}}}},
                    "401": UNAUTHORIZED,
                },
            }
        },
    }


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
                "SignalList": SIGNAL_LIST,
                "Room": ROOM,
                "Me": ME,
                "TaxonomyEntry": TAXONOMY_ENTRY,
                "Taxonomy": TAXONOMY,
            },
        },
    }
