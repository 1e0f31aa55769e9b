"""Sign-in, sign-out and the user's own sessions. Thin: form → service → commit → redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.authz.decorators import public
from portal.core.db import commit, parse_public_id
from portal.core.errors import NotFound, ValidationFailed
from portal.core.i18n import error_text
from portal.core.security import client_ip, safe_next
from portal.extensions import db, limiter
from portal.identity import oidc_views, services
from portal.identity import tokens as token_services
from portal.identity.forms import ApiTokenForm, EmptyForm, LocalLoginForm
from portal.identity.web import current_session_record, sign_in, sign_out

bp = Blueprint("identity", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_ATTEMPTS"]


def _submitted_account() -> str:
    """The throttle key of the account being tried: the address exactly as the sign-in looks it up, so a variant
    spelling (case, spaces, bidi marks or control characters, which ``normalise_email`` removes) is the same key."""
    raw = request.form.get("email") or ""
    try:
        email = services.normalise_email(raw)
    except ValidationFailed:  # a NUL character: no account can match, so these attempts share one key
        email = "(invalid)"
    return "account:" + email[:254]


def _failed(response) -> bool:
    return response.status_code != 302


@bp.route("/auth/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_submitted_account, deduct_when=_failed)
def login():
    target = safe_next(request.values.get("next"), current_app)
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    form = LocalLoginForm(next=target)
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate_local(
                form.email.data,
                form.password.data,
                form.totp.data or "",
                ip=client_ip(),
                demo_mode=current_app.config["DEMO_MODE"],
            )
        except services.AuthenticationFailed as failure:
            commit()  # the failed attempt is audited
            status = 401
            if failure.reason.startswith("account_"):
                error = _("Your account is not active. Your organisation's portal administrator can help you.")
            elif failure.needs_totp:
                error = _("Enter the six-digit code from your authenticator app.")
            else:
                error = _("The e-mail address or password is incorrect.")
        else:
            sign_in(user, method="local", user_agent=request.user_agent.string)
            commit()
            return redirect(safe_next(form.next.data, current_app))
    elif request.method == "POST":
        status = 400
    return render_template("identity/login.html", form=form, error=error), status


@bp.post("/auth/logout")
def logout():
    # A session that came from an identity provider also ends there (RP-initiated logout, R-AUTH-8): what that
    # needs is read from the session record before sign_out destroys it.
    provider_logout = oidc_views.remember_provider_logout(current_session_record())
    sign_out(current_user._get_current_object())
    target = oidc_views.provider_logout_redirect(provider_logout)
    commit()
    if target:
        return redirect(target)
    flash(_("You have been signed out."), "success")
    return redirect(url_for("identity.login"))


@bp.get("/account/sessions")
def sessions():
    current = current_session_record()
    return render_template(
        "identity/sessions.html",
        sessions=services.list_sessions(current_user),
        current_id=current.public_id if current else None,
        form=EmptyForm(),
    )


@bp.post("/account/sessions/<session_id>/end")
def end_session(session_id: str):
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("identity.sessions"))
    public_id = parse_public_id(session_id)
    if public_id is None:
        raise NotFound()
    services.end_own_session(current_user, public_id, ip=client_ip())
    commit()
    flash(_("The session has been ended."), "success")
    return redirect(url_for("identity.sessions"))


# --- personal access tokens for the JSON API --------------------------------------------------------------------


def _render_tokens(form, *, secret: str | None = None, status: int = 200):
    return (
        render_template(
            "identity/tokens.html",
            tokens=token_services.list_tokens(current_user, ip=client_ip()),
            token_status=token_services.token_status,
            form=form,
            revoke_form=EmptyForm(),
            secret=secret,
        ),
        status,
    )


@bp.get("/account/tokens")
def tokens():
    response = _render_tokens(ApiTokenForm())
    commit()  # listing is audited
    return response


@bp.post("/account/tokens")
def create_token():
    """The clear token is shown once, in this response (never flashed or kept in the session)."""
    form = ApiTokenForm()
    if not form.validate_on_submit():
        response = _render_tokens(form, status=400)
        commit()
        return response
    try:
        issued = token_services.create_token(
            current_user._get_current_object(), name=form.name.data, days=form.days.data, ip=client_ip()
        )
    except ValidationFailed as error:
        db.session.rollback()
        getattr(form, error.field or "name", form.name).errors.append(error_text(error))
        response = _render_tokens(form, status=400)
        commit()
        return response
    response = _render_tokens(ApiTokenForm(formdata=None), secret=issued.secret)
    commit()
    return response


@bp.post("/account/tokens/<token_id>/revoke")
def revoke_token(token_id: str):
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("identity.tokens"))
    token_services.revoke_token(current_user, parse_public_id(token_id), ip=client_ip())
    commit()
    flash(_("The token has been revoked."), "success")
    return redirect(url_for("identity.tokens"))
