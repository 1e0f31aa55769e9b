"""Bounds for values that reach SQL from a query string, a form or a socket event.

Ids, sequence numbers and page numbers end up compared with INTEGER columns: beyond that range SQLite's driver
raises OverflowError and PostgreSQL NumericValueOutOfRange, both a 500. Dates are days of the portal's lifetime:
year 1 or 9999 overflows when a day is turned into a UTC moment or a month's end, and no signal lies there.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

MAX_INT = 2**31 - 1  # the largest INTEGER (PostgreSQL's int4; SQLite's are wider, its driver stops at 2**63)
FIRST_YEAR, LAST_YEAR = 2000, 2100

_DIGITS = re.compile(r"[0-9]{1,10}")


def bounded_int(text: str | None, *, minimum: int = 1, maximum: int = MAX_INT) -> int | None:
    """The whole number in ``text`` (plain digits) if it lies within bounds; None for anything else."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


class PortalYears:
    """WTForms validator: a date within FIRST_YEAR..LAST_YEAR (an empty field is left to Optional)."""

    def __call__(self, form, field) -> None:
        if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
            raise ValidationError(_l("Enter a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))
