"""The import rules of docs/architecture.md, checked by walking the AST of every module in ``portal/``.

Imports inside functions count as much as those at the top: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / "portal"

# The top-level packages of ``portal`` that are domains (everything that is not a shared layer).
DOMAIN_MODULE_KINDS = ("services", "queries", "forms", "views")


@dataclass(frozen=True)
class Import:
    module: str  # the absolute module imported from ("flask", "portal.identity.services")
    names: tuple[str, ...]  # the names imported from it (empty for ``import x``)
    line: int


@dataclass(frozen=True)
class Call:
    target: str  # dotted text of the called expression ("socketio.emit")
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _scan_source(source: str, module: str, is_package: bool = False) -> tuple[list[Import], list[Call]]:
    tree = ast.parse(source)
    imports: list[Import] = []
    calls: list[Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.extend(Import(alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source_module = _resolve(node, module, is_package)
            imports.append(Import(source_module, tuple(alias.name for alias in node.names), node.lineno))
            # ``from portal.identity import services`` imports the module portal.identity.services
            imports.extend(Import(f"{source_module}.{alias.name}", (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.Call):
            calls.append(Call(_dotted(node.func), node.lineno))
        elif isinstance(node, ast.Attribute) and _dotted(node) in {"flask.request", "flask.session"}:
            imports.append(Import(_dotted(node), (), node.lineno))  # ``import flask`` then ``flask.request``
    return imports, calls


def _scan(path: Path) -> tuple[list[Import], list[Call]]:
    return _scan_source(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


MODULES = sorted(p for p in PORTAL.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _portal_imports(path: Path) -> list[Import]:
    return [i for i in _scan(path)[0] if i.module == "portal" or i.module.startswith("portal.")]


def _request_or_session(imports: list[Import]) -> list[str]:
    """``from flask import request/session`` (or from flask.globals), ``import flask.request`` or ``flask.session``."""
    found = []
    for i in imports:
        if i.module in {"flask", "flask.globals"} and {"request", "session"} & set(i.names):
            found.append(f"line {i.line}: from {i.module} import {', '.join(i.names)}")
        elif i.module in {"flask.request", "flask.session", "flask.globals.request", "flask.globals.session"}:
            found.append(f"line {i.line}: {i.module}")
    return found


def test_the_scanner_sees_the_code():
    """Guard against a rule table that silently checks nothing."""
    assert len(MODULES) > 20
    imports = _portal_imports(PORTAL / "identity" / "views.py")
    assert any(i.module == "portal.identity.services" for i in imports)
    assert any(i.module == "portal.core.security" and "safe_next" in i.names for i in imports)


@pytest.mark.parametrize("name", ["extensions.py", "config.py"])
def test_extensions_and_config_import_nothing_from_portal(name):
    assert _portal_imports(PORTAL / name) == []


CORE_MODULES = [p for p in MODULES if p.relative_to(PORTAL).parts[0] == "core"]


@pytest.mark.parametrize("path", CORE_MODULES, ids=_rel)
def test_core_imports_only_core_and_extensions(path):
    """core/* may import extensions, stdlib and third party: never domains, authz or realtime."""
    bad = [
        f"line {i.line}: {i.module}"
        for i in _portal_imports(path)
        if not any(
            i.module == layer or i.module.startswith(layer + ".") for layer in ("portal.core", "portal.extensions")
        )
    ]
    assert bad == [], f"{_rel(path)} reaches outside the core layer"


MODEL_MODULES = [p for p in MODULES if p.name == "models.py"]


@pytest.mark.parametrize("path", MODEL_MODULES, ids=_rel)
def test_models_import_no_services_queries_forms_views_or_realtime(path):
    bad = []
    for i in _portal_imports(path):
        last = i.module.split(".")[-1]
        if last in (*DOMAIN_MODULE_KINDS, "web") or i.module.startswith("portal.realtime"):
            bad.append(f"line {i.line}: {i.module}")
    imports, _calls = _scan(path)
    bad += _request_or_session(imports)
    assert bad == [], f"{_rel(path)} must only declare tables"


VIEW_MODULES = [p for p in MODULES if p.name.endswith("views.py") or "views" in p.relative_to(PORTAL).parts[:-1]]


@pytest.mark.parametrize("path", VIEW_MODULES, ids=_rel)
def test_views_never_touch_realtime(path):
    imports, calls = _scan(path)
    bad = [f"line {i.line}: {i.module}" for i in imports if i.module.startswith("portal.realtime")]
    bad += [f"line {i.line}: from flask_socketio import emit" for i in imports if i.module == "flask_socketio"]
    bad += [f"line {c.line}: {c.target}()" for c in calls if c.target == "emit" or c.target.endswith("socketio.emit")]
    assert bad == [], f"{_rel(path)}: live events come from services (publish on commit), never from views"


# The transport (the outbox, the client manager, the worker, frames, live status) knows sockets and nothing of the
# domains: what an event says and to whom is planned in signals/events.py and meetings/events.py. The ``/live``
# namespace handlers (namespaces.py) are an adapter like the views and may call domain queries and services.
DOMAIN_PACKAGES = (
    "admin",
    "api",
    "audit",
    "identity",
    "meetings",
    "organisations",
    "police",
    "privacy",
    "rooms",
    "signals",
)
TRANSPORT_MODULES = [p for p in MODULES if p.parent.name == "realtime" and p.name not in {"namespaces.py"}]


@pytest.mark.parametrize("path", TRANSPORT_MODULES, ids=_rel)
def test_the_realtime_transport_imports_no_domain(path):
    domains = tuple(f"portal.{name}" for name in DOMAIN_PACKAGES)
    bad = [f"line {i.line}: {i.module}" for i in _portal_imports(path) if i.module.startswith(domains)]
    assert bad == [], f"{_rel(path)}: the transport carries events; the domains plan them (signals/events.py)"


def test_only_the_audience_module_names_socket_channels():
    """Channel names (``aud:``, ``org:``, ``own:``, ``named:``) decide who hears a signal: one module builds them."""
    pattern = ('f"aud:', 'f"org:', 'f"own:', 'f"named:')
    found = [
        _rel(path)
        for path in MODULES
        if any(p in path.read_text(encoding="utf-8") for p in pattern) and path.name != "audience.py"
    ]
    assert found == []


SERVICE_MODULES = [p for p in MODULES if p.name == "services.py"]


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=_rel)
def test_services_never_read_request_or_session(path):
    imports, _calls = _scan(path)
    bad = _request_or_session(imports)
    bad += [
        f"line {i.line}: {i.module}" for i in _portal_imports(path) if i.module.split(".")[-1] in {"views", "forms"}
    ]
    assert bad == [], f"{_rel(path)}: the acting user and address are passed in"


# The adapters: the only modules that may read the request or the session. Everything else (services, guards,
# queries, models, the modules a domain's services are split into) gets the acting user and address passed in.
REQUEST_ADAPTERS = {
    "authz/decorators.py",  # the login wall
    "core/i18n.py",  # the language choice lives in the session
    "core/security.py",  # headers, safe next, client address
    "identity/web.py",  # the server-side session itself
    "main/errors.py",  # error pages answer HTML or JSON by the request
    "realtime/namespaces.py",  # the socket handlers
}


def _is_adapter(path: Path) -> bool:
    relative = path.relative_to(PORTAL)
    return (
        relative.name.endswith("views.py") or "views" in relative.parts[:-1] or relative.as_posix() in REQUEST_ADAPTERS
    )


@pytest.mark.parametrize("path", [p for p in MODULES if not _is_adapter(p)], ids=_rel)
def test_only_adapters_read_request_or_session(path):
    imports, _calls = _scan(path)
    assert _request_or_session(imports) == [], f"{_rel(path)}: the acting user and address are passed in"


QUERY_MODULES = [p for p in MODULES if p.name == "queries.py"]


@pytest.mark.parametrize("path", QUERY_MODULES, ids=_rel)
def test_queries_import_no_views_forms_or_realtime(path):
    bad = [
        f"line {i.line}: {i.module}"
        for i in _portal_imports(path)
        if i.module.split(".")[-1] in {"views", "forms"} or i.module.startswith("portal.realtime")
    ]
    assert bad == []


def test_policy_imports_no_services_views_forms_or_realtime():
    path = PORTAL / "authz" / "policy.py"
    imports, _calls = _scan(path)
    bad = [
        f"line {i.line}: {i.module}"
        for i in _portal_imports(path)
        if i.module.split(".")[-1] in {"services", "views", "forms"} or i.module.startswith("portal.realtime")
    ]
    bad += _request_or_session(imports)
    assert bad == []


AUDIT_MODULES = [p for p in MODULES if p.relative_to(PORTAL).parts[0] == "audit"]


@pytest.mark.parametrize("path", AUDIT_MODULES, ids=_rel)
def test_audit_imports_no_other_domains_services(path):
    bad = [
        f"line {i.line}: {i.module}"
        for i in _portal_imports(path)
        if i.module.endswith(".services") and not i.module.startswith("portal.audit.")
    ]
    assert bad == []


# --- the checker itself -------------------------------------------------------------------------------------------


PROBE = """
import flask
from flask import request, session
from portal.realtime import publish
from . import services
from .forms import LoginForm


def handler():
    from portal.extensions import socketio

    socketio.emit("x")
    return flask.session
"""


def test_the_checker_catches_violations():
    imports, calls = _scan_source(PROBE, "portal.zz_probe.views")
    modules = {i.module for i in imports}
    assert {
        "portal.realtime",
        "portal.realtime.publish",
        "portal.zz_probe.services",
        "portal.zz_probe.forms",
    } <= modules
    flagged_lines = {finding.split(":")[0] for finding in _request_or_session(imports)}
    assert flagged_lines == {"line 3", "line 13"}  # the from-import and the attribute access
    assert any(c.target == "socketio.emit" for c in calls)
    package_imports, _ = _scan_source("from .models import User\nfrom ..core import db\n", "portal.identity", True)
    assert {i.module for i in package_imports} >= {"portal.identity.models", "portal.core", "portal.core.db"}
