"""Meeting pages. Thin: load (room membership built into the query) → form → service → commit → redirect.

A refused step (a status change that is not possible now, a save over a newer version) answers with its status
(409 or 400) and a page that says why; a personal-data finding re-shows the form with the warning (400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core import pdf
from portal.core.db import commit, parse_public_id, utcnow
from portal.core.errors import Conflict, DomainError, ValidationFailed
from portal.core.forms import choices
from portal.core.i18n import error_text, select_locale
from portal.core.pii import find_personal_data
from portal.core.ratelimits import export_limit
from portal.core.sanitize import plain_text_to_html, rich_text_to_plain
from portal.core.security import client_ip, wants_json
from portal.extensions import db, limiter
from portal.meetings import actions, contributions, exports, guards, presenter, queries, services, trend_report, trends
from portal.meetings import agenda as agenda_services  # aliased: the views `agenda` and `minutes` would shadow
from portal.meetings import minutes as minutes_services
from portal.meetings.forms import (
    MEETING_KINDS,
    ActionForm,
    ActionUpdateForm,
    AgendaItemForm,
    AttendanceForm,
    CommentForm,
    MeetingForm,
    MinutesForm,
    NarrativeForm,
    PartnerPictureForm,
    SchoolInputForm,
)
from portal.meetings.models import Meeting, MeetingStatus
from portal.signals import queries as signal_queries
from portal.signals.models import Vocabulary
from portal.signals.taxonomy import options

bp = Blueprint("meetings", __name__)
LOCAL = ZoneInfo("Europe/Amsterdam")
REFERENCE = re.compile(r"SIG-\d{4}-\d{1,6}", re.IGNORECASE)


# --- helpers ----------------------------------------------------------------------------------------------------


def _language() -> str:
    return select_locale()


def _label(term) -> str:
    return term.label("en" if _language() == "en" else "nl")


def _meeting(meeting_id: str) -> Meeting:
    return queries.meeting_for(current_user, parse_public_id(meeting_id))


def _refused(meeting: Meeting | None, error: DomainError):
    """The step was refused: say why, with the error's status (409 conflict, 400 invalid)."""
    db.session.rollback()
    message = error_text(error, _("This is not possible now."))
    if wants_json():
        return jsonify(ok=False, error=error.code, message=message), error.status
    back = url_for("meetings.detail", meeting_id=meeting.public_id) if meeting is not None else url_for("main.home")
    return render_template("meetings/refused.html", meeting=meeting, message=message, back=back), error.status


def _step(meeting: Meeting, action: Callable[[], object], *, success: str | None, then: str):
    """A button-style step of the meeting workflow: ``portal.core.actions.perform``'s shape (run the service, commit
    once, flash, redirect), except that a refused step is not flashed: it answers with its status (400 invalid,
    409 not possible now) and the refused page, or JSON for a fetch request (``_refused``)."""
    try:
        action()
    except (ValidationFailed, Conflict) as error:
        return _refused(meeting, error)
    commit()
    if success:
        flash(success, "success")
    return redirect(then)


def _attach(form, error: ValidationFailed) -> None:
    target = getattr(form, error.field or "", None)
    message = error_text(error, _("This value is not valid."))
    if target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), message]
    else:
        form.form_errors.append(message)


def _findings(form, *texts: str) -> list:
    if form.pii_confirmed.data:
        return []
    return find_personal_data("\n".join(t or "" for t in texts))


def _references(text: str) -> list[str]:
    return [m.upper() for m in REFERENCE.findall(text or "")]


def _context(meeting: Meeting) -> dict:
    return {"meeting": meeting, "room": meeting.room, "access": queries.meeting_access(current_user, meeting)}


def _to_utc(day, time) -> datetime:
    return datetime.combine(day, time, tzinfo=LOCAL).astimezone(ZoneInfo("UTC"))


# --- rooms: list, new meeting, action list ----------------------------------------------------------------------


@bp.get("/rooms/<room_id>/meetings")
@require(Permission.MEETING_READ)
def room_meetings(room_id: str):
    room = queries.room_for(current_user, parse_public_id(room_id))
    return render_template(
        "meetings/list.html",
        room=room,
        meetings=queries.meetings_of_room(room),
        access=queries.access_for(current_user, room),
        reminders=queries.reminders(current_user, room),
        kinds=MEETING_KINDS,
    )


@bp.get("/meetings/invitations")
@require(Permission.MEETING_READ)
def invitations():
    """The meetings the user or their organisation is invited to, across rooms (guests have no room page)."""
    return render_template("meetings/invitations.html", meetings=queries.invitations(current_user), kinds=MEETING_KINDS)


def _fill_meeting_form(form: MeetingForm, room) -> None:
    kinds = services.KINDS_BY_ROOM[room.kind]
    form.kind.choices = choices((k.value, MEETING_KINDS[k.value]) for k in kinds)
    people = choices(((str(u.public_id), u.display_name) for u in queries.managers(room)), blank=_("Not yet chosen"))
    form.chair.choices = people
    form.secretary.choices = people
    organisations, users = queries.invitable(room)
    form.invited_organisations.choices = choices((str(o.public_id), o.name) for o in organisations)
    form.invited_users.choices = choices((str(u.public_id), f"{u.display_name} ({u.organisation.name})") for u in users)


def _meeting_input(form: MeetingForm) -> services.MeetingInput:
    return services.MeetingInput(
        kind=form.kind.data or "",
        title=form.title.data or "",
        scheduled_at=_to_utc(form.date.data, form.time.data),
        duration_min=form.duration_min.data,
        place=form.place.data or "",
        online_url=form.online_url.data or "",
        chair_id=form.chair.data or "",
        secretary_id=form.secretary.data or "",
        invited_organisations=form.invited_organisations.data or [],
        invited_users=form.invited_users.data or [],
    )


@bp.route("/rooms/<room_id>/meetings/new", methods=["GET", "POST"])
@require(Permission.MEETING_READ)
def new_meeting(room_id: str):
    room = queries.room_for(current_user, parse_public_id(room_id))
    guards.require_manage(current_user, room)  # PermissionDenied: 403, audited
    form = MeetingForm()
    _fill_meeting_form(form, room)
    status = 200
    if request.method == "GET":
        form.kind.data = form.kind.choices[0].value
        form.title.data = f"{MEETING_KINDS[form.kind.data]} {room.name}"
        form.chair.data = str(current_user.public_id)
        form.invited_organisations.data = [choice.value for choice in form.invited_organisations.choices]
    elif form.validate_on_submit():
        try:
            meeting = services.create_meeting(current_user, room, _meeting_input(form), ip=client_ip())
        except ValidationFailed as error:
            db.session.rollback()
            _attach(form, error)
            status = 400
        else:
            commit()
            flash(_("The meeting has been planned."), "success")
            return redirect(url_for("meetings.detail", meeting_id=meeting.public_id))
    else:
        status = 400
    return render_template("meetings/form.html", form=form, room=room, meeting=None), status


@bp.get("/rooms/<room_id>/actions")
@require(Permission.MEETING_READ)
def room_actions(room_id: str):
    room = queries.room_for(current_user, parse_public_id(room_id))
    return render_template(
        "meetings/actions.html",
        room=room,
        actions=queries.actions_of_room(room),
        access=queries.access_for(current_user, room),
        update_form=ActionUpdateForm(),
        owns=lambda action: actions.owns_action(current_user, action),
        today=utcnow().date(),
    )


# --- one meeting ------------------------------------------------------------------------------------------------


@bp.get("/meetings/<meeting_id>")
@require(Permission.MEETING_READ)
def detail(meeting_id: str):
    meeting = _meeting(meeting_id)
    context = _context(meeting)
    attendance_form = AttendanceForm()
    attendance = queries.attendance(meeting)
    attendance_form.present.choices = choices(
        (str(p.public_id), f"{p.display_name} ({p.organisation.name})") for p in queries.participants(meeting)
    )
    attendance_form.present.data = [str(a.user.public_id) for a in attendance if a.present]
    action_form = ActionForm()
    _fill_action_form(action_form, meeting)
    inputs = [] if context["access"].guest else queries.school_inputs(meeting)
    visible = queries.visible_signal_ids(
        signal_queries.viewer_for(current_user), {s.id for entry in inputs for s in entry.signals}
    )
    return render_template(
        "meetings/detail.html",
        **context,
        transitions=services.TRANSITIONS[meeting.status],
        chair_step=services.may_chair_step(current_user, meeting),
        attendance=attendance,
        attendance_form=attendance_form,
        actions=queries.actions_of_meeting(meeting),
        action_form=action_form,
        update_form=ActionUpdateForm(),
        owns=lambda action: actions.owns_action(current_user, action),
        inputs=inputs,
        visible_signals=visible,
        pictures=[] if context["access"].guest else queries.partner_pictures(meeting),
        own_input=queries.school_input_of(meeting, current_user.organisation_id),
        kinds=MEETING_KINDS,
    )


@bp.route("/meetings/<meeting_id>/edit", methods=["GET", "POST"])
@require(Permission.MEETING_READ)
def edit(meeting_id: str):
    meeting = _meeting(meeting_id)
    guards.require_manage(current_user, meeting)  # PermissionDenied: 403, audited
    form = MeetingForm()
    _fill_meeting_form(form, meeting.room)
    status = 200
    if request.method == "GET":
        local = meeting.scheduled_at.astimezone(LOCAL)
        form.kind.data, form.title.data = meeting.kind.value, meeting.title
        form.date.data, form.time.data = local.date(), local.time().replace(second=0, microsecond=0)
        form.duration_min.data, form.place.data, form.online_url.data = (
            meeting.duration_min,
            meeting.place,
            meeting.online_url,
        )
        form.chair.data = str(meeting.chair.public_id) if meeting.chair else ""
        form.secretary.data = str(meeting.secretary.public_id) if meeting.secretary else ""
        form.invited_organisations.data = [str(i.organisation.public_id) for i in meeting.invitees if i.organisation]
        form.invited_users.data = [str(i.user.public_id) for i in meeting.invitees if i.user]
    elif form.validate_on_submit():
        try:
            services.update_meeting(current_user, meeting, _meeting_input(form), ip=client_ip())
        except ValidationFailed as error:
            db.session.rollback()
            _attach(form, error)
            status = 400
        except Conflict as error:
            return _refused(meeting, error)
        else:
            commit()
            flash(_("The meeting has been updated."), "success")
            return redirect(url_for("meetings.detail", meeting_id=meeting.public_id))
    else:
        status = 400
    return render_template("meetings/form.html", form=form, room=meeting.room, meeting=meeting), status


@bp.post("/meetings/<meeting_id>/status")
@require(Permission.MEETING_READ)
def change_status(meeting_id: str):
    meeting = _meeting(meeting_id)
    return _step(
        meeting,
        lambda: services.change_status(current_user, meeting, request.form.get("status", ""), ip=client_ip()),
        success=_("The meeting status has been changed."),
        then=url_for("meetings.detail", meeting_id=meeting.public_id),
    )


@bp.post("/meetings/<meeting_id>/attendance")
@require(Permission.MEETING_READ)
def attendance(meeting_id: str):
    meeting = _meeting(meeting_id)
    return _step(
        meeting,
        lambda: actions.record_attendance(current_user, meeting, request.form.getlist("present"), ip=client_ip()),
        success=_("Attendance has been recorded."),
        then=url_for("meetings.detail", meeting_id=meeting.public_id) + "#attendance",
    )


# --- agenda -----------------------------------------------------------------------------------------------------


def _fill_item_form(form: AgendaItemForm, meeting: Meeting) -> None:
    form.kind.choices = choices((t.code, _label(t)) for t in options(Vocabulary.AGENDA_ITEM_KIND))
    form.owner.choices = choices(
        (
            (str(m.user.public_id), f"{m.user.display_name} ({m.user.organisation.name})")
            for m in queries.members(meeting.room)
        ),
        blank=_("Nobody in particular"),
    )
    form.themes.choices = choices((t.code, _label(t)) for t in options(Vocabulary.THEME))


def _item_input(form: AgendaItemForm) -> agenda_services.ItemInput:
    return agenda_services.ItemInput(
        kind=form.kind.data or "",
        title=form.title.data or "",
        duration_min=form.duration_min.data,
        description_html=plain_text_to_html(form.description.data or ""),
        owner_id=form.owner.data or "",
        signal_references=_references(form.signals.data),
        themes=form.themes.data or [],
    )


def _agenda_page(meeting: Meeting, form: AgendaItemForm, findings=(), status: int = 200):
    items = queries.agenda(meeting)
    viewer = signal_queries.viewer_for(current_user)
    visible = queries.visible_signal_ids(viewer, {s.id for i in items for s in i.signals})
    return (
        render_template(
            "meetings/agenda.html",
            **_context(meeting),
            items=items,
            visible_signals=visible,
            total=sum(i.duration_min for i in items if i.accepted),
            form=form,
            findings=findings,
            chair_step=services.may_chair_step(current_user, meeting),
        ),
        status,
    )


@bp.get("/meetings/<meeting_id>/agenda")
@require(Permission.MEETING_READ)
def agenda(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = AgendaItemForm()
    _fill_item_form(form, meeting)
    form.kind.data = "thema"
    return _agenda_page(meeting, form)


@bp.post("/meetings/<meeting_id>/agenda/items")
@require(Permission.MEETING_READ)
def propose(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = AgendaItemForm()
    _fill_item_form(form, meeting)
    if not form.validate_on_submit():
        return _agenda_page(meeting, form, status=400)
    findings = _findings(form, form.title.data, form.description.data)
    if findings:
        return _agenda_page(meeting, form, findings, status=400)
    try:
        item = agenda_services.propose_item(current_user, meeting, _item_input(form), ip=client_ip())
    except ValidationFailed as error:
        db.session.rollback()
        _attach(form, error)
        return _agenda_page(meeting, form, status=400)
    except Conflict as error:
        return _refused(meeting, error)
    commit()
    flash(_("The item has been added.") if item.accepted else _("Your proposal has been sent to the chair."), "success")
    return redirect(url_for("meetings.agenda", meeting_id=meeting.public_id) + f"#item-{item.public_id}")


@bp.route("/meetings/<meeting_id>/agenda/items/<item_id>/edit", methods=["GET", "POST"])
@require(Permission.MEETING_READ)
def edit_item(meeting_id: str, item_id: str):
    meeting = _meeting(meeting_id)
    item = queries.item_in(meeting, parse_public_id(item_id))
    guards.require_manage(current_user, meeting)  # PermissionDenied: 403, audited
    form = AgendaItemForm()
    _fill_item_form(form, meeting)
    viewer = signal_queries.viewer_for(current_user)
    visible = queries.visible_signal_ids(viewer, {s.id for s in item.signals})
    findings, status = [], 200
    if request.method == "GET":
        form.kind.data, form.title.data, form.duration_min.data = item.kind.code, item.title, item.duration_min
        form.owner.data = str(item.owner.public_id) if item.owner else ""
        form.description.data = rich_text_to_plain(item.description_html)
        form.signals.data = " ".join(s.reference for s in item.signals if s.id in visible)
        form.themes.data = [t.code for t in item.themes]
    elif form.validate_on_submit():
        findings = _findings(form, form.title.data, form.description.data)
        if not findings:
            try:
                agenda_services.update_item(current_user, meeting, item, _item_input(form), ip=client_ip())
            except ValidationFailed as error:
                db.session.rollback()
                _attach(form, error)
            except Conflict as error:
                return _refused(meeting, error)
            else:
                commit()
                flash(_("The item has been changed."), "success")
                return redirect(url_for("meetings.agenda", meeting_id=meeting.public_id) + f"#item-{item.public_id}")
        status = 400
    else:
        status = 400
    return render_template(
        "meetings/item_form.html", **_context(meeting), item=item, form=form, findings=findings
    ), status


@bp.post("/meetings/<meeting_id>/agenda/items/<item_id>/decision")
@require(Permission.MEETING_READ)
def decide(meeting_id: str, item_id: str):
    meeting = _meeting(meeting_id)
    item = queries.item_in(meeting, parse_public_id(item_id))
    accept = request.form.get("decision") == "accept"
    return _step(
        meeting,
        lambda: agenda_services.decide_item(current_user, meeting, item, accept, ip=client_ip()),
        success=_("The item is on the agenda.") if accept else _("The item has been removed."),
        then=url_for("meetings.agenda", meeting_id=meeting.public_id),
    )


@bp.post("/meetings/<meeting_id>/agenda/items/<item_id>/move")
@require(Permission.MEETING_READ)
def move(meeting_id: str, item_id: str):
    meeting = _meeting(meeting_id)
    item = queries.item_in(meeting, parse_public_id(item_id))
    return _step(
        meeting,
        lambda: agenda_services.move_item(
            current_user, meeting, item, request.form.get("direction", ""), ip=client_ip()
        ),
        success=None,  # the moved item is in view at its new place
        then=url_for("meetings.agenda", meeting_id=meeting.public_id) + f"#item-{item.public_id}",
    )


@bp.post("/meetings/<meeting_id>/agenda/order")
@require(Permission.MEETING_READ)
def reorder(meeting_id: str):
    """The new order from drag-and-drop (fetch with the CSRF header, JSON body) or a form (``order`` fields)."""
    meeting = _meeting(meeting_id)
    payload = request.get_json(silent=True) if request.is_json else None
    ordered = payload.get("order") if isinstance(payload, dict) else request.form.getlist("order")
    if not isinstance(ordered, list) or not all(isinstance(v, str) for v in ordered):
        return _refused(meeting, ValidationFailed("The new order must list every agenda item once."))
    try:
        agenda_services.reorder(current_user, meeting, ordered, ip=client_ip())
    except (ValidationFailed, Conflict) as error:
        return _refused(meeting, error)
    commit()
    if wants_json() or request.is_json:
        return jsonify(ok=True, agenda=presenter.agenda_summary(meeting))
    return redirect(url_for("meetings.agenda", meeting_id=meeting.public_id))


# --- call for input ---------------------------------------------------------------------------------------------


@bp.route("/meetings/<meeting_id>/input", methods=["GET", "POST"])
@require(Permission.MEETING_SCHOOL_INPUT)
def school_input(meeting_id: str):
    meeting = _meeting(meeting_id)
    existing = queries.school_input_of(meeting, current_user.organisation_id)
    form = SchoolInputForm()
    findings, status = [], 200
    if request.method == "GET" and existing is not None:
        form.concern_1.data, form.concern_2.data, form.concern_3.data = (
            existing.concern_1,
            existing.concern_2,
            existing.concern_3,
        )
        form.signals.data = " ".join(s.reference for s in existing.signals)
        form.help_needed.data = rich_text_to_plain(existing.help_needed_html)
    elif request.method == "POST":
        status = 400
        if form.validate_on_submit():
            concerns = [form.concern_1.data, form.concern_2.data, form.concern_3.data]
            findings = _findings(form, *concerns, form.help_needed.data)
            if not findings:
                data = contributions.SchoolInputData(
                    concerns=concerns,
                    signal_references=_references(form.signals.data),
                    help_needed_html=plain_text_to_html(form.help_needed.data or ""),
                )
                try:
                    contributions.submit_school_input(current_user, meeting, data, ip=client_ip())
                except ValidationFailed as error:
                    db.session.rollback()
                    _attach(form, error)
                except Conflict as error:
                    return _refused(meeting, error)
                else:
                    commit()
                    flash(_("Thank you: your school's input has been saved."), "success")
                    return redirect(url_for("meetings.detail", meeting_id=meeting.public_id) + "#input")
    return render_template("meetings/input.html", **_context(meeting), form=form, findings=findings), status


@bp.route("/meetings/<meeting_id>/picture", methods=["GET", "POST"])
@require(Permission.MEETING_PARTNER_PICTURE)
def partner_picture(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = PartnerPictureForm()
    own_kind = contributions.partner_kind_for(current_user.organisation).value
    form.kind.choices = [c for c in form.kind.choices if c.value == own_kind]  # the service refuses the others
    findings, status = [], 200
    if request.method == "GET":
        form.kind.data = own_kind
        existing = queries.partner_picture_of(meeting, current_user.organisation_id, form.kind.data)
        if existing is not None:
            form.body.data = rich_text_to_plain(existing.body_html)
    else:
        status = 400
        if form.validate_on_submit():
            findings = _findings(form, form.body.data)
            if not findings:
                try:
                    contributions.submit_partner_picture(
                        current_user, meeting, form.kind.data, plain_text_to_html(form.body.data), ip=client_ip()
                    )
                except ValidationFailed as error:
                    db.session.rollback()
                    _attach(form, error)
                except Conflict as error:
                    return _refused(meeting, error)
                else:
                    commit()
                    flash(_("Thank you: your picture has been saved."), "success")
                    return redirect(url_for("meetings.detail", meeting_id=meeting.public_id) + "#input")
    return render_template("meetings/picture.html", **_context(meeting), form=form, findings=findings), status


# --- trend report -----------------------------------------------------------------------------------------------


def _threshold() -> int:
    from flask import current_app

    return int(current_app.config["SUPPRESSION_THRESHOLD"])


def _trend_view(meeting: Meeting):
    report = queries.trend_report(meeting)
    view = trends.present(report.data, _threshold()) if report is not None else {}
    return report, view


@bp.route("/meetings/<meeting_id>/trend", methods=["GET", "POST"])
@require(Permission.MEETING_READ)
def trend(meeting_id: str):
    meeting = _meeting(meeting_id)
    report, view = _trend_view(meeting)
    form = NarrativeForm()
    findings, status = [], 200
    if request.method == "GET" and report is not None:
        form.narrative.data = rich_text_to_plain(report.narrative_html)
    elif request.method == "POST":
        status = 400
        if form.validate_on_submit():
            findings = _findings(form, form.narrative.data)
            if not findings:
                try:
                    trend_report.save_narrative(
                        current_user, meeting, plain_text_to_html(form.narrative.data or ""), ip=client_ip()
                    )
                except ValidationFailed as error:
                    db.session.rollback()
                    _attach(form, error)
                except Conflict as error:
                    return _refused(meeting, error)
                else:
                    commit()
                    flash(_("The narrative has been saved."), "success")
                    return redirect(url_for("meetings.trend", meeting_id=meeting.public_id))
    return render_template(
        "meetings/trend.html",
        **_context(meeting),
        report=report,
        view=view,
        chart=trends.chart(view),
        pictures=queries.partner_pictures(meeting),
        form=form,
        findings=findings,
        language=_language(),
    ), status


@bp.post("/meetings/<meeting_id>/trend/generate")
@require(Permission.MEETING_READ)
@limiter.limit("20 per minute")
def generate_trend(meeting_id: str):
    meeting = _meeting(meeting_id)
    return _step(
        meeting,
        lambda: trend_report.generate_trend_report(current_user, meeting, ip=client_ip()),
        success=_("The trend report has been generated."),
        then=url_for("meetings.trend", meeting_id=meeting.public_id),
    )


@bp.get("/meetings/<meeting_id>/trend.json")
@require(Permission.MEETING_READ)
def trend_json(meeting_id: str):
    """The trend report's figures, suppressed exactly as on the page."""
    meeting = _meeting(meeting_id)
    report, view = _trend_view(meeting)
    if report is None:
        return jsonify(ok=False, error="not_generated"), 404
    return jsonify(ok=True, meeting=str(meeting.public_id), generated_at=report.generated_at.isoformat(), report=view)


# --- minutes ----------------------------------------------------------------------------------------------------


def _minutes_page(meeting: Meeting, form: MinutesForm, findings=(), status: int = 200, version: int | None = None):
    minutes = queries.minutes(meeting)
    shown = None
    if minutes is not None and minutes.versions:
        wanted = version or minutes.current_version
        shown = next((v for v in minutes.versions if v.version == wanted), None)
        if shown is None:
            from portal.core.errors import NotFound

            raise NotFound()
    minutes_services.record_minutes_read(
        current_user, meeting, ip=client_ip(), version=shown.version if shown else None
    )
    commit()
    return (
        render_template(
            "meetings/minutes.html",
            **_context(meeting),
            minutes=minutes,
            shown=shown,
            form=form,
            comment_form=CommentForm(),
            findings=findings,
            editable=meeting.status in minutes_services.MINUTES_EDITABLE,
            chair_step=services.may_chair_step(current_user, meeting),
            attendance=queries.attendance(meeting),
            actions=queries.actions_of_meeting(meeting),
            editors=queries.editors(meeting),
        ),
        status,
    )


@bp.get("/meetings/<meeting_id>/minutes")
@require(Permission.MEETING_READ)
def minutes(meeting_id: str):
    meeting = _meeting(meeting_id)
    record = queries.minutes(meeting)
    form = MinutesForm()
    version = request.args.get("version", type=int)
    if record is not None and record.versions:
        current = record.versions[-1]
        form.body.data = rich_text_to_plain(current.body_html)
        form.base_version.data = str(record.current_version)
    return _minutes_page(meeting, form, version=version)


@bp.post("/meetings/<meeting_id>/minutes")
@require(Permission.MEETING_READ)
def save_minutes(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = MinutesForm()
    if not form.validate_on_submit():
        return _minutes_page(meeting, form, status=400)
    findings = _findings(form, form.body.data)
    if findings:
        return _minutes_page(meeting, form, findings, status=400)
    try:
        base = int(form.base_version.data or 0)
    except ValueError:
        base = -1
    try:
        minutes_services.save_minutes(
            current_user,
            meeting,
            plain_text_to_html(form.body.data or ""),
            base_version=base,
            confirmed=bool(form.pii_confirmed.data),
            ip=client_ip(),
        )
    except ValidationFailed as error:
        db.session.rollback()
        _attach(form, error)
        return _minutes_page(meeting, form, status=400)
    except Conflict as error:
        return _refused(meeting, error)
    commit()
    flash(_("The minutes have been saved."), "success")
    return redirect(url_for("meetings.minutes", meeting_id=meeting.public_id))


@bp.post("/meetings/<meeting_id>/minutes/comments")
@require(Permission.MINUTES_COMMENT)
def comment(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = CommentForm()
    if not form.validate_on_submit():
        flash(_("Write your comment."), "error")
        return redirect(url_for("meetings.minutes", meeting_id=meeting.public_id) + "#comments")
    findings = _findings(form, form.text.data)
    if findings:
        return _minutes_page(meeting, MinutesForm(formdata=None), findings, status=400)
    return _step(
        meeting,
        lambda: minutes_services.comment_minutes(
            current_user, meeting, plain_text_to_html(form.text.data), ip=client_ip()
        ),
        success=_("Your comment has been added."),
        then=url_for("meetings.minutes", meeting_id=meeting.public_id) + "#comments",
    )


# --- actions ----------------------------------------------------------------------------------------------------


def _fill_action_form(form: ActionForm, meeting: Meeting) -> None:
    form.owner_organisation.choices = choices(
        (str(o.public_id), o.name) for o in queries.member_organisations(meeting.room)
    )
    form.owner_user.choices = choices(
        (
            (str(m.user.public_id), f"{m.user.display_name} ({m.user.organisation.name})")
            for m in queries.members(meeting.room)
        ),
        blank=_("The organisation"),
    )


@bp.post("/meetings/<meeting_id>/actions")
@require(Permission.MEETING_READ)
def create_action(meeting_id: str):
    meeting = _meeting(meeting_id)
    form = ActionForm()
    _fill_action_form(form, meeting)
    if not form.validate_on_submit():
        return _refused(meeting, ValidationFailed("Fill in the action, the owner and the due date."))
    if _findings(form, form.description.data):
        return _refused(meeting, ValidationFailed("The action seems to name a person: describe it without names."))
    data = actions.ActionInput(
        description=form.description.data,
        owner_organisation_id=form.owner_organisation.data,
        owner_user_id=form.owner_user.data or "",
        due_date=form.due_date.data,
    )
    return _step(
        meeting,
        lambda: actions.create_action(current_user, meeting, data, ip=client_ip()),
        success=_("The action has been added."),
        then=url_for("meetings.detail", meeting_id=meeting.public_id) + "#actions",
    )


@bp.post("/actions/<action_id>")
@require(Permission.MEETING_READ)
def update_action(action_id: str):
    action = queries.action_for(current_user, parse_public_id(action_id))
    form = ActionUpdateForm()
    if not form.validate_on_submit():
        return _refused(action.meeting, ValidationFailed("Choose a status."))
    if request.form.get("back") == "room":
        back = url_for("meetings.room_actions", room_id=action.meeting.room.public_id)
    else:
        back = url_for("meetings.detail", meeting_id=action.meeting.public_id) + "#actions"
    return _step(
        action.meeting,
        lambda: actions.update_action(current_user, action, form.status.data, form.note.data or "", ip=client_ip()),
        success=_("The action has been updated."),
        then=back,
    )


# --- exports ----------------------------------------------------------------------------------------------------


def _pdf(meeting: Meeting, document: str, template: str, **context) -> Response:
    minutes_services.record_export(current_user, meeting, document, ip=client_ip())
    commit()
    moment = utcnow()
    html = render_template(
        template,
        meeting=meeting,
        room=meeting.room,
        classification=exports.CLASSIFICATION,
        watermark=pdf.watermark(current_user, moment),
        language=_language(),
        **context,
    )
    response = Response(pdf.render_pdf(html), mimetype="application/pdf")
    filename = f"{document}-{meeting.scheduled_at.strftime('%Y%m%d')}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/meetings/<meeting_id>/agenda.pdf")
@require(Permission.MEETING_EXPORT)
@export_limit()
def agenda_pdf(meeting_id: str):
    meeting = _meeting(meeting_id)
    items = queries.agenda(meeting)
    visible = queries.visible_signal_ids(
        signal_queries.viewer_for(current_user), {s.id for i in items for s in i.signals}
    )
    return _pdf(
        meeting,
        "agenda",
        "meetings/pdf/agenda.html",
        items=[i for i in items if i.accepted],
        visible_signals=visible,
        total=sum(i.duration_min for i in items if i.accepted),
    )


@bp.get("/meetings/<meeting_id>/trend.pdf")
@require(Permission.MEETING_EXPORT)
@export_limit()
def trend_pdf(meeting_id: str):
    meeting = _meeting(meeting_id)
    report, view = _trend_view(meeting)
    if report is None:
        return _refused(meeting, Conflict("The trend report has not been generated yet."))
    return _pdf(
        meeting,
        "trendrapport",
        "meetings/pdf/trend.html",
        report=report,
        view=view,
        chart=trends.chart(view, width=620),
        pictures=queries.partner_pictures(meeting),
    )


@bp.get("/meetings/<meeting_id>/minutes.pdf")
@require(Permission.MEETING_EXPORT)
@export_limit()
def minutes_pdf(meeting_id: str):
    meeting = _meeting(meeting_id)
    record = queries.minutes(meeting)
    if record is None or not record.versions:
        return _refused(meeting, Conflict("There are no minutes yet."))
    minutes_services.record_minutes_read(current_user, meeting, ip=client_ip(), version=record.current_version)
    return _pdf(
        meeting,
        "verslag",
        "meetings/pdf/minutes.html",
        minutes=record,
        shown=record.versions[-1],
        attendance=queries.attendance(meeting),
        actions=queries.actions_of_meeting(meeting),
    )


@bp.get("/meetings/<meeting_id>/invite.ics")
@require(Permission.MEETING_EXPORT)
@export_limit()
def invite(meeting_id: str):
    meeting = _meeting(meeting_id)
    minutes_services.record_export(current_user, meeting, "ics", ip=client_ip())
    commit()
    body = exports.ics(
        meeting,
        url=url_for("meetings.detail", meeting_id=meeting.public_id, _external=True),
        host=request.host.split(":")[0] or "portal",
        attendee=current_user,
        now=utcnow(),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="bijeenkomst-{meeting.public_id}.ics"'
    return response


@bp.app_template_global()
def meeting_status_label(status) -> str:
    value = status.value if isinstance(status, MeetingStatus) else str(status)
    return {
        "gepland": _("Planned"),
        "agenda_open": _("Agenda open for proposals"),
        "agenda_definitief": _("Agenda final"),
        "gehouden": _("Held"),
        "verslag_concept": _("Draft minutes (comment round)"),
        "verslag_vastgesteld": _("Minutes adopted"),
    }.get(value, value)


@bp.app_template_filter()
def local_time(value: datetime, fmt: str = "%d-%m-%Y %H:%M") -> str:
    return value.astimezone(LOCAL).strftime(fmt)
