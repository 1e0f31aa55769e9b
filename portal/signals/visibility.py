"""What each kind of viewer sees of a signal: one configurable matrix (R-AZ-5, docs/domain.md B.5).

Every viewer falls in one *kind* (from their roles, in ``authz.policy.viewer_kind``). For each kind and
classification the matrix lists the restricted fields the viewer may see, or ``None`` for "this viewer does not
see signals of this classification at all". People of the organisation that posted the signal always see every
field. Hidden fields never leave the server: the presenter drops them before anything is rendered, serialised
or pushed over a socket.

Override in the TOML configuration file, e.g.::

    [signal_visibility.school]
    K2 = ["area", "details", "involved"]
    K3 = []
"""

from __future__ import annotations

from collections.abc import Mapping

# Restricted fields; everything else (reference, district, category, severity, summary, month, status ...) is
# visible to anyone who may see the signal at all.
OWN_FIELDS = frozenset({"school", "area", "occurred_on", "details", "involved", "author", "measures"})
# The police's follow-up details (status history, interventions, the police reference number): never part of
# what the posting school sees of its own signal; only the rows of the matrix that list it.
POLICE_DETAILS = "police_details"
RESTRICTED_FIELDS = OWN_FIELDS | {POLICE_DETAILS}

ALL = sorted(OWN_FIELDS)

DEFAULT_MATRIX: dict[str, dict[str, list[str] | None]] = {
    # Other schools: "een VO-school in Almere Buiten", the month not the day, no details of K3 signals.
    "school": {"K2": ["area", "details", "involved", "measures"], "K3": ["involved"]},
    # Police with a school task: K2 and K3 in full, for their districts (audience decided by room membership).
    "police": {"K2": [*ALL, POLICE_DETAILS], "K3": [*ALL, POLICE_DETAILS]},
    # Municipality (district safety manager, covenant coordinator, compulsory education).
    "municipality": {"K2": ALL, "K3": ALL},
    # Invited partners (youth work, youth enforcement, GGD, Halt): K2 only, without the school's name.
    "partner": {"K2": ["area", "details", "involved", "measures"], "K3": None},
    # OM: only what was explicitly shared with the OM as a named recipient.
    "om": {"K2": [*ALL, POLICE_DETAILS], "K3": [*ALL, POLICE_DETAILS]},
}

VIEWER_KINDS = tuple(DEFAULT_MATRIX)


def build_matrix(overrides: Mapping | None) -> dict[str, dict[str, frozenset[str] | None]]:
    """Defaults merged with configuration; unknown kinds, classifications or fields are refused at start-up."""
    merged: dict[str, dict[str, list[str] | None]] = {k: dict(v) for k, v in DEFAULT_MATRIX.items()}
    for kind, row in (overrides or {}).items():
        if kind not in merged:
            raise ValueError(f"signal_visibility: unknown viewer kind {kind!r}")
        for classification, fields in row.items():
            if classification not in {"K2", "K3"}:
                raise ValueError(f"signal_visibility.{kind}: unknown classification {classification!r}")
            if fields is not None:
                unknown = set(fields) - RESTRICTED_FIELDS
                if unknown:
                    raise ValueError(f"signal_visibility.{kind}.{classification}: unknown fields {sorted(unknown)}")
            merged[kind][classification] = fields
    return {
        kind: {c: (frozenset(f) if f is not None else None) for c, f in row.items()} for kind, row in merged.items()
    }
