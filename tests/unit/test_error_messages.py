"""Domain error messages are msgids: every literal message a service raises has a Dutch translation, and none is an
f-string (it could never be looked up in the catalogue). Values that vary are named parameters, formatted after the
translation (portal.core.i18n.error_text), so each ``%(name)s`` in a message needs a keyword argument of that name.

``make extract-messages`` extracts these messages with ``-k ValidationFailed -k Conflict ...`` (and the message
argument of the meetings' ``require_status`` guard); after a new message, run it, translate the new entries in
portal/translations/nl/LC_MESSAGES/messages.po, then ``make translations``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from portal.core.errors import Conflict, DomainError, ValidationFailed

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
NL_PO = ROOT / "portal" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
ERROR_CLASSES = frozenset({"ValidationFailed", "Conflict", "PermissionDenied", "NotFound", "DomainError"})
# Helpers that take a message and raise one of the classes with it: name -> index of the message argument.
MESSAGE_HELPERS = {"require_status": 2}
NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)")


@dataclass(frozen=True)
class Raise:
    where: str
    name: str
    message: ast.expr | None
    keywords: frozenset[str]


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node -> the name of the innermost function around it."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            owner[child] = name
            visit(child, name)

    visit(tree, "")
    return owner


@cache
def error_calls() -> tuple[tuple[Raise, ...], tuple[str, ...]]:
    """Every call of an error class (and of a message helper) under portal/, and the calls whose message is not a
    literal (a variable is allowed only where a helper passes its own message argument on)."""
    calls: list[Raise] = []
    dynamic: list[str] = []
    for path in sorted(PORTAL.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        owners = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name in ERROR_CLASSES:
                index = 0
            elif name in MESSAGE_HELPERS:
                index = MESSAGE_HELPERS[name]
            else:
                continue
            message = node.args[index] if len(node.args) > index else None
            if message is None and index == 0:
                message = next((k.value for k in node.keywords if k.arg == "message"), None)
            where = f"{relative}:{node.lineno}"
            keywords = frozenset(k.arg for k in node.keywords if k.arg)
            calls.append(Raise(where, name, message, keywords))
            literal = isinstance(message, ast.Constant) and isinstance(message.value, str)
            passed_on = isinstance(message, ast.Name) and owners.get(node) in MESSAGE_HELPERS
            if message is not None and not literal and not passed_on:
                dynamic.append(f"{where}: {name}({ast.unparse(message)}, ...)")
    return tuple(calls), tuple(dynamic)


def literal_messages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for call in error_calls()[0]:
        if isinstance(call.message, ast.Constant) and isinstance(call.message.value, str) and call.message.value:
            found.setdefault(call.message.value, []).append(call.where)
    return found


@cache
def nl_catalogue() -> Catalog:
    with NL_PO.open("rb") as fh:
        return read_po(fh, locale="nl")


def test_the_walk_finds_the_raise_sites():
    messages = literal_messages()
    assert len(messages) > 100
    assert "Enter a place or an online link." in messages
    assert "Reopen the agenda to change it." in messages  # through require_status
    assert "A meeting with status '%(current)s' cannot move to '%(target)s'." in messages


def test_no_error_message_is_an_f_string():
    f_strings = [
        f"{call.where}: {call.name}({ast.unparse(call.message)[:70]}...)"
        for call in error_calls()[0]
        if call.message is not None and any(isinstance(n, ast.JoinedStr) for n in ast.walk(call.message))
    ]
    hint = "use a literal msgid with %(name)s placeholders and pass the values as keyword arguments"
    assert not f_strings, hint + ":\n  " + "\n  ".join(f_strings)


def test_every_error_message_is_a_literal():
    dynamic = error_calls()[1]
    assert not dynamic, "error messages must be literal msgids (extraction cannot see anything else):\n  " + (
        "\n  ".join(dynamic)
    )


def test_every_error_message_has_a_dutch_translation():
    catalogue = nl_catalogue()
    missing = []
    for msgid, where in sorted(literal_messages().items()):
        entry = catalogue.get(msgid)
        if entry is None or not (entry.string or "").strip() or entry.fuzzy:
            missing.append(f"{msgid!r} ({', '.join(where[:2])})")
    assert not missing, (
        f"{len(missing)} error messages have no Dutch translation; run `make extract-messages` and translate them "
        "in portal/translations/nl/LC_MESSAGES/messages.po:\n  " + "\n  ".join(missing[:30])
    )


def test_the_placeholders_are_passed_as_parameters():
    wrong = []
    for call in error_calls()[0]:
        if not (isinstance(call.message, ast.Constant) and isinstance(call.message.value, str)):
            continue
        names = set(NAMED_PLACEHOLDER.findall(call.message.value))
        if call.name in ERROR_CLASSES and names - call.keywords:
            wrong.append(f"{call.where}: {sorted(names - call.keywords)} not passed")
        if call.name in MESSAGE_HELPERS and names:
            wrong.append(f"{call.where}: {call.name} passes no parameters")
    assert not wrong, "\n".join(wrong)


def test_an_error_keeps_its_template_and_formats_its_english_message():
    error = Conflict("A meeting with status '%(current)s' cannot move to '%(target)s'.", current="a", target="b")
    assert error.template == "A meeting with status '%(current)s' cannot move to '%(target)s'."
    assert error.params == {"current": "a", "target": "b"}
    assert error.message == str(error) == "A meeting with status 'a' cannot move to 'b'."
    assert error.status == 409


@pytest.mark.parametrize("error", [ValidationFailed("Enter a title.", field="title"), DomainError()])
def test_an_error_without_parameters_is_its_message(error):
    assert error.message == error.template == str(error)
    assert error.params == {}


def test_a_percent_sign_without_parameters_is_left_alone():
    assert ValidationFailed("Use at most 100% of the time.").message == "Use at most 100% of the time."
