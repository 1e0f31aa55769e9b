"""Role → permission table and the checks built on it. Used by views, API, sockets, templates and the CLI.

Each role's row lists what it is Allowed; everything else is Disallowed (deny by default). The matrix test in
``tests/unit/test_policy_matrix.py`` spells out the expected answer for every role × permission.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select

from portal.authz.permissions import Permission as P
from portal.authz.permissions import Role
from portal.core.db import utcnow
from portal.extensions import db
from portal.identity.models import RoleAssignment, User, UserStatus

ROOM_MEMBER = {P.ROOM_READ, P.SIGNAL_READ, P.SIGNAL_READ_SHARED, P.MEETING_READ, P.MEETING_EXPORT}
# Taking part in the network meetings: the comment round on minutes, progress on the own organisation's actions.
MEETING_MEMBER = {P.MINUTES_COMMENT, P.ACTION_UPDATE}

ROLE_PERMISSIONS: dict[Role, frozenset[P]] = {
    # Allowed: create and share signals, respond, propose agenda items, the school's meeting input, update own
    # actions. Disallowed: administration, audit, organising meetings.
    Role.SCHOOL_COORDINATOR: frozenset(
        ROOM_MEMBER | MEETING_MEMBER | {P.SIGNAL_CREATE, P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_SCHOOL_INPUT}
    ),
    # Allowed: the coordinator's rights for their own school, plus the directors' consultation.
    Role.SCHOOL_DIRECTOR: frozenset(
        ROOM_MEMBER | MEETING_MEMBER | {P.SIGNAL_CREATE, P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_SCHOOL_INPUT}
    ),
    # Allowed: aggregated statistics of the board's locations only. Disallowed: single signals, meetings.
    Role.BOARD_OFFICER: frozenset({P.AGGREGATE_READ}),
    # Allowed: signals in assigned districts, respond, meeting input and the (aggregated) police picture.
    # Disallowed: creating school signals.
    Role.POLICE_OFFICER: frozenset(
        ROOM_MEMBER
        | MEETING_MEMBER
        | {P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_PARTNER_PICTURE}
        | {P.POLICE_VIEW, P.POLICE_FOLLOW_UP, P.ACUTE_ACKNOWLEDGE}
    ),
    # Allowed: city-wide aggregates and trend input (the police picture).
    Role.POLICE_EXPERT: frozenset(
        MEETING_MEMBER
        | {P.AGGREGATE_READ, P.MEETING_READ, P.MEETING_EXPORT, P.MEETING_PROPOSE, P.MEETING_PARTNER_PICTURE}
    ),
    # Allowed: city-wide aggregates, meeting materials where invited, comments on minutes. Disallowed: case data.
    Role.OM_OFFICER: frozenset(
        {P.AGGREGATE_READ, P.MEETING_READ, P.MEETING_EXPORT, P.MINUTES_COMMENT, P.SIGNAL_READ_SHARED}
    ),
    # Allowed: the own district's room content; chair the district network's meetings.
    Role.DISTRICT_SAFETY_MANAGER: frozenset(
        ROOM_MEMBER
        | MEETING_MEMBER
        | {P.SIGNAL_CREATE, P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_MANAGE, P.AGGREGATE_READ}
        | {P.ACUTE_ACKNOWLEDGE}  # escalations of unacknowledged acute signals land with the chair
    ),
    # Allowed: all rooms, city-wide dashboards, taxonomy; organise the city-wide network and the directors'
    # consultation. Disallowed: organising a district network's meetings (the district safety manager does).
    Role.COVENANT_COORDINATOR: frozenset(
        ROOM_MEMBER
        | MEETING_MEMBER
        | {P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_MANAGE_CITY, P.AGGREGATE_READ}
        | {P.ADMIN_ACCESS, P.ADMIN_TAXONOMY}
    ),
    # Allowed: tagged signals of their schools; respond.
    Role.ATTENDANCE_OFFICER: frozenset(ROOM_MEMBER | MEETING_MEMBER | {P.SIGNAL_RESPOND}),
    # Allowed: room content as invited guests; respond; street input (the youth work / youth enforcement picture).
    Role.PARTNER: frozenset(
        ROOM_MEMBER | MEETING_MEMBER | {P.SIGNAL_RESPOND, P.MEETING_PROPOSE, P.MEETING_PARTNER_PICTURE}
    ),
    # Allowed: configuration, users, roles. Disallowed: content beyond K1, the audit trail.
    Role.FUNCTIONAL_ADMIN: frozenset(
        {P.ADMIN_ACCESS, P.ADMIN_ORGANISATIONS, P.ADMIN_USERS, P.ADMIN_ROOMS, P.ADMIN_TAXONOMY}
    ),
    # Allowed: the audit trail and its verification. Disallowed: content and administration.
    Role.PRIVACY_OFFICER: frozenset(
        {P.AUDIT_READ, P.AUDIT_VERIFY, P.ACCESS_REPORT, P.SUBJECT_REQUESTS, P.RETENTION_READ}
    ),
}

# Which permission organises the meetings of each kind of room (docs/domain.md B.5, D.1): the district safety manager
# chairs the district networks, the covenant coordinator the city-wide network and the directors' consultation.
# Keys are ``RoomKind`` values. Organising also needs a current seat in the room (meetings.queries checks it).
MEETING_MANAGER_PERMISSION: dict[str, P] = {
    "district": P.MEETING_MANAGE,
    "city": P.MEETING_MANAGE_CITY,
    "directors": P.MEETING_MANAGE_CITY,
}


def may_manage_meetings(user: User | None, room_kind: str) -> bool:
    """Whether the user's roles let them organise (chair, take minutes of) meetings of this kind of room."""
    permission = MEETING_MANAGER_PERMISSION.get(str(room_kind))
    return permission is not None and has_permission(user, permission)


# Invited to a meeting without a seat in its room: the OM follows the meetings it is invited to (docs/domain.md B.5:
# "meeting materials where invited"). A guest reads the materials, exports them and comments on draft minutes, as far
# as their own roles allow; nothing else of the room (its signals, its other meetings) opens for them.
MEETING_GUEST_ROLES = frozenset({Role.OM_OFFICER})
MEETING_GUEST_PERMISSIONS = frozenset({P.MEETING_READ, P.MEETING_EXPORT, P.MINUTES_COMMENT})


def may_be_meeting_guest(user: User | None) -> bool:
    return bool(current_roles(user) & MEETING_GUEST_ROLES)


def guest_permissions(user: User | None) -> frozenset[P]:
    """What an invited guest may do with a meeting: the guest grants, limited by the user's own permissions."""
    if not may_be_meeting_guest(user):
        return frozenset()
    return MEETING_GUEST_PERMISSIONS & permissions_of(user)


# Roles that may only be held by people with a local break-glass account and a second factor outside demo mode.
ADMINISTRATIVE_ROLES = frozenset({Role.FUNCTIONAL_ADMIN})


def permissions_for_roles(roles: set[Role] | frozenset[Role]) -> frozenset[P]:
    granted: set[P] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def current_roles(user: User | None, now: datetime | None = None) -> frozenset[Role]:
    """The roles of an active user that are valid now; none for anonymous, pending or blocked users."""
    if user is None or not getattr(user, "is_authenticated", False) or user.status is not UserStatus.ACTIVE:
        return frozenset()
    cache = getattr(user, "_role_cache", None)
    if cache is not None and now is None:
        return cache
    moment = now or utcnow()
    rows = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).all()
    roles = frozenset(r.role for r in rows if r.is_valid(moment))
    if now is None:
        user._role_cache = roles  # one query per request: the user object lives for one request
    return roles


def forget_roles(user: User) -> None:
    """Drop the roles ``current_roles`` remembered for this user object: called after its role assignments change,
    so that checks later in the same request see the new roles."""
    user.__dict__.pop("_role_cache", None)


def roles_granting(permission: P) -> frozenset[Role]:
    return frozenset(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def holds_role_clause(roles, now: datetime | None = None):
    """SQL condition on ``User``: active and holding one of ``roles`` now. The rule of ``current_roles``, for queries
    over many people at once (who in a room may acknowledge, who may be a guest) instead of one query per person."""
    moment = now or utcnow()
    current = select(RoleAssignment.user_id).where(
        RoleAssignment.role.in_(roles),
        RoleAssignment.valid_from <= moment,
        or_(RoleAssignment.valid_until.is_(None), RoleAssignment.valid_until > moment),
    )
    return and_(User.status == UserStatus.ACTIVE, User.id.in_(current))


def has_permission(user: User | None, permission: P) -> bool:
    return permission in permissions_for_roles(current_roles(user))


def permissions_of(user: User | None) -> frozenset[P]:
    return permissions_for_roles(current_roles(user))


# Which column of the signal visibility matrix (signals/visibility.py) a role reads; the first match in this order
# wins for people with several roles, so the more restricted view is never chosen by accident.
VIEWER_KIND_BY_ROLE: tuple[tuple[Role, str], ...] = (
    (Role.POLICE_OFFICER, "police"),
    (Role.POLICE_EXPERT, "police"),
    (Role.DISTRICT_SAFETY_MANAGER, "municipality"),
    (Role.COVENANT_COORDINATOR, "municipality"),
    (Role.ATTENDANCE_OFFICER, "municipality"),
    (Role.OM_OFFICER, "om"),
    (Role.SCHOOL_COORDINATOR, "school"),
    (Role.SCHOOL_DIRECTOR, "school"),
    (Role.BOARD_OFFICER, "school"),
    (Role.PARTNER, "partner"),
)


def viewer_kind(user: User | None) -> str | None:
    """The visibility-matrix column for this user, or None when no role entitles them to see signals."""
    roles = current_roles(user)
    for role, kind in VIEWER_KIND_BY_ROLE:
        if role in roles:
            return kind
    return None
