"""Options for WTForms select, radio and checkbox fields.

WTForms 3.3 deprecates ``(value, label)`` tuples as choices and 3.4 removes them; :class:`SelectChoice` replaces
them. It is not a tuple: read a choice with ``.value`` and ``.label`` (iterating one yields four items).
"""

from __future__ import annotations

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice

__all__ = ["SelectChoice", "choices"]


def choices(pairs: Iterable[tuple[str, str]], blank: str | None = None) -> list[SelectChoice]:
    """The ``(value, label)`` pairs as options, in order; with ``blank``, first an option with the empty value.

    ``choices(((d.code, d.name) for d in districts), blank=_("All"))`` gives "All" (value ``""``), then the
    districts. Labels may be lazy translations.
    """
    options = [SelectChoice("", blank)] if blank is not None else []
    return options + [SelectChoice(value, label) for value, label in pairs]
