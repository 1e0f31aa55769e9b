"""Choices are WTForms SelectChoice objects (portal/core/forms.py), never (value, label) tuples: WTForms 3.4 drops
tuples, and 3.3 only warns when they are declared on the field, not when a view assigns them later. This scan
catches both: a tuple literal in what is given to ``choices=`` or assigned to ``<field>.choices``."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"


def _tuples_in(node: ast.AST) -> list[int]:
    """Lines of tuple literals given as options: elements of a list literal or a list comprehension's element, also
    in ``[...] + [...]``. Arguments of a call (``choices([...])``, the helper that turns pairs into SelectChoice) are
    not options themselves and are not looked into."""
    if isinstance(node, ast.List):
        return [e.lineno for e in node.elts if isinstance(e, ast.Tuple)]
    if isinstance(node, ast.ListComp):
        return [node.elt.lineno] if isinstance(node.elt, ast.Tuple) else []
    if isinstance(node, ast.BinOp):
        return _tuples_in(node.left) + _tuples_in(node.right)
    return []


def _choice_values(tree: ast.AST):
    for node in ast.walk(tree):
        keyword = isinstance(node, ast.keyword) and node.arg == "choices"
        assignment = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "choices" for t in node.targets
        )
        if keyword or assignment:
            yield node.value


def test_the_scan_sees_a_tuple_choice():
    tree = ast.parse(
        "form.kind.choices = [('a', 'A')]\n"
        "SelectField(choices=[(k, v) for k, v in x])\n"
        "f.choices = [SelectChoice('', '-')] + [(k, v) for k, v in x]\n"
        "f.choices = choices([('a', 'A')])\n"
    )
    assert sorted(line for value in _choice_values(tree) for line in _tuples_in(value)) == [1, 2, 3]


def test_no_tuple_choices_in_the_portal():
    offenders = []
    for path in sorted(PORTAL.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for value in _choice_values(tree):
            offenders += [f"{path.relative_to(PORTAL.parent)}:{line}" for line in _tuples_in(value)]
    assert offenders == [], "use portal.core.forms.choices / SelectChoice, not tuples"
