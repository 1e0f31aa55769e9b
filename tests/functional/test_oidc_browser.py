"""Single sign-on in a real browser: Debian's chromium (Playwright) clicks "Inloggen via Politie" on a real portal
process, signs in at a real OpenID provider (npm ``oidc-provider``) and comes back signed in."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing_service
from tests.oidc.node_provider import NodeProvider, node_available
from tests.servers import CHROMIUM, HOST, ROOT, PortalServer, flask_cli, portal_env, prepare_database

pytestmark = pytest.mark.browser

CLIENT_ID, CLIENT_SECRET = "portal-politie", "politie-browser-secret"
POLICE_ORGANISATION = "politie-bureau-almere"
TIMEOUT_MS = 15_000


class SsoPortalServer(PortalServer):
    """``tests.servers.PortalServer`` with a configuration file (``PORTAL_CONFIG``) naming identity providers."""

    def __init__(self, database_url: str, *, log_dir: Path) -> None:
        super().__init__(database_url, log_dir=log_dir, name="sso")
        self.config_path = log_dir / "portal.toml"

    def start(self) -> PortalServer:
        env = portal_env(self.database_url, base_url=self.base_url)
        env["PORTAL_CONFIG"] = str(self.config_path)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                flask_cli("portal", "serve", "--host", HOST, "--port", str(self.port)),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self


ADD_POLICE = """
from portal import create_app
from portal.core.db import commit
from portal.organisations import services
from portal.organisations.models import OrganisationKind
app = create_app()
with app.app_context():
    if services.get_organisation({code!r}) is None:
        services.save_organisation(None, code={code!r}, name="Politie Bureau Almere", kind=OrganisationKind.POLICE_UNIT)
    commit()
"""


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory):
    reason = node_available()
    if reason:
        missing_service(f"the real OpenID provider ({reason})")
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium ({CHROMIUM}; make browser installs it)")
    workdir = tmp_path_factory.mktemp("oidc-browser")
    database = prepare_database(workdir / "portal.sqlite3")
    subprocess.run(
        [sys.executable, "-c", ADD_POLICE.format(code=POLICE_ORGANISATION)],
        cwd=ROOT,
        env=portal_env(database),
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = SsoPortalServer(database, log_dir=workdir)
    idp = NodeProvider(
        {
            "providers": [
                {
                    "slug": "politie",
                    "clients": [
                        {
                            "client_id": CLIENT_ID,
                            "client_secret": CLIENT_SECRET,
                            "redirect_uris": [server.url("/auth/oidc/politie/callback")],
                            "post_logout_redirect_uris": [server.url("/auth/oidc/politie/logged-out")],
                        }
                    ],
                    "accounts": {"agent-jansen": {"name": "Agent Jansen", "roles": ["jeugdagent"]}},
                }
            ]
        },
        workdir,
    )
    server.config_path.write_text(
        f"""
[identity_providers.politie]
display_name = "Politie"
issuer = "{idp.issuers["politie"]}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
scopes = "openid profile email"
organisation = "{POLICE_ORGANISATION}"
role_claim = "roles"
auto_approve = true

[identity_providers.politie.roles]
jeugdagent = "police_officer"
"""
    )
    try:
        with server:
            yield server
    finally:
        idp.close()


def test_click_inloggen_via_politie_signs_in(sso_server, chromium_browser):
    context = chromium_browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(sso_server.url("/auth/login"))
        # "Inloggen via Politie" once the Dutch catalogue has the msgid, "Sign in via Politie" until then
        page.get_by_role("link", name=re.compile(r"^(Inloggen|Sign in) via Politie$")).click()
        page.locator("input[name=login]").fill("agent-jansen")
        page.locator("input[name=password]").fill("any password")
        page.locator("button[type=submit]").click()
        page.locator("button[type=submit]").click()  # the provider's consent page: Continue
        page.wait_for_url(sso_server.url("/"))
        assert "Agent Jansen" in page.locator("header").inner_text()
    finally:
        context.close()
