"""Real portal servers for the real-time tests, the browser tests and ``scripts/screenshots.py``.

A server here is ``flask --app wsgi portal serve`` in its own process, on a free port of 127.0.0.1, over a scratch
SQLite database that was migrated like production (``flask db upgrade``). Nothing in this module imports pytest,
so the screenshot script can use it too. Every process it starts is ended by the object that started it.

Run as ``python -m tests.servers seed|block ...`` it is also the small helper that prepares a database or blocks an
account from a second process, with the same ``PORTAL_*`` environment as the servers.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET_KEY = "servers-test-secret-" + "k" * 40
DEMO_PASSWORD = "Almere-demo-2026"
USER_PASSWORD = "Realtime-test-2026!"
SESSION_COOKIE = "portal_session"  # over plain http; production's __Host- cookie needs https
STARTUP_TIMEOUT = 30.0

_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class ServerError(RuntimeError):
    """A server or helper process did not do what it should; the message carries its output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def portal_env(database_url: str, *, base_url: str = "", redis_url: str | None = None) -> dict[str, str]:
    """The environment of a server or helper: this process's, without any PORTAL_* that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    env.update(
        PORTAL_ENV="development",
        PORTAL_DEMO_MODE="1",
        PORTAL_SECRET_KEY=SECRET_KEY,
        PORTAL_DATABASE_URL=database_url,
        PORTAL_DEMO_PASSWORD=DEMO_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    if base_url:
        env["PORTAL_BASE_URL"] = base_url
    if redis_url:
        env["PORTAL_REDIS_URL"] = redis_url
        # Redis pub/sub ignores the database index, and the xdist workers of one run share the index: without a
        # channel of their own, one worker's servers received the other's room events (their ids overlap).
        env["PORTAL_SOCKETIO_CHANNEL"] = f"portal-test:{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:{redis_url}"
    return env


def _run(args: Sequence[str], env: dict[str, str], *, timeout: float = 120) -> str:
    try:
        done = subprocess.run(
            list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:  # subprocess.run has already killed it
        raise ServerError(f"{' '.join(args)} did not finish within {timeout} s") from error
    if done.returncode != 0:
        raise ServerError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def flask_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def prepare_database(path: Path, *, demo: bool = False, users: Iterable[str] = ()) -> str:
    """Migrate a new SQLite file and fill it; returns its URL.

    ``demo``: ``flask db upgrade`` and ``flask portal demo load``, as ``make run`` does (about 10 s: every demo
    account's password is hashed with argon2). ``users``: migrate and add these accounts (password
    ``USER_PASSWORD``) in one helper process, which is much quicker.
    """
    url = sqlite_url(path)
    env = portal_env(url)
    if demo:
        _run(flask_cli("db", "upgrade"), env)
        _run(flask_cli("portal", "demo", "load"), env)
    users = list(users)
    if users or not demo:
        _run([sys.executable, "-m", "tests.servers", "seed", *users], env)
    return url


def block_user(database_url: str, email: str, *, redis_url: str | None = None) -> None:
    """Block an account from another process, as an administrator's command would (identity.services)."""
    _run([sys.executable, "-m", "tests.servers", "block", email], portal_env(database_url, redis_url=redis_url))


class PortalServer:
    """One ``flask portal serve`` process. ``start()`` returns at once; ``wait_ready()`` polls ``/healthz``."""

    def __init__(self, database_url: str, *, redis_url: str | None = None, log_dir: Path, name: str = "portal"):
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """What runs the server; subclasses serve it otherwise (gunicorn, as in production)."""
        return flask_cli("portal", "serve", "--host", HOST, "--port", str(self.port))

    def environment(self) -> dict[str, str]:
        return portal_env(self.database_url, base_url=self.base_url, redis_url=self.redis_url)

    def start(self) -> PortalServer:
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C in a terminal reaches pytest, which then stops us in order
            )
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> PortalServer:
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.base_url} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = requests.get(self.url("/healthz"), timeout=2)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return self
                last = response.text
            except requests.RequestException as error:
                last = str(error)
            time.sleep(0.1)
        raise ServerError(f"{self.base_url} not healthy within {timeout} s ({last}):\n{self.log_tail()}")

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def stop(self) -> None:
        """End the process we started (by its pid only), politely first."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def __enter__(self) -> PortalServer:
        self.start()
        try:
            return self.wait_ready()
        except BaseException:  # __exit__ does not run when __enter__ fails
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_servers(servers: Sequence[PortalServer]) -> list[PortalServer]:
    """Start several servers side by side (their start-up overlaps), then wait for each; stop all on failure."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return list(servers)


class HttpUser:
    """A browser without a browser: a ``requests.Session`` that signs in through the real login form."""

    def __init__(self, server: PortalServer):
        self.server = server
        self.http = requests.Session()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HttpUser:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.server.url(path), **kwargs)

    def csrf_token(self, path: str) -> str:
        response = self.get(path)
        match = _CSRF.search(response.text)
        if not match:
            raise AssertionError(f"no csrf_token on {path} ({response.status_code})")
        return match.group(1)

    def post_form(self, path: str, data: dict[str, str], *, token_from: str) -> requests.Response:
        data = {**data, "csrf_token": self.csrf_token(token_from)}
        return self.http.post(self.server.url(path), data=data, timeout=10, allow_redirects=False)

    def sign_in(self, email: str, password: str = USER_PASSWORD) -> HttpUser:
        response = self.post_form(
            "/auth/login", {"email": email, "password": password, "totp": ""}, token_from="/auth/login"
        )
        if response.status_code != 302 or self.session_cookie is None:
            raise AssertionError(f"sign-in of {email} failed: {response.status_code}")
        return self

    def sign_out(self) -> requests.Response:
        return self.post_form("/auth/logout", {}, token_from="/")

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)

    @property
    def cookie_header(self) -> str:
        return f"{SESSION_COOKIE}={self.session_cookie}"

    def is_signed_in(self) -> bool:
        return self.get("/").status_code == 200


# --- a real browser (Playwright driving Debian's chromium) ----------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Playwright's own browser download does not work here and is never attempted
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """Debian's chromium, headless, with nothing that reaches beyond loopback."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def browser_sign_in(page, server: PortalServer, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign a Playwright page in through the login form, as a person would (fields found by their labels)."""
    page.goto(server.url("/auth/login"))
    page.get_by_label(re.compile(r"^E-mail")).fill(email)
    page.get_by_label(re.compile(r"^(Password|Wachtwoord)")).fill(password)
    page.locator("form[action$='/auth/login'] button[type=submit]").click()
    page.wait_for_url(server.url("/"))


# --- the helper process (python -m tests.servers ...) -----------------------------------------------------------


def _seed(emails: list[str]) -> None:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.core.db import commit
    from portal.identity import services as identity
    from portal.organisations import services as organisations
    from portal.organisations.models import OrganisationKind

    app = create_app()
    with app.app_context():
        upgrade()  # what `flask db upgrade` runs
        organisation = organisations.get_organisation("servers-test") or organisations.save_organisation(
            None, code="servers-test", name="Gemeente Almere, testteam", kind=OrganisationKind.MUNICIPALITY_UNIT
        )
        for email in emails:
            if identity.find_user_by_email(email) is None:
                name = email.split("@", 1)[0].capitalize()
                identity.create_user(email=email, display_name=name, organisation=organisation, password=USER_PASSWORD)
        commit()


def _block(email: str) -> None:
    from portal import create_app
    from portal.core.db import commit
    from portal.identity import services as identity
    from portal.identity.models import UserStatus

    app = create_app()
    with app.app_context():
        user = identity.find_user_by_email(email)
        if user is None:
            raise SystemExit(f"no account {email}")
        identity.set_status(user, UserStatus.BLOCKED, actor=None, ip=HOST)
        commit()  # the sockets are kicked after this commit, through the message queue when there is one


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.servers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed", help="migrate the database in PORTAL_DATABASE_URL and add accounts")
    seed.add_argument("emails", nargs="*")
    block = commands.add_parser("block", help="block an account (and so sign it out everywhere)")
    block.add_argument("email")
    args = parser.parse_args(argv)
    if args.command == "seed":
        _seed(args.emails)
    else:
        _block(args.email)


if __name__ == "__main__":
    main()
