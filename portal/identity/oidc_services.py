"""Single sign-on, the database half: pending authorization requests, accounts found by (issuer, subject) only,
organisation and roles from the provider's configuration, SSO sessions, RP-initiated and back-channel logout.

Services only flush; the view commits once. Nothing here reads the request or the session: the views pass the
browser binding (a random value kept in the browser's cookie session), the client's address and the raw callback
parameters. Every success and every failure is audited with a reason code (R-LOG-1); no token, code, state or
nonce ever goes into the audit trail (R-LOG-2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from portal.audit import services as audit
from portal.authz.permissions import Role, ScopeType
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity import services as identity_services
from portal.identity.models import (
    OidcAuthRequest,
    OidcIdentity,
    OidcLogoutToken,
    User,
    UserSession,
    UserStatus,
)
from portal.identity.oidc import Provider, Registry
from portal.identity.oidc_config import OidcError, ProviderConfig, short_code
from portal.identity.oidc_discovery import ProviderStatus
from portal.identity.services import _token_hash  # the one way session tokens are hashed
from portal.organisations import services as organisation_services
from portal.organisations.models import Organisation, OrganisationKind
from portal.realtime import publish

REQUEST_LIFETIME = timedelta(minutes=10)  # how long an authorization or logout request may take at the provider
LOGIN = "login"
LOGOUT = "logout"
_MAX_ID_TOKEN = 16_384


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _config(provider: Provider) -> ProviderConfig:
    if provider.config is None:
        raise OidcError("provider_misconfigured")
    return provider.config


def _audit_failure(action: str, provider_slug: str, failure: OidcError, *, ip: str, actor: User | None = None) -> None:
    details: dict[str, Any] = {"method": "oidc", "provider": provider_slug, "reason": failure.reason}
    if failure.detail:
        details["detail"] = short_code(failure.detail, 60)
    audit.record(
        action,
        result=audit.Result.FAILURE,
        actor=actor,
        ip=ip,
        actor_label="(unknown account)",
        details=details,
    )


class AccountNotActive(Exception):
    """The provider vouched for the person, but the account is pending approval or blocked."""

    def __init__(self, user: User, status: UserStatus, approver: str) -> None:
        super().__init__(f"account_{status.value}")
        self.user = user
        self.status = status
        self.approver = approver


@dataclass(frozen=True)
class SignIn:
    user: User
    provider: str
    sid: str | None
    id_token: str | None
    next_url: str
    new_account: bool


@dataclass(frozen=True)
class _Pending:
    provider: str
    issuer: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str


# --- authorization requests ------------------------------------------------------------------------------------


def _purge_expired_requests(now: datetime) -> None:
    db.session.execute(delete(OidcAuthRequest).where(OidcAuthRequest.expires_at < now))


def _consume(state: Any, *, purpose: str, provider_slug: str, browser_binding: str | None, now: datetime) -> _Pending:
    """Take the pending request for ``state`` out of the table (single use), then check that it belongs to this
    browser, this provider and this purpose and has not expired. Any failure has consumed it all the same."""
    if not isinstance(state, str) or not state or len(state) > 512:
        raise OidcError("state_missing")
    row = db.session.scalar(select(OidcAuthRequest).where(OidcAuthRequest.state_hash == _hash(state)))
    if row is None:
        raise OidcError("state_unknown")  # forged, replayed (already used) or long expired
    pending = _Pending(
        provider=row.provider,
        issuer=row.issuer,
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        redirect_uri=row.redirect_uri,
        next_url=row.next_url,
    )
    purpose_ok, browser_hash, expires_at = row.purpose == purpose, row.browser_hash, row.expires_at
    removed = db.session.execute(
        delete(OidcAuthRequest).where(OidcAuthRequest.id == row.id), execution_options={"synchronize_session": False}
    ).rowcount
    db.session.expunge(row)
    if removed != 1:
        raise OidcError("state_replayed")  # a concurrent callback with the same state got there first
    if not purpose_ok:
        raise OidcError("state_wrong_purpose")
    if not browser_binding or not hmac.compare_digest(browser_hash, _hash(browser_binding)):
        raise OidcError("state_other_session")  # started in another browser: login CSRF or a stolen callback
    if pending.provider != provider_slug:
        raise OidcError("state_wrong_provider")  # mix-up: provider A's state at provider B's redirect URI
    if now >= expires_at:
        raise OidcError("state_expired")
    return pending


def start_sign_in(
    provider: Provider, *, browser_binding: str, next_url: str, ip: str, now: datetime | None = None
) -> str:
    """Store a fresh authorization request and return the provider's authorization URL."""
    now = now or utcnow()
    try:
        config = _config(provider)
        request = provider.authorization_request()
    except OidcError as failure:
        _audit_failure("login", provider.slug, failure, ip=ip)
        raise
    _purge_expired_requests(now)
    db.session.add(
        OidcAuthRequest(
            state_hash=_hash(request.state),
            purpose=LOGIN,
            provider=provider.slug,
            issuer=config.issuer,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            redirect_uri=provider.redirect_uri,
            browser_hash=_hash(browser_binding),
            next_url=next_url[:2000],
            created_at=now,
            expires_at=now + REQUEST_LIFETIME,
        )
    )
    db.session.flush()
    return request.url


def complete_sign_in(
    provider: Provider,
    params: Mapping[str, str],
    *,
    browser_binding: str | None,
    ip: str,
    now: datetime | None = None,
) -> SignIn:
    """The callback: state → RFC 9207 ``iss`` → provider error → token request → ID token → account.

    Raises :class:`OidcError` (audited, nothing signed in) or :class:`AccountNotActive` (audited as denied)."""
    now = now or utcnow()
    try:
        config = _config(provider)
        pending = _consume(
            params.get("state"), purpose=LOGIN, provider_slug=provider.slug, browser_binding=browser_binding, now=now
        )
        metadata = provider.metadata()
        # RFC 9207, before anything is sent to a token endpoint (R-AUTH-4).
        iss = params.get("iss")
        if iss is not None:
            if iss != pending.issuer or iss != config.issuer:
                raise OidcError("iss_param_mismatch")
        elif metadata.get("authorization_response_iss_parameter_supported") is True:
            raise OidcError("iss_param_missing")
        if params.get("error"):
            raise OidcError("provider_error", short_code(params.get("error")))
        code = params.get("code")
        if not code or len(code) > 2048:
            raise OidcError("code_missing")
        token = provider.exchange_code(code, code_verifier=pending.code_verifier, redirect_uri=pending.redirect_uri)
        raw_id_token = token.get("id_token")
        access_token = token.get("access_token")
        claims = provider.validate_id_token(
            raw_id_token, nonce=pending.nonce, access_token=access_token if isinstance(access_token, str) else None
        )
        organisation = _organisation_for(config, claims)
        user, identity, created = _account_for(config, claims, organisation, ip=ip)
    except OidcError as failure:
        _audit_failure("login", provider.slug, failure, ip=ip)
        raise

    if user.status is not UserStatus.ACTIVE:
        audit.record(
            "login",
            result=audit.Result.DENIED,
            actor=user,
            ip=ip,
            details={
                "method": "oidc",
                "provider": provider.slug,
                "reason": f"account_{user.status.value}",
                "new_account": created,
            },
        )
        raise AccountNotActive(user, user.status, config.approver)

    user.last_login_at = now
    identity.last_login_at = now
    db.session.flush()
    audit.record(
        "login", actor=user, ip=ip, details={"method": "oidc", "provider": provider.slug, "new_account": created}
    )
    sid = claims.get("sid")
    return SignIn(
        user=user,
        provider=provider.slug,
        sid=sid if isinstance(sid, str) and 0 < len(sid) <= 255 else None,
        id_token=raw_id_token if len(raw_id_token) <= _MAX_ID_TOKEN else None,
        next_url=pending.next_url,
        new_account=created,
    )


def attach_session(token: str, sign_in: SignIn) -> None:
    """Mark the session that ``web.sign_in`` just started as an SSO session (for logout at the provider)."""
    record = db.session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if record is None:
        raise OidcError("session_missing")
    record.oidc_provider = sign_in.provider
    record.oidc_sid = sign_in.sid
    record.oidc_id_token = sign_in.id_token
    db.session.flush()


# --- accounts --------------------------------------------------------------------------------------------------


def _organisation_for(config: ProviderConfig, claims: Mapping[str, Any]) -> Organisation:
    """From the provider's configuration, or its claim checked against what this provider may assert (R-AUTH-5)."""
    if config.organisation:
        code = config.organisation
    else:
        value = claims.get(config.organisation_claim or "")
        if not isinstance(value, str) or value not in config.allowed_organisations:
            raise OidcError("organisation_not_allowed")
        code = config.allowed_organisations[value]
    organisation = organisation_services.get_organisation(code)
    if organisation is None or not organisation.active:
        raise OidcError("organisation_unknown", code)
    return organisation


def _display_name(config: ProviderConfig, claims: Mapping[str, Any]) -> str:
    candidates = [
        claims.get("name"),
        " ".join(str(claims.get(k) or "") for k in ("given_name", "family_name")).strip(),
        claims.get("preferred_username"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            try:
                name = clean_text(candidate[:200], field="display_name", max_length=200)
            except ValidationFailed:
                continue
            if name:
                return name
    return f"{config.display_name} user"[:200]


def _email_for(config: ProviderConfig, claims: Mapping[str, Any]) -> str:
    """The asserted address when it is valid and free; otherwise a placeholder. Never a key: an address another
    provider's user already has does not link the accounts (R-AUTH-5, T16)."""
    email = claims.get("email")
    if isinstance(email, str) and claims.get("email_verified") is not False:
        try:
            normalised = identity_services.normalise_email(email[:254])
        except ValidationFailed:
            normalised = ""
        local, _, domain = normalised.partition("@")
        if local and "." in domain and identity_services.find_user_by_email(normalised) is None:
            return normalised
    digest = hashlib.sha256(f"{config.issuer}\n{claims['sub']}".encode()).hexdigest()[:24]
    return f"{config.slug}-{digest}@sso.invalid"


def _account_for(
    config: ProviderConfig, claims: Mapping[str, Any], organisation: Organisation, *, ip: str
) -> tuple[User, OidcIdentity, bool]:
    """Find the account by (issuer, subject), or create it: pending unless the provider auto-approves."""
    identity = db.session.scalar(
        select(OidcIdentity).where(OidcIdentity.issuer == config.issuer, OidcIdentity.subject == claims["sub"])
    )
    created = identity is None
    if identity is None:
        user = identity_services.create_user(
            email=_email_for(config, claims),
            display_name=_display_name(config, claims),
            organisation=organisation,
            status=UserStatus.ACTIVE if config.auto_approve else UserStatus.PENDING,
        )
        identity = OidcIdentity(user=user, provider=config.slug, issuer=config.issuer, subject=claims["sub"])
        db.session.add(identity)
        db.session.flush()
        audit.record(
            "user.create",
            ip=ip,
            object_type="user",
            object_id=str(user.public_id),
            actor_label=f"(sso:{config.slug})",
            details={"method": "oidc", "provider": config.slug, "status": user.status.value},
        )
    else:
        user = identity.user
        identity.provider = config.slug
        if user.status is UserStatus.BLOCKED:
            return user, identity, False  # nothing of a blocked account changes by signing in
        user.display_name = _display_name(config, claims)
        if user.organisation_id != organisation.id:
            previous = user.organisation.code if user.organisation else ""
            user.organisation = organisation
            audit.record(
                "user.organisation",
                ip=ip,
                object_type="user",
                object_id=str(user.public_id),
                actor_label=f"(sso:{config.slug})",
                details={"from": previous, "to": organisation.code, "provider": config.slug},
            )
    _sync_roles(user, config, claims, organisation, ip=ip)
    return user, identity, created


def _scope_for(organisation: Organisation) -> tuple[ScopeType, Organisation | None]:
    if organisation.kind is OrganisationKind.SCHOOL_LOCATION:
        return ScopeType.LOCATION, organisation
    if organisation.kind is OrganisationKind.SCHOOL_BOARD:
        return ScopeType.BOARD, organisation
    return ScopeType.CITY, None


def mapped_roles(config: ProviderConfig, claims: Mapping[str, Any]) -> set[Role]:
    """The portal roles the provider's claim maps to; unmapped values are ignored."""
    if not config.role_claim:
        return set()
    value = claims.get(config.role_claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {config.roles[v] for v in values if isinstance(v, str) and v in config.roles}


def _sync_roles(
    user: User, config: ProviderConfig, claims: Mapping[str, Any], organisation: Organisation, *, ip: str
) -> None:
    """Roles from this provider follow its claim at every sign-in (a removed role is removed); roles that an
    administrator granted (another ``source``) are left alone."""
    wanted = mapped_roles(config, claims)
    scope_type, scope_organisation = _scope_for(organisation)
    scope_id = scope_organisation.id if scope_organisation is not None else None
    for assignment in list(user.role_assignments):
        if assignment.source != config.slug:
            continue
        same_scope = assignment.scope_type is scope_type and assignment.scope_organisation_id == scope_id
        if assignment.role in wanted and same_scope:
            wanted.discard(assignment.role)
        else:
            identity_services.revoke_role(assignment, actor=None, ip=ip)
    for role in sorted(wanted):
        identity_services.assign_role(
            user, role, scope_type, organisation=scope_organisation, actor=None, ip=ip, source=config.slug
        )


# --- logout ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderLogout:
    """What RP-initiated logout needs from a session, read before the session is destroyed."""

    provider: str
    id_token: str | None


def provider_logout_of(record: UserSession | None) -> ProviderLogout | None:
    if record is None or not record.oidc_provider:
        return None
    return ProviderLogout(provider=record.oidc_provider, id_token=record.oidc_id_token)


def start_provider_logout(
    registry: Registry, pending: ProviderLogout, *, browser_binding: str, now: datetime | None = None
) -> str | None:
    """After the local session ended: the provider's end-session URL with ``id_token_hint``,
    ``post_logout_redirect_uri`` and a fresh ``state`` stored server-side (R-AUTH-8); None if not possible."""
    provider = registry.get(pending.provider)
    if provider is None or provider.config is None:
        return None
    now = now or utcnow()
    state = secrets.token_urlsafe(32)
    url = provider.logout_url(id_token_hint=pending.id_token, state=state)
    if url is None:
        return None
    _purge_expired_requests(now)
    db.session.add(
        OidcAuthRequest(
            state_hash=_hash(state),
            purpose=LOGOUT,
            provider=provider.slug,
            issuer=provider.config.issuer,
            browser_hash=_hash(browser_binding),
            redirect_uri=provider.post_logout_redirect_uri,
            next_url="/auth/login",
            created_at=now,
            expires_at=now + REQUEST_LIFETIME,
        )
    )
    db.session.flush()
    return url


def complete_provider_logout(
    provider: Provider, *, state: Any, browser_binding: str | None, ip: str, now: datetime | None = None
) -> None:
    """The provider sent the browser back after logout: the ``state`` must be ours, for this browser."""
    try:
        _consume(
            state, purpose=LOGOUT, provider_slug=provider.slug, browser_binding=browser_binding, now=now or utcnow()
        )
    except OidcError as failure:
        _audit_failure("logout.provider", provider.slug, failure, ip=ip)
        raise
    audit.record("logout.provider", ip=ip, actor_label="(signed out)", details={"provider": provider.slug})


def backchannel_logout(provider: Provider, raw_token: Any, *, ip: str, now: datetime | None = None) -> int:
    """Validate a logout token and end every matching session and its sockets (R-AUTH-7). Returns how many.

    A bad token raises :class:`OidcError` (audited) and changes nothing else."""
    now = now or utcnow()
    try:
        config = _config(provider)
        claims = provider.validate_logout_token(raw_token)
        seen = db.session.scalar(
            select(OidcLogoutToken.id).where(
                OidcLogoutToken.provider == provider.slug, OidcLogoutToken.jti == claims.jti
            )
        )
        if seen is not None:
            raise OidcError("jti_replayed")
        try:
            with db.session.begin_nested():  # the unique constraint settles a concurrent duplicate
                db.session.add(
                    OidcLogoutToken(
                        provider=provider.slug,
                        jti=claims.jti,
                        received_at=now,
                        expires_at=datetime.fromtimestamp(claims.expires_at, tz=now.tzinfo),
                    )
                )
        except IntegrityError as exc:
            raise OidcError("jti_replayed") from exc
    except OidcError as failure:
        _audit_failure("logout.backchannel", provider.slug, failure, ip=ip)
        raise

    db.session.execute(delete(OidcLogoutToken).where(OidcLogoutToken.expires_at < now))
    query = select(UserSession).where(UserSession.oidc_provider == provider.slug)
    if claims.sid is not None:
        query = query.where(UserSession.oidc_sid == claims.sid)
    records: list[UserSession] = []
    if claims.sub is not None:
        identity = db.session.scalar(
            select(OidcIdentity).where(OidcIdentity.issuer == config.issuer, OidcIdentity.subject == claims.sub)
        )
        if identity is not None:
            records = list(db.session.scalars(query.where(UserSession.user_id == identity.user_id)))
    else:
        records = list(db.session.scalars(query))
    for record in records:
        db.session.delete(record)
        publish.disconnect_user_session(record.user_id, record.public_id)
    db.session.flush()
    audit.record(
        "logout.backchannel",
        ip=ip,
        actor_label=f"(sso:{provider.slug})",
        details={"provider": provider.slug, "sessions": len(records), "by_sid": claims.sid is not None},
    )
    return len(records)


# --- administration --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderOverview:
    status: ProviderStatus
    last_sign_in: datetime | None
    accounts: int
    pending: int


def provider_overview(registry: Registry, *, refresh: bool = True) -> tuple[list[ProviderOverview], int]:
    """Each provider's status (discovery reachable, last successful sign-in, accounts) and all pending accounts."""
    last = dict(
        db.session.execute(
            select(OidcIdentity.provider, func.max(OidcIdentity.last_login_at)).group_by(OidcIdentity.provider)
        ).all()
    )
    accounts = dict(
        db.session.execute(
            select(OidcIdentity.provider, func.count(OidcIdentity.id)).group_by(OidcIdentity.provider)
        ).all()
    )
    pending = dict(
        db.session.execute(
            select(OidcIdentity.provider, func.count(OidcIdentity.id))
            .join(User, User.id == OidcIdentity.user_id)
            .where(User.status == UserStatus.PENDING)
            .group_by(OidcIdentity.provider)
        ).all()
    )
    rows = [
        ProviderOverview(
            status=provider.status(refresh=refresh),
            last_sign_in=last.get(provider.slug),
            accounts=accounts.get(provider.slug, 0),
            pending=pending.get(provider.slug, 0),
        )
        for provider in registry
    ]
    pending_total = identity_services.count_users_by_status().get(UserStatus.PENDING, 0)
    return rows, pending_total
