"""Administration of rooms and their members: the room list, opening a room, adding and revoking members."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.admin.forms import MemberForm, RoomForm
from portal.admin.views.blueprint import bp
from portal.admin.views.shared import district_choices, pick, require_action_form, show_error
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.dates import start_of_day
from portal.core.db import commit, parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.i18n import error_text
from portal.core.security import client_ip
from portal.extensions import db
from portal.identity import queries as identity_queries
from portal.organisations import queries as organisation_queries
from portal.rooms import queries as room_queries
from portal.rooms import services as room_services


@bp.get("/rooms")
@require(Permission.ADMIN_ROOMS)
def rooms():
    return render_template("admin/rooms.html", rooms=room_queries.rooms_with_member_counts())


@bp.route("/rooms/new", methods=["GET", "POST"])
@require(Permission.ADMIN_ROOMS)
def room_new():
    form = RoomForm()
    form.district.choices = district_choices()
    if form.validate_on_submit():
        try:
            room = room_services.open_room(
                code=form.code.data,
                name=form.name.data,
                kind=form.kind_value(),
                district=pick(organisation_queries.district_by_public_id, form.district.data),
                meetings_per_year=form.meetings_per_year.data,
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("The room %(name)s has been created.", name=room.name), "success")
            return redirect(url_for("admin.room_detail", room_id=room.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/room_form.html", form=form), status


def _member_form(memberships, formdata=True) -> MemberForm:
    form = MemberForm() if formdata else MemberForm(formdata=None)
    seated = {m.user_id for m in memberships if m.is_current()}
    form.user.choices = [SelectChoice("", _("Choose a person"))] + [
        SelectChoice(str(u.public_id), f"{u.display_name} ({u.organisation.name})")
        for u in identity_queries.active_users()
        if u.id not in seated
    ]
    return form


def _render_room(room, memberships, form, status: int = 200):
    current = [m for m in memberships if m.is_current()]
    past = [m for m in memberships if not m.is_current()]
    return (
        render_template("admin/room.html", room=room, current=current, past=past, form=form),
        status,
    )


@bp.get("/rooms/<room_id>")
@require(Permission.ADMIN_ROOMS)
def room_detail(room_id: str):
    room = room_queries.room_by_public_id(parse_public_id(room_id))
    memberships = room_queries.room_memberships(room)
    return _render_room(room, memberships, _member_form(memberships, formdata=False))


@bp.post("/rooms/<room_id>/members")
@require(Permission.ADMIN_ROOMS)
def member_add(room_id: str):
    room = room_queries.room_by_public_id(parse_public_id(room_id))
    memberships = room_queries.room_memberships(room)
    form = _member_form(memberships)
    if form.validate_on_submit():
        user = identity_queries.user_by_public_id(parse_public_id(form.user.data))
        try:
            room_services.add_member(
                room,
                user,
                form.role_value(),
                valid_until=start_of_day(form.valid_until.data),
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("%(name)s has been added to the room.", name=user.display_name), "success")
            return redirect(url_for("admin.room_detail", room_id=room.public_id))
    return _render_room(room, memberships, form, status=400)


@bp.post("/rooms/<room_id>/members/<membership_id>/revoke")
@require(Permission.ADMIN_ROOMS)
def member_revoke(room_id: str, membership_id: str):
    room = room_queries.room_by_public_id(parse_public_id(room_id))
    membership = room_queries.membership_in_room(room, parse_public_id(membership_id))
    require_action_form()
    try:
        room_services.revoke_member(membership, actor=current_user, ip=client_ip())
    except ValidationFailed as error:
        # The service owns the rule; a second click on "revoke" (the only refusal) is news, not an error.
        db.session.rollback()
        flash(error_text(error), "info")
    else:
        commit()
        flash(_("The membership of %(name)s has been revoked.", name=membership.user.display_name), "success")
    return redirect(url_for("admin.room_detail", room_id=room.public_id))
