"""Single sign-on, the HTTP adapter. Thin: read the request → call ``oidc_services`` → commit once → respond.

Routes (``<slug>`` is the provider's key in ``[identity_providers.<slug>]``):

- ``GET  /auth/oidc/<slug>/login``               ``oidc.login``               public, rate limited
- ``GET  /auth/oidc/<slug>/callback``            ``oidc.callback``            public, rate limited (redirect URI)
- ``GET  /auth/oidc/<slug>/logged-out``          ``oidc.logged_out``          public (post_logout_redirect_uri)
- ``POST /auth/oidc/<slug>/backchannel-logout``  ``oidc.backchannel_logout``  public, CSRF-exempt, rate limited
"""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from portal.authz.decorators import public
from portal.core.db import commit
from portal.core.security import client_ip, safe_next
from portal.extensions import csrf, limiter
from portal.identity import oidc, oidc_services
from portal.identity.models import UserSession
from portal.identity.oidc import Provider
from portal.identity.oidc_config import OidcError
from portal.identity.web import sign_in

bp = Blueprint("oidc", __name__)

BINDING_KEY = "oidc_binding"  # a random value in the cookie session: binds pending requests to this browser
FLOW_LIMIT = "60 per minute"  # sign-in starts and callbacks per address (R-RL-1); a school shares one address
BACKCHANNEL_LIMIT = "120 per minute"  # logout tokens per address (a provider may send a burst)
_CALLBACK_PARAMS = ("state", "code", "iss", "error")


@bp.record_once
def _init(state) -> None:
    oidc.init_app(state.app)


def _provider_or_404(slug: str) -> Provider:
    provider = oidc.registry().get(slug)
    if provider is None:
        abort(404)
    return provider


def _browser_binding() -> str:
    binding = session.get(BINDING_KEY)
    if not isinstance(binding, str) or len(binding) < 32:
        binding = secrets.token_urlsafe(32)
        session[BINDING_KEY] = binding
    return binding


def _failure_page(provider: Provider, status: int, *, logout: bool = False):
    return (
        render_template("identity/oidc_error.html", provider_name=provider.display_name, logout=logout, status=status),
        status,
    )


@bp.app_context_processor
def _sign_in_options():
    def oidc_sign_in_options(next_url: str | None = None) -> list[dict]:
        """One entry per configured provider for the login page; unavailable ones are marked. Only the cached
        discovery state is read: the page never waits for a provider (``oidc.login`` checks it, 503 if down)."""
        target = next_url if next_url and next_url != "/" else None
        return [
            {
                "slug": p.slug,
                "name": p.display_name,
                "available": p.offered_for_sign_in(),
                "url": url_for("oidc.login", slug=p.slug, next=target),
            }
            for p in oidc.registry()
        ]

    return {"oidc_sign_in_options": oidc_sign_in_options}


@bp.get("/auth/oidc/<slug>/login")
@public
@limiter.limit(FLOW_LIMIT)
def login(slug: str):
    provider = _provider_or_404(slug)
    target = safe_next(request.args.get("next"), current_app)
    try:
        url = oidc_services.start_sign_in(provider, browser_binding=_browser_binding(), next_url=target, ip=client_ip())
    except OidcError:
        commit()  # the audit record
        return _failure_page(provider, 503)
    commit()
    return redirect(url)


@bp.get("/auth/oidc/<slug>/callback")
@public
@limiter.limit(FLOW_LIMIT)
def callback(slug: str):
    provider = _provider_or_404(slug)
    params = {key: request.args[key] for key in _CALLBACK_PARAMS if key in request.args}
    if any(len(request.args.getlist(key)) > 1 for key in _CALLBACK_PARAMS):
        params["error"] = "duplicate_parameter"  # RFC 6749 3.1: parameters must not be repeated
    try:
        result = oidc_services.complete_sign_in(
            provider, params, browser_binding=session.get(BINDING_KEY), ip=client_ip()
        )
    except OidcError as failure:
        commit()  # the consumed state and the audit record; nobody is signed in
        return _failure_page(provider, 503 if failure.reason == "provider_unavailable" else 400)
    except oidc_services.AccountNotActive as refused:
        commit()
        return (
            render_template(
                "identity/oidc_not_active.html",
                provider_name=provider.display_name,
                pending=refused.status.value == "pending",
                approver=refused.approver,
            ),
            403,
        )
    token = sign_in(result.user, method=f"oidc:{provider.slug}", user_agent=request.user_agent.string)
    oidc_services.attach_session(token, result)
    commit()
    return redirect(safe_next(result.next_url, current_app))


@bp.get("/auth/oidc/<slug>/logged-out")
@public
@limiter.limit(FLOW_LIMIT)
def logged_out(slug: str):
    provider = _provider_or_404(slug)
    try:
        oidc_services.complete_provider_logout(
            provider, state=request.args.get("state"), browser_binding=session.get(BINDING_KEY), ip=client_ip()
        )
    except OidcError:
        commit()
        return _failure_page(provider, 400, logout=True)
    session.pop(BINDING_KEY, None)
    commit()
    flash(_("You have been signed out of the portal and of %(name)s.", name=provider.display_name), "success")
    return redirect(url_for("identity.login"))


@bp.post("/auth/oidc/<slug>/backchannel-logout")
@csrf.exempt
@public
@limiter.limit(BACKCHANNEL_LIMIT)
def backchannel_logout(slug: str):
    """OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token; 200 or 400, never a page."""
    provider = oidc.registry().get(slug)
    if provider is None:
        return _backchannel_error()
    raw = request.form.get("logout_token") if request.mimetype == "application/x-www-form-urlencoded" else None
    try:
        oidc_services.backchannel_logout(provider, raw, ip=client_ip())
    except OidcError:
        commit()  # only the audit record
        return _backchannel_error()
    commit()
    return Response(status=200, headers={"Cache-Control": "no-store"})


def _backchannel_error():
    response = jsonify(error="invalid_request", error_description="The logout token was not accepted.")
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


# --- used by identity.views.logout (RP-initiated logout after the local sign-out) ----------------------------


def remember_provider_logout(record: UserSession | None) -> oidc_services.ProviderLogout | None:
    """Read what provider logout needs from the session record, before ``sign_out`` destroys it."""
    return oidc_services.provider_logout_of(record)


def provider_logout_redirect(pending: oidc_services.ProviderLogout | None) -> str | None:
    """After ``sign_out``: the provider's end-session URL (with a state bound to this browser), or None."""
    if pending is None:
        return None
    return oidc_services.start_provider_logout(oidc.registry(), pending, browser_binding=_browser_binding())
