"""Input hygiene for free text (R-IO-3, T46–T47): NUL and lone surrogates refused, bidi controls removed, NFC,
length limits counted after normalisation."""

from __future__ import annotations

import unicodedata

import pytest

from portal.core.errors import ValidationFailed
from portal.core.text import clean_text


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "titel\x00", "\x00" * 5])
def test_nul_is_refused(value):
    with pytest.raises(ValidationFailed) as excinfo:
        clean_text(value, field="title")
    assert excinfo.value.field == "title"


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", "x\udc80"])
def test_lone_surrogates_are_refused(value):
    with pytest.raises(ValidationFailed):
        clean_text(value, field="title")


BIDI = [
    "\u202a",  # LRE
    "\u202b",  # RLE
    "\u202c",  # PDF
    "\u202d",  # LRO
    "\u202e",  # RLO ("Trojan Source")
    "\u2066",  # LRI
    "\u2067",  # RLI
    "\u2068",  # FSI
    "\u2069",  # PDI
    "\u200e",  # LRM
    "\u200f",  # RLM
    "\u061c",  # ALM
]


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_bidi_controls_are_removed(control):
    assert clean_text(f"foto{control}gpj.exe") == "fotogpj.exe"
    assert clean_text(f"{control}naam{control}", multiline=True) == "naam"


def test_bidi_override_filename_attack():
    # Displays as "invoice_exe.pdf" when the override is honoured.
    assert clean_text("invoice_\u202efdp.exe") == "invoice_fdp.exe"


@pytest.mark.parametrize(
    ("decomposed", "composed"),
    [
        ("Cafe\u0301", "Café"),
        ("Zu\u0308id", "Züid"),
        ("Ine\u0300s", "Inès"),
        ("A\u030angstro\u0308m", "Ångström"),
    ],
)
def test_nfc_normalisation(decomposed, composed):
    result = clean_text(decomposed)
    assert result == composed
    assert unicodedata.is_normalized("NFC", result)


def test_max_length_is_enforced():
    assert clean_text("a" * 10, max_length=10) == "a" * 10
    with pytest.raises(ValidationFailed) as excinfo:
        clean_text("a" * 11, field="title", max_length=10)
    assert excinfo.value.field == "title"


def test_max_length_counts_after_normalisation_and_trimming():
    # Ten characters once composed, fifteen code points as typed.
    decomposed = "e\u0301" * 5 + "abcde"
    assert len(decomposed) == 15
    assert clean_text(decomposed, max_length=10) == "é" * 5 + "abcde"
    assert clean_text("  " + "a" * 10 + "  ", max_length=10) == "a" * 10
    assert clean_text("\u202e" * 5 + "a" * 10, max_length=10) == "a" * 10


def test_control_characters_are_removed():
    assert clean_text("a\x01b\x07c\x1bd\x7fe") == "abcde"


def test_single_line_fields_lose_line_breaks():
    assert clean_text("regel een\r\nregel twee\tkolom") == "regel een  regel twee kolom"


def test_multiline_fields_keep_line_breaks():
    assert clean_text("regel een\nregel twee\n\tingesprongen", multiline=True) == (
        "regel een\nregel twee\n\tingesprongen"
    )


def test_none_and_whitespace():
    assert clean_text(None) == ""
    assert clean_text("   ") == ""
    assert clean_text("  Almere Haven  ") == "Almere Haven"


def test_ordinary_dutch_text_is_unchanged():
    text = "Groep jongeren bij de ingang van 't Baken, ± 17:30 – één fiets vernield (€ 200)."
    assert clean_text(text, max_length=200) == text
