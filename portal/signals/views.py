"""Room pages and signal pages. Thin: load (audience built into the query) → form → service → commit → redirect."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.actions import perform
from portal.core.db import commit, parse_public_id
from portal.core.errors import ValidationFailed
from portal.core.forms import SelectChoice, choices
from portal.core.i18n import error_text
from portal.core.pii import find_personal_data
from portal.core.sanitize import plain_text_to_html, rich_text_to_plain
from portal.core.security import client_ip
from portal.extensions import db, limiter
from portal.organisations.models import District, Organisation, OrganisationKind
from portal.signals import queries, services
from portal.signals.forms import ResponseForm, RoomFilterForm, SignalForm
from portal.signals.models import INVOLVED_GROUPS, Vocabulary
from portal.signals.presenter import present
from portal.signals.taxonomy import options

bp = Blueprint("signals", __name__)


def viewer() -> queries.Viewer:
    if "portal_viewer" not in g:
        g.portal_viewer = queries.viewer_for(current_user)
    return g.portal_viewer


def _label(term) -> str:
    return term.label("en" if _current_language() == "en" else "nl")


def _current_language() -> str:
    """The page's language, decided once per request (a room page asks for it for every label on every card)."""
    from portal.core.i18n import select_locale

    if "language" not in g:
        g.language = select_locale()
    return g.language


def _taxonomy_choices(vocabulary: Vocabulary, blank: str | None = None) -> list[SelectChoice]:
    return choices(((t.code, _label(t)) for t in options(vocabulary)), blank=blank)


def _schools_in(district_ids) -> list[Organisation]:
    if not district_ids:
        return []
    return list(
        db.session.scalars(
            select(Organisation)
            .where(
                Organisation.kind == OrganisationKind.SCHOOL_LOCATION,
                Organisation.district_id.in_(list(district_ids)),
                Organisation.active.is_(True),
            )
            .order_by(Organisation.name)
        )
    )


def _fill_signal_choices(form: SignalForm, v: queries.Viewer) -> None:
    categories = options(Vocabulary.CATEGORY)
    form.category.choices = choices(((c.code, _label(c)) for c in categories), blank=_("Choose a category"))
    form.subcategory.choices = choices(
        ((child.code, f"{_label(c)}: {_label(child)}") for c in categories for child in c.children),
        blank=_("No subcategory"),
    )
    form.location_type.choices = _taxonomy_choices(Vocabulary.LOCATION_TYPE, _("Choose a location"))
    form.severity.choices = _taxonomy_choices(Vocabulary.SEVERITY)
    form.weapon_type.choices = _taxonomy_choices(Vocabulary.WEAPON_TYPE, _("Not applicable"))
    form.school_measures.choices = _taxonomy_choices(Vocabulary.SCHOOL_MEASURE)
    form.themes.choices = _taxonomy_choices(Vocabulary.THEME)
    all_districts = list(db.session.scalars(select(District).where(District.active.is_(True)).order_by(District.name)))
    own_districts = [d for d in all_districts if d.id in v.district_ids]
    form.district.choices = choices((d.code, d.name) for d in own_districts)
    form.extra_districts.choices = choices((d.code, d.name) for d in all_districts)
    form.area.choices = choices(
        ((a.name, f"{d.name}: {a.name}") for d in own_districts for a in d.areas), blank=_("Not specified")
    )
    organisation = current_user.organisation
    if organisation.kind is OrganisationKind.SCHOOL_LOCATION:
        form.school_location.choices = choices([(str(organisation.public_id), organisation.name)])
        form.area.choices = choices(((a.name, a.name) for a in organisation.district.areas), blank=_("Not specified"))
    else:
        form.school_location.choices = choices(
            ((str(s.public_id), s.name) for s in _schools_in(v.district_ids)), blank=_("No particular school")
        )
    form.recipients.choices = choices(
        (o.code, o.name)
        for o in db.session.scalars(
            select(Organisation)
            .where(Organisation.active.is_(True), Organisation.kind != OrganisationKind.SCHOOL_BOARD)
            .order_by(Organisation.name)
        )
    )


def _signal_input(form: SignalForm) -> services.SignalInput:
    return services.SignalInput(
        client_key=form.client_key.data,
        occurred_on=form.occurred_on.data,
        category=form.category.data or "",
        subcategory=form.subcategory.data or "",
        location_type=form.location_type.data or "",
        severity=form.severity.data or "",
        summary=form.summary.data or "",
        daypart=form.daypart.data or "onbekend",
        details_html=plain_text_to_html(form.details.data or ""),
        school_location_id=form.school_location.data or "",
        district_code=form.district.data or "",
        area=form.area.data or "",
        involved_counts={
            g: getattr(form, f"involved_{g}").data for g in INVOLVED_GROUPS if getattr(form, f"involved_{g}").data
        },
        age_bands=form.age_bands.data or [],
        weapon_type=form.weapon_type.data or "",
        online_platform=form.online_platform.data or "",
        school_measures=form.school_measures.data or [],
        police_involved=bool(form.police_involved.data),
        report_status=form.report_status.data or "geen",
        classification=form.classification.data or "K2",
        sharing_scope=form.sharing_scope.data or "stadsdeelnetwerk",
        extra_districts=form.extra_districts.data or [],
        recipients=form.recipients.data or [],
        themes=form.themes.data or [],
        status="concept" if request.form.get("action") == "draft" else "gedeeld",
        pii_confirmation=(form.pii_reason.data or "") if form.pii_confirmed.data else "",
    )


def _attach_error(form, error: ValidationFailed) -> None:
    field_name = {"details": "details", "involved_counts": "involved_leerlingen"}.get(error.field or "", error.field)
    target = getattr(form, field_name or "", None)
    message = error_text(error, _("This value is not valid."))
    if target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), message]
    else:
        form.form_errors.append(message)


def _personal_data_found(form: SignalForm) -> list:
    """What looks like personal data, unless the poster confirmed with a reason (recorded on the signal)."""
    if form.pii_confirmed.data and form.pii_reason.data:
        return []
    return find_personal_data(f"{form.summary.data or ''}\n{form.details.data or ''}")


# --- room page ------------------------------------------------------------------------------------------------


@bp.get("/rooms/<room_id>")
@require(Permission.ROOM_READ)
@limiter.limit("60 per minute", exempt_when=lambda: not request.args.get("q"))
def room(room_id: str):
    v = viewer()
    room_obj = queries.get_room_for(v, parse_public_id(room_id))
    cursor = request.args.get("cursor") or None  # an empty cursor is the first page
    after_id = queries.decode_cursor(cursor)
    if cursor is not None and after_id is None:
        abort(400)  # a forged or mangled "older signals" link: there is no such page to show
    form = RoomFilterForm(request.args)
    form.category.choices = _taxonomy_choices(Vocabulary.CATEGORY, _("All"))
    form.location_type.choices = _taxonomy_choices(Vocabulary.LOCATION_TYPE, _("All"))
    form.severity.choices = _taxonomy_choices(Vocabulary.SEVERITY, _("All"))
    district_ids = {room_obj.district_id} if room_obj.district_id else set(v.district_ids)
    if len(v.classes_showing("school")) == len(v.visible_fields):
        schools = _schools_in(district_ids)
    else:  # this viewer does not see which school posted what: only their own school to filter on
        schools = [current_user.organisation] if current_user.organisation.is_school_location else []
    form.school.choices = choices(((str(s.public_id), s.name) for s in schools), blank=_("All"))
    signals, next_id, cards = [], None, []
    valid = form.validate()  # the errors are shown beside the fields, with status 400
    if valid:
        school_public = parse_public_id(form.school.data) if form.school.data else None
        school_id = next((s.id for s in schools if s.public_id == school_public), -1) if school_public else None
        criteria = queries.SignalFilter(
            room=room_obj,
            start=form.start.data,
            end=form.end.data,
            category=form.category.data or "",
            location_type=form.location_type.data or "",
            severity=form.severity.data or "",
            status=form.status.data or "",
            school_id=school_id,
            q=(form.q.data or "").strip(),
            after_id=after_id,
        )
        signals, next_id = queries.list_signals(v, criteria)
        # Present before the commit: committing expires the loaded rows, and presenting them afterwards reloaded
        # every signal with its themes and follow-ups one by one (three statements per card).
        cards = [present(s, v.fields_for(s)) for s in signals]
        services.record_search(current_user, ip=client_ip(), results=len(signals), searched=bool(criteria.q))
        commit()
    args = {k: val for k, val in request.args.items() if k != "cursor"}
    return render_template(
        "signals/room.html",
        room=room_obj,
        form=form,
        cards=cards,
        args=args,
        next_cursor=queries.encode_cursor(next_id) if next_id else None,
        may_post=has_permission(current_user, Permission.SIGNAL_CREATE),
    ), (200 if valid else 400)


# --- posting and editing -------------------------------------------------------------------------------------


@bp.route("/signals/new", methods=["GET", "POST"])
@require(Permission.SIGNAL_CREATE)
@limiter.limit("30 per minute", methods=["POST"])
def new():
    v = viewer()
    form = SignalForm()
    _fill_signal_choices(form, v)
    if request.method == "GET":
        form.client_key.data = uuid.uuid4().hex
        form.school_location.data = form.school_location.choices[0].value if form.school_location.choices else ""
        room_district = request.args.get("district")
        if room_district in {choice.value for choice in form.district.choices}:
            form.district.data = room_district
    findings = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit_with_rules():
            findings = _personal_data_found(form)
            if not findings:
                try:
                    result = services.create_signal(current_user, _signal_input(form), ip=client_ip())
                except ValidationFailed as error:
                    db.session.rollback()
                    _attach_error(form, error)
                else:
                    commit()
                    if result.created:
                        flash(_("Signal %(ref)s has been saved.", ref=result.signal.reference), "success")
                    return redirect(url_for("signals.detail", signal_id=result.signal.public_id))
    return render_template("signals/form.html", form=form, findings=findings, signal=None), status


@bp.route("/signals/<signal_id>/edit", methods=["GET", "POST"])
@require(Permission.SIGNAL_CREATE)
def edit(signal_id: str):
    v = viewer()
    signal = services.own_signal(current_user, parse_public_id(signal_id))
    form = SignalForm(obj=None)
    _fill_signal_choices(form, v)
    if request.method == "GET":
        _prefill(form, signal)
    findings = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit_with_rules():
            findings = _personal_data_found(form)
            if not findings:
                data = _signal_input(form)
                data.status = request.form.get("status") or signal.status.value
                try:
                    services.update_signal(current_user, signal.public_id, data, ip=client_ip())
                except ValidationFailed as error:
                    db.session.rollback()
                    _attach_error(form, error)
                else:
                    commit()
                    flash(_("The signal has been updated."), "success")
                    return redirect(url_for("signals.detail", signal_id=signal.public_id))
    return render_template("signals/form.html", form=form, findings=findings, signal=signal), status


def _prefill(form: SignalForm, signal) -> None:
    form.client_key.data = signal.client_key
    form.occurred_on.data = signal.occurred_on
    form.daypart.data = signal.daypart.value
    form.district.data = signal.district.code
    form.school_location.data = str(signal.school_location.public_id) if signal.school_location else ""
    form.area.data = signal.area.name if signal.area else ""
    form.location_type.data = signal.location_type.code
    form.category.data = signal.category.code
    form.subcategory.data = signal.subcategory.code if signal.subcategory else ""
    form.severity.data = signal.severity.code
    form.summary.data = signal.summary
    form.details.data = rich_text_to_plain(signal.details_html)
    form.weapon_type.data = signal.weapon_type.code if signal.weapon_type else ""
    form.online_platform.data = signal.online_platform or ""
    form.age_bands.data = list(signal.age_bands or [])
    form.school_measures.data = list(signal.school_measures or [])
    form.police_involved.data = signal.police_involved
    form.report_status.data = signal.report_status.value
    form.themes.data = [t.code for t in signal.themes]
    form.classification.data = signal.classification.value
    form.sharing_scope.data = signal.sharing_scope.value
    form.extra_districts.data = [d.code for d in signal.extra_districts]
    form.recipients.data = [o.code for o in signal.recipients]
    for group in INVOLVED_GROUPS:
        getattr(form, f"involved_{group}").data = (signal.involved_counts or {}).get(group)


# --- detail, responses, recognition ---------------------------------------------------------------------------


@bp.get("/signals/<signal_id>")
def detail(signal_id: str):
    v = viewer()
    signal = queries.get_visible_signal(v, parse_public_id(signal_id))
    services.record_read(current_user, signal, ip=client_ip())
    commit()
    card = present(signal, v.fields_for(signal))
    response_form = ResponseForm(client_key=uuid.uuid4().hex)
    return render_template(
        "signals/detail.html",
        signal=signal,
        card=card,
        response_form=response_form,
        own=v.is_own(signal),
        may_respond=has_permission(current_user, Permission.SIGNAL_RESPOND),
        may_edit=v.may_edit(signal),
        transitions=sorted(s.value for s in services.TRANSITIONS[signal.status]),
        related=queries.related_visible(v, signal),
    )


@bp.post("/signals/<signal_id>/responses")
@require(Permission.SIGNAL_RESPOND)
def respond(signal_id: str):
    form = ResponseForm()
    public_id = parse_public_id(signal_id)
    findings = (
        find_personal_data(form.text.data or "") if not (form.pii_confirmed.data and form.pii_reason.data) else []
    )
    if findings:
        found = ", ".join(f.text for f in findings[:5])
        flash(
            _("Your response may contain personal data (%(found)s). Edit it, or confirm with a reason.", found=found),
            "error",
        )
    elif form.validate_on_submit():
        try:
            services.add_response(
                current_user,
                public_id,
                form.kind.data,
                plain_text_to_html(form.text.data or ""),
                form.client_key.data,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            db.session.rollback()
            flash(error_text(error), "error")
        else:
            commit()
            flash(_("Your response has been added."), "success")
    else:
        flash(_("The response could not be saved: check the fields."), "error")
    return redirect(url_for("signals.detail", signal_id=signal_id) + "#responses")


@bp.post("/signals/<signal_id>/recognise")
@require(Permission.SIGNAL_RESPOND)
def recognise(signal_id: str):
    perform(
        lambda: services.recognise(current_user, parse_public_id(signal_id), ip=client_ip()),
        _("You marked this signal as recognisable."),
    )
    return redirect(url_for("signals.detail", signal_id=signal_id))


@bp.post("/signals/<signal_id>/related")
@require(Permission.SIGNAL_RESPOND)
def link_related(signal_id: str):
    perform(
        lambda: services.link_related(
            current_user, parse_public_id(signal_id), request.form.get("reference", ""), ip=client_ip()
        ),
        _("The signals are now linked."),
    )
    return redirect(url_for("signals.detail", signal_id=signal_id) + "#related")


@bp.post("/signals/<signal_id>/status")
@require(Permission.SIGNAL_CREATE)
def change_status(signal_id: str):
    perform(
        lambda: services.set_status(
            current_user, parse_public_id(signal_id), request.form.get("status", ""), ip=client_ip()
        ),
        _("The status has been changed."),
    )
    return redirect(url_for("signals.detail", signal_id=signal_id))


# --- template helpers -----------------------------------------------------------------------------------------


@bp.app_template_global()
def signal_status_label(status) -> str:
    """The status of a signal as people read it (the badge, the status history); the stored code otherwise."""
    value = getattr(status, "value", status) or ""
    return {
        "concept": _("Draft"),
        "gedeeld": _("Shared"),
        "in_behandeling": _("In progress"),
        "afgesloten": _("Closed"),
        "ingetrokken": _("Withdrawn"),
    }.get(value, value)


@bp.app_template_global()
def term_label(term: dict | None) -> str:
    if not term:
        return ""
    return term["label_en"] if _current_language() == "en" else term["label_nl"]


@bp.app_template_filter()
def date_nl(value) -> str:
    from datetime import date as date_type

    from flask_babel import format_date

    return format_date(date_type.fromisoformat(value) if isinstance(value, str) else value, "long")


@bp.app_template_filter()
def month_nl(value: str) -> str:
    from datetime import date as date_type

    from flask_babel import format_date

    return format_date(date_type.fromisoformat(f"{value}-01"), "MMMM yyyy")
