"""Browser tests: Playwright driving Debian's chromium against a real portal process with the Almere demo data.

Playwright's own browser download does not work here and is never attempted: the tests use /usr/bin/chromium
(`make browser` installs it) and skip, or fail with PORTAL_REQUIRE_SERVICES=1, when it is missing. axe-core comes
from the npm lock file in this folder (`make test-deps`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing_service
from tests.servers import PortalServer, prepare_database

AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 15_000


def pytest_configure(config):
    # Registered by pytest-xdist; registered here too so `-p no:xdist` works with --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (--dist loadgroup)")


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE_SCRIPT.exists():
        hint = "make test-deps" if shutil.which("npm") else "npm is not installed"
        missing_service(f"axe-core in tests/e2e/node_modules ({hint})")
    return AXE_SCRIPT


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> Iterator[PortalServer]:
    """The portal with the Almere demo data (`flask db upgrade` + `flask portal demo load`), once per run."""
    database = prepare_database(tmp_path_factory.mktemp("e2e") / "portal.sqlite3", demo=True)
    with PortalServer(database, log_dir=tmp_path_factory.mktemp("e2e-logs"), name="e2e") as server:
        yield server
