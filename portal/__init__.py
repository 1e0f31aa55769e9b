"""The Almere school-safety covenant portal. ``create_app`` builds it: config → extensions → blueprints →
socket namespaces → error pages → CLI."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import ROOT, load_config
from portal.core.json import PortalJSONProvider, SocketJSON
from portal.extensions import babel, csrf, db, limiter, migrate, socketio

REDIS_TIMEOUT = 0.25  # seconds for the rate limiter's and the health check's Redis calls


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.json = PortalJSONProvider(app)  # a body nested too deep is a 400, not a RecursionError (core/json.py)
    app.config.update(settings)
    _configure_flask(app)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    _init_extensions(app)
    if os.environ.get("PORTAL_BENCH_COUNT_QUERIES") == "1":  # `make bench` only: X-Query-Count on every response
        from portal.core import querycount

        querycount.install(app)  # before the other after_request hooks, so that it runs last
    _register_blueprints(app)

    from portal.authz.decorators import install_login_wall
    from portal.core.security import install_security_headers
    from portal.main import templating
    from portal.main.errors import install_error_handlers

    templating.install(app)
    install_login_wall(app)
    install_security_headers(app)
    install_error_handlers(app)

    from portal import cli

    cli.register(app)
    return app


def _configure_flask(app: Flask) -> None:
    https = app.config["BASE_URL"].startswith("https://")
    # hide_parameters: a database error's message (and so its logged traceback) would carry the statement's values,
    # which can be a signal's free text (docs/logging.md).
    engine_options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if app.config["DATABASE_URL"].startswith("sqlite"):
        engine_options["connect_args"] = {"timeout": 15}
    app.config.update(
        SQLALCHEMY_DATABASE_URI=app.config["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        # The __Host- prefix pins the cookie to this host and path (R-SES-2); browsers only accept it over HTTPS.
        SESSION_COOKIE_NAME="__Host-portal" if https else "portal_session",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (server-side) session
        WTF_CSRF_SSL_STRICT=https,
        BABEL_DEFAULT_LOCALE=app.config["DEFAULT_LANGUAGE"],
        BABEL_DEFAULT_TIMEZONE="Europe/Amsterdam",
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        # Redis answers in well under a millisecond; a blackholed one must not add a second to every post. Once it
        # fails, limits count in memory per worker until a (backed-off) check finds it again.
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT},
        RATELIMIT_SWALLOW_ERRORS=True,  # Redis down: no throttling rather than a 500 (R-REL-4)
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_HEADERS_ENABLED=True,
        TEMPLATES_AUTO_RELOAD=app.config["DEBUG"],
        JSON_SORT_KEYS=False,
    )


def _init_extensions(app: Flask) -> None:
    import portal.models  # noqa: F401  (every table registered before migrations and queries)
    from portal.core.db import configure_engine, include_migration_object, render_migration_item
    from portal.core.i18n import init_babel
    from portal.identity import web as identity_web
    from portal.realtime.manager import LocalManager, PortalRedisManager

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_migration_object,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    init_babel(app, babel)
    identity_web.init_app(app)

    redis_url = app.config["REDIS_URL"]
    manager = (
        PortalRedisManager(redis_url, channel=app.config.get("SOCKETIO_CHANNEL"), redis_options={"socket_timeout": 2})
        if redis_url
        else LocalManager()
    )
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        client_manager=manager,
        cors_allowed_origins=[_origin(app.config["BASE_URL"])],
        max_http_buffer_size=64 * 1024,
        manage_session=False,  # the socket reads the signed cookie once; the DB session record is the truth
        http_compression=False,
        websocket_compression=False,  # permessage-deflate triples memory per connection (docs/performance.md)
        logger=False,
        engineio_logger=False,
        json=SocketJSON,  # an undecodable event payload still reaches its handler, which acks an error
    )
    # Flask-SocketIO keeps one server on a module-level object; remember this app's own (tests build several apps).
    app.extensions["portal_socketio_server"] = socketio.server
    app.extensions["portal_limiter_state"] = (limiter._storage, limiter._limiter)  # same reason, for tests
    app.extensions["portal_redis"] = (
        redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        if redis_url
        else None
    )


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _register_blueprints(app: Flask) -> None:
    from portal.admin.views import bp as admin_bp
    from portal.api.views import bp as api_bp
    from portal.audit.views import bp as audit_bp
    from portal.identity.oidc_admin import bp as oidc_admin_bp
    from portal.identity.oidc_views import bp as oidc_bp
    from portal.identity.views import bp as identity_bp
    from portal.main.views import bp as main_bp
    from portal.meetings.views import bp as meetings_bp
    from portal.police.views import bp as police_bp
    from portal.privacy.views import bp as privacy_bp
    from portal.realtime import namespaces
    from portal.signals.views import bp as signals_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(signals_bp)
    app.register_blueprint(police_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(identity_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(oidc_admin_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(meetings_bp)
    namespaces.register(socketio)
