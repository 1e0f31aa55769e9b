"""Access reports (NEN 7513 style) and data-subject requests. Every step is audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from portal.audit import services as audit
from portal.audit.models import AuditEvent
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.db import utcnow
from portal.core.errors import NotFound, PermissionDenied, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Organisation
from portal.privacy.models import DeletionRecord, PersonReference, PersonRole
from portal.signals import queries
from portal.signals import services as signal_services
from portal.signals.models import AGE_BANDS, Signal

# What counts as a read of a signal in an access report.
READ_ACTIONS = (
    "signal.read",
    "signal.export",
    "signal.print",
    "signal.update",
    "signal.respond",
    "signal.recognise",
    "police.follow_up",
    "signal.create",
)


@dataclass(frozen=True)
class AccessLine:
    at: str
    action: str
    actor_id: str
    actor_name: str
    organisation: str
    roles: str
    signal: str
    result: str


def _lines(object_ids: list[str], *, with_names: bool) -> list[AccessLine]:
    if not object_ids:
        return []
    rows = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "signal",
            AuditEvent.object_id.in_(object_ids),
            AuditEvent.action.in_(READ_ACTIONS),
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return [
        AccessLine(
            at=e.occurred_at.isoformat(),
            action=e.action,
            actor_id=e.actor_id if with_names else "",
            actor_name=e.actor_name if with_names else "",
            organisation=e.actor_organisation,
            roles=e.actor_roles,
            signal=e.object_id,
            result=e.result,
        )
        for e in rows
    ]


def access_for_own_signal(user: User, public_id, *, ip: str) -> tuple[Signal, list[AccessLine]]:
    """The posting organisation sees which organisations and roles opened its signal, and when (no names)."""
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    if not viewer.is_own(signal):
        raise NotFound()
    lines = _lines([str(signal.public_id)], with_names=False)
    audit.record("access_report.view", actor=user, ip=ip, object_type="signal", object_id=str(signal.public_id))
    return signal, lines


def access_report(
    user: User, *, signal_reference: str = "", school_code: str = "", subject_key: str = "", ip: str
) -> list[AccessLine]:
    """For the privacy officer: who (person, organisation, role) read which signal, chronologically, for a signal,
    a school, or a pseudonymous person reference."""
    if not has_permission(user, Permission.ACCESS_REPORT):
        raise PermissionDenied("Only the privacy officer may see access reports.")
    ids: list[str] = []
    if signal_reference:
        ids += [
            str(p)
            for p in db.session.scalars(
                select(Signal.public_id).where(Signal.reference == signal_reference.strip().upper())
            )
        ]
    if school_code:
        school = db.session.scalar(select(Organisation).where(Organisation.code == school_code.strip()))
        if school is not None:
            ids += [
                str(p)
                for p in db.session.scalars(select(Signal.public_id).where(Signal.school_location_id == school.id))
            ]
    if subject_key:
        ids += [
            str(p)
            for p in db.session.scalars(
                select(Signal.public_id)
                .join(PersonReference, PersonReference.signal_id == Signal.id)
                .where(PersonReference.subject_key == subject_key.strip())
            )
        ]
    lines = _lines(sorted(set(ids)), with_names=True)
    audit.record(
        "access_report.search",
        actor=user,
        ip=ip,
        object_type="access_report",
        details={
            "by_signal": bool(signal_reference),
            "by_school": bool(school_code),
            "by_subject": bool(subject_key),
            "lines": len(lines),
        },
    )
    return lines


# --- person references and data-subject requests ----------------------------------------------------------------


def add_person_reference(
    user: User, public_id, *, subject_key: str, pseudonym: str, role: str, age_band: str, ip: str
) -> PersonReference:
    """The posting school keeps a pseudonymous reference so its privacy officer can answer a subject request."""
    signal = signal_services.own_signal(user, public_id)
    key = clean_text(subject_key, field="subject_key", max_length=64)
    label = clean_text(pseudonym, field="pseudonym", max_length=40)
    if not key or not label:
        raise ValidationFailed("Enter the pseudonymous key and a label such as 'Leerling A'.", field="subject_key")
    try:
        person_role = PersonRole(role)
    except ValueError as exc:
        raise ValidationFailed("Unknown role.", field="role") from exc
    if age_band not in AGE_BANDS:
        raise ValidationFailed("Unknown age band.", field="age_band")
    reference = PersonReference(
        signal_id=signal.id,
        subject_key=key,
        pseudonym=label,
        role_in_incident=person_role,
        age_band=age_band,
        created_by_id=user.id,
    )
    db.session.add(reference)
    db.session.flush()
    audit.record("person_reference.add", actor=user, ip=ip, object_type="signal", object_id=str(signal.public_id))
    return reference


def _require_subject_rights(user: User) -> None:
    if not has_permission(user, Permission.SUBJECT_REQUESTS):
        raise PermissionDenied("Only the privacy officer handles data-subject requests.")


def find_subject(user: User, subject_key: str, *, ip: str) -> list[tuple[PersonReference, Signal]]:
    _require_subject_rights(user)
    key = clean_text(subject_key, field="subject_key", max_length=64)
    rows = list(
        db.session.execute(
            select(PersonReference, Signal)
            .join(Signal, Signal.id == PersonReference.signal_id)
            .where(PersonReference.subject_key == key)
            .order_by(Signal.occurred_on)
        ).tuples()
    )
    audit.record("subject.search", actor=user, ip=ip, object_type="subject", details={"found": len(rows)})
    return rows


def export_subject(user: User, subject_key: str, *, ip: str) -> dict:
    """Everything linked to one pseudonymous person reference, as data (JSON)."""
    rows = find_subject(user, subject_key, ip=ip)
    audit.record("subject.export", actor=user, ip=ip, object_type="subject", details={"signals": len(rows)})
    return {
        "subject_key": subject_key,
        "exported_at": utcnow().isoformat(),
        "references": [
            {
                "pseudonym": ref.pseudonym,
                "role": ref.role_in_incident.value,
                "age_band": ref.age_band,
                "signal": {
                    "reference": s.reference,
                    "occurred_on": s.occurred_on.isoformat(),
                    "summary": s.summary,
                    "details_html": s.details_html,
                    "district": s.district.name,
                    "school": s.school_location.name if s.school_location else None,
                    "classification": s.classification.value,
                    "status": s.status.value,
                },
            }
            for ref, s in rows
        ],
        "access": [line.__dict__ for line in _lines([str(s.public_id) for _r, s in rows], with_names=True)],
    }


def rectify_subject(
    user: User, subject_key: str, reference_id, *, pseudonym: str, role: str, age_band: str, ip: str
) -> PersonReference:
    _require_subject_rights(user)
    reference = db.session.scalar(
        select(PersonReference).where(
            PersonReference.public_id == reference_id, PersonReference.subject_key == subject_key
        )
    )
    if reference is None:
        raise NotFound()
    reference.pseudonym = clean_text(pseudonym, field="pseudonym", max_length=40) or reference.pseudonym
    try:
        reference.role_in_incident = PersonRole(role)
    except ValueError as exc:
        raise ValidationFailed("Unknown role.", field="role") from exc
    if age_band not in AGE_BANDS:
        raise ValidationFailed("Unknown age band.", field="age_band")
    reference.age_band = age_band
    audit.record(
        "subject.rectify", actor=user, ip=ip, object_type="person_reference", object_id=str(reference.public_id)
    )
    return reference


def erase_subject(user: User, subject_key: str, *, ip: str) -> int:
    """Erase: the person references go, and the free text of the signals they appear in is removed (the
    structured, anonymous facts stay for the counts). Returns the number of signals touched."""
    rows = find_subject(user, subject_key, ip=ip)
    signal_ids = sorted({s.id for _ref, s in rows})
    now = utcnow()
    if signal_ids:
        db.session.execute(
            update(Signal)
            .where(Signal.id.in_(signal_ids))
            .values(details_html="", details_text="", anonymised_at=now, updated_at=now)
        )
        for _ref, signal in rows:
            db.session.add(
                DeletionRecord(
                    object_type="signal", object_id=str(signal.public_id), action="anonymised", reason="subject_request"
                )
            )
    db.session.execute(delete(PersonReference).where(PersonReference.subject_key == subject_key))
    audit.record("subject.erase", actor=user, ip=ip, object_type="subject", details={"signals": len(signal_ids)})
    db.session.flush()
    return len(signal_ids)
