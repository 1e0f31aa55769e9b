"""Administration of users and their roles: the list, new accounts, approve/block/unblock, grant and revoke roles."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.admin.forms import RoleForm, UserFilterForm, UserForm
from portal.admin.views.blueprint import bp
from portal.admin.views.shared import (
    district_choices,
    organisation_choices,
    pick,
    require_action_form,
    show_error,
)
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.dates import start_of_day
from portal.core.db import commit, parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.i18n import error_text
from portal.core.limits import MAX_INT, bounded_int
from portal.core.security import client_ip
from portal.extensions import db
from portal.identity import queries as identity_queries
from portal.identity import services as identity_services
from portal.organisations import queries as organisation_queries
from portal.rooms import queries as room_queries


@bp.get("/users")
@require(Permission.ADMIN_USERS)
def users():
    # The page number becomes an OFFSET: bounded, so that 23 digits are a 400 rather than an overflow in the driver.
    number = bounded_int(request.args.get("page") or "1", maximum=MAX_INT // identity_queries.USER_PAGE_SIZE)
    if number is None:
        abort(400)
    form = UserFilterForm(request.args)
    page = None
    if form.validate():
        page = identity_queries.list_users(form.status_value(), (form.q.data or "").strip(), page=number)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "admin/users.html",
        form=form,
        page=page,
        args=args,
        counts=identity_services.count_users_by_status(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require(Permission.ADMIN_USERS)
def user_new():
    form = UserForm()
    form.organisation.choices = [SelectChoice("", _("Choose an organisation"))] + [
        SelectChoice(str(o.public_id), o.name) for o in organisation_queries.all_organisations() if o.active
    ]
    if form.validate_on_submit():
        try:
            user = identity_services.register_user(
                email=form.email.data,
                display_name=form.display_name.data,
                organisation=organisation_queries.organisation_by_public_id(parse_public_id(form.organisation.data)),
                job_title=form.job_title.data or "",
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("The account of %(name)s has been created.", name=user.display_name), "success")
            return redirect(url_for("admin.user_detail", user_id=user.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form), status


def _role_form(formdata=True) -> RoleForm:
    form = RoleForm() if formdata else RoleForm(formdata=None)
    form.scope_organisation.choices = organisation_choices()
    form.scope_district.choices = district_choices()
    return form


def _render_user(user, role_form, status: int = 200, status_error: str = ""):
    return (
        render_template(
            "admin/user.html",
            user=user,
            role_form=role_form,
            memberships=room_queries.all_memberships_of(user),
            status_error=status_error,
            now=datetime.now(UTC),
        ),
        status,
    )


@bp.get("/users/<user_id>")
@require(Permission.ADMIN_USERS)
def user_detail(user_id: str):
    user = identity_queries.user_by_public_id(parse_public_id(user_id))
    return _render_user(user, _role_form(formdata=False))


def _act_on_user(user, action, success: str):
    """Like ``perform``, but a refusal is shown on the user's page beside its buttons (status 400), not flashed."""
    try:
        action()
    except ValidationFailed as error:
        db.session.rollback()
        return _render_user(user, _role_form(formdata=False), status=400, status_error=error_text(error))
    commit()
    flash(success, "success")
    return redirect(url_for("admin.user_detail", user_id=user.public_id))


def _change_status(user_id: str, change, done):
    """Approve, block or unblock: the service checks the transition; blocking ends every session and socket."""
    user = identity_queries.user_by_public_id(parse_public_id(user_id))
    require_action_form()
    return _act_on_user(user, lambda: change(user, actor=current_user, ip=client_ip()), done(user.display_name))


@bp.post("/users/<user_id>/approve")
@require(Permission.ADMIN_USERS)
def user_approve(user_id: str):
    return _change_status(
        user_id, identity_services.approve_user, lambda name: _("The account of %(name)s is now active.", name=name)
    )


@bp.post("/users/<user_id>/block")
@require(Permission.ADMIN_USERS)
def user_block(user_id: str):
    return _change_status(
        user_id,
        identity_services.block_user,
        lambda name: _("The account of %(name)s is blocked and signed out everywhere.", name=name),
    )


@bp.post("/users/<user_id>/unblock")
@require(Permission.ADMIN_USERS)
def user_unblock(user_id: str):
    return _change_status(
        user_id, identity_services.unblock_user, lambda name: _("The account of %(name)s is active again.", name=name)
    )


@bp.post("/users/<user_id>/roles")
@require(Permission.ADMIN_USERS)
def role_assign(user_id: str):
    user = identity_queries.user_by_public_id(parse_public_id(user_id))
    form = _role_form()
    if form.validate_on_submit():
        try:
            identity_services.grant_role(
                user,
                form.role_value(),
                form.scope_value(),
                organisation=pick(organisation_queries.organisation_by_public_id, form.scope_organisation.data),
                district=pick(organisation_queries.district_by_public_id, form.scope_district.data),
                valid_from=start_of_day(form.valid_from.data),
                valid_until=start_of_day(form.valid_until.data),
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("The role has been assigned."), "success")
            return redirect(url_for("admin.user_detail", user_id=user.public_id))
    return _render_user(user, form, status=400)


@bp.post("/users/<user_id>/roles/<assignment_id>/revoke")
@require(Permission.ADMIN_USERS)
def role_revoke(user_id: str, assignment_id: str):
    user = identity_queries.user_by_public_id(parse_public_id(user_id))
    assignment = identity_queries.role_assignment_of(user, parse_public_id(assignment_id))
    require_action_form()
    return _act_on_user(
        user,
        lambda: identity_services.withdraw_role(assignment, actor=current_user, ip=client_ip()),
        _("The role has been revoked."),
    )
