"""Police follow-up and acute-signal handling. The school sees *that* and *when* the police picked a signal up,
never the police's details (those go only to the rows of the visibility matrix that list ``police_details``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from portal.audit import services as audit
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission, holds_role_clause, roles_granting
from portal.core.db import utcnow
from portal.core.errors import PermissionDenied, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.police.models import AcuteAlert, FollowUpStatus, PoliceFollowUp
from portal.realtime import publish
from portal.rooms.models import MemberRole, Room, RoomKind, RoomMembership
from portal.rooms.queries import current_membership_clause
from portal.signals import queries
from portal.signals.models import Signal, TaxonomyTerm, Vocabulary

REFERENCE_MAX = 40


def record_follow_up(
    user: User, public_id, status: str, *, intervention: str = "", police_reference: str = "", ip: str
) -> PoliceFollowUp:
    if not has_permission(user, Permission.POLICE_FOLLOW_UP):
        raise PermissionDenied("Only the police record follow-up.")
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    try:
        step_status = FollowUpStatus(status)
    except ValueError as exc:
        raise ValidationFailed("Unknown follow-up status.", field="status") from exc
    term = None
    if intervention:
        term = db.session.scalar(
            select(TaxonomyTerm).where(
                TaxonomyTerm.vocabulary == Vocabulary.PARTNER_INTERVENTION,
                TaxonomyTerm.code == intervention,
                TaxonomyTerm.active.is_(True),
            )
        )
        if term is None:
            raise ValidationFailed("Unknown intervention.", field="intervention")
    reference = clean_text(police_reference, field="police_reference", max_length=REFERENCE_MAX)
    step = PoliceFollowUp(
        signal_id=signal.id, status=step_status, intervention=term, police_reference=reference, created_by_id=user.id
    )
    db.session.add(step)
    if signal.police_picked_up_at is None:
        signal.police_picked_up_at = utcnow()
    db.session.flush()
    audit.record(
        "police.follow_up",
        actor=user,
        ip=ip,
        object_type="signal",
        object_id=str(signal.public_id),
        details={"status": step_status.value, "intervention": intervention},
    )
    _touch(signal)
    return step


def _touch(signal: Signal) -> None:
    from portal.signals.services import append_events

    signal.updated_at = utcnow()
    db.session.flush()
    append_events(signal, "signal.updated")


# --- acute signals --------------------------------------------------------------------------------------------


def raise_acute(signal: Signal) -> AcuteAlert | None:
    """Called when an acute signal is shared: notify the room's police members right away."""
    room = db.session.scalar(select(Room).where(Room.kind == RoomKind.DISTRICT, Room.district_id == signal.district_id))
    if room is None:
        return None
    existing = db.session.scalar(select(AcuteAlert).where(AcuteAlert.signal_id == signal.id))
    if existing is not None:
        return existing
    alert = AcuteAlert(signal_id=signal.id, room_id=room.id)
    db.session.add(alert)
    db.session.flush()
    for user_id in _members_with(room, Permission.POLICE_FOLLOW_UP):
        publish.notify_user(
            user_id,
            "acute.raised",
            {"signal": str(signal.public_id), "reference": signal.reference, "summary": signal.summary},
        )
    return alert


def _members_with(room: Room, permission: Permission, member_role: MemberRole | None = None) -> list[int]:
    """Current members of the room whose roles grant ``permission``, in one statement."""
    stmt = (
        select(User.id)
        .join(RoomMembership, RoomMembership.user_id == User.id)
        .where(
            RoomMembership.room_id == room.id,
            *current_membership_clause(),
            holds_role_clause(roles_granting(permission)),
        )
        .order_by(User.id)
    )
    if member_role is not None:
        stmt = stmt.where(RoomMembership.role == member_role)
    return list(db.session.scalars(stmt))


def acknowledge(user: User, public_id, *, ip: str) -> AcuteAlert:
    if not has_permission(user, Permission.ACUTE_ACKNOWLEDGE):
        raise PermissionDenied("You may not acknowledge acute signals.")
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    # Only the police and chairs of the alert's own room acknowledge it (the banner shows it to them alone): an
    # officer elsewhere who may read the signal must not silence another district's alert and its escalation.
    alert = db.session.scalar(
        select(AcuteAlert).where(AcuteAlert.signal_id == signal.id, AcuteAlert.room_id.in_(viewer.room_ids))
    )
    if alert is None:
        raise ValidationFailed("This signal has no acute alert.", field="signal")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by_id = user.id
        audit.record("acute.acknowledge", actor=user, ip=ip, object_type="signal", object_id=str(signal.public_id))
    return alert


def escalate_overdue(minutes: int, now: datetime | None = None) -> int:
    """Escalate unacknowledged alerts older than ``minutes`` to the room's chair (district safety manager)."""
    now = now or utcnow()
    overdue = db.session.scalars(
        select(AcuteAlert).where(
            AcuteAlert.acknowledged_at.is_(None),
            AcuteAlert.escalated_at.is_(None),
            AcuteAlert.raised_at <= now - timedelta(minutes=minutes),
        )
    )
    count = 0
    for alert in overdue:
        room = db.session.get(Room, alert.room_id)
        signal = db.session.get(Signal, alert.signal_id)
        alert.escalated_at = now
        for user_id in _members_with(room, Permission.ACUTE_ACKNOWLEDGE, MemberRole.CHAIR):
            publish.notify_user(
                user_id, "acute.escalated", {"signal": str(signal.public_id), "reference": signal.reference}
            )
        audit.record(
            "acute.escalate",
            actor_label="(system)",
            object_type="signal",
            object_id=str(signal.public_id),
            details={"minutes": minutes},
        )
        count += 1
    db.session.flush()
    return count


def open_alerts_for(user: User) -> list[tuple[AcuteAlert, Signal]]:
    """Unacknowledged alerts in the user's rooms, for the banner on every page of police and chairs."""
    if not has_permission(user, Permission.ACUTE_ACKNOWLEDGE):
        return []
    viewer = queries.viewer_for(user)
    if not viewer.room_ids:
        return []
    stmt = (
        select(AcuteAlert, Signal)
        .join(Signal, Signal.id == AcuteAlert.signal_id)
        .where(
            AcuteAlert.acknowledged_at.is_(None),
            AcuteAlert.room_id.in_(list(viewer.room_ids)),
            queries.audience_clause(viewer),
        )
        .order_by(AcuteAlert.raised_at)
    )
    return list(db.session.execute(stmt).tuples())
