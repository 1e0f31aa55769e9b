"""The one shape of a signal as a given viewer may see it: used by the HTML pages, the JSON API and socket
payloads alike, so hidden fields are dropped in exactly one place (R-AZ-5)."""

from __future__ import annotations

from portal.signals.models import Signal
from portal.signals.visibility import POLICE_DETAILS, RESTRICTED_FIELDS


def _term(term) -> dict | None:
    if term is None:
        return None
    return {"code": term.code, "label_nl": term.label_nl, "label_en": term.label_en}


def present(signal: Signal, fields: frozenset[str] | None) -> dict:
    """``fields``: the restricted fields this viewer sees (``RESTRICTED_FIELDS`` for the posting organisation)."""
    fields = fields or frozenset()
    school = signal.school_location
    data: dict = {
        "id": str(signal.public_id),
        "reference": signal.reference,
        "status": signal.status.value,
        "classification": signal.classification.value,
        "sharing_scope": signal.sharing_scope.value,
        "district": {"code": signal.district.code, "name": signal.district.name},
        "school_sector": school.sector.value if school is not None and school.sector else None,
        "occurred_month": signal.occurred_on.strftime("%Y-%m"),
        "daypart": signal.daypart.value,
        "location_type": _term(signal.location_type),
        "category": _term(signal.category),
        "subcategory": _term(signal.subcategory),
        "severity": _term(signal.severity),
        "summary": signal.summary,
        "weapon_type": _term(signal.weapon_type),
        "online_platform": signal.online_platform,
        "police_involved": signal.police_involved,
        "report_status": signal.report_status.value,
        "themes": [_term(t) for t in signal.themes],
        "recognised_count": signal.recognised_count,
        "response_count": signal.response_count,
        "created_at": signal.created_at.isoformat(),
        "updated_at": signal.updated_at.isoformat(),
    }
    if "school" in fields:
        data["school"] = {"id": str(school.public_id), "name": school.name} if school is not None else None
        data["organisation"] = {"code": signal.organisation.code, "name": signal.organisation.name}
    if "area" in fields:
        data["area"] = signal.area.name if signal.area is not None else None
    if "occurred_on" in fields:
        data["occurred_on"] = signal.occurred_on.isoformat()
    if "details" in fields:
        data["details_html"] = signal.details_html
    if "involved" in fields:
        data["involved_counts"] = signal.involved_counts or {}
        data["age_bands"] = signal.age_bands or []
    if "author" in fields:
        data["author"] = {"name": signal.created_by.display_name, "organisation": signal.organisation.name}
    if "measures" in fields:
        data["school_measures"] = list(signal.school_measures or [])
    data["police_picked_up_at"] = signal.police_picked_up_at.isoformat() if signal.police_picked_up_at else None
    if POLICE_DETAILS in fields:
        data["police_follow_up"] = [
            {
                "status": step.status.value,
                "intervention": _term(step.intervention),
                "police_reference": step.police_reference,
                "at": step.created_at.isoformat(),
            }
            for step in signal.follow_ups
        ]
    data["visible_fields"] = sorted(fields & RESTRICTED_FIELDS)
    return data
