"""Hostile HTML through THE cleaner (R-IO-1, T44). The output is parsed again and checked structurally: only
allowlisted tags and attributes, every link with a safe ``rel``, no event handler, no script-capable URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from portal.core.sanitize import RICH_TEXT_ATTRIBUTES, RICH_TEXT_PROTOCOLS, RICH_TEXT_TAGS, clean_rich_text

ALLOWED_TAGS = {"p", "br", "b", "i", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "rel"}}
SAFE_REL = "noopener noreferrer nofollow"
FORBIDDEN_ELEMENTS = [
    "svg",
    "math",
    "style",
    "script",
    "noscript",
    "iframe",
    "textarea",
    "title",
    "xmp",
    "noframes",
    "noembed",
    "object",
    "embed",
    "img",
    "form",
    "input",
    "button",
    "base",
    "meta",
    "link",
    "template",
    "details",
    "video",
    "audio",
    "source",
    "frame",
    "frameset",
    "marquee",
]

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java&#x0A;script:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    '<a href="https://ok.example" ONMOUSEOVER=alert(1)>x</a>',
    '<a/href="javascript:alert(1)">x</a>',
    '<a href="https://ok.example" rel="opener" target="_blank">x</a>',
    '<a href="https://ok.example" style="position:fixed;inset:0">x</a>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<noembed><script>alert(1)</script></noembed>",
    "<noframes><script>alert(1)</script></noframes>",
    "<!-- <script>alert(1)</script> --><p>x</p>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<base href="//evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="//evil.example/x.css">',
    '<form action="//evil.example"><button formaction="javascript:alert(1)">x</button></form>',
    '<input autofocus onfocus="alert(1)">',
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<b><i>x</b></i>",
    '<p><a href="https://ok.example"><p>y</a></p>',
    '<ul><li><a href="https://ok.example">a</li></ul><script>alert(1)</script>',
    '<code><a href="javascript:alert(1)">x</a></code>',
    '<code><a href="https://ok.example">x</a></code>',
    '<blockquote cite="javascript:alert(1)">x</blockquote>',
    '<p id="x" class="y" data-x="1" onmouseover="alert(1)">x</p>',
    '"><script>alert(1)</script>',
    "<template><script>alert(1)</script></template>",
    "<marquee onstart=alert(1)>x</marquee>",
    '<a href="https://ok.example" title="&quot; onmouseover=&quot;alert(1)">x</a>',
]


class _Collector(HTMLParser):
    """Parses cleaned output the way a browser would see its elements: tags, attributes, unescaped values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_comment(self, data):
        self.comments.append(data)


def _elements(html: str) -> tuple[list[tuple[str, dict[str, str | None]]], list[str]]:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser.elements, parser.comments


def _url_is_safe(value: str) -> bool:
    # Browsers drop ASCII whitespace and control characters inside a URL before reading its scheme.
    compact = re.sub(r"[\x00-\x20\x7f]+", "", value)
    scheme = urlsplit(compact).scheme.lower()
    return scheme in {"", "http", "https", "mailto"} and not any(
        bad in compact.lower() for bad in ("javascript:", "vbscript:", "data:")
    )


def _assert_safe(output: str) -> None:
    elements, comments = _elements(output)
    assert not comments, f"comment survived: {output!r}"
    for tag, attrs in elements:
        assert tag in ALLOWED_TAGS, f"tag <{tag}> survived: {output!r}"
        allowed = ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} survived: {output!r}"
            assert name in allowed, f"attribute {tag}[{name}] survived: {output!r}"
            if name == "href":
                assert value is not None
                assert _url_is_safe(value), f"unsafe URL {value!r}: {output!r}"
        if tag == "a":
            assert attrs.get("rel") == SAFE_REL, f"link without a safe rel: {output!r}"
    lowered = output.lower()
    for element in FORBIDDEN_ELEMENTS:
        assert f"<{element}" not in lowered, f"<{element}> survived: {output!r}"


def test_the_cleaner_uses_the_documented_allowlist():
    assert set(RICH_TEXT_TAGS) == ALLOWED_TAGS
    assert {tag: set(names) for tag, names in RICH_TEXT_ATTRIBUTES.items()} == {"a": {"href", "title"}}
    assert set(RICH_TEXT_PROTOCOLS) == {"http", "https", "mailto"}


def test_enough_hostile_inputs():
    assert len(HOSTILE) >= 25
    assert len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_input_is_neutralised(html):
    output = clean_rich_text(html)
    _assert_safe(output)
    # Idempotent: cleaning the cleaned text changes nothing (what is stored is what a second pass would keep).
    assert clean_rich_text(output) == output


@pytest.mark.parametrize(
    "html",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<code><a href="javascript:alert(1)">x</a></code>',
    ],
)
def test_script_urls_are_removed_not_kept(html):
    elements, _ = _elements(clean_rich_text(html))
    links = [attrs for tag, attrs in elements if tag == "a"]
    assert links, "the link text stays"
    assert all("href" not in attrs for attrs in links)


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<iframe>x</iframe>",
        "<svg><g>x</g></svg>",
        "<style>p{}</style>",
        "<textarea>x</textarea>",
        "<title>x</title>",
    ],
)
def test_disallowed_tags_are_stripped_not_escaped(html):
    output = clean_rich_text(html)
    assert "<" not in output
    assert "&lt;" not in output


def test_allowed_markup_survives():
    html = (
        "<p><strong>Let op</strong>: <em>groep</em> bij de <b>ingang</b> <i>na</i> schooltijd.<br></p>"
        "<ul><li>een</li></ul><ol><li>twee</li></ol><blockquote>citaat</blockquote><code>x &lt; y</code>"
    )
    assert clean_rich_text(html) == html


@pytest.mark.parametrize(
    ("html", "href"),
    [
        ('<a href="https://ok.example/pad?q=1" title="Uitleg">x</a>', "https://ok.example/pad?q=1"),
        ('<a href="http://ok.example">x</a>', "http://ok.example"),
        ('<a href="mailto:wijkagent@politie.example">x</a>', "mailto:wijkagent@politie.example"),
    ],
)
def test_safe_links_survive_with_rel(html, href):
    elements, _ = _elements(clean_rich_text(html))
    (tag, attrs), *_rest = elements
    assert tag == "a"
    assert attrs["href"] == href
    assert attrs["rel"] == SAFE_REL


def test_bare_urls_become_safe_links():
    elements, _ = _elements(clean_rich_text("zie https://www.example.org/x of www.example.org voor meer"))
    assert elements == [
        ("a", {"href": "https://www.example.org/x", "rel": SAFE_REL}),
        ("a", {"href": "http://www.example.org", "rel": SAFE_REL}),
    ]


def test_empty_input():
    assert clean_rich_text("") == ""
    assert clean_rich_text(None) == ""  # type: ignore[arg-type]
