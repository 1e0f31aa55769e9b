"""Request parsing and the small serialisers of the JSON API. A signal itself is always serialised by
``portal.signals.presenter.present``; everything here is the shape of requests and of the other resources.

Parsing is strict: bad JSON, a body that is not an object, unknown fields, wrong types, values outside a closed
list and over-long strings are 400 problems that name the field, before any service is called. The field
catalogue below is the one description of the request shapes: the OpenAPI document is rendered from it. Rules that
need data (known taxonomy codes, dates within a year, allowed scopes) stay in the services, which raise
``ValidationFailed`` with the field.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from datetime import date

from flask import Request

from portal.api.problems import ApiProblem, invalid
from portal.authz.permissions import Permission
from portal.core.db import parse_public_id, utcnow
from portal.core.errors import DomainError, NotFound
from portal.core.pii import find_personal_data
from portal.core.sanitize import html_to_text
from portal.identity.models import RoleAssignment, User
from portal.organisations.models import OrganisationKind
from portal.organisations.queries import organisation_by_public_id
from portal.rooms.models import Room, RoomMembership
from portal.signals.models import (
    AGE_BANDS,
    INVOLVED_GROUPS,
    ONLINE_PLATFORMS,
    Classification,
    Daypart,
    ReportStatus,
    ResponseKind,
    SharingScope,
    Signal,
    SignalResponse,
    SignalStatus,
    TaxonomyTerm,
    Vocabulary,
)
from portal.signals.queries import PAGE_SIZE, SignalFilter, Viewer, decode_cursor, get_room_for
from portal.signals.services import SUMMARY_MAX, SignalInput

MAX_LIMIT = 100
MAX_STRING = 20_000  # rich text is checked against its real limit by the service; this only bounds the work
MAX_SHORT = 200
MAX_LIST = 50
Q_MAX = 200

# --- the field catalogue ------------------------------------------------------------------------------------------
# Every request body field and query parameter of the API, with how it is parsed. ``portal.api.openapi`` renders
# the request schemas and query parameters from these tables, so the document cannot promise other shapes than the
# adapter accepts.

STRING = "string"
UUID = "uuid"
DATE = "date"
LIST = "list"
COUNTS = "counts"
BOOL = "bool"
INTEGER = "integer"  # query strings only: ASCII digits
CURSOR = "cursor"  # query strings only: a ``next_cursor``
CURSOR_MAX = 32  # no cursor from ``encode_cursor`` is longer; ``decode_cursor`` refuses longer ones too


@dataclass(frozen=True)
class Field:
    """One field: its kind and the limits the adapter enforces (and the document states)."""

    kind: str
    description: str = ""
    attribute: str = ""  # the SignalInput attribute a body field sets
    choices: tuple[str, ...] = ()  # the only values (of the items of a list; of the keys of counts)
    nullable: bool = False  # null means "empty": "", [], {} or no date
    max_length: int = MAX_SHORT
    minimum: int | None = None
    maximum: int | None = None


def _values(enum_type) -> tuple[str, ...]:
    return tuple(member.value for member in enum_type)


def _code(attribute: str, description: str, *, nullable: bool = False) -> Field:
    return Field(STRING, description, attribute, nullable=nullable)


def _codes(attribute: str, description: str) -> Field:
    return Field(LIST, description, attribute, nullable=True)


PII_REASONS = ("geen_persoonsgegeven", "noodzakelijk")
PII_CONFIRMATION = Field(
    STRING,
    "Text that looks like personal data (names, phone numbers, e-mail, addresses) is refused unless you confirm why "
    "it stays: `geen_persoonsgegeven` (it is not personal data) or `noodzakelijk` (necessary).",
    "pii_confirmation",
    choices=("", *PII_REASONS),
    nullable=True,
)

# API field → Field. ``school`` and ``district`` are fixed when the signal is created.
SIGNAL_FIELDS: dict[str, Field] = {
    "occurred_on": Field(DATE, "Not in the future, within a year.", "occurred_on", nullable=True),
    "daypart": Field(STRING, "", "daypart", choices=_values(Daypart)),
    "category": _code("category", "A main category code (taxonomy `category`)."),
    "subcategory": _code("subcategory", "A child code of the category.", nullable=True),
    "location_type": _code("location_type", "Taxonomy `location_type` code."),
    "severity": _code("severity", "Taxonomy `severity` code."),
    "summary": Field(STRING, "5-280 characters, no names.", "summary", max_length=SUMMARY_MAX),
    "details_html": Field(
        STRING, "HTML; cleaned by the allowlist on every write.", "details_html", nullable=True, max_length=MAX_STRING
    ),
    "school": Field(UUID, "School location (default: your own).", "school_location_id", nullable=True),
    "district": _code("district_code", "District code, when not tied to a school.", nullable=True),
    "area": _code("area", "Name of an area in the signal's district.", nullable=True),
    "involved_counts": Field(
        COUNTS, "Number of people per group.", "involved_counts", INVOLVED_GROUPS, True, minimum=0, maximum=500
    ),
    "age_bands": Field(LIST, "", "age_bands", AGE_BANDS, nullable=True),
    "weapon_type": _code("weapon_type", "Taxonomy `weapon_type` code.", nullable=True),
    "online_platform": Field(STRING, "", "online_platform", ("", *ONLINE_PLATFORMS), nullable=True),
    "school_measures": _codes("school_measures", "Taxonomy `school_measure` codes."),
    "police_involved": Field(BOOL, "", "police_involved"),
    "report_status": Field(STRING, "", "report_status", _values(ReportStatus)),
    "classification": Field(STRING, "", "classification", _values(Classification)),
    "sharing_scope": Field(STRING, "", "sharing_scope", _values(SharingScope)),
    "extra_districts": _codes("extra_districts", "District codes, for `meerdere_stadsdelen`."),
    "recipients": _codes("recipients", "Organisation codes, for `benoemde_ontvangers`."),
    "themes": _codes("themes", "Taxonomy `theme` codes."),
    "status": Field(STRING, "", "status", _values(SignalStatus)),
    "pii_confirmation": PII_CONFIRMATION,
}
REQUIRED_ON_CREATE = ("occurred_on", "category", "location_type", "severity", "summary")
FIXED_AFTER_CREATE = frozenset({"school", "district"})
# A new signal is a draft or shared: the other statuses are later steps.
SIGNAL_CREATE_FIELDS = {
    **SIGNAL_FIELDS,
    "status": replace(SIGNAL_FIELDS["status"], choices=(SignalStatus.DRAFT.value, SignalStatus.SHARED.value)),
}
SIGNAL_PATCH_FIELDS = {name: field for name, field in SIGNAL_FIELDS.items() if name not in FIXED_AFTER_CREATE}
RESPONSE_FIELDS: dict[str, Field] = {
    "kind": Field(STRING, "", choices=_values(ResponseKind)),
    "text_html": Field(
        STRING, "HTML; required unless `kind` is `kennisgenomen`.", nullable=True, max_length=MAX_STRING
    ),
    "pii_confirmation": PII_CONFIRMATION,
}
REQUIRED_RESPONSE = ("kind",)

# Query parameters of ``GET /signals``. An empty value means "no filter" only where the document allows "" (a
# code or the search text); an empty id, date, number, status or cursor is refused like any other bad value.
LIST_PARAMETERS: dict[str, Field] = {
    "room": Field(UUID, "A room you are a member of (public id)."),
    "from": Field(DATE, "Occurred on or after (YYYY-MM-DD; by month where you see only the month)."),
    "to": Field(DATE, "Occurred on or before (YYYY-MM-DD; by month where you see only the month)."),
    "category": Field(STRING, "Category or subcategory code."),
    "location_type": Field(STRING, "Location type code."),
    "severity": Field(STRING, "Severity code."),
    "status": Field(STRING, "Signal status.", choices=_values(SignalStatus)),
    "school": Field(UUID, "School location (public id)."),
    "q": Field(STRING, "Full-text search (rate limited).", max_length=Q_MAX),
    "cursor": Field(CURSOR, "`next_cursor` of the previous page.", max_length=CURSOR_MAX),
    "limit": Field(INTEGER, f"Page size, 1-{MAX_LIMIT} (default {PAGE_SIZE}).", minimum=1, maximum=MAX_LIMIT),
}

# Printable ASCII, 8-64 characters (the service strips surrounding spaces from the key it stores).
IDEMPOTENCY_KEY_PATTERN = "^[ -~]{8,64}$"

# --- request bodies -----------------------------------------------------------------------------------------------


def json_object(request: Request, *, allow_empty: bool = False) -> dict:
    """The request body as a JSON object, or a 400/415 problem. Never a 500, whatever the bytes."""
    raw = request.get_data(cache=True)
    if not raw.strip() and allow_empty:
        return {}
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        # json.loads, not request.get_json: the C decoder raises RecursionError on a body nested thousands deep,
        # and that must be this 400 whatever JSON provider the application has.
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiProblem(400, "invalid_json", "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "The request body must be a JSON object.")
    return data


def _string_ok(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape
        return False
    return True


# Only ASCII digits: ``str.isdigit`` and ``date.fromisoformat`` also take other scripts' digits (and "²").
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMPTY = {STRING: "", UUID: "", DATE: None, LIST: [], COUNTS: {}}


def _date(value) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("Expected a date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("Expected a date (YYYY-MM-DD).") from exc


def _string(field: Field, value) -> str:
    if not isinstance(value, str):
        raise ValueError("Expected a string.")
    if not _string_ok(value):
        raise ValueError("Contains a character that is not allowed.")
    if len(value) > field.max_length:
        raise ValueError("Too long.")
    if field.choices and value not in field.choices:
        raise ValueError("Unknown value.")
    if field.kind == UUID and parse_public_id(value) is None:
        raise ValueError("Expected an id (UUID).")
    return value


def _convert(field: Field, value):
    """The Python value of one body field, or raise ValueError with the message for the client."""
    if value is None:
        if not field.nullable:
            raise ValueError("Must not be null.")
        return _EMPTY[field.kind]
    if field.kind in (STRING, UUID):
        return _string(field, value)
    if field.kind == DATE:
        return _date(value)
    if field.kind == LIST:
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise ValueError(f"Expected a list of at most {MAX_LIST} strings.")
        item = Field(STRING, choices=field.choices)
        return [_string(item, entry) for entry in value]
    if field.kind == COUNTS:
        if not isinstance(value, dict):
            raise ValueError("Expected an object of group: number.")
        if any(group not in field.choices for group in value):
            raise ValueError("Unknown group.")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise ValueError("Expected whole numbers.")
        if not all(field.minimum <= v <= field.maximum for v in value.values()):
            raise ValueError(f"Enter a number from {field.minimum} to {field.maximum}.")
        return dict(value)
    if field.kind == BOOL:
        if not isinstance(value, bool):
            raise ValueError("Expected true or false.")
        return value
    raise AssertionError(field.kind)


def _parse_fields(data: dict, allowed: dict[str, Field]) -> dict:
    errors: dict[str, str] = {}
    values: dict = {}
    for name, value in data.items():
        field = allowed.get(name)
        if field is None:
            errors[str(name)[:100]] = "Unknown field."
            continue
        try:
            values[name] = _convert(field, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise invalid(errors)
    return values


def idempotency_key(request: Request) -> str:
    """The ``Idempotency-Key`` header (8-64 printable ASCII characters); a fresh one when the client sends none."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return uuid.uuid4().hex
    if re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is None:
        raise invalid({"Idempotency-Key": "Use 8 to 64 printable ASCII characters."})
    return key


def signal_input(data: dict, client_key: str) -> SignalInput:
    """A new signal from a JSON body."""
    values = _parse_fields(data, SIGNAL_CREATE_FIELDS)
    missing = {name: "This field is required." for name in REQUIRED_ON_CREATE if name not in values}
    if missing:
        raise invalid(missing)
    refuse_personal_data(values, values.get("pii_confirmation", ""))
    kwargs = {SIGNAL_FIELDS[name].attribute: value for name, value in values.items()}
    return SignalInput(client_key=client_key, **kwargs)


def input_from_signal(signal: Signal) -> SignalInput:
    """The signal's current values as a submission: a PATCH changes only what it names."""
    return SignalInput(
        client_key=signal.client_key,
        occurred_on=signal.occurred_on,
        category=signal.category.code,
        subcategory=signal.subcategory.code if signal.subcategory is not None else "",
        location_type=signal.location_type.code,
        severity=signal.severity.code,
        summary=signal.summary,
        daypart=signal.daypart.value,
        details_html=signal.details_html,
        school_location_id=str(signal.school_location.public_id) if signal.school_location is not None else "",
        district_code=signal.district.code,
        area=signal.area.name if signal.area is not None else "",
        involved_counts=dict(signal.involved_counts or {}),
        age_bands=list(signal.age_bands or []),
        weapon_type=signal.weapon_type.code if signal.weapon_type is not None else "",
        online_platform=signal.online_platform or "",
        school_measures=list(signal.school_measures or []),
        police_involved=signal.police_involved,
        report_status=signal.report_status.value,
        classification=signal.classification.value,
        sharing_scope=signal.sharing_scope.value,
        extra_districts=[d.code for d in signal.extra_districts],
        recipients=[o.code for o in signal.recipients],
        themes=[t.code for t in signal.themes],
        status=signal.status.value,
        pii_confirmation=signal.pii_confirmation or "",
    )


def signal_patch(data: dict) -> dict:
    """The SignalInput attributes a PATCH body changes (checked for shape only)."""
    fixed = {name: "This field cannot be changed after creation." for name in data if name in FIXED_AFTER_CREATE}
    if fixed:
        raise invalid(fixed)
    if not data:
        raise invalid({}, "Name at least one field to change.")
    values = _parse_fields(data, SIGNAL_PATCH_FIELDS)
    refuse_personal_data(values, values.get("pii_confirmation", ""))
    return {SIGNAL_FIELDS[name].attribute: value for name, value in values.items()}


def apply_patch(current: SignalInput, changes: dict) -> SignalInput:
    return replace(current, **changes)


def response_input(data: dict) -> tuple[str, str]:
    values = _parse_fields(data, RESPONSE_FIELDS)
    missing = {name: "This field is required." for name in REQUIRED_RESPONSE if name not in values}
    if missing:
        raise invalid(missing)
    refuse_personal_data(values, values.get("pii_confirmation", ""))
    return values["kind"], values.get("text_html", "")


def refuse_personal_data(values: dict, confirmation: str) -> None:
    """The personal-data check of the HTML forms (docs/domain.md E.2): free text that looks like a name, phone number,
    e-mail or home address is refused unless the client confirms it with a reason (``pii_confirmation``, recorded
    on the signal). The message names what kind of data was found, never the text itself."""
    if confirmation:
        return
    errors = {}
    for name in ("summary", "details_html", "text_html"):
        text = values.get(name)
        if not text:
            continue
        findings = find_personal_data(html_to_text(text) if name.endswith("_html") else text)
        if findings:
            kinds = ", ".join(sorted({finding.kind for finding in findings}))
            errors[name] = f"May contain personal data ({kinds}). Edit it, or send pii_confirmation with a reason."
    if errors:
        raise invalid(errors, "The text may contain personal data.")


def no_body_fields(data: dict) -> None:
    if data:
        raise invalid({str(name)[:100]: "Unknown field." for name in data})


# --- query strings ------------------------------------------------------------------------------------------------


def _query_value(field: Field, raw: str):
    """The value of one query parameter, or raise ValueError with the message for the client."""
    if len(raw) > field.max_length or not _string_ok(raw):
        raise ValueError("Not a valid value.")
    if field.kind == STRING:
        if field.choices and raw not in field.choices:
            raise ValueError("Unknown value.")
        return raw
    if field.kind == UUID:
        public_id = parse_public_id(raw)
        if public_id is None:
            raise ValueError("Expected an id (UUID).")
        return public_id
    if field.kind == DATE:
        return _date(raw)
    if field.kind == INTEGER:
        # isascii first: "²".isdigit() is true and int("²") raises.
        if raw.isascii() and raw.isdigit() and field.minimum <= int(raw) <= field.maximum:
            return int(raw)
        raise ValueError(f"Expected a number from {field.minimum} to {field.maximum}.")
    if field.kind == CURSOR:
        after_id = decode_cursor(raw)
        if after_id is None:
            raise ValueError("Not a valid cursor.")
        return after_id
    raise AssertionError(field.kind)


def _school_location_id(public_id) -> int:
    school = organisation_by_public_id(public_id)
    if school.kind is not OrganisationKind.SCHOOL_LOCATION:
        raise NotFound()
    return school.id


def signal_filter(args, viewer: Viewer) -> tuple[SignalFilter, int]:
    """Filters and page size from the query string; ``room`` must be a room the viewer is a member of."""
    errors: dict[str, str] = {}
    for name in args:
        if name not in LIST_PARAMETERS:
            errors[name[:100]] = "Unknown parameter."
        elif len(args.getlist(name)) > 1:
            errors[name] = "Give this parameter once."
    if errors:
        raise invalid(errors)

    values: dict = {}
    for name, raw in args.items():
        try:
            values[name] = _query_value(LIST_PARAMETERS[name], raw)
        except ValueError as exc:
            errors[name] = str(exc)
    room = None
    if "room" in values:
        try:
            room = get_room_for(viewer, values["room"])
        except DomainError:
            errors["room"] = "Unknown room."
    school_id = None
    if "school" in values:
        try:
            school_id = _school_location_id(values["school"])
        except DomainError:
            errors["school"] = "Unknown school location."
    if errors:
        raise invalid(errors)
    criteria = SignalFilter(
        room=room,
        start=values.get("from"),
        end=values.get("to"),
        category=values.get("category", ""),
        location_type=values.get("location_type", ""),
        severity=values.get("severity", ""),
        status=values.get("status", ""),
        school_id=school_id,
        q=values.get("q", "").strip(),
        after_id=values.get("cursor"),
    )
    return criteria, values.get("limit", PAGE_SIZE)


# --- responses ----------------------------------------------------------------------------------------------------


def _district(district) -> dict | None:
    return {"code": district.code, "name": district.name} if district is not None else None


def room(room: Room, membership: RoomMembership | None = None) -> dict:
    data = {
        "id": str(room.public_id),
        "code": room.code,
        "name": room.name,
        "kind": room.kind.value,
        "district": _district(room.district),
        "last_seq": room.last_seq,
    }
    if membership is not None:
        data["member_role"] = membership.role.value
    return data


def _role(assignment: RoleAssignment) -> dict:
    return {
        "role": assignment.role.value,
        "scope_type": assignment.scope_type.value,
        "scope": assignment.scope_label,
        "valid_from": assignment.valid_from.isoformat(),
        "valid_until": assignment.valid_until.isoformat() if assignment.valid_until else None,
    }


def me(user: User, memberships: list[RoomMembership], permissions: frozenset[Permission]) -> dict:
    now = utcnow()
    organisation = user.organisation
    return {
        "user": {
            "id": str(user.public_id),
            "email": user.email,
            "display_name": user.display_name,
            "job_title": user.job_title,
            "language": user.language,
        },
        "organisation": {
            "id": str(organisation.public_id),
            "code": organisation.code,
            "name": organisation.name,
            "kind": organisation.kind.value,
            "district": _district(organisation.district),
        },
        "roles": [_role(a) for a in user.role_assignments if a.is_valid(now)],
        "permissions": sorted(p.value for p in permissions),
        "rooms": [room(m.room, m) for m in memberships],
    }


def signal_response(response: SignalResponse, *, with_text: bool) -> dict:
    data = {
        "id": str(response.public_id),
        "kind": response.kind.value,
        "organisation": {"code": response.organisation.code, "name": response.organisation.name},
        "created_at": response.created_at.isoformat(),
    }
    if with_text:
        data["text_html"] = response.text_html
    return data


def signal_detail(presented: dict, signal: Signal, fields: frozenset[str] | None, related: list[Signal]) -> dict:
    """The presented signal plus its responses, status history and the related signals this viewer may see. A
    response's text is shown only to viewers who see the signal's details, so a reaction cannot leak what the
    visibility matrix hides."""
    with_text = "details" in (fields or frozenset())
    return {
        **presented,
        "related": [
            {"id": str(r.public_id), "reference": r.reference, "summary": r.summary, "status": r.status.value}
            for r in related
        ],
        "responses": [signal_response(r, with_text=with_text) for r in signal.responses],
        "status_history": [
            {"from": change.from_status, "to": change.to_status, "changed_at": change.changed_at.isoformat()}
            for change in signal.status_history
        ],
    }


def _term(term: TaxonomyTerm) -> dict:
    data = {"code": term.code, "label_nl": term.label_nl, "label_en": term.label_en}
    if term.description:
        data["description"] = term.description
    return data


def taxonomy(terms_by_vocabulary: dict[Vocabulary, list[TaxonomyTerm]]) -> dict:
    vocabularies = {}
    for vocabulary, terms in terms_by_vocabulary.items():
        entries = []
        for term in terms:
            entry = _term(term)
            children = [_term(child) for child in term.children if child.active]
            if vocabulary is Vocabulary.CATEGORY:
                entry["children"] = children
            entries.append(entry)
        vocabularies[vocabulary.value] = entries
    return {
        "vocabularies": vocabularies,
        "choices": {
            "daypart": [d.value for d in Daypart],
            "report_status": [r.value for r in ReportStatus],
            "classification": [c.value for c in Classification],
            "sharing_scope": [s.value for s in SharingScope],
            "status": [s.value for s in SignalStatus],
            "response_kind": [k.value for k in ResponseKind],
            "involved_groups": list(INVOLVED_GROUPS),
            "age_bands": list(AGE_BANDS),
            "online_platforms": list(ONLINE_PLATFORMS),
        },
    }
