"""The restore drill of docs/operations.md ("Backup and restore"), end to end through the real command line.

On SQLite and on PostgreSQL (``PORTAL_TEST_DATABASE_URL``): a scratch database migrated like production and filled
with the Almere demo data, ``flask portal backup create``, ``backup restore`` into a second, empty database and
``backup verify`` against the manifest: ok. Then what the check must catch: a cut-off manifest, a manifest that
lost a table, a cut-off dump, a restore over a database that is not empty, and a restored database in which a row
was deleted and an audit record was edited behind the triggers' back. Every command is its own process
(``python -m flask --app wsgi ...``) with the clean environment of ``tests.servers.portal_env``.

The PostgreSQL scratch databases are named ``<test database>_drill_<random>_src/_dst`` and dropped afterwards; no
other database is touched.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from portal.ops import backup
from tests.conftest import PG_URL, missing_service
from tests.servers import ROOT, flask_cli, portal_env, sqlite_url

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _start(database_url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        flask_cli(*args),
        cwd=ROOT,
        env=portal_env(database_url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen, timeout: float = 120) -> Done:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Done(process.returncode, stdout, stderr)


def portal(database_url: str, *args: str) -> Done:
    return _wait(_start(database_url, *args))


def together(*commands: tuple[str, ...]) -> list[Done]:
    """Commands that only read (or must refuse) run side by side: each process spends ~1.5 s importing the app."""
    return [_wait(process) for process in [_start(*command) for command in commands]]


def ok(done: Done) -> str:
    assert done.returncode == 0, done.output
    return done.stdout


# --- the scratch databases ------------------------------------------------------------------------------------------


@dataclass
class Scratch:
    source: str  # migrated, demo data loaded
    target: str  # empty: the restore goes here
    prepared: Done | None = None


class PostgresScratch:
    """Two databases next to ``PORTAL_TEST_DATABASE_URL``'s, dropped again by ``drop()``."""

    def __init__(self, base_url: str):
        self.url = make_url(base_url)
        prefix = f"{self.url.database}_drill_{uuid.uuid4().hex[:8]}"
        self.names = [f"{prefix}_src", f"{prefix}_dst"]
        self.admin = sa.create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def create(self) -> Scratch:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        source, target = (self.url.set(database=name).render_as_string(hide_password=False) for name in self.names)
        return Scratch(source, target)

    def drop(self) -> None:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _prepare(scratch: Scratch) -> None:
    """What ``make run`` does: migrate, then the demo data (~8 s, the argon2 hashes of the demo accounts)."""
    done = portal(scratch.source, "db", "upgrade")
    if done.returncode == 0:
        done = portal(scratch.source, "portal", "demo", "load")
    scratch.prepared = done


@pytest.fixture(scope="module")
def scratches(tmp_path_factory):
    """Both backends' source databases, prepared side by side (the demo load dominates the drill's time)."""
    folder = tmp_path_factory.mktemp("drill")
    found = {"sqlite": Scratch(sqlite_url(folder / "source.sqlite3"), sqlite_url(folder / "restored.sqlite3"))}
    postgres = None
    if PG_URL:
        postgres = PostgresScratch(PG_URL)
        found["postgresql"] = postgres.create()
    try:
        with ThreadPoolExecutor(max_workers=len(found)) as pool:
            list(pool.map(_prepare, found.values()))
        yield found
    finally:
        if postgres is not None:
            postgres.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(request, scratches) -> Scratch:
    if request.param == "postgresql" and not PG_URL:
        missing_service("PostgreSQL (PORTAL_TEST_DATABASE_URL)")
    found = scratches[request.param]
    ok(found.prepared)
    return found


def _tamper(database_url: str) -> None:
    """What the check must see: a row gone from an ordinary table and an audit record edited, the append-only
    triggers bypassed as only someone with the database's own rights could."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(database_url).database)
        try:
            connection.execute("DELETE FROM signal_themes WHERE rowid = (SELECT min(rowid) FROM signal_themes)")
            connection.execute("DROP TRIGGER audit_events_no_update")
            connection.execute("UPDATE audit_events SET ip = '192.0.2.66' WHERE id = 7")
            connection.commit()
        finally:
            connection.close()
        return
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM signal_themes WHERE ctid = (SELECT min(ctid) FROM signal_themes)"))
            connection.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            connection.execute(sa.text("UPDATE audit_events SET ip = '192.0.2.66' WHERE id = 7"))
    finally:
        engine.dispose()


def _rows(table_output: str) -> dict[str, tuple[str, str, str]]:
    """``backup verify``'s table by check name: (expected, actual, result)."""
    found = {}
    for line in table_output.splitlines()[2:]:
        cells = [cell for cell in line.split("  ") if cell.strip()]
        if len(cells) == 4:
            found[cells[0].strip()] = tuple(cell.strip() for cell in cells[1:])
    return found


# --- the drill ------------------------------------------------------------------------------------------------------


def test_restore_drill(scratch, tmp_path):
    dump = tmp_path / "portal.dump"
    manifest_path = tmp_path / "portal.dump.manifest.json"

    # 1. The backup: a dump only the portal's user may read, and its manifest.
    created = ok(portal(scratch.source, "portal", "backup", "create", "--output", str(dump)))
    assert dump.is_file()
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(manifest_path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*partial"))
    manifest = json.loads(manifest_path.read_text())
    assert manifest["backend"] == make_url(scratch.source).get_backend_name()
    assert manifest["alembic_revision"]
    assert manifest["dump"]["bytes"] == dump.stat().st_size
    counts = manifest["row_counts"]
    assert counts["users"] > 20
    assert counts["signals"] > 10
    assert counts["meetings"] > 0
    assert counts["signal_themes"] > 0  # the tampering below deletes one
    # The backup is in the chain it copies; the head is the one `audit verify` would print.
    assert manifest["audit"]["intact"] is True
    assert manifest["audit"]["records"] == counts["audit_events"] > 7
    assert manifest["audit"]["head"].startswith(f"{counts['audit_events']}:")
    assert f"Head: {manifest['audit']['head']}" in created
    head = manifest["audit"]["head"]

    # 2. Restore into an empty database, 3. the drill's check: migrations, rows, the audit chain, its head.
    ok(portal(scratch.target, "portal", "backup", "restore", "--input", str(dump)))
    verified = ok(
        portal(scratch.target, "portal", "backup", "verify", "--manifest", str(manifest_path), "--expect-head", head)
    )
    rows = _rows(verified)
    assert rows["migrations: database at the code's head"][2] == "ok"
    assert rows["rows: signals"] == (str(counts["signals"]), str(counts["signals"]), "ok")
    assert rows["audit head"] == (head, head, "ok")
    assert rows["audit anchor (--expect-head)"][2] == "ok"
    assert len(rows) == 3 + len(counts) + 3  # backend, two migration checks; a row per table; chain, head, anchor
    assert "MISMATCH" not in verified
    assert "Backup verified: all" in verified

    # 4. What must be refused, side by side (all leave the restored database as it is).
    cut_manifest = tmp_path / "cut.manifest.json"
    cut_manifest.write_text(manifest_path.read_text()[: manifest_path.stat().st_size // 2])
    lost_table = tmp_path / "lost-table.manifest.json"
    lost_table.write_text(json.dumps({**manifest, "row_counts": {k: v for k, v in counts.items() if k != "users"}}))
    cut_dump = tmp_path / "cut.dump"
    cut_dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    (tmp_path / "cut.dump.manifest.json").write_text(manifest_path.read_text())
    over, cut_m, lost, cut_d = together(
        (scratch.target, "portal", "backup", "restore", "--input", str(dump)),
        (scratch.target, "portal", "backup", "verify", "--manifest", str(cut_manifest)),
        (scratch.target, "portal", "backup", "verify", "--manifest", str(lost_table)),
        (scratch.target, "portal", "backup", "restore", "--input", str(cut_dump), "--force"),
    )
    assert over.returncode == 1
    assert "is not empty" in over.stderr
    assert "--force" in over.stderr
    assert cut_m.returncode == 1
    assert "is not a backup manifest" in cut_m.stderr
    assert lost.returncode == 1
    assert "FAILED: 1 of" in lost.stderr
    assert _rows(lost.stdout)["rows: users"] == ("(not in manifest)", str(counts["users"]), "MISMATCH")
    assert cut_d.returncode == 1
    assert "is not the dump its manifest describes" in cut_d.stderr

    # 5. A restored database that differs from the backup fails the check and says where.
    _tamper(scratch.target)
    tampered = portal(scratch.target, "portal", "backup", "verify", "--manifest", str(manifest_path))
    assert tampered.returncode == 1, tampered.output
    rows = _rows(tampered.stdout)
    themes = counts["signal_themes"]
    assert rows["rows: signal_themes"] == (str(themes), str(themes - 1), "MISMATCH")
    assert rows["audit chain"] == (
        "intact",
        "broken at record 7: content does not match its hash (the record was edited)",
        "MISMATCH",
    )
    assert rows["audit head"] == (head, "(chain broken)", "MISMATCH")
    assert "FAILED: 3 of" in tampered.stderr


# --- no password on a command line ----------------------------------------------------------------------------------


def test_the_postgresql_tools_get_the_connection_from_the_environment(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "from-the-operator")
    url = make_url("postgresql+psycopg://portal:s3cr%3At@db.example:5433/portal?sslmode=verify-full&host=/run/pg")
    env = backup._libpq_env(url)
    assert env["PGPASSWORD"] == "s3cr:t"
    assert (env["PGUSER"], env["PGPORT"], env["PGDATABASE"], env["PGSSLMODE"]) == (
        "portal",
        "5433",
        "portal",
        "verify-full",
    )
    assert env["PGHOST"] == "/run/pg"  # the query's socket directory wins, as it does for psycopg
    # A URL without a password leaves the operator's own (PGPASSWORD, ~/.pgpass) alone.
    assert backup._libpq_env(make_url("postgresql+psycopg://portal@db/portal"))["PGPASSWORD"] == "from-the-operator"
    with pytest.raises(backup.BackupError, match="has no libpq variable"):
        backup._libpq_env(make_url("postgresql+psycopg://portal@db/portal?prepare_threshold=0"))
    assert backup._libpq_dbname("we'ird=name") == "dbname='we\\'ird=name'"
