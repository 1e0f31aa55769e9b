"""Request parsing and the small serialisers of the JSON API. A signal itself is always serialised by
``portal.signals.presenter.present``; everything here is the shape of requests and of the other resources.

Parsing is strict: bad JSON, a body that is not an object, unknown fields and wrong types are 400 problems that
name the field, before any service is called. Business rules (known codes, lengths, allowed scopes) stay in the
services, which raise ``ValidationFailed`` with the field.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
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
from portal.signals.services import SignalInput

MAX_LIMIT = 100
MAX_STRING = 20_000  # rich text is checked against its real limit by the service; this only bounds the work
MAX_SHORT = 200
MAX_LIST = 50
Q_MAX = 200

# --- request bodies -----------------------------------------------------------------------------------------------

_TEXT = "text"
_SHORT = "short"
_LIST = "list"
_COUNTS = "counts"
_BOOL = "bool"
_DATE = "date"
_UUID = "uuid"

# API field → (kind, SignalInput attribute). ``school`` and ``district`` are fixed when the signal is created.
SIGNAL_FIELDS: dict[str, tuple[str, str]] = {
    "occurred_on": (_DATE, "occurred_on"),
    "daypart": (_SHORT, "daypart"),
    "category": (_SHORT, "category"),
    "subcategory": (_SHORT, "subcategory"),
    "location_type": (_SHORT, "location_type"),
    "severity": (_SHORT, "severity"),
    "summary": (_TEXT, "summary"),
    "details_html": (_TEXT, "details_html"),
    "school": (_UUID, "school_location_id"),
    "district": (_SHORT, "district_code"),
    "area": (_SHORT, "area"),
    "involved_counts": (_COUNTS, "involved_counts"),
    "age_bands": (_LIST, "age_bands"),
    "weapon_type": (_SHORT, "weapon_type"),
    "online_platform": (_SHORT, "online_platform"),
    "school_measures": (_LIST, "school_measures"),
    "police_involved": (_BOOL, "police_involved"),
    "report_status": (_SHORT, "report_status"),
    "classification": (_SHORT, "classification"),
    "sharing_scope": (_SHORT, "sharing_scope"),
    "extra_districts": (_LIST, "extra_districts"),
    "recipients": (_LIST, "recipients"),
    "themes": (_LIST, "themes"),
    "status": (_SHORT, "status"),
    "pii_confirmation": (_SHORT, "pii_confirmation"),
}
REQUIRED_ON_CREATE = ("occurred_on", "category", "location_type", "severity", "summary")
FIXED_AFTER_CREATE = frozenset({"school", "district"})
RESPONSE_FIELDS = {"kind": _SHORT, "text_html": _TEXT, "pii_confirmation": _SHORT}
PII_REASONS = ("geen_persoonsgegeven", "noodzakelijk")


def json_object(request: Request, *, allow_empty: bool = False) -> dict:
    """The request body as a JSON object, or a 400/415 problem. Never a 500, whatever the bytes."""
    raw = request.get_data(cache=True)
    if not raw.strip() and allow_empty:
        return {}
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "Send the body as application/json.")
    try:
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


def _convert(kind: str, value):
    """The Python value for one field, or raise ValueError with the message for the client."""
    if kind in (_TEXT, _SHORT, _UUID):
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("Expected a string.")
        if not _string_ok(value):
            raise ValueError("Contains a character that is not allowed.")
        if len(value) > (MAX_STRING if kind == _TEXT else MAX_SHORT):
            raise ValueError("Too long.")
        if kind == _UUID and value and parse_public_id(value) is None:
            raise ValueError("Expected an id (UUID).")
        return value
    if kind == _LIST:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise ValueError(f"Expected a list of at most {MAX_LIST} strings.")
        if not all(isinstance(item, str) and len(item) <= MAX_SHORT and _string_ok(item) for item in value):
            raise ValueError("Expected a list of strings.")
        return list(value)
    if kind == _COUNTS:
        if value is None:
            return {}
        if not isinstance(value, dict) or len(value) > MAX_LIST:
            raise ValueError("Expected an object of group: number.")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise ValueError("Expected whole numbers.")
        return dict(value)
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise ValueError("Expected true or false.")
        return value
    if kind == _DATE:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError("Expected a date (YYYY-MM-DD).")
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("Expected a date (YYYY-MM-DD).") from exc
    raise AssertionError(kind)


def _parse_fields(data: dict, allowed: dict[str, str]) -> dict:
    errors: dict[str, str] = {}
    values: dict = {}
    for name, value in data.items():
        kind = allowed.get(name)
        if kind is None:
            errors[str(name)[:100]] = "Unknown field."
            continue
        try:
            values[name] = _convert(kind, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise invalid(errors)
    return values


def idempotency_key(request: Request) -> str:
    """The ``Idempotency-Key`` header (8-64 characters); a fresh one when the client sends none."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return uuid.uuid4().hex
    key = key.strip()
    if not 8 <= len(key) <= 64 or not key.isascii() or not key.isprintable():
        raise invalid({"Idempotency-Key": "Use 8 to 64 printable ASCII characters."})
    return key


def signal_input(data: dict, client_key: str) -> SignalInput:
    """A new signal from a JSON body."""
    values = _parse_fields(data, {name: kind for name, (kind, _attr) in SIGNAL_FIELDS.items()})
    missing = {name: "This field is required." for name in REQUIRED_ON_CREATE if name not in values}
    if missing:
        raise invalid(missing)
    refuse_personal_data(values, values.get("pii_confirmation", ""))
    kwargs = {SIGNAL_FIELDS[name][1]: value for name, value in values.items()}
    kwargs.setdefault("occurred_on", None)
    for name in ("category", "location_type", "severity", "summary"):
        kwargs.setdefault(name, "")
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
    values = _parse_fields(data, {name: kind for name, (kind, _attr) in SIGNAL_FIELDS.items()})
    refuse_personal_data(values, values.get("pii_confirmation", ""))
    return {SIGNAL_FIELDS[name][1]: value for name, value in values.items()}


def apply_patch(current: SignalInput, changes: dict) -> SignalInput:
    return replace(current, **changes)


def response_input(data: dict) -> tuple[str, str]:
    values = _parse_fields(data, RESPONSE_FIELDS)
    if "kind" not in values:
        raise invalid({"kind": "This field is required."})
    confirmation = values.get("pii_confirmation", "")
    if confirmation and confirmation not in PII_REASONS:
        raise invalid({"pii_confirmation": "Unknown reason."})
    refuse_personal_data(values, confirmation)
    return values["kind"], values.get("text_html", "")


def refuse_personal_data(values: dict, confirmation: str) -> None:
    """The personal-data check of the HTML forms (DOMAIN.md E.2): free text that looks like a name, phone number,
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

LIST_PARAMETERS = frozenset(
    {"room", "from", "to", "category", "location_type", "severity", "status", "school", "q", "cursor", "limit"}
)


def _date_param(args, name: str, errors: dict) -> date | None:
    value = args.get(name)
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    errors[name] = "Expected a date (YYYY-MM-DD)."
    return None


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
    for name in LIST_PARAMETERS:
        value = args.get(name)
        if value is not None and (len(value) > Q_MAX or not _string_ok(value)):
            errors[name] = "Not a valid value."
    if errors:
        raise invalid(errors)

    start = _date_param(args, "from", errors)
    end = _date_param(args, "to", errors)
    limit = PAGE_SIZE
    if args.get("limit"):
        raw = args["limit"]
        if raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT:
            limit = int(raw)
        else:
            errors["limit"] = f"Expected a number from 1 to {MAX_LIMIT}."
    after_id = None
    if args.get("cursor"):
        after_id = decode_cursor(args["cursor"])
        if after_id is None:
            errors["cursor"] = "Not a valid cursor."
    status = args.get("status", "")
    if status and status not in {s.value for s in SignalStatus}:
        errors["status"] = "Unknown status."
    room = None
    if args.get("room"):
        try:
            room = get_room_for(viewer, parse_public_id(args["room"]))
        except DomainError:
            errors["room"] = "Unknown room."
    school_id = None
    if args.get("school"):
        try:
            school_id = _school_location_id(parse_public_id(args["school"]))
        except DomainError:
            errors["school"] = "Unknown school location."
    if errors:
        raise invalid(errors)
    criteria = SignalFilter(
        room=room,
        start=start,
        end=end,
        category=args.get("category", ""),
        location_type=args.get("location_type", ""),
        severity=args.get("severity", ""),
        status=status,
        school_id=school_id,
        q=args.get("q", "").strip(),
        after_id=after_id,
    )
    return criteria, limit


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
