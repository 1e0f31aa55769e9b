"""Screenshots of the portal for developers (not run by CI).

Starts the portal with the Almere demo data on a free loopback port (a scratch database, migrated and loaded the way
``make run`` does), signs in as the given accounts through the login form in Debian's chromium, and saves full-page
PNGs at desktop (1280 px) and phone (375 px) width into ./screenshots/ (git-ignored). The server is stopped at the end.

    .venv/bin/python scripts/screenshots.py                       # the default set below
    .venv/bin/python scripts/screenshots.py --shot rooms=coordinator.vaartzicht-college@demo.example:/rooms/
    .venv/bin/python scripts/screenshots.py --only login --only audit --out /tmp/shots

A shot is NAME=ACCOUNT:PATH; leave ACCOUNT empty (NAME=:PATH) for a signed-out page. Every account has the demo
password. In a PATH, ``{room}`` is the public id of "Schoolveiligheidsnetwerk Almere Stad" and ``{signal}`` that of
the newest signal in it (both looked up in the browser as the shot's account): ``--shot s=ACCOUNT:/signals/{signal}``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import (  # noqa: E402  (after the path is set)
    CHROMIUM,
    PortalServer,
    browser_sign_in,
    launch_chromium,
    prepare_database,
)

WIDTHS = {"desktop": 1280, "phone": 375}
COORDINATOR = "coordinator.vaartzicht-college@demo.example"
POLICE_OFFICER = "wijkagent.stad@demo.example"
ROOM_NAME = "Schoolveiligheidsnetwerk Almere Stad"  # what {room} in a path stands for
DEFAULT_SHOTS = [
    ("login", "", "/auth/login"),
    ("overview", COORDINATOR, "/"),
    ("room", COORDINATOR, "/rooms/{room}"),
    ("signal-form", COORDINATOR, "/signals/new"),
    ("signal", COORDINATOR, "/signals/{signal}"),
    ("signal-police", POLICE_OFFICER, "/signals/{signal}"),
    ("police", POLICE_OFFICER, "/police"),
    ("statistics", "parketsecretaris@demo.example", "/statistics"),
    ("privacy", "privacy@demo.example", "/privacy"),
    ("admin", "beheer@demo.example", "/admin/"),
    ("audit", "privacy@demo.example", "/audit/"),
    ("not-found", "", "/no-such-page"),
]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def parse_shot(text: str) -> tuple[str, str, str]:
    name, sep, rest = text.partition("=")
    account, colon, path = rest.partition(":")
    if not sep or not colon or not name or not path.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=ACCOUNT:PATH, e.g. audit=privacy@demo.example:/audit/")
    return name, account, path


def resolve(path: str, page, server: PortalServer, found: dict[str, str]) -> str:
    """Fill ``{room}`` and ``{signal}`` in a path by following links as the page's account, once per run."""
    if "{room}" in path or "{signal}" in path:
        if "room" not in found:
            page.goto(server.url("/"))
            href = page.get_by_role("link", name=ROOM_NAME, exact=True).first.get_attribute("href") or ""
            found["room"] = href.rstrip("/").rsplit("/", 1)[-1]
        if "{signal}" in path and "signal" not in found:
            page.goto(server.url(f"/rooms/{found['room']}"))
            href = page.locator("#signal-list article a").first.get_attribute("href") or ""
            found["signal"] = href.rstrip("/").rsplit("/", 1)[-1]
    return path.format_map(found)


def take(shots: list[tuple[str, str, str]], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="portal-screenshots-") as scratch:
        started = time.monotonic()
        say("Preparing the demo database (flask db upgrade, flask portal demo load) ...")
        database = prepare_database(Path(scratch) / "portal.sqlite3", demo=True)
        with PortalServer(database, log_dir=Path(scratch), name="screenshots") as server, sync_playwright() as pw:
            say(f"Portal on {server.base_url} ({time.monotonic() - started:.0f} s)")
            browser = launch_chromium(pw)
            try:
                contexts = {}
                found: dict[str, str] = {}
                for name, account, path in shots:
                    if account not in contexts:  # one browser profile per account, signed in once
                        context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
                        context.set_default_timeout(20_000)
                        page = context.new_page()
                        if account:
                            browser_sign_in(page, server, account)
                        contexts[account] = (context, page)
                    page = contexts[account][1]
                    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
                    path = resolve(path, page, server, found)
                    for label, width in WIDTHS.items():
                        page.set_viewport_size({"width": width, "height": 900})
                        response = page.goto(server.url(path))
                        target = out / f"{name}-{label}.png"
                        page.screenshot(path=str(target), full_page=True)
                        status = response.status if response else "?"
                        say(f"  {target}  ({path} as {account or 'signed out'}: HTTP {status})")
                        saved.append(target)
                for context, _page in contexts.values():
                    context.close()
            finally:
                browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="folder for the PNGs (./screenshots)")
    parser.add_argument("--shot", type=parse_shot, action="append", help="NAME=ACCOUNT:PATH (repeatable)")
    parser.add_argument("--only", action="append", help="take only the named default shots (repeatable)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        sys.stderr.write(f"{CHROMIUM} is missing: `make browser` (or apt-get install chromium) installs it.\n")
        return 2
    shots = args.shot or DEFAULT_SHOTS
    if args.only:
        shots = [shot for shot in shots if shot[0] in args.only]
        if not shots:
            parser.error(f"--only matches none of {[s[0] for s in DEFAULT_SHOTS]}")
    take(shots, args.out.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
