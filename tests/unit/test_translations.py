"""The Dutch catalogue is complete: every string in the source is translated, none is fuzzy, and each
translation keeps the placeholders of its msgid. English shows the msgids, so only nl is checked for content.

The source is extracted the way ``make extract-messages`` does it (babel.cfg, the default keywords plus ``_l`` and
``lazy_gettext``), so a new ``_()`` without a Dutch translation fails here: run ``make extract-messages``, translate
the new entries in portal/translations/nl/LC_MESSAGES/messages.po, then ``make translations``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch

ROOT = Path(__file__).resolve().parents[2]
NL_PO = ROOT / "portal" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
SOURCE_DIRS = ("portal", "templates")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}  # = the Makefile's `-k _l -k lazy_gettext`

# Only files that call a keyword (or hold a Jinja {% trans %} block) can yield messages; reading the text first and
# skipping the rest keeps the extraction well under a second.
_KEYWORD_NAMES = "|".join(re.escape(k) for k in sorted(KEYWORDS, key=len, reverse=True))
MAY_HOLD_MESSAGES = re.compile(rf"\b(?:{_KEYWORD_NAMES})[\s\\]*\(|\{{%[-+]?\s*trans\b")
# printf-style placeholders as Python's % operator (and Jinja's newstyle gettext) read them, %% included
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


@cache
def nl_catalogue() -> Catalog:
    with NL_PO.open("rb") as fh:
        return read_po(fh, locale="nl")


@cache
def source_messages() -> dict[tuple[str, str | None], list[str]]:
    """(msgid, context) -> where it occurs, for every translatable string in portal/ and templates/."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str, str | None], list[str]] = {}
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(ROOT).as_posix()
            pattern, method = next(((p, m) for p, m in method_map if pathmatch(p, relative)), (None, "ignore"))
            if method == "ignore" or not MAY_HOLD_MESSAGES.search(path.read_text(encoding="utf-8")):
                continue
            # silent=false: a template the extractor cannot parse fails here instead of being skipped quietly
            options = {**options_map.get(pattern, {}), "silent": "false"}
            for lineno, message, _comments, context in extract_from_file(
                method, path, keywords=KEYWORDS, options=options
            ):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    found.setdefault((msgid, context), []).append(f"{relative}:{lineno}")
    return found


def _entries() -> list[Message]:
    return [m for m in nl_catalogue() if m.id]


def _pairs(message: Message) -> list[tuple[str, str]]:
    """(source text, translation) for each form: msgstr[0] against msgid, the other forms against msgid_plural."""
    if isinstance(message.id, tuple):
        singular, plural = message.id[0], message.id[1]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        return [(singular if i == 0 else plural, s or "") for i, s in enumerate(strings)]
    return [(message.id, message.string or "")]


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_catalogue_has_entries():
    assert len(_entries()) > 100
    assert nl_catalogue().plural_forms == "nplurals=2; plural=(n != 1);"


def test_every_entry_is_translated():
    untranslated = [m.id for m in _entries() if any(not s.strip() for _, s in _pairs(m))]
    assert not untranslated, f"{len(untranslated)} untranslated nl entries, e.g. {untranslated[:10]}"


def test_no_entry_is_fuzzy():
    fuzzy = [m.id for m in _entries() if m.fuzzy]
    assert not fuzzy, f"fuzzy nl entries (check and remove the flag): {fuzzy[:10]}"


def test_translations_keep_the_placeholders():
    wrong = [
        (source, translation)
        for m in _entries()
        for source, translation in _pairs(m)
        if translation and _placeholders(source) != _placeholders(translation)
    ]
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(
        f"  {source!r} -> {translation!r}" for source, translation in wrong
    )


def test_source_extraction_finds_strings():
    messages = source_messages()
    assert len(messages) > 100
    assert ("Sign in", None) in messages  # a template string
    assert ("School safety coordinator", None) in messages  # an _l() string in Python


def test_every_source_string_is_in_the_catalogue():
    catalogue = nl_catalogue()
    missing = [
        f"{msgid!r} ({', '.join(where[:2])})"
        for (msgid, context), where in source_messages().items()
        if catalogue.get(msgid, context=context) is None
    ]
    assert not missing, (
        f"{len(missing)} strings in the source are not in the nl catalogue; run `make extract-messages` and "
        "translate them:\n  " + "\n  ".join(missing[:30])
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Welcome, %(name)s", ["%(name)s"]),
        ("%(num)d minutes, %s, 100%%", ["%%", "%(num)d", "%s"]),
        ("no placeholders, 100 percent", []),
    ],
)
def test_placeholder_pattern(text, expected):
    assert _placeholders(text) == sorted(expected)
