"""Privacy officer pages: access reports, data-subject requests, retention status; the posting school's own
access log per signal."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.actions import perform
from portal.core.db import commit, parse_public_id, utcnow
from portal.core.errors import NotFound
from portal.core.i18n import select_locale
from portal.core.ratelimits import export_limit
from portal.core.security import client_ip
from portal.extensions import db
from portal.privacy import retention, services
from portal.privacy.models import DeletionRecord, PersonRole
from portal.signals.models import AGE_BANDS, Signal

bp = Blueprint("privacy", __name__)
SUBJECT_EXPORT_FORMATS = ("json", "pdf")


@bp.get("/privacy")
@require(Permission.RETENTION_READ)
def index():
    plan = retention.plan_from_config()
    due = retention.run(plan, dry_run=True)
    deletions = db.session.execute(
        select(DeletionRecord.action, DeletionRecord.reason, func.count()).group_by(
            DeletionRecord.action, DeletionRecord.reason
        )
    ).all()
    total = db.session.scalar(select(func.count(Signal.id))) or 0
    return render_template("privacy/index.html", due=due, deletions=deletions, total=total, plan=plan)


@bp.get("/privacy/access")
@require(Permission.ACCESS_REPORT)
@export_limit(when=lambda: request.args.get("format") == "csv")  # the page itself is not an export
def access():
    signal_ref = request.args.get("signal", "")[:20]
    school = request.args.get("school", "")[:64]
    subject = request.args.get("subject", "")[:64]
    lines = []
    if signal_ref or school or subject:
        lines = services.access_report(
            current_user, signal_reference=signal_ref, school_code=school, subject_key=subject, ip=client_ip()
        )
        commit()
        if request.args.get("format") == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["time_utc", "action", "person", "person_id", "organisation", "roles", "signal", "result"])
            for line in lines:
                writer.writerow(
                    [
                        line.at,
                        line.action,
                        line.actor_name,
                        line.actor_id,
                        line.organisation,
                        line.roles,
                        line.signal,
                        line.result,
                    ]
                )
            return Response(
                buffer.getvalue(),
                mimetype="text/csv",
                headers={"Content-Disposition": "attachment; filename=toegangsrapport.csv"},
            )
    return render_template("privacy/access.html", lines=lines, signal=signal_ref, school=school, subject=subject)


@bp.get("/signals/<signal_id>/access")
def own_access(signal_id: str):
    signal, lines = services.access_for_own_signal(current_user, parse_public_id(signal_id), ip=client_ip())
    commit()
    return render_template("privacy/own_access.html", signal=signal, lines=lines)


@bp.post("/signals/<signal_id>/people")
def add_person(signal_id: str):
    perform(
        lambda: services.add_person_reference(
            current_user,
            parse_public_id(signal_id),
            subject_key=request.form.get("subject_key", ""),
            pseudonym=request.form.get("pseudonym", ""),
            role=request.form.get("role", ""),
            age_band=request.form.get("age_band", ""),
            ip=client_ip(),
        ),
        _("The pseudonymous reference has been added."),
    )
    return redirect(url_for("signals.detail", signal_id=signal_id) + "#people")


@bp.get("/privacy/subjects")
@require(Permission.SUBJECT_REQUESTS)
@export_limit(when=lambda: request.args.get("format") in SUBJECT_EXPORT_FORMATS)
def subjects():
    key = request.args.get("key", "").strip()[:64]
    rows = []
    if key:
        export_format = request.args.get("format")
        if export_format in SUBJECT_EXPORT_FORMATS:
            data = services.export_subject(current_user, key, ip=client_ip())
            commit()
            if export_format == "json":
                return Response(
                    json.dumps(data, ensure_ascii=False, indent=2),
                    mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=inzage.json"},
                )
            from portal.core.pdf import render_pdf, watermark  # the one PDF renderer (no fetching)

            html = render_template(
                "privacy/subject_pdf.html",
                data=data,
                language=select_locale(),
                watermark=watermark(current_user, utcnow()),
            )
            return Response(
                render_pdf(html),
                mimetype="application/pdf",
                headers={"Content-Disposition": "attachment; filename=inzage.pdf"},
            )
        rows = services.find_subject(current_user, key, ip=client_ip())
        commit()
    return render_template("privacy/subjects.html", key=key, rows=rows, roles=list(PersonRole), bands=AGE_BANDS)


@bp.post("/privacy/subjects/rectify")
@require(Permission.SUBJECT_REQUESTS)
def rectify():
    key = request.form.get("key", "")[:64]
    reference_id = parse_public_id(request.form.get("reference", ""))
    if reference_id is None:
        raise NotFound()
    perform(
        lambda: services.rectify_subject(
            current_user,
            key,
            reference_id,
            pseudonym=request.form.get("pseudonym", ""),
            role=request.form.get("role", ""),
            age_band=request.form.get("age_band", ""),
            ip=client_ip(),
        ),
        _("The reference has been corrected."),
    )
    return redirect(url_for("privacy.subjects", key=key))


@bp.post("/privacy/subjects/erase")
@require(Permission.SUBJECT_REQUESTS)
def erase():
    key = request.form.get("key", "")[:64]
    if request.form.get("confirm") != "yes":
        flash(_("Confirm the erasure first."), "error")
        return redirect(url_for("privacy.subjects", key=key))
    count = services.erase_subject(current_user, key, ip=client_ip())
    commit()
    flash(
        ngettext(
            "Erased: %(num)d signal no longer holds this person's data.",
            "Erased: %(num)d signals no longer hold this person's data.",
            count,
        ),
        "success",
    )
    return redirect(url_for("privacy.subjects", key=key))
