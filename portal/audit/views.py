"""The privacy officer's view of the audit trail. Reading the trail is itself audited."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.audit import queries
from portal.audit import services as audit
from portal.audit.forms import AuditFilterForm
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.dates import end_of_day, start_of_day
from portal.core.db import commit
from portal.core.forms import choices
from portal.core.limits import PortalYears, bounded_int
from portal.core.security import client_ip

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@require(Permission.AUDIT_READ)
def index():
    before_text = request.args.get("before") or None  # empty: the newest page
    before = bounded_int(before_text)
    if before_text is not None and before is None:
        abort(400)  # a forged or mangled "older records" link: record ids are positive INTEGERs
    form = AuditFilterForm(request.args)
    form.action.choices = choices(((a, a) for a in queries.known_actions()), blank=_l("All"))
    events, next_cursor = [], None
    # Far dates overflow when the local day becomes a UTC moment (core/dates): refused beside the field, status 400.
    valid = form.validate(extra_validators={"start": [PortalYears()], "end": [PortalYears()]})
    if valid:
        criteria = queries.AuditFilter(
            action=form.action.data or "",
            result=form.result.data or "",
            actor=(form.actor.data or "").strip(),
            object_id=(form.object_id.data or "").strip(),
            # The dates people type are days in Almere, not in UTC (the same rule as the administration's dates).
            start=start_of_day(form.start.data),
            end=end_of_day(form.end.data),
            before=before,
        )
        events, next_cursor = queries.search(criteria)
        audit.record(
            "audit.search",
            actor=current_user,
            ip=client_ip(),
            object_type="audit_trail",
            details={"results": len(events)},
        )
        commit()
    args = {k: v for k, v in request.args.items() if k != "before"}
    page = render_template("audit/index.html", form=form, events=events, next_cursor=next_cursor, args=args)
    return page, 200 if valid else 400
