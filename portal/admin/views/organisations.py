"""Administration of organisations: the filtered list, and one form to create or edit an organisation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.admin.forms import NONE_CHOICE, OrganisationFilterForm, OrganisationForm
from portal.admin.views.blueprint import bp
from portal.admin.views.shared import district_choices, organisation_choices, pick, show_error
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.db import commit, parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.security import client_ip
from portal.organisations import queries as organisation_queries
from portal.organisations import services as organisation_services
from portal.organisations.models import OrganisationKind


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
        for choice in organisation_choices()
        if organisation is None or choice.value != str(organisation.public_id)
    ]
    form.district.choices = district_choices()
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
                parent=pick(organisation_queries.organisation_by_public_id, form.parent.data),
                district=pick(organisation_queries.district_by_public_id, form.district.data),
                area=pick(organisation_queries.area_by_public_id, form.area.data),
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
            show_error(form, error)
        else:
            commit()
            flash(_("The organisation %(name)s has been saved.", name=saved.name), "success")
            return redirect(url_for("admin.organisations"))
    if request.method == "POST":
        status = 400
    return render_template("admin/organisation_form.html", form=form, organisation=organisation), status
