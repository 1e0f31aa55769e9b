"""Administration pages. Thin: load → authorise → form → service → commit → redirect.

Objects appear in URLs by public id only; unknown or malformed ids answer 404. Services raise ``ValidationFailed``
for rules that need the database; the message is shown at the form field it names (status 400), never a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.admin import labels
from portal.admin.forms import (
    LOCAL_TIME,
    NONE_CHOICE,
    ActionForm,
    AreaForm,
    DistrictForm,
    MemberForm,
    NewTermForm,
    OrganisationFilterForm,
    OrganisationForm,
    RoleForm,
    RoomForm,
    TermForm,
    UserFilterForm,
    UserForm,
)
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.db import commit, parse_public_id
from portal.core.errors import NotFound, ValidationFailed
from portal.core.i18n import error_text
from portal.core.security import client_ip
from portal.extensions import db
from portal.identity import queries as identity_queries
from portal.identity import services as identity_services
from portal.organisations import queries as organisation_queries
from portal.organisations import services as organisation_services
from portal.organisations.models import OrganisationKind
from portal.rooms import queries as room_queries
from portal.rooms import services as room_services
from portal.signals import taxonomy
from portal.signals.models import Vocabulary

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _labels() -> dict:
    return {"labels": labels.template_labels()}


# --- helpers ----------------------------------------------------------------------------------------------------


def _show_error(form, error: ValidationFailed) -> None:
    """Put a service's message on the field it names (or above the form), and drop the unfinished changes."""
    db.session.rollback()
    message = error_text(error, _("This change is not possible."))
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def _pick(loader, value: str | None):
    """The object a choice list's value names, or None for the empty choice."""
    return loader(parse_public_id(value)) if value else None


def _start_of_day(day: date | None) -> datetime | None:
    """A calendar day in Almere as the UTC moment it begins."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TIME).astimezone(UTC) if day else None


def _require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _organisation_choices() -> list:
    return [NONE_CHOICE] + [SelectChoice(str(o.public_id), o.name) for o in organisation_queries.all_organisations()]


def _district_choices() -> list:
    return [NONE_CHOICE] + [SelectChoice(str(d.public_id), d.name) for d in organisation_queries.list_districts()]


# --- index ------------------------------------------------------------------------------------------------------


@bp.get("/")
@require(Permission.ADMIN_ACCESS)
def index():
    return render_template("admin/index.html")


# --- organisations ----------------------------------------------------------------------------------------------


@bp.get("/organisations")
@require(Permission.ADMIN_ORGANISATIONS)
def organisations():
    form = OrganisationFilterForm(request.args)
    rows = []
    if form.validate():
        kind = OrganisationKind(form.kind.data) if form.kind.data else None
        rows = organisation_queries.list_organisations(kind, (form.q.data or "").strip())
    return render_template("admin/organisations.html", form=form, organisations=rows)


@bp.route("/organisations/new", methods=["GET", "POST"])
@require(Permission.ADMIN_ORGANISATIONS)
def organisation_new():
    return _organisation_form(None)


@bp.route("/organisations/<organisation_id>", methods=["GET", "POST"])
@require(Permission.ADMIN_ORGANISATIONS)
def organisation_edit(organisation_id: str):
    organisation = organisation_queries.organisation_by_public_id(parse_public_id(organisation_id))
    return _organisation_form(organisation)


def _organisation_data(organisation) -> dict:
    return {
        "code": organisation.code,
        "name": organisation.name,
        "kind": organisation.kind.value,
        "parent": str(organisation.parent.public_id) if organisation.parent else "",
        "district": str(organisation.district.public_id) if organisation.district else "",
        "area": str(organisation.area.public_id) if organisation.area else "",
        "sector": organisation.sector.value if organisation.sector else "",
        "levels": list(organisation.levels or []),
        "school_code": organisation.school_code or "",
        "convenant_signatory": organisation.convenant_signatory,
        "is_fictional": organisation.is_fictional,
        "active": organisation.active,
    }


def _organisation_form(organisation):
    data = _organisation_data(organisation) if organisation is not None and request.method == "GET" else None
    form = OrganisationForm(data=data)
    form.parent.choices = [
        choice
        for choice in _organisation_choices()
        if organisation is None or choice.value != str(organisation.public_id)
    ]
    form.district.choices = _district_choices()
    form.area.choices = [NONE_CHOICE] + [
        SelectChoice(str(a.public_id), a.name, optgroup=a.district.name) for a in organisation_queries.all_areas()
    ]
    status = 200
    if form.validate_on_submit():
        try:
            saved = organisation_services.save_organisation(
                organisation,
                code=form.code.data,
                name=form.name.data,
                kind=form.kind_value(),
                parent=_pick(organisation_queries.organisation_by_public_id, form.parent.data),
                district=_pick(organisation_queries.district_by_public_id, form.district.data),
                area=_pick(organisation_queries.area_by_public_id, form.area.data),
                sector=form.sector_value(),
                levels=form.levels.data,
                school_code=form.school_code.data,
                convenant_signatory=form.convenant_signatory.data,
                is_fictional=form.is_fictional.data,
                active=form.active.data,
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            commit()
            flash(_("The organisation %(name)s has been saved.", name=saved.name), "success")
            return redirect(url_for("admin.organisations"))
    if request.method == "POST":
        status = 400
    return render_template("admin/organisation_form.html", form=form, organisation=organisation), status


# --- districts and areas ----------------------------------------------------------------------------------------


@bp.get("/districts")
@require(Permission.ADMIN_ORGANISATIONS)
def districts():
    return render_template(
        "admin/districts.html",
        districts=organisation_queries.list_districts(),
        rooms_by_district=room_queries.rooms_by_district_id(),
    )


@bp.route("/districts/<district_id>", methods=["GET", "POST"])
@require(Permission.ADMIN_ORGANISATIONS)
def district_edit(district_id: str):
    district = organisation_queries.district_by_public_id(parse_public_id(district_id))
    form = DistrictForm(data={"name": district.name, "active": district.active} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            organisation_services.update_district(
                district, name=form.name.data, active=form.active.data, actor=current_user, ip=client_ip()
            )
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            commit()
            flash(_("The district has been saved."), "success")
            return redirect(url_for("admin.district_edit", district_id=district.public_id))
    status = 400 if request.method == "POST" else 200
    return _render_district(district, form=form, area_form=AreaForm(prefix="area", formdata=None), status=status)


@bp.post("/districts/<district_id>/areas")
@require(Permission.ADMIN_ORGANISATIONS)
def area_new(district_id: str):
    district = organisation_queries.district_by_public_id(parse_public_id(district_id))
    area_form = AreaForm(prefix="area")
    if area_form.validate_on_submit():
        try:
            area = organisation_services.add_area(
                district, name=area_form.name.data, kind=area_form.kind_value(), actor=current_user, ip=client_ip()
            )
        except ValidationFailed as error:
            _show_error(area_form, error)
        else:
            commit()
            flash(_("The area %(name)s has been added.", name=area.name), "success")
            return redirect(url_for("admin.district_edit", district_id=district.public_id))
    form = DistrictForm(formdata=None, data={"name": district.name, "active": district.active})
    return _render_district(district, form=form, area_form=area_form, status=400)


def _render_district(district, *, form, area_form, status: int):
    return (
        render_template(
            "admin/district.html",
            district=district,
            form=form,
            area_form=area_form,
            rooms=room_queries.rooms_by_district_id().get(district.id, []),
        ),
        status,
    )


# --- rooms and memberships --------------------------------------------------------------------------------------


@bp.get("/rooms")
@require(Permission.ADMIN_ROOMS)
def rooms():
    return render_template("admin/rooms.html", rooms=room_queries.rooms_with_member_counts())


@bp.route("/rooms/new", methods=["GET", "POST"])
@require(Permission.ADMIN_ROOMS)
def room_new():
    form = RoomForm()
    form.district.choices = _district_choices()
    if form.validate_on_submit():
        try:
            room = room_services.open_room(
                code=form.code.data,
                name=form.name.data,
                kind=form.kind_value(),
                district=_pick(organisation_queries.district_by_public_id, form.district.data),
                meetings_per_year=form.meetings_per_year.data,
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
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
                valid_until=_start_of_day(form.valid_until.data),
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
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
    _require_action_form()
    if membership.revoked_at is not None:
        flash(_("This membership had already been revoked."), "info")
    else:
        room_services.revoke_member(membership, actor=current_user, ip=client_ip())
        commit()
        flash(_("The membership of %(name)s has been revoked.", name=membership.user.display_name), "success")
    return redirect(url_for("admin.room_detail", room_id=room.public_id))


# --- users and roles --------------------------------------------------------------------------------------------


@bp.get("/users")
@require(Permission.ADMIN_USERS)
def users():
    form = UserFilterForm(request.args)
    page = None
    if form.validate():
        page = identity_queries.list_users(
            form.status_value(), (form.q.data or "").strip(), page=request.args.get("page", 1, type=int)
        )
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
            _show_error(form, error)
        else:
            commit()
            flash(_("The account of %(name)s has been created.", name=user.display_name), "success")
            return redirect(url_for("admin.user_detail", user_id=user.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form), status


def _role_form(formdata=True) -> RoleForm:
    form = RoleForm() if formdata else RoleForm(formdata=None)
    form.scope_organisation.choices = _organisation_choices()
    form.scope_district.choices = _district_choices()
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


def _change_status(user_id: str, change, done):
    """Approve, block or unblock: the service checks the transition; blocking ends every session and socket."""
    user = identity_queries.user_by_public_id(parse_public_id(user_id))
    _require_action_form()
    try:
        change(user, actor=current_user, ip=client_ip())
    except ValidationFailed as error:
        db.session.rollback()
        return _render_user(user, _role_form(formdata=False), status=400, status_error=error_text(error))
    commit()
    flash(done(user.display_name), "success")
    return redirect(url_for("admin.user_detail", user_id=user.public_id))


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
                organisation=_pick(organisation_queries.organisation_by_public_id, form.scope_organisation.data),
                district=_pick(organisation_queries.district_by_public_id, form.scope_district.data),
                valid_from=_start_of_day(form.valid_from.data),
                valid_until=_start_of_day(form.valid_until.data),
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
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
    _require_action_form()
    try:
        identity_services.withdraw_role(assignment, actor=current_user, ip=client_ip())
    except ValidationFailed as error:
        db.session.rollback()
        return _render_user(user, _role_form(formdata=False), status=400, status_error=error_text(error))
    commit()
    flash(_("The role has been revoked."), "success")
    return redirect(url_for("admin.user_detail", user_id=user.public_id))


# --- taxonomy ---------------------------------------------------------------------------------------------------


def _vocabulary(value: str) -> Vocabulary:
    try:
        return Vocabulary(value)
    except ValueError:
        raise NotFound("Unknown list.") from None


@bp.get("/taxonomy")
@require(Permission.ADMIN_TAXONOMY)
def taxonomy_index():
    return render_template("admin/taxonomy.html")


def _new_term_form(vocabulary: Vocabulary, formdata=True) -> NewTermForm:
    form = NewTermForm(prefix="new") if formdata else NewTermForm(prefix="new", formdata=None)
    form.parent.choices = [NONE_CHOICE] + [
        SelectChoice(str(t.public_id), t.label_nl) for t in taxonomy.parent_terms(vocabulary)
    ]
    return form


def _render_vocabulary(vocabulary: Vocabulary, form: NewTermForm, status: int = 200):
    return (
        render_template(
            "admin/vocabulary.html",
            vocabulary=vocabulary,
            terms=taxonomy.terms(vocabulary, include_inactive=True),
            form=form,
            has_parents=vocabulary is Vocabulary.CATEGORY,
        ),
        status,
    )


@bp.get("/taxonomy/<vocabulary>")
@require(Permission.ADMIN_TAXONOMY)
def vocabulary_terms(vocabulary: str):
    chosen = _vocabulary(vocabulary)
    return _render_vocabulary(chosen, _new_term_form(chosen, formdata=False))


@bp.post("/taxonomy/<vocabulary>")
@require(Permission.ADMIN_TAXONOMY)
def term_new(vocabulary: str):
    chosen = _vocabulary(vocabulary)
    form = _new_term_form(chosen)
    if form.validate_on_submit():
        try:
            term = taxonomy.add_term(
                chosen,
                code=form.code.data,
                label_nl=form.label_nl.data,
                label_en=form.label_en.data or "",
                parent=_pick(taxonomy.term_by_public_id, form.parent.data),
                position=form.position.data,
                active=form.active.data,
                description=form.description.data or "",
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            commit()
            flash(_("The term %(label)s has been added.", label=term.label_nl), "success")
            return redirect(url_for("admin.vocabulary_terms", vocabulary=chosen.value))
    return _render_vocabulary(chosen, form, status=400)


@bp.route("/taxonomy/terms/<term_id>", methods=["GET", "POST"])
@require(Permission.ADMIN_TAXONOMY)
def term_edit(term_id: str):
    term = taxonomy.term_by_public_id(parse_public_id(term_id))
    data = None
    if request.method == "GET":
        data = {
            "label_nl": term.label_nl,
            "label_en": term.label_en,
            "description": term.description,
            "position": term.position,
            "active": term.active,
        }
    form = TermForm(data=data)
    if form.validate_on_submit():
        try:
            taxonomy.save_term(
                term,
                vocabulary=term.vocabulary,
                code=term.code,
                label_nl=form.label_nl.data,
                label_en=form.label_en.data or "",
                parent=term.parent,
                position=form.position.data,
                active=form.active.data,
                description=form.description.data or "",
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            commit()
            flash(_("The term has been saved."), "success")
            return redirect(url_for("admin.vocabulary_terms", vocabulary=term.vocabulary.value))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/term.html", term=term, form=form), status
