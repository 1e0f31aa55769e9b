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


def plain_text_to_html(text: str) -> str:
    """What someone typed in a plain textarea, as safe rich text: escaped, paragraphs kept, links made clickable."""
    from markupsafe import escape

    paragraphs = [p.strip() for p in (text or "").replace("\r\n", "\n").split("\n\n")]
    html = "".join(f"<p>{'<br>'.join(escape(line) for line in p.splitlines())}</p>" for p in paragraphs if p)
    return clean_rich_text(html)


def rich_text_to_plain(html: str) -> str:
    """Cleaned rich text back into the plain textarea form (for editing): paragraphs become blank lines."""
    html = (html or "").replace("</p>", "\n\n").replace("<br>", "\n")
    text = unescape(bleach.clean(html, tags=set(), strip=True))
    return "\n\n".join(p.strip() for p in text.split("\n\n") if p.strip())
