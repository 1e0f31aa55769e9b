"""Sign-in, sessions and account administration. Views, the CLI and (later) SSO call these."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit import services as audit
from portal.authz.permissions import Role, ScopeType
from portal.authz.policy import ADMINISTRATIVE_ROLES, current_roles, forget_roles
from portal.core.db import utcnow
from portal.core.errors import NotFound, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import LocalCredential, RoleAssignment, User, UserSession, UserStatus
from portal.identity.passwords import hash_password, verify_password, verify_totp
from portal.organisations.models import District, Organisation, OrganisationKind
from portal.realtime import publish


class AuthenticationFailed(Exception):
    """Sign-in refused. ``reason`` goes to the audit trail; users only ever see a generic message."""

    def __init__(self, reason: str, *, needs_totp: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.needs_totp = needs_totp


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return clean_text(email, field="email", max_length=254).lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def totp_required(user: User, *, demo_mode: bool) -> bool:
    """Administrators need a second factor outside demo mode; anyone who enrolled one always needs it."""
    credential = user.credential
    if credential is not None and credential.totp_secret:
        return True
    return not demo_mode and bool(current_roles(user) & ADMINISTRATIVE_ROLES)


def authenticate_local(email: str, password: str, totp_code: str, *, ip: str, demo_mode: bool) -> User:
    """Check a break-glass or demo sign-in. Every outcome is audited; failures raise AuthenticationFailed."""
    try:
        user = find_user_by_email(email)
    except ValidationFailed:
        user = None
    credential = user.credential if user is not None else None
    if not verify_password(credential.password_hash if credential else None, password or ""):
        audit.record(
            "login",
            result=audit.Result.FAILURE,
            actor=user,
            ip=ip,
            actor_label="(unknown account)",
            details={"method": "local", "reason": "bad_credentials"},
        )
        raise AuthenticationFailed("bad_credentials")
    assert user is not None
    assert credential is not None
    if totp_required(user, demo_mode=demo_mode):
        if not credential.totp_secret:
            audit.record(
                "login",
                result=audit.Result.FAILURE,
                actor=user,
                ip=ip,
                details={"method": "local", "reason": "totp_not_enrolled"},
            )
            raise AuthenticationFailed("totp_not_enrolled")
        step = verify_totp(credential.totp_secret, totp_code, credential.totp_last_step)
        if step is None or not _claim_totp_step(credential, step):
            audit.record(
                "login",
                result=audit.Result.FAILURE,
                actor=user,
                ip=ip,
                details={"method": "local", "reason": "bad_totp" if totp_code else "totp_missing"},
            )
            raise AuthenticationFailed("bad_totp", needs_totp=True)
    if user.status is not UserStatus.ACTIVE:
        audit.record(
            "login",
            result=audit.Result.DENIED,
            actor=user,
            ip=ip,
            details={"method": "local", "reason": f"account_{user.status.value}"},
        )
        raise AuthenticationFailed(f"account_{user.status.value}")
    user.last_login_at = utcnow()
    audit.record("login", actor=user, ip=ip, details={"method": "local"})
    return user


def _claim_totp_step(credential: LocalCredential, step: int) -> bool:
    """Record ``step`` as used, atomically: a conditional UPDATE, so that of two concurrent sign-ins with the same
    code (two workers, each having read the old ``totp_last_step``) only one succeeds; the other matches no row."""
    claimed = db.session.execute(
        update(LocalCredential)
        .where(
            LocalCredential.id == credential.id,
            or_(LocalCredential.totp_last_step.is_(None), LocalCredential.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(credential, "totp_last_step", step)
    return True


# --- server-side sessions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def start_session(user: User, *, policy: SessionPolicy, ip: str, user_agent: str, method: str) -> str:
    """Create the server record and return the secret token for the cookie (never stored in clear)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
            ip=ip[:64],
            user_agent=(user_agent or "")[:200],
            auth_method=method,
        )
    )
    db.session.flush()
    return token


def resolve_session(token: str | None, *, policy: SessionPolicy, now: datetime | None = None) -> UserSession | None:
    """The live session for a cookie token, or None. Expired (idle or absolute) records are removed. The user
    comes in the same query (every cookie request needs it)."""
    if not token or not isinstance(token, str):
        return None
    record = db.session.scalar(
        select(UserSession).options(joinedload(UserSession.user)).where(UserSession.token_hash == _token_hash(token))
    )
    if record is None:
        return None
    now = now or utcnow()
    # expires_at was fixed at sign-in; the created_at check makes a lowered SESSION_ABSOLUTE_HOURS apply to
    # sessions that already exist, too.
    if (
        now >= record.expires_at
        or now - record.created_at >= policy.absolute
        or now - record.last_seen_at >= policy.idle
    ):
        db.session.delete(record)
        publish.disconnect_user_session(record.user_id, record.public_id)
        db.session.flush()
        return None
    return record


def touch_session(record: UserSession, now: datetime | None = None) -> bool:
    """Note activity, at most once a minute (no write on every request). Returns whether it wrote."""
    now = now or utcnow()
    if now - record.last_seen_at < timedelta(seconds=60):
        return False
    record.last_seen_at = now
    return True


def end_session(token: str | None, *, actor: User | None, ip: str) -> None:
    if not token:
        return
    record = db.session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if record is None:
        return
    db.session.delete(record)
    audit.record("logout", actor=actor, ip=ip, object_type="session", object_id=str(record.public_id))
    publish.disconnect_user_session(record.user_id, record.public_id)
    db.session.flush()


def list_sessions(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.last_seen_at.desc())
        )
    )


def end_own_session(user: User, session_public_id, *, ip: str) -> None:
    """A user ends one of their own sessions (another browser). Someone else's id is simply not found."""
    record = db.session.scalar(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.public_id == session_public_id)
    )
    if record is None:
        raise NotFound("Unknown session.")
    db.session.delete(record)
    audit.record("session.end", actor=user, ip=ip, object_type="session", object_id=str(record.public_id))
    publish.disconnect_user_session(record.user_id, record.public_id)
    db.session.flush()


def end_all_sessions(user: User) -> int:
    """Used when an account is blocked: every browser and socket of the user is signed out."""
    count = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount or 0
    publish.disconnect_user(user.id)
    return count


# --- account administration ----------------------------------------------------------------------------------


def create_user(
    *,
    email: str,
    display_name: str,
    organisation: Organisation,
    status: UserStatus = UserStatus.ACTIVE,
    job_title: str = "",
    password: str | None = None,
    is_demo: bool = False,
) -> User:
    email = normalise_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValidationFailed("Enter a valid e-mail address.", field="email")
    if find_user_by_email(email) is not None:
        raise ValidationFailed("An account with this e-mail address already exists.", field="email")
    user = User(
        email=email,
        display_name=clean_text(display_name, field="display_name", max_length=200),
        job_title=clean_text(job_title, field="job_title", max_length=200),
        organisation=organisation,
        status=status,
        is_demo=is_demo,
    )
    db.session.add(user)
    if password is not None:
        db.session.add(LocalCredential(user=user, password_hash=hash_password(password)))
    db.session.flush()
    return user


def set_status(user: User, status: UserStatus, *, actor: User | None, ip: str) -> None:
    previous = user.status
    user.status = status
    if status is UserStatus.BLOCKED:
        end_all_sessions(user)
    audit.record(
        "user.status",
        actor=actor,
        ip=ip,
        object_type="user",
        object_id=str(user.public_id),
        details={"from": previous.value, "to": status.value},
    )
    db.session.flush()


SCOPE_ORGANISATION_TYPES = {ScopeType.LOCATION, ScopeType.SCHOOL, ScopeType.BOARD}


def assign_role(
    user: User,
    role: Role,
    scope_type: ScopeType,
    *,
    organisation: Organisation | None = None,
    district: District | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    actor: User | None,
    ip: str = "",
    source: str = "admin",
) -> RoleAssignment:
    if scope_type in SCOPE_ORGANISATION_TYPES and organisation is None:
        raise ValidationFailed("Choose the organisation this role applies to.", field="scope_organisation")
    if scope_type is ScopeType.DISTRICT and district is None:
        raise ValidationFailed("Choose the district this role applies to.", field="scope_district")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed("The end date must be after the start date.", field="valid_until")
    # Administrative roles only go to break-glass accounts (a local password, and a second factor outside demo mode,
    # which authenticate_local asks for): an account that signs in through single sign-on alone never holds one.
    if role in ADMINISTRATIVE_ROLES and user.credential is None:
        raise ValidationFailed(
            "Only an account with a local break-glass password can hold this role; this account signs in through "
            "single sign-on only.",
            field="role",
        )
    assignment = RoleAssignment(
        user=user,
        role=role,
        scope_type=scope_type,
        scope_organisation=organisation if scope_type in SCOPE_ORGANISATION_TYPES else None,
        scope_district=district if scope_type is ScopeType.DISTRICT else None,
        valid_from=valid_from or utcnow(),
        valid_until=valid_until,
        granted_by_id=actor.id if actor is not None else None,
        source=source,
    )
    db.session.add(assignment)
    db.session.flush()
    forget_roles(user)
    audit.record(
        "role.assign",
        actor=actor,
        ip=ip,
        object_type="user",
        object_id=str(user.public_id),
        details={"role": role.value, "scope": scope_type.value},
    )
    return assignment


def revoke_role(assignment: RoleAssignment, *, actor: User | None, ip: str) -> None:
    user = assignment.user
    db.session.delete(assignment)
    forget_roles(user)
    audit.record(
        "role.revoke",
        actor=actor,
        ip=ip,
        object_type="user",
        object_id=str(user.public_id),
        details={"role": assignment.role.value, "scope": assignment.scope_type.value},
    )
    db.session.flush()


def count_users_by_status() -> dict[UserStatus, int]:
    rows = db.session.execute(select(User.status, func.count()).group_by(User.status)).all()
    return dict(rows)


# --- administration screens ----------------------------------------------------------------------------------


def register_user(
    *, email: str, display_name: str, organisation: Organisation, job_title: str = "", actor: User | None, ip: str = ""
) -> User:
    """An administrator adds an SSO user: active at once, no password (sign-in goes through the organisation's
    identity provider)."""
    if not clean_text(display_name, field="display_name", max_length=200):
        raise ValidationFailed("Enter a name.", field="display_name")
    user = create_user(
        email=email,
        display_name=display_name,
        organisation=organisation,
        status=UserStatus.ACTIVE,
        job_title=job_title,
    )
    audit.record(
        "user.create",
        actor=actor,
        ip=ip,
        object_type="user",
        object_id=str(user.public_id),
        details={"organisation": organisation.code},
    )
    return user


def approve_user(user: User, *, actor: User | None, ip: str = "") -> None:
    """A pending account (first SSO sign-in) becomes active."""
    if user.status is not UserStatus.PENDING:
        raise ValidationFailed("Only a pending account can be approved.")
    set_status(user, UserStatus.ACTIVE, actor=actor, ip=ip)


def block_user(user: User, *, actor: User | None, ip: str = "") -> None:
    """Block an account: ``set_status`` ends all its sessions and sockets."""
    if user.status is UserStatus.BLOCKED:
        raise ValidationFailed("This account is already blocked.")
    if actor is not None and actor.id == user.id:
        raise ValidationFailed("You cannot block your own account.")
    set_status(user, UserStatus.BLOCKED, actor=actor, ip=ip)


def unblock_user(user: User, *, actor: User | None, ip: str = "") -> None:
    if user.status is not UserStatus.BLOCKED:
        raise ValidationFailed("Only a blocked account can be unblocked.")
    set_status(user, UserStatus.ACTIVE, actor=actor, ip=ip)


# The organisation kind a scope must point at (school scopes may name a location or a board's school).
SCOPE_ORGANISATION_KINDS = {
    ScopeType.LOCATION: {OrganisationKind.SCHOOL_LOCATION},
    ScopeType.BOARD: {OrganisationKind.SCHOOL_BOARD},
    ScopeType.SCHOOL: {OrganisationKind.SCHOOL_LOCATION, OrganisationKind.SCHOOL_BOARD},
}


def grant_role(
    user: User,
    role: Role,
    scope_type: ScopeType,
    *,
    organisation: Organisation | None = None,
    district: District | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    actor: User | None,
    ip: str = "",
) -> RoleAssignment:
    """``assign_role`` with the checks of the administration screen: the scope organisation is of the right kind
    and the same role in the same scope is not already held for an overlapping period."""
    if (
        scope_type in SCOPE_ORGANISATION_TYPES
        and organisation is not None
        and organisation.kind not in SCOPE_ORGANISATION_KINDS[scope_type]
    ):
        raise ValidationFailed("This organisation does not fit the chosen scope.", field="scope_organisation")
    organisation_id = organisation.id if organisation is not None else None
    district_id = district.id if district is not None else None
    new_from = valid_from or utcnow()
    for existing in user.role_assignments:
        same_scope = (
            existing.role is role
            and existing.scope_type is scope_type
            and (scope_type not in SCOPE_ORGANISATION_TYPES or existing.scope_organisation_id == organisation_id)
            and (scope_type is not ScopeType.DISTRICT or existing.scope_district_id == district_id)
        )
        overlaps = (existing.valid_until is None or existing.valid_until > new_from) and (
            valid_until is None or existing.valid_from < valid_until
        )
        if same_scope and overlaps:
            raise ValidationFailed("The user already holds this role in this scope.", field="role")
    return assign_role(
        user,
        role,
        scope_type,
        organisation=organisation,
        district=district,
        valid_from=valid_from,
        valid_until=valid_until,
        actor=actor,
        ip=ip,
    )


def withdraw_role(assignment: RoleAssignment, *, actor: User | None, ip: str = "") -> None:
    """``revoke_role``, except that administrators cannot take away their own administrative role (lock-out)."""
    if actor is not None and assignment.user_id == actor.id and assignment.role in ADMINISTRATIVE_ROLES:
        raise ValidationFailed("You cannot revoke your own administrator role.")
    revoke_role(assignment, actor=actor, ip=ip)
