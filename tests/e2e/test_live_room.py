"""The live room page in a real browser: a signal posted by one person appears for another without a reload, and an
axe-core check (WCAG 2.1 A and AA) of the room page, the signal form and a signal's page at desktop and phone width.

Two people of the Almere demo data: the safety coordinator of Vaartzicht College posts, the police officer of
Almere Stad watches the room "Schoolveiligheidsnetwerk Almere Stad". Elements are found by their ids and form
names rather than by text, so the test does not depend on the interface language (Dutch by default).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.test_browser import WCAG_TAGS, WIDTHS, _describe
from tests.servers import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("servers")]

COORDINATOR = "coordinator.vaartzicht-college@demo.example"
POLICE_OFFICER = "wijkagent.stad@demo.example"
ROOM_NAME = "Schoolveiligheidsnetwerk Almere Stad"
LIVE_WITHIN_MS = 10_000  # from "Share signal" to the banner on the other screen, on a loaded CI machine
SIGNAL_PATH = re.compile(r"/signals/[0-9a-f-]{36}$")


def _watch_for_problems(page, problems: list[str]) -> None:
    """Script errors and console errors (CSP refusals, failed requests); the browser's own favicon probe aside."""

    def on_console(msg) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", on_console)


def _words(text: str) -> list[str]:
    return text.split()


def _open_room(page, server) -> str:
    """From the home page to the room, as a person would; returns the room page's path."""
    page.goto(server.url("/"))
    page.get_by_role("link", name=ROOM_NAME, exact=True).first.click()
    page.wait_for_url(re.compile(r"/rooms/[0-9a-f-]{36}$"))
    return page.url.removeprefix(server.base_url)


def test_signal_posted_by_coordinator_appears_live_for_police_officer(chromium_browser, demo_server):
    from playwright.sync_api import expect

    contexts = []
    problems: list[str] = []
    try:
        pages = {}
        for who in (COORDINATOR, POLICE_OFFICER):  # the app's CSP applies: live.js must work under it
            context = chromium_browser.new_context(base_url=demo_server.base_url)
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            _watch_for_problems(page, problems)
            browser_sign_in(page, demo_server, who)
            pages[who] = page
        coordinator, police = pages[COORDINATOR], pages[POLICE_OFFICER]
        room_path = _open_room(police, demo_server)
        assert _open_room(coordinator, demo_server) == room_path
        for page in (coordinator, police):
            expect(page.locator("#connection-state")).to_have_attribute("data-state", "online")
        banner, show = police.locator("#new-signals"), police.locator("#show-new")
        expect(banner).to_be_hidden()
        police.evaluate("() => { window.portalNotReloaded = true; }")  # gone if the page were reloaded

        # The coordinator posts a signal through the form, reached from the room's "Post a signal" button.
        coordinator.locator("a[href*='/signals/new']").first.click()
        coordinator.wait_for_url(re.compile(r"/signals/new"))
        summary = f"vechtpartij bij de fietsenstalling na schooltijd, live test {uuid.uuid4().hex[:6]}"
        coordinator.locator("#category").select_option("geweld")
        coordinator.locator("#location_type").select_option("schoolterrein")
        coordinator.locator("input[name=severity][value=midden]").check()
        coordinator.locator("#summary").fill(summary)
        coordinator.locator("#occurred_on").fill((datetime.now(UTC).date() - timedelta(days=1)).isoformat())
        coordinator.locator("button[name=action][value=share]").click()
        coordinator.wait_for_url(SIGNAL_PATH)
        expect(coordinator.get_by_role("heading", level=1)).to_have_text(summary)

        # The officer's page shows the banner and announces the signal to screen readers, without a reload.
        expect(banner).to_be_visible(timeout=LIVE_WITHIN_MS)
        expect(show).to_have_text(show.get_attribute("data-template-one"))
        expect(police.locator("#live-announcer")).to_contain_text(summary)
        expect(police.locator("#signal-list").get_by_text(summary)).to_have_count(0)  # not before the click
        show.click()
        card = police.locator("#signal-list > article").first
        expect(card).to_contain_text(summary)
        expect(card.get_by_role("link", name=summary)).to_be_focused()
        expect(banner).to_be_hidden()
        expect(police.locator("#connection-state")).to_have_attribute("data-state", "online")
        assert police.evaluate("() => window.portalNotReloaded === true")
        assert police.url == demo_server.url(room_path)
        expect(card.locator("[data-field=severity]")).to_have_class(re.compile(r"portal-badge--severity-midden"))
        live_card = _words(card.inner_text())

        # After a reload the server renders the same card: the live client shows what the page would.
        police.reload()
        signal_id = coordinator.url.rsplit("/", 1)[-1]
        card = police.locator(f"#signal-list > article[data-signal-id='{signal_id}']")
        assert _words(card.inner_text()) == live_card

        # The card leads to the signal's page, the same one the coordinator landed on.
        card.get_by_role("link", name=summary).click()
        police.wait_for_url(SIGNAL_PATH)
        assert police.url == coordinator.url
        expect(police.get_by_role("heading", level=1)).to_have_text(summary)
        assert problems == []
    finally:
        for context in contexts:
            context.close()


def _axe(page, axe_script) -> list[dict]:
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


def test_room_form_and_signal_pages_have_no_wcag21_aa_violations(chromium_browser, demo_server, axe_script):
    """One browser per person (CSP bypassed so that axe can be injected); every page at both widths."""
    contexts = []
    found: list[str] = []
    try:
        pages = {}
        for who in (COORDINATOR, POLICE_OFFICER):
            context = chromium_browser.new_context(bypass_csp=True)
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            browser_sign_in(page, demo_server, who)
            pages[who] = page
        room_path = _open_room(pages[COORDINATOR], demo_server)
        first_signal = pages[COORDINATOR].locator("#signal-list article a").first.get_attribute("href")
        assert SIGNAL_PATH.search(first_signal or ""), first_signal
        checks = [
            ("room", COORDINATOR, room_path),
            ("signal form", COORDINATOR, "/signals/new"),
            ("signal", COORDINATOR, first_signal),
            ("room (police)", POLICE_OFFICER, room_path),
            ("signal (police)", POLICE_OFFICER, first_signal),
        ]
        for name, who, path in checks:
            page = pages[who]
            for width in WIDTHS.values():
                page.set_viewport_size({"width": width, "height": 900})
                response = page.goto(demo_server.url(path))
                assert response is not None
                assert response.status == 200, f"{name}: {path} answered {response.status}"
                violations = _axe(page, axe_script)
                if violations:
                    found.append(f"{name} ({path}) at {width}px:\n{_describe(violations)}")
    finally:
        for context in contexts:
            context.close()
    assert found == [], "\n\n".join(found)
