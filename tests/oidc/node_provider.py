"""The real OpenID Connect provider (npm ``oidc-provider``, pinned in tests/oidc/package.json) for the SSO tests:
start ``server.mjs`` on loopback, and walk its development login and consent pages with ``requests`` the way a
browser would. Also a small catcher for the back-channel logout tokens the provider sends.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "server.mjs"
PORTAL_ORIGIN = "http://localhost"  # the BASE_URL of the test apps
STARTUP_TIMEOUT = 30.0


def node_available() -> str | None:
    """Why the real provider cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "tests/oidc/node_modules is missing (npm ci --prefix tests/oidc)"
    return None


class NodeProvider:
    """``node server.mjs CONFIG`` in its own process; ``issuers`` maps each slug to its issuer URL."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        config_path = workdir / "oidc-provider.json"
        config_path.write_text(json.dumps(config))
        self.stderr_path = workdir / "oidc-provider.log"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [shutil.which("node") or "node", str(SERVER_SCRIPT), str(config_path)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        reader = threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            self.close()
            raise RuntimeError(f"oidc-provider did not start: {self.log()}") from None
        if not first:
            self.close()
            raise RuntimeError(f"oidc-provider exited: {self.log()}")
        self.issuers: dict[str, str] = json.loads(first)["issuers"]

    def log(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


class BackchannelCatcher:
    """Receives the logout tokens the provider POSTs to a client's ``backchannel_logout_uri``: the portal under
    test is a Flask test client, not a server, so the test forwards what arrives here."""

    def __init__(self) -> None:
        self.tokens: queue.Queue[tuple[str, str]] = queue.Queue()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                catcher.tokens.put((self.path, form.get("logout_token", [""])[0]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="backchannel-catcher", daemon=True
        )
        self.thread.start()

    def uri(self, slug: str) -> str:
        return f"{self.origin}/auth/oidc/{slug}/backchannel-logout"

    def next_token(self, timeout: float = 10.0) -> tuple[str, str]:
        return self.tokens.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- a browser's part, over plain HTTP --------------------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.loose: list[dict[str, str]] = []  # inputs and buttons outside a form (form="...")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": a.get("id", ""), "action": a.get("action", ""), "fields": {}})
        elif tag in {"input", "button"} and a.get("name"):
            if a.get("form") or not self.forms:
                self.loose.append(a)
            elif a.get("type", "submit" if tag == "button" else "text") in {"hidden", "text", "password"}:
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def _next_form(html: str, login: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(html)
    if not parser.forms:
        raise AssertionError(f"no form on the provider's page: {html[:500]}")
    form = parser.forms[0]
    fields = dict(form["fields"])
    if "login" in fields:
        fields.update(login=login, password="any password: devInteractions accept it")
    for extra in parser.loose:  # e.g. the logout page's "Yes, sign me out" button, bound with form="op.logoutForm"
        if extra.get("form") == form["id"] and extra.get("value"):
            fields[extra["name"]] = extra["value"]
            break
    return form["action"], fields


def walk(session: requests.Session, url: str, *, login: str, max_steps: int = 20) -> str:
    """Follow the provider's redirects and submit its forms until it sends the browser back to the portal;
    return that URL (the callback or the post-logout redirect URI)."""
    method, data = "GET", None
    for _ in range(max_steps):
        if url.startswith(PORTAL_ORIGIN + "/"):
            return url
        response = session.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            method, data = "GET", None
            continue
        assert response.status_code == 200, f"{response.status_code} from {url}: {response.text[:500]}"
        action, data = _next_form(response.text, login)
        url, method = urljoin(url, action), "POST"
    raise AssertionError("the provider did not send the browser back to the portal")


def portal_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
