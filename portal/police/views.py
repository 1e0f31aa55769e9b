"""The police overview, police follow-up, acute acknowledgements and the city-wide aggregate view."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.audit import services as audit
from portal.audit.models import AuditEvent
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.actions import perform
from portal.core.db import commit, parse_public_id, utcnow
from portal.core.errors import ValidationFailed
from portal.core.forms import SelectChoice, choices
from portal.core.i18n import error_text, select_locale
from portal.core.security import client_ip
from portal.extensions import db
from portal.meetings import queries as meeting_queries
from portal.organisations.models import District
from portal.police import services
from portal.police.forms import FollowUpForm, PeriodForm, PoliceFilterForm
from portal.privacy.aggregates import category_by_district
from portal.signals import queries
from portal.signals.models import SharingScope, Vocabulary
from portal.signals.presenter import present
from portal.signals.taxonomy import options
from portal.signals.views import viewer

bp = Blueprint("police", __name__)


def _taxonomy_choices(vocabulary: Vocabulary, blank: str) -> list[SelectChoice]:
    language = select_locale()
    return choices(((t.code, t.label(language)) for t in options(vocabulary)), blank=blank)


def _previous_visit() -> object | None:
    """The time of this user's previous visit to the overview, from the audit trail (no extra bookkeeping)."""
    return db.session.scalar(
        select(AuditEvent.occurred_at)
        .where(AuditEvent.actor_id == str(current_user.public_id), AuditEvent.action == "police.overview")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


@bp.get("/police")
@require(Permission.POLICE_VIEW)
def overview():
    v = viewer()
    cursor = request.args.get("cursor") or None  # an empty cursor is the first page
    after_id = queries.decode_cursor(cursor)
    if cursor is not None and after_id is None:
        abort(400)  # a forged or mangled "older signals" link: there is no such page to show
    form = PoliceFilterForm(request.args)
    districts = list(
        db.session.scalars(select(District).where(District.id.in_(list(v.district_ids))).order_by(District.name))
    )
    form.district.choices = choices(((d.code, d.name) for d in districts), blank=_("All"))
    form.category.choices = _taxonomy_choices(Vocabulary.CATEGORY, _("All"))
    form.severity.choices = _taxonomy_choices(Vocabulary.SEVERITY, _("All"))
    last_visit = _previous_visit()
    cards, next_id = [], None
    valid = form.validate()  # the errors are shown beside the fields, with status 400
    if valid:
        district_id = next((d.id for d in districts if d.code == form.district.data), None)
        criteria = queries.SignalFilter(
            start=form.start.data,
            end=form.end.data,
            category=form.category.data or "",
            severity=form.severity.data or "",
            status=form.status.data or "",
            district_id=district_id if form.district.data else None,
            police_follow_up=form.follow_up.data or "",
            q=(form.q.data or "").strip(),
            after_id=after_id,
        )
        signals, next_id = queries.list_signals(v, criteria)
        cards = [
            present(s, v.fields_for(s)) | {"is_new": bool(last_visit and s.created_at > last_visit)} for s in signals
        ]
    if cursor is None:
        audit.record(
            "police.overview",
            actor=current_user,
            ip=client_ip(),
            object_type="signal_list",
            details={"results": len(cards)},
        )
    commit()
    args = {k: val for k, val in request.args.items() if k != "cursor"}
    return render_template(
        "police/overview.html",
        form=form,
        cards=cards,
        args=args,
        last_visit=last_visit,
        next_cursor=queries.encode_cursor(next_id) if next_id else None,
    ), 200 if valid else 400


@bp.route("/signals/<signal_id>/follow-up", methods=["GET", "POST"])
@require(Permission.POLICE_FOLLOW_UP)
def follow_up(signal_id: str):
    v = viewer()
    signal = queries.get_visible_signal(v, parse_public_id(signal_id))
    form = FollowUpForm()
    form.intervention.choices = _taxonomy_choices(Vocabulary.PARTNER_INTERVENTION, _("None"))
    if form.validate_on_submit():
        try:
            services.record_follow_up(
                current_user,
                signal.public_id,
                form.status.data,
                intervention=form.intervention.data or "",
                police_reference=form.police_reference.data or "",
                ip=client_ip(),
            )
        except ValidationFailed as error:
            db.session.rollback()
            getattr(form, error.field or "status", form.status).errors = [error_text(error)]
        else:
            commit()
            flash(_("The follow-up has been recorded."), "success")
            return redirect(url_for("signals.detail", signal_id=signal.public_id))
    card = present(signal, v.fields_for(signal))
    return render_template("police/follow_up.html", form=form, card=card), 200 if request.method == "GET" else 400


@bp.post("/signals/<signal_id>/acknowledge")
@require(Permission.ACUTE_ACKNOWLEDGE)
def acknowledge(signal_id: str):
    perform(
        lambda: services.acknowledge(current_user, parse_public_id(signal_id), ip=client_ip()),
        _("Acknowledged: the room can see that the police are on it."),
    )
    return redirect(url_for("signals.detail", signal_id=signal_id))


@bp.get("/statistics")
@require(Permission.AGGREGATE_READ)
def statistics():
    """City-wide aggregates per category and district, small numbers suppressed; plus what was explicitly
    shared with the user's organisation (the only case data OM sees)."""
    form = PeriodForm(request.args)
    today = utcnow().date()
    start, end = today - timedelta(days=365), today
    valid = form.validate()  # otherwise the default year, with the errors beside the fields and status 400
    if valid:
        start, end = form.start.data or start, form.end.data or end
    table = category_by_district(start, end, language=select_locale())
    v = viewer()
    shared = []
    if v.reads_shared:
        # Filtered in SQL: people who also read rooms would otherwise lose older named shares behind room signals.
        signals, _next = queries.list_signals(v, queries.SignalFilter(sharing_scope=SharingScope.NAMED), limit=50)
        shared = [present(s, v.fields_for(s)) for s in signals]
    audit.record(
        "statistics.view",
        actor=current_user,
        ip=client_ip(),
        object_type="aggregate",
        details={"from": start.isoformat(), "to": end.isoformat()},
    )
    commit()
    return render_template(
        "police/statistics.html",
        form=form,
        table=table,
        start=start,
        end=end,
        shared=shared,
        invitations=meeting_queries.invitations(current_user)[:INVITATIONS_SHOWN],
    ), 200 if valid else 400


INVITATIONS_SHOWN = 5  # the newest; "My meetings" lists them all


@bp.app_template_global()
def open_acute_alerts():
    return services.open_alerts_for(current_user)
