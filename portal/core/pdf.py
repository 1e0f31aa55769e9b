"""The one PDF renderer (WeasyPrint) for every export: meeting documents, privacy reports and subject exports.

WeasyPrint never fetches anything: every URL (images, fonts, stylesheets named in the HTML) is refused, the one
stylesheet is passed in as text, and charts are inline SVG. So a PDF cannot be used to make the server reach another
host, nor read a local file.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

PDF_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "pdf.css"


class FetchRefused(ValueError):
    pass


def refusing_fetcher():
    """A WeasyPrint URL fetcher that fetches nothing (file:, http:, data: alike)."""
    from weasyprint.urls import URLFetcher

    class RefusingFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            raise FetchRefused(f"PDF export does not fetch {url[:60]!r}")

    return RefusingFetcher()


@lru_cache(maxsize=1)
def _stylesheet_text() -> str:
    return PDF_CSS.read_text(encoding="utf-8")


def render_pdf(html: str) -> bytes:
    """The PDF of ``html`` (its <title> and <meta name="author"> become the PDF's metadata)."""
    import weasyprint  # imported late: it loads pango, which the web process needs only for exports

    fetcher = refusing_fetcher()
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher)
    stylesheet = weasyprint.CSS(string=_stylesheet_text(), url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[stylesheet])


def watermark(user, moment: datetime) -> str:
    """The text repeated on every page of an export: who downloaded it and when (docs/domain.md E.13)."""
    return f"{user.display_name} · {user.organisation.name} · {moment.strftime('%Y-%m-%d %H:%M')} UTC"
