"""Input hygiene for every free-text field (R-IO-3): NFC, no NUL, no lone surrogates, no bidi controls."""

from __future__ import annotations

import re
import unicodedata

from portal.core.errors import ValidationFailed

# Bidirectional overrides and isolates can make a title read differently from what it is ("Trojan Source").
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None, *, field: str = "", max_length: int | None = None, multiline: bool = False) -> str:
    """Return the normalised text or raise :class:`ValidationFailed` with a reason a user can act on."""
    if value is None:
        return ""
    if "\x00" in value:
        raise ValidationFailed("Text contains a NUL character.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationFailed("Text contains an invalid character.", field=field) from exc
    value = unicodedata.normalize("NFC", value)
    value = BIDI_CONTROLS.sub("", value)
    if not multiline:
        value = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    value = CONTROL_CHARS.sub("", value).strip()
    if max_length is not None and len(value) > max_length:
        raise ValidationFailed("Text is longer than %(max)s characters.", field=field, max=max_length)
    return value
