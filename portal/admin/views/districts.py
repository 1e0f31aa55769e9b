"""Administration of districts and their areas: the district list, a district's page and adding an area to it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.admin.forms import AreaForm, DistrictForm
from portal.admin.views.blueprint import bp
from portal.admin.views.shared import show_error
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.db import commit, parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.security import client_ip
from portal.organisations import queries as organisation_queries
from portal.organisations import services as organisation_services
from portal.rooms import queries as room_queries


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
            show_error(form, error)
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
            show_error(area_form, error)
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
