"""The role × permission × expected matrix of the policy (docs/architecture.md: "the most important file").

The table below is written out by hand from docs/domain.md B.5 and the Allowed/Disallowed comments in
``portal/authz/policy.py``; it is deliberately *not* derived from ``ROLE_PERMISSIONS``. A change to the policy
must change this table too, in the same review.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.authz.permissions import Permission, Role, ScopeType
from portal.authz.policy import current_roles, has_permission, permissions_for_roles, permissions_of
from portal.core.db import utcnow
from portal.extensions import db
from portal.identity import services

# Columns, in this order. "Y" = Allowed, "." = Disallowed.
COLUMNS = (
    Role.SCHOOL_COORDINATOR,  # SC
    Role.SCHOOL_DIRECTOR,  # SD
    Role.BOARD_OFFICER,  # BO
    Role.POLICE_OFFICER,  # PO
    Role.POLICE_EXPERT,  # PE
    Role.OM_OFFICER,  # OM
    Role.DISTRICT_SAFETY_MANAGER,  # DSM
    Role.COVENANT_COORDINATOR,  # CC
    Role.ATTENDANCE_OFFICER,  # AO
    Role.PARTNER,  # PA
    Role.FUNCTIONAL_ADMIN,  # FA
    Role.PRIVACY_OFFICER,  # PR
)

MATRIX_TEXT = """
                                 SC SD BO PO PE OM DSM CC AO PA FA PR
rooms:room:read                   Y  Y  .  Y  .  .  Y   Y  Y  Y  .  .
signals:signal:create             Y  Y  .  .  .  .  Y   .  .  .  .  .
signals:signal:read               Y  Y  .  Y  .  .  Y   Y  Y  Y  .  .
signals:signal:respond            Y  Y  .  Y  .  .  Y   Y  Y  Y  .  .
signals:shared:read               Y  Y  .  Y  .  Y  Y   Y  Y  Y  .  .
police:signals:read               .  .  .  Y  .  .  .   .  .  .  .  .
police:followup:write             .  .  .  Y  .  .  .   .  .  .  .  .
police:acute:acknowledge          .  .  .  Y  .  .  Y   .  .  .  .  .
reports:aggregate:read            .  .  Y  .  Y  Y  Y   Y  .  .  .  .
meetings:meeting:read             Y  Y  .  Y  Y  Y  Y   Y  Y  Y  .  .
meetings:agenda:propose           Y  Y  .  Y  Y  .  Y   Y  .  Y  .  .
meetings:meeting:manage           .  .  .  .  .  .  Y   .  .  .  .  .
meetings:city_meeting:manage      .  .  .  .  .  .  .   Y  .  .  .  .
meetings:school_input:submit      Y  Y  .  .  .  .  .   .  .  .  .  .
meetings:partner_picture:submit   .  .  .  Y  Y  .  .   .  .  Y  .  .
meetings:meeting:export           Y  Y  .  Y  Y  Y  Y   Y  Y  Y  .  .
meetings:minutes:comment          Y  Y  .  Y  Y  Y  Y   Y  Y  Y  .  .
meetings:action:update            Y  Y  .  Y  Y  .  Y   Y  Y  Y  .  .
admin:portal:access               .  .  .  .  .  .  .   Y  .  .  Y  .
admin:organisation:manage         .  .  .  .  .  .  .   .  .  .  Y  .
admin:user:manage                 .  .  .  .  .  .  .   .  .  .  Y  .
admin:room:manage                 .  .  .  .  .  .  .   .  .  .  Y  .
admin:taxonomy:manage             .  .  .  .  .  .  .   Y  .  .  Y  .
audit:log:read                    .  .  .  .  .  .  .   .  .  .  .  Y
audit:log:verify                  .  .  .  .  .  .  .   .  .  .  .  Y
privacy:access:read               .  .  .  .  .  .  .   .  .  .  .  Y
privacy:subject:manage            .  .  .  .  .  .  .   .  .  .  .  Y
privacy:retention:read            .  .  .  .  .  .  .   .  .  .  .  Y
"""


def _parse(text: str) -> dict[tuple[Role, Permission], bool]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header, rows = lines[0].split(), lines[1:]
    assert len(header) == len(COLUMNS)
    table: dict[tuple[Role, Permission], bool] = {}
    for line in rows:
        name, *cells = line.split()
        assert len(cells) == len(COLUMNS), f"row {name} has {len(cells)} cells"
        for role, cell in zip(COLUMNS, cells, strict=True):
            assert cell in {"Y", "."}, f"row {name}: unexpected cell {cell!r}"
            table[(role, Permission(name))] = cell == "Y"
    return table


EXPECTED = _parse(MATRIX_TEXT)
PAIRS = [(role, permission) for role in Role for permission in Permission]


def test_matrix_covers_every_role_and_permission():
    """A new role or permission must be added to the table above (and thereby reviewed)."""
    assert set(COLUMNS) == set(Role)
    assert len(COLUMNS) == len(set(COLUMNS))
    assert set(EXPECTED) == set(PAIRS)


@pytest.mark.parametrize(("role", "permission"), PAIRS, ids=[f"{r.value}-{p.value}" for r, p in PAIRS])
def test_role_permission(role, permission):
    assert (permission in permissions_for_roles({role})) is EXPECTED[(role, permission)]


def test_no_roles_no_permissions():
    assert permissions_for_roles(set()) == frozenset()


def test_roles_combine_as_a_union():
    combined = permissions_for_roles({Role.FUNCTIONAL_ADMIN, Role.BOARD_OFFICER})
    assert combined == permissions_for_roles({Role.FUNCTIONAL_ADMIN}) | {Permission.AGGREGATE_READ}
    assert Permission.AGGREGATE_READ not in permissions_for_roles({Role.FUNCTIONAL_ADMIN})


def test_anonymous_has_nothing():
    assert not has_permission(AnonymousUserMixin(), Permission.ROOM_READ)
    assert not has_permission(None, Permission.ROOM_READ)
    assert permissions_of(None) == frozenset()


# --- status and validity windows: through the real database --------------------------------------------------


@pytest.mark.parametrize("status", ["active", "pending", "blocked"])
def test_only_active_users_hold_their_roles(make, ctx, status):
    user = db.session.merge(make.user("privacy_officer", status=status))
    assert has_permission(user, Permission.AUDIT_READ) is (status == "active")
    assert (permissions_of(user) == frozenset()) is (status != "active")


WINDOWS = {
    # name: (valid_from offset, valid_until offset or None, expected to grant)
    "current_open_ended": (timedelta(days=-1), None, True),
    "current_until_tomorrow": (timedelta(days=-1), timedelta(days=1), True),
    "starts_tomorrow": (timedelta(days=1), None, False),
    "starts_in_a_minute": (timedelta(minutes=1), timedelta(days=10), False),
    "ended_yesterday": (timedelta(days=-10), timedelta(days=-1), False),
    "ended_a_minute_ago": (timedelta(days=-10), timedelta(minutes=-1), False),
}


@pytest.mark.parametrize("window", WINDOWS)
def test_role_assignment_counts_only_inside_its_window(make, ctx, window):
    start, end, grants = WINDOWS[window]
    user = db.session.merge(make.user(None))
    now = utcnow()
    services.assign_role(
        user,
        Role.PRIVACY_OFFICER,
        ScopeType.CITY,
        valid_from=now + start,
        valid_until=now + end if end is not None else None,
        actor=None,
    )
    db.session.flush()
    assert has_permission(user, Permission.AUDIT_READ) is grants
    assert has_permission(user, Permission.AUDIT_VERIFY) is grants
    # Nothing beyond what the role grants.
    assert permissions_of(user) == (permissions_for_roles({Role.PRIVACY_OFFICER}) if grants else frozenset())


def test_window_boundaries(make, ctx):
    """valid_from is inclusive, valid_until exclusive."""
    user = db.session.merge(make.user(None))
    start = utcnow() + timedelta(hours=1)
    end = start + timedelta(hours=2)
    services.assign_role(user, Role.PRIVACY_OFFICER, ScopeType.CITY, valid_from=start, valid_until=end, actor=None)
    db.session.flush()
    assert current_roles(user, now=start - timedelta(microseconds=1)) == frozenset()
    assert current_roles(user, now=start) == {Role.PRIVACY_OFFICER}
    assert current_roles(user, now=end - timedelta(seconds=1)) == {Role.PRIVACY_OFFICER}
    assert current_roles(user, now=end) == frozenset()


def test_expired_role_does_not_hide_a_current_one(make, ctx):
    user = db.session.merge(make.user("school_coordinator"))
    now = utcnow()
    services.assign_role(
        user,
        Role.PRIVACY_OFFICER,
        ScopeType.CITY,
        valid_from=now - timedelta(days=30),
        valid_until=now - timedelta(days=1),
        actor=None,
    )
    db.session.flush()
    assert current_roles(user) == {Role.SCHOOL_COORDINATOR}
    assert has_permission(user, Permission.SIGNAL_CREATE)
    assert not has_permission(user, Permission.AUDIT_READ)


def test_blocked_user_with_current_admin_role_has_nothing(make, ctx):
    user = db.session.merge(make.user("functional_admin", status="blocked"))
    assert not any(has_permission(user, permission) for permission in Permission)


def test_role_changes_show_at_once_on_the_same_user_object(make, ctx):
    """``current_roles`` remembers a user's roles for the request; assign_role and revoke_role make it forget them,
    so a check later in the same request sees the change (policy.forget_roles)."""
    user = db.session.merge(make.user("school_coordinator"))
    assert current_roles(user) == {Role.SCHOOL_COORDINATOR}  # remembered from here on
    assignment = services.assign_role(user, Role.PRIVACY_OFFICER, ScopeType.CITY, actor=None)
    assert current_roles(user) == {Role.SCHOOL_COORDINATOR, Role.PRIVACY_OFFICER}
    assert has_permission(user, Permission.AUDIT_READ)
    services.revoke_role(assignment, actor=None, ip="")
    assert current_roles(user) == {Role.SCHOOL_COORDINATOR}
    assert not has_permission(user, Permission.AUDIT_READ)
