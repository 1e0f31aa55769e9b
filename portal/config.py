"""Configuration: built-in defaults, then ``PORTAL_*`` environment variables, then an optional TOML file.

The TOML file is named by ``PORTAL_CONFIG``. Keys in the file use the lower-case names without the
``PORTAL_`` prefix (``database_url = "..."``); the ``[identity_providers.*]`` tables are kept as they are.
Secrets never live in code: in development a secret key is generated once and kept in ``instance/``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to fix."""


def _as_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _as_int(value: str) -> int:
    return int(value.strip())


@dataclass(frozen=True)
class Setting:
    name: str  # the key in the Flask config
    default: Any
    parse: Any = str
    doc: str = ""


# One table of every setting: the README's configuration reference is generated from it (`flask portal config-doc`).
SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "development", str, "`development`, `production` or `test`. Production refuses unsafe settings."),
    Setting("SECRET_KEY", None, str, "Signs cookies and CSRF tokens. Required outside development."),
    Setting("DATABASE_URL", None, str, "SQLAlchemy URL. Default: SQLite file `instance/portal.sqlite3`."),
    Setting("REDIS_URL", None, str, "Redis for the Socket.IO message queue, rate limits and login throttling."),
    Setting(
        "SOCKETIO_CHANNEL",
        None,
        str,
        "Pub/sub channel of the Socket.IO queue. Default: named after the Redis database index.",
    ),
    Setting("BASE_URL", "http://127.0.0.1:5000", str, "Public URL of the portal (origin check for sockets, SSO)."),
    Setting("SESSION_IDLE_MINUTES", 30, _as_int, "Sign out after this many minutes without activity."),
    Setting("SESSION_ABSOLUTE_HOURS", 10, _as_int, "Sign out this many hours after sign-in, whatever the activity."),
    Setting("DEFAULT_LANGUAGE", "nl", str, "Interface language when the user has not chosen one (`nl` or `en`)."),
    Setting("DEBUG", False, _as_bool, "Flask debug mode. Refused in production."),
    Setting("DEMO_MODE", None, _as_bool, "Demo banner, TOTP optional. Default: on in development, off elsewhere."),
    Setting("DEMO_PASSWORD", "Almere-demo-2026", str, "Password of every demo account (demo data only)."),
    Setting("LOGIN_ATTEMPTS", "5 per 5 minutes", str, "Failed sign-ins per address and account before 429."),
    Setting(
        "EXPORT_LIMIT",
        "30 per 10 minutes",
        str,
        "Exports (PDF, `.ics`, CSV, JSON) per signed-in person, all kinds together, before 429.",
    ),
    Setting("TRUSTED_PROXIES", 0, _as_int, "Number of reverse proxies whose X-Forwarded-* headers are trusted."),
    Setting("MAX_CONTENT_LENGTH", 1_048_576, _as_int, "Largest request body in bytes."),
    Setting(
        "SOCKETIO_ASYNC_MODE", "threading", str, "`gevent` in production (see README), `threading` in development."
    ),
    Setting("AUDIT_RETENTION_DAYS", 1826, _as_int, "How long audit records are kept (default 5 years)."),
    Setting("ACUTE_ESCALATION_MINUTES", 15, _as_int, "Unacknowledged acute signals escalate to the chair after this."),
    Setting("RETENTION_K3_ANONYMISE_DAYS", 365, _as_int, "K3 detail is anonymised to K2 this long after closure."),
    Setting(
        "RETENTION_K2_DELETE_DAYS", 1826, _as_int, "Signals are deleted (counts kept) this long after the incident."
    ),
    Setting(
        "SUPPRESSION_THRESHOLD",
        3,
        _as_int,
        "Counts below this number are shown as `<3` in trend reports and their exports (docs/domain.md E.9).",
    ),
)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(f"PORTAL_{setting.name}")
        if raw is None or raw == "":
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"PORTAL_{setting.name}={raw!r} is not valid: {exc}") from exc
    return values


def _file_overrides(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"PORTAL_CONFIG names {path}, which does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PORTAL_CONFIG file {path} is not valid TOML: {exc}") from exc
    known = {s.name for s in SETTINGS}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "identity_providers":
            values["IDENTITY_PROVIDERS"] = value
        elif key == "signal_visibility":
            values["SIGNAL_VISIBILITY"] = value
        elif key == "retention_by_category":
            values["RETENTION_BY_CATEGORY"] = value
        elif key.upper() in known:
            values[key.upper()] = value
        else:
            raise ConfigError(f"Unknown setting {key!r} in {path}")
    return values


def _development_secret() -> str:
    """A secret generated once per checkout, so sessions survive restarts without a key in code."""
    INSTANCE.mkdir(exist_ok=True)
    key_file = INSTANCE / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_config(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the Flask configuration: defaults → environment → TOML file → explicit overrides (tests)."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    values["IDENTITY_PROVIDERS"] = {}
    values["SIGNAL_VISIBILITY"] = {}
    values["RETENTION_BY_CATEGORY"] = {}
    values.update(_env_overrides(environ))
    if environ.get("PORTAL_CONFIG"):
        values.update(_file_overrides(environ["PORTAL_CONFIG"]))
    values.update(overrides or {})

    env = values["ENV"]
    if env not in {"development", "production", "test"}:
        raise ConfigError(f"PORTAL_ENV must be development, production or test, not {env!r}")
    if values["DEMO_MODE"] is None:
        values["DEMO_MODE"] = env == "development"
    if env == "production":
        if not values["SECRET_KEY"]:
            raise ConfigError("PORTAL_SECRET_KEY is required in production: refusing to start without it.")
        if values["DEBUG"]:
            raise ConfigError("PORTAL_DEBUG is on in production: refusing to start with the debugger enabled.")
        if len(values["SECRET_KEY"]) < 32:
            raise ConfigError("PORTAL_SECRET_KEY is too short: use at least 32 random characters.")
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _development_secret() if env == "development" else secrets.token_urlsafe(48)
    if not values["DATABASE_URL"]:
        INSTANCE.mkdir(exist_ok=True)
        values["DATABASE_URL"] = f"sqlite:///{INSTANCE / 'portal.sqlite3'}"
    if values["DEFAULT_LANGUAGE"] not in {"nl", "en"}:
        raise ConfigError("PORTAL_DEFAULT_LANGUAGE must be nl or en")
    values["DEBUG"] = bool(values["DEBUG"])
    values["TESTING"] = env == "test"
    return values
