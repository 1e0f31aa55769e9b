"""THE only HTML cleaner (R-IO-1). bleach sits behind this module so a switch to nh3 is a one-file change."""

from __future__ import annotations

from functools import partial
from html import unescape

import bleach
from bleach.linkifier import LinkifyFilter

RICH_TEXT_TAGS = frozenset({"p", "br", "b", "i", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code"})
RICH_TEXT_ATTRIBUTES = {"a": ["href", "title"]}
RICH_TEXT_PROTOCOLS = frozenset({"http", "https", "mailto"})


def _link_attributes(attrs: dict, new: bool = False) -> dict:
    attrs[(None, "rel")] = "noopener noreferrer nofollow"
    return attrs


_cleaner = bleach.Cleaner(
    tags=RICH_TEXT_TAGS,
    attributes=RICH_TEXT_ATTRIBUTES,
    protocols=RICH_TEXT_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_link_attributes], skip_tags={"code"})],
)


def clean_rich_text(html: str) -> str:
    """Allowlisted rich text: disallowed tags are stripped (not escaped), links get a safe ``rel``."""
    return _cleaner.clean(html or "")


def html_to_text(html: str) -> str:
    """Plain text of already-cleaned rich text, for search and length limits."""
    return " ".join(unescape(bleach.clean(html or "", tags=set(), strip=True)).split())
