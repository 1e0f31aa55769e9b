"""Sign-in, sign-out and the user's own sessions. Thin: form → service → commit → redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.authz.decorators import public
from portal.core.db import commit, parse_public_id
from portal.core.errors import NotFound
from portal.core.security import client_ip, safe_next
from portal.extensions import limiter
from portal.identity import services
from portal.identity.forms import EmptyForm, LocalLoginForm
from portal.identity.web import current_session_record, sign_in, sign_out

bp = Blueprint("identity", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_ATTEMPTS"]


def _submitted_account() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


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
    providers = current_app.config.get("IDENTITY_PROVIDERS", {})
    return render_template("identity/login.html", form=form, error=error, providers=providers), status


@bp.post("/auth/logout")
def logout():
    sign_out(current_user._get_current_object())
    commit()
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
