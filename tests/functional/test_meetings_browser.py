"""In a real browser (Debian's chromium through Playwright) against a real portal process with the demo data: a
member proposes an agenda item, the chair sees it appear without reloading, accepts it, moves it up with the
keyboard-usable buttons (JavaScript reorders in place), finalises the agenda and exports it as PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.conftest import missing_service
from tests.servers import CHROMIUM, PortalServer, browser_sign_in, prepare_database

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def meeting_server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium ({CHROMIUM}; make browser installs it)")
    database = prepare_database(tmp_path_factory.mktemp("meetings-e2e") / "portal.sqlite3", demo=True)
    with PortalServer(database, log_dir=tmp_path_factory.mktemp("meetings-e2e-logs"), name="meetings") as server:
        yield server


def test_prepare_an_agenda_from_a_proposal_and_export_it(meeting_server, chromium_browser):
    from playwright.sync_api import expect
    from pypdf import PdfReader

    server = meeting_server
    browser = chromium_browser
    if browser:  # one shared browser per test process (tests/conftest.py)
        try:
            chair = browser.new_context(locale="nl-NL").new_page()
            chair.set_default_timeout(TIMEOUT_MS)
            browser_sign_in(chair, server, "veiligheidsmanager.stad@demo.example")
            chair.get_by_role("link", name="Schoolveiligheidsnetwerk Almere Stad").first.click()
            chair.locator("main a[href$='/meetings']").first.click()
            chair.get_by_role("link", name=re.compile(r"\(najaar\)")).first.click()
            chair.locator(".portal-tabs a[href$='/agenda']").click()
            agenda_url = chair.url
            expect(chair.locator("#connection-state")).to_have_attribute("data-state", "online")
            expect(chair.locator("#agenda-list > li")).to_have_count(9)

            member = browser.new_context(locale="nl-NL").new_page()
            member.set_default_timeout(TIMEOUT_MS)
            browser_sign_in(member, server, "coordinator.vaartzicht-college@demo.example")
            member.goto(agenda_url)
            member.select_option("#kind", "thema")
            member.fill("#title", "Vapes op het schoolplein")
            member.fill("#duration_min", "10")
            member.locator("form[action$='/agenda/items'] button[type=submit]").click()
            expect(member.locator(".utrecht-alert--ok, .utrecht-alert")).not_to_have_count(0)

            # The chair sees the proposal appear live, before the closing items, without reloading.
            proposal = chair.locator("#agenda-list > li", has_text="Vapes op het schoolplein")
            expect(proposal).to_have_count(1)
            assert chair.url == agenda_url
            chair.reload()
            proposal = chair.locator("#agenda-list > li", has_text="Vapes op het schoolplein")
            proposal.get_by_role("button", name=re.compile(r"^Accepteren|^Accept")).click()
            proposal = chair.locator("#agenda-list > li", has_text="Vapes op het schoolplein")
            items = chair.locator("#agenda-list > li")
            position = [items.nth(i).inner_text() for i in range(items.count())].index(proposal.inner_text())
            proposal.locator("[data-move=up]").click()  # JavaScript: reordered in place, saved with fetch
            expect(items.nth(position - 1)).to_contain_text("Vapes op het schoolplein")
            chair.wait_for_timeout(500)
            chair.reload()
            expect(chair.locator("#agenda-list > li").nth(position - 1)).to_contain_text("Vapes op het schoolplein")

            chair.locator("form button[name=status][value=agenda_definitief]").first.click()
            expect(chair.locator(".portal-status--agenda_definitief")).to_have_count(1)
            pdf_link = chair.locator(".portal-tabs a[href$='/agenda']")
            pdf_link.click()
            href = chair.locator("a[href$='/agenda.pdf']").get_attribute("href")
            response = chair.request.get(server.url(href))
            assert response.status == 200
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
            assert "Vapes op het schoolplein" in text
            assert "K2" in text
            assert "Ingrid Peters" in text  # the watermark names who downloaded it
        finally:
            for context in browser.contexts:
                context.close()
