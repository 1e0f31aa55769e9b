"""``/api/v1``: the JSON adapter over the same services and queries as the HTML pages.

Every handler is parse → service/query → one commit → JSON. Authentication is the browser session (writes then
carry the CSRF token in ``X-CSRFToken``) or a personal access token (``Authorization: Bearer pvs_...``), which is
exempt from CSRF because it is never sent by a browser on its own. Errors are ``application/problem+json``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from portal.api import openapi, schemas
from portal.api.problems import install as install_problems
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.authz.policy import permissions_of
from portal.core.db import commit, parse_public_id
from portal.core.security import client_ip
from portal.extensions import csrf, limiter
from portal.identity.models import User
from portal.identity.web import current_api_token
from portal.rooms.queries import memberships_of
from portal.signals import queries, services, taxonomy
from portal.signals.models import Vocabulary
from portal.signals.presenter import present

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # replaced by _csrf_unless_bearer below: cookie sessions still need the token
install_problems(bp)

DEFAULT_CREATE_LIMIT = "30 per minute"
DEFAULT_SEARCH_LIMIT = "60 per minute"


@bp.before_request
def _csrf_unless_bearer():
    """Runs after the login wall, so the user (and how they authenticated) is known. A request authenticated by
    the session cookie must carry the CSRF token on every unsafe method, exactly as the HTML forms do."""
    if current_api_token() is None:
        csrf.protect()


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _rate_key() -> str:
    """Per person when signed in (shared across workers through the limiter's Redis storage), else per address."""
    if current_user.is_authenticated:
        return f"user:{current_user.public_id}"
    return f"ip:{client_ip()}"


def _create_limit() -> str:
    return current_app.config.get("API_SIGNAL_CREATE_LIMIT", DEFAULT_CREATE_LIMIT)


def _search_limit() -> str:
    return current_app.config.get("API_SEARCH_LIMIT", DEFAULT_SEARCH_LIMIT)


def _not_searching() -> bool:
    return not request.args.get("q", "").strip()


@bp.get("/me")
def me():
    user = _user()
    return jsonify(schemas.me(user, memberships_of(user), permissions_of(user)))


@bp.get("/rooms")
def rooms():
    return jsonify({"rooms": [schemas.room(m.room, m) for m in memberships_of(_user())]})


@bp.get("/taxonomy")
def taxonomy_lists():
    return jsonify(schemas.taxonomy({v: taxonomy.terms(v) for v in Vocabulary}))


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(current_app))


@bp.get("/signals")
@limiter.limit(_search_limit, key_func=_rate_key, exempt_when=_not_searching)
def list_signals():
    user = _user()
    viewer = queries.viewer_for(user)
    criteria, limit = schemas.signal_filter(request.args, viewer)
    rows, next_id = queries.list_signals(viewer, criteria, limit=limit)
    items = [present(signal, viewer.fields_for(signal)) for signal in rows]
    services.record_search(user, ip=client_ip(), results=len(items), searched=bool(criteria.q), action="signal.list")
    commit()
    next_cursor = queries.encode_cursor(next_id) if next_id is not None else None
    next_url = None
    if next_cursor is not None:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for("api.list_signals", **args, cursor=next_cursor)
    return jsonify({"signals": items, "next_cursor": next_cursor, "next": next_url, "limit": limit})


@bp.post("/signals")
@limiter.limit(_create_limit, key_func=_rate_key)
@require(Permission.SIGNAL_CREATE)
def create_signal():
    data = schemas.signal_input(schemas.json_object(request), schemas.idempotency_key(request))
    user = _user()
    result = services.create_signal(user, data, ip=client_ip())
    commit()
    signal = result.signal
    body = present(signal, queries.viewer_for(user).fields_for(signal))
    response = jsonify(body)
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = url_for("api.get_signal", signal_id=body["id"])
    return response


@bp.get("/signals/<signal_id>")
def get_signal(signal_id: str):
    user = _user()
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, parse_public_id(signal_id))
    fields = viewer.fields_for(signal)
    body = schemas.signal_detail(present(signal, fields), signal, fields, queries.related_visible(viewer, signal))
    services.record_read(user, signal, ip=client_ip())
    commit()
    return jsonify(body)


@bp.patch("/signals/<signal_id>")
@require(Permission.SIGNAL_CREATE)
def update_signal(signal_id: str):
    changes = schemas.signal_patch(schemas.json_object(request))
    user = _user()
    viewer = queries.viewer_for(user)
    public_id = parse_public_id(signal_id)
    current = queries.get_visible_signal(viewer, public_id)
    data = schemas.apply_patch(schemas.input_from_signal(current), changes)
    signal = services.update_signal(user, public_id, data, ip=client_ip())
    commit()
    return jsonify(present(signal, viewer.fields_for(signal)))


@bp.post("/signals/<signal_id>/responses")
@require(Permission.SIGNAL_RESPOND)
def add_response(signal_id: str):
    kind, text_html = schemas.response_input(schemas.json_object(request))
    key = schemas.idempotency_key(request)
    user = _user()
    response = services.add_response(user, parse_public_id(signal_id), kind, text_html, key, ip=client_ip())
    commit()
    signal = response.signal
    fields = queries.viewer_for(user).fields_for(signal)
    body = {"response": schemas.signal_response(response, with_text=True), "signal": present(signal, fields)}
    return jsonify(body), 201


@bp.post("/signals/<signal_id>/recognise")
@require(Permission.SIGNAL_RESPOND)
def recognise(signal_id: str):
    schemas.no_body_fields(schemas.json_object(request, allow_empty=True))
    user = _user()
    signal = services.recognise(user, parse_public_id(signal_id), ip=client_ip())
    commit()
    return jsonify(present(signal, queries.viewer_for(user).fields_for(signal)))
