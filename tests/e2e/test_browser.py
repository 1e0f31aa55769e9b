"""What a person does in a real browser, and an axe-core check (WCAG 2.1 A and AA) of the main pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import TIMEOUT_MS
from tests.servers import DEMO_PASSWORD, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("servers")]

COORDINATOR = "coordinator.vaartzicht-college@demo.example"
PRIVACY_OFFICER = "privacy@demo.example"
OM_OFFICER = "parketsecretaris@demo.example"  # invited to Almere Stad's meetings as a guest (demo data)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"desktop": 1280, "phone": 375}
# (name, account or None for anonymous, path, expected HTTP status)
PAGES = [
    ("login", None, "/auth/login", 200),
    ("overview", COORDINATOR, "/", 200),
    ("sessions", COORDINATOR, "/account/sessions", 200),
    ("not-found", COORDINATOR, "/no-such-page", 404),
    ("audit", PRIVACY_OFFICER, "/audit/", 200),
    ("my-meetings", OM_OFFICER, "/meetings/invitations", 200),
]


def test_coordinator_signs_in_with_the_keyboard_and_sees_her_network(chromium_browser, demo_server):
    from playwright.sync_api import expect

    context = chromium_browser.new_context(base_url=demo_server.base_url)  # the app's CSP applies
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        page.goto("/")  # the login wall sends her to the login page, and back afterwards
        assert re.search(r"/auth/login\?next=/?$", page.url), page.url
        email = page.locator("#email")
        for _ in range(30):  # Tab through the page to the e-mail field (none needed when it has autofocus)
            if email.evaluate("element => element === document.activeElement"):
                break
            page.keyboard.press("Tab")
        expect(email).to_be_focused()
        page.keyboard.type(COORDINATOR)
        page.keyboard.press("Tab")
        expect(page.locator("#password")).to_be_focused()
        page.keyboard.type(DEMO_PASSWORD)
        page.keyboard.press("Enter")

        page.wait_for_url(demo_server.url("/"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Sanne de Vries")
        expect(page.get_by_text("Schoolveiligheidsnetwerk Almere Stad").first).to_be_visible()
        expect(page.get_by_role("navigation")).to_be_visible()
        assert problems == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def axe_pages(chromium_browser, demo_server) -> Iterator:
    """One signed-in page per account (CSP bypassed so that axe can be injected), reused across the checks."""
    contexts = []
    pages = {}

    def _page_for(account: str | None):
        if account not in pages:
            context = chromium_browser.new_context(bypass_csp=True)
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            if account is not None:
                browser_sign_in(page, demo_server, account)
            pages[account] = page
        return pages[account]

    yield _page_for
    for context in contexts:
        context.close()


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {' '.join(node['target'])}: {node['summary']}" for node in violation["nodes"][:5])
    return "\n".join(lines)


def _violations(page, axe_script) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now."""
    page.add_script_tag(path=str(axe_script))
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary})),
            }));
        }""",
        WCAG_TAGS,
    )


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize(("name", "account", "path", "status"), PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_wcag21_aa_violations(axe_pages, demo_server, axe_script, name, account, path, status, width):
    page = axe_pages(account)
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(demo_server.url(path))
    assert response is not None
    assert response.status == status
    violations = _violations(page, axe_script)
    assert violations == [], f"{name} at {width}px:\n{_describe(violations)}"


def test_om_guest_opens_an_invited_meeting_from_my_meetings(axe_pages, demo_server, axe_script):
    """The OM has no seat in Almere Stad's room, but is invited to its meetings: "Mijn bijeenkomsten" lists them, the
    meeting opens as a guest (no links into the room), and the page passes axe."""
    from playwright.sync_api import expect

    page = axe_pages(OM_OFFICER)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    page.goto(demo_server.url("/"))
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mijn bijeenkomsten").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("Almere Stad")
    table.get_by_role("link").first.click()
    expect(page.get_by_text("U bent als gast uitgenodigd")).to_be_visible()
    breadcrumb = page.get_by_role("navigation", name="Kruimelpad")
    expect(breadcrumb.get_by_role("link")).to_have_text(["Mijn bijeenkomsten"])
    page.get_by_role("navigation", name="Bijeenkomst").get_by_role("link", name="Agenda").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    violations = _violations(page, axe_script)
    assert violations == [], f"guest agenda:\n{_describe(violations)}"
