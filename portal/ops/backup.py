"""Backup, restore and the restore drill's check (docs/operations.md, "Backup and restore"; docs/security.md R-REL-6).

A backup is two files. The dump: PostgreSQL's ``pg_dump --format=custom``, or for SQLite a copy made with SQLite's
online backup API (both consistent while the portal keeps running). The manifest next to it (``<dump>.manifest.json``)
says what the dump holds: the migration revision, the rows per table, the head of the audit chain, the dump's size
and SHA-256. All of it is read from the very snapshot the dump was made from (PostgreSQL: ``pg_export_snapshot()``
handed to ``pg_dump --snapshot``; SQLite: read from the copy itself), so it describes the dump exactly, also while
people are posting signals.

``verify`` compares the configured database with a manifest: that comparison is the drill's check, after a restore
into a fresh database. Nothing here prints or passes a password on a command line: the PostgreSQL tools get the
connection through libpq's environment variables (``PGPASSWORD`` among them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.engine import URL, Connection
from sqlalchemy.orm import Session

from portal.audit import services as audit
from portal.audit.models import AuditEvent
from portal.extensions import db

MANIFEST_FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
PACKAGE = "almere-schoolveiligheid-portal"

# Connection options of a PostgreSQL URL's query string and the libpq environment variable that carries each.
_LIBPQ_QUERY = {
    "host": "PGHOST",  # a socket directory: postgresql+psycopg://portal@/portal?host=/var/run/postgresql
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
}


class BackupError(Exception):
    """The backup, restore or check could not be done. The message says why; it never holds a password."""


def default_manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


# --- the manifest -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    backend: str  # "postgresql" or "sqlite"
    created_at: str  # ISO 8601, UTC
    portal_version: str
    alembic_revision: str
    row_counts: dict[str, int]
    audit_head: str  # "<id>:<hash>", as ``flask portal audit verify`` prints it
    audit_records: int
    audit_intact: bool
    audit_problem: str
    dump_file: str  # the dump's file name (the manifest lies next to it)
    dump_bytes: int
    dump_sha256: str

    def to_json(self) -> str:
        document = {
            "format": MANIFEST_FORMAT,
            "backend": self.backend,
            "created_at": self.created_at,
            "portal_version": self.portal_version,
            "alembic_revision": self.alembic_revision,
            "audit": {
                "head": self.audit_head,
                "records": self.audit_records,
                "intact": self.audit_intact,
                "problem": self.audit_problem,
            },
            "row_counts": dict(sorted(self.row_counts.items())),
            "dump": {"file": self.dump_file, "bytes": self.dump_bytes, "sha256": self.dump_sha256},
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise BackupError(f"cannot read the manifest {path}: {error.strerror}") from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BackupError(f"{path} is not a backup manifest (not JSON; cut off?): {error}") from error
        try:
            if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is not {MANIFEST_FORMAT}")
            audit_part = _field(document, "audit", dict)
            dump = _field(document, "dump", dict)
            counts = _field(document, "row_counts", dict)
            if not counts or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()
            ):
                raise ValueError("row_counts must map every table to a number of rows")
            head = _field(audit_part, "head", str)
            audit.parse_head(head)
            manifest = cls(
                backend=_field(document, "backend", str),
                created_at=_field(document, "created_at", str),
                portal_version=_field(document, "portal_version", str),
                alembic_revision=_field(document, "alembic_revision", str),
                row_counts=dict(counts),
                audit_head=head,
                audit_records=_field(audit_part, "records", int),
                audit_intact=_field(audit_part, "intact", bool),
                audit_problem=_field(audit_part, "problem", str),
                dump_file=_field(dump, "file", str),
                dump_bytes=_field(dump, "bytes", int),
                dump_sha256=_field(dump, "sha256", str),
            )
        except ValueError as error:
            raise BackupError(f"{path} is not a complete backup manifest: {error}") from error
        return manifest


def _field(document: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in document:
        raise ValueError(f"{key!r} is missing")
    value = document[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key!r} is not a {kind.__name__}")
    return value


# --- what a database holds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseState:
    revision: str  # alembic revision(s), "" when the database was never migrated
    row_counts: dict[str, int]  # every table of the portal's schema that exists
    audit: audit.VerifyReport


def _portal_tables(existing: set[str]) -> list[sa.Table]:
    tables = [table for table in db.metadata.sorted_tables if table.name in existing]
    if "alembic_version" in existing:
        tables.append(sa.table("alembic_version"))
    return tables


def _read_state(connection: Connection) -> DatabaseState:
    """Revision, row counts and the audit chain's walk, all in ``connection``'s current transaction."""
    existing = set(sa.inspect(connection).get_table_names())
    revision = ""
    if "alembic_version" in existing:
        revision = ",".join(sorted(connection.scalars(sa.text("SELECT version_num FROM alembic_version"))))
    counts = {
        table.name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for table in _portal_tables(existing)
    }
    if "audit_events" not in existing:
        return DatabaseState(revision, counts, audit.VerifyReport(0, None))
    with Session(bind=connection) as session:
        events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
        try:
            report = audit.verify_chain(events)
        finally:
            events.close()
    return DatabaseState(revision, counts, report)


def _backend() -> str:
    name = db.engine.dialect.name
    if name not in ("postgresql", "sqlite"):
        raise BackupError(f"backups of a {name} database are not supported (PostgreSQL or SQLite)")
    return name


def code_head() -> str:
    """The revision the code's migrations end at (``flask db heads``)."""
    directory = current_app.extensions["migrate"].directory
    return ",".join(sorted(ScriptDirectory(str(directory)).get_heads()))


def _portal_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _new_private_file(path: Path) -> None:
    """An empty file only the portal's user may read: a dump holds everything, pupils' data included."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# --- PostgreSQL: pg_dump and pg_restore -----------------------------------------------------------------------------


def _libpq_env(url: URL) -> dict[str, str]:
    """This process's environment plus the connection of ``url`` as libpq variables (the password too)."""
    values: dict[str, Any] = {
        "PGHOST": url.host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, value in url.query.items():
        if key not in _LIBPQ_QUERY:
            raise BackupError(f"the connection option {key!r} of PORTAL_DATABASE_URL has no libpq variable")
        values[_LIBPQ_QUERY[key]] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    env.update({name: str(value) for name, value in values.items() if value not in (None, "")})
    return env


def _tool(name: str, pg_bin: str | None) -> str:
    path = str(Path(pg_bin) / name) if pg_bin else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (or pass --pg-bin)")
    return path


def _major(version_output: str) -> int:
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output)
    if not match:
        raise BackupError(f"cannot read the version of the PostgreSQL tools from {version_output.strip()!r}")
    return int(match.group(1))


def _check_tool_version(tool: str) -> None:
    """The tool's major version must be at least the server's: an older pg_dump refuses a newer server, and
    pg_restore cannot read an archive written by a newer pg_dump. Matching versions are best."""
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    tool_major = _major(done.stdout)
    with db.engine.connect() as connection:
        server_major = int(connection.exec_driver_sql("SHOW server_version_num").scalar()) // 10000
    if tool_major < server_major:
        raise BackupError(
            f"{Path(tool).name} is version {tool_major}, the server {server_major}: "
            f"use the client tools of version {server_major} (--pg-bin /usr/lib/postgresql/{server_major}/bin)"
        )


def _run_tool(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {done.returncode}): {done.stderr.strip()}")


def _begin_snapshot(connection: Connection) -> None:
    """One read-only snapshot for the whole transaction (the first statement of it)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _dump_postgresql(partial: Path, pg_bin: str | None) -> DatabaseState:
    pg_dump = _tool("pg_dump", pg_bin)
    env = _libpq_env(db.engine.url)
    with db.engine.connect() as connection, connection.begin():
        _begin_snapshot(connection)
        # pg_dump reads this transaction's snapshot, so the manifest read below describes the dump exactly.
        snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
        _run_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password", f"--file={partial}"],
            env,
        )
        return _read_state(connection)


def _libpq_dbname(name: str) -> str:
    """``--dbname`` as a conninfo string: a database name with ``=`` in it is not taken for connection options."""
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{escaped}'"


def _restore_postgresql(dump: Path, pg_bin: str | None) -> None:
    pg_restore = _tool("pg_restore", pg_bin)
    _check_tool_version(pg_restore)
    url = db.engine.url
    env = _libpq_env(url)
    db.session.remove()
    db.engine.dispose()  # no connection of ours holds a lock on what pg_restore drops
    _run_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",  # the objects belong to the user of PORTAL_DATABASE_URL, whoever owned them before
            "--single-transaction",  # all or nothing
            "--exit-on-error",
            "--no-password",
            f"--dbname={_libpq_dbname(url.database or '')}",
            str(dump),
        ],
        env,
    )


# --- SQLite: the online backup API ----------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("the SQLite database must be a file named in PORTAL_DATABASE_URL (sqlite:////path/file)")
    return Path(url.database)


def _sqlite_copy(source_path: Path, target_path: Path, *, source_read_only: bool) -> None:
    source_uri = source_path.resolve().as_uri() + ("?mode=ro" if source_read_only else "")
    source = sqlite3.connect(source_uri, uri=True)
    try:
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)  # page by page, under a read lock of the source: a consistent copy
            if not source_read_only:  # making a backup: one self-contained file, no -wal/-shm next to it
                target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()


def _dump_sqlite(partial: Path) -> DatabaseState:
    source = _sqlite_path(db.engine.url)
    if not source.is_file():
        raise BackupError(f"there is no database file {source}")
    _sqlite_copy(source, partial, source_read_only=False)
    engine = sa.create_engine(URL.create("sqlite", database=str(partial)))
    try:
        with engine.connect() as connection:  # the manifest is read from the copy itself
            return _read_state(connection)
    finally:
        engine.dispose()


def _check_sqlite_file(path: Path) -> None:
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a usable SQLite backup: {error}") from error
    if not result or result[0] != "ok":
        raise BackupError(f"{path} is damaged: {result[0] if result else 'no answer'}")


def _restore_sqlite(dump: Path) -> None:
    target = _sqlite_path(db.engine.url)
    _check_sqlite_file(dump)
    db.session.remove()
    db.engine.dispose()
    _sqlite_copy(dump, target, source_read_only=True)


# --- the commands ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    dump: Path
    manifest_path: Path
    manifest: Manifest
    seconds: float

    def summary(self) -> list[str]:
        m = self.manifest
        return [
            f"Backup written: {self.dump} ({m.dump_bytes} bytes, sha256 {m.dump_sha256})",
            f"Manifest: {self.manifest_path}",
            f"Revision {m.alembic_revision}, {len(m.row_counts)} tables, {sum(m.row_counts.values())} rows, "
            f"{m.audit_records} audit records.",
            f"Head: {m.audit_head}",
            f"Took {self.seconds:.2f} s.",
        ]


def create(output: Path, manifest_path: Path | None = None, *, pg_bin: str | None = None) -> CreateResult:
    """Dump the configured database to ``output`` and write its manifest. Never overwrites a file."""
    started = time.perf_counter()
    output = Path(output)
    manifest_path = Path(manifest_path) if manifest_path else default_manifest_path(output)
    for path in (output, manifest_path):
        if path.exists():
            raise BackupError(f"{path} already exists: a backup is never overwritten, choose a new name")
    if not output.parent.is_dir():
        raise BackupError(f"there is no directory {output.parent}")
    backend = _backend()
    if backend == "postgresql":
        _check_tool_version(_tool("pg_dump", pg_bin))
    # A copy of everything is an access like any other: it is in the chain, and so in the dump and its manifest.
    audit.record("backup.create", actor_label="(backup job)", object_type="database", details={"file": output.name})
    db.session.commit()
    partial = output.with_name(f".{output.name}.partial")
    partial.unlink(missing_ok=True)  # left by an interrupted run
    _new_private_file(partial)
    try:
        state = _dump_postgresql(partial, pg_bin) if backend == "postgresql" else _dump_sqlite(partial)
        size, digest = partial.stat().st_size, _sha256(partial)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(
        backend=backend,
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        portal_version=_portal_version(),
        alembic_revision=state.revision,
        row_counts=state.row_counts,
        audit_head=state.audit.head,
        audit_records=state.audit.checked,
        audit_intact=state.audit.ok,
        audit_problem="" if state.audit.ok else f"record {state.audit.first_broken_id}: {state.audit.reason}",
        dump_file=output.name,
        dump_bytes=size,
        dump_sha256=digest,
    )
    partial_manifest = manifest_path.with_name(f".{manifest_path.name}.partial")
    partial_manifest.unlink(missing_ok=True)
    _new_private_file(partial_manifest)
    partial_manifest.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(partial_manifest, manifest_path)  # the manifest appears last: with it, the backup is complete
    return CreateResult(output, manifest_path, manifest, time.perf_counter() - started)


@dataclass(frozen=True)
class RestoreResult:
    dump: Path
    manifest: Manifest | None
    seconds: float

    def summary(self) -> list[str]:
        lines = [f"Restored {self.dump} into the configured database in {self.seconds:.2f} s."]
        if self.manifest is None:
            lines.append("No manifest: the dump's checksum was not checked and there is nothing to verify against.")
        else:
            lines.append(f"Dump checksum matches the manifest (backup of {self.manifest.created_at}).")
            lines.append("Now run: flask --app wsgi portal backup verify --manifest <manifest> [--expect-head ID:HASH]")
        return lines


def _existing_tables() -> list[str]:
    with db.engine.connect() as connection:
        return sorted(sa.inspect(connection).get_table_names())


def restore(
    dump: Path, manifest_path: Path | None = None, *, force: bool = False, pg_bin: str | None = None
) -> RestoreResult:
    """Restore ``dump`` into the configured database, which must be empty unless ``force``."""
    started = time.perf_counter()
    dump = Path(dump)
    if not dump.is_file():
        raise BackupError(f"there is no backup file {dump}")
    backend = _backend()
    manifest = None
    path = Path(manifest_path) if manifest_path else default_manifest_path(dump)
    if manifest_path or path.exists():
        manifest = Manifest.load(path)
        if manifest.backend != backend:
            raise BackupError(f"the backup is of a {manifest.backend} database, the configured one is {backend}")
        if dump.stat().st_size != manifest.dump_bytes or _sha256(dump) != manifest.dump_sha256:
            raise BackupError(f"{dump} is not the dump its manifest describes (size or SHA-256 differ): cut off?")
    tables = _existing_tables()
    if tables and not force:
        raise BackupError(
            f"the configured database is not empty ({len(tables)} tables): restore into a new, empty database, "
            "or pass --force to replace its contents"
        )
    if backend == "postgresql":
        _restore_postgresql(dump, pg_bin)
    else:
        _restore_sqlite(dump)
    db.engine.dispose()
    return RestoreResult(dump, manifest, time.perf_counter() - started)


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    actual: str
    ok: bool


@dataclass(frozen=True)
class VerifyResult:
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def table(self) -> list[str]:
        header = ("Check", "Expected", "Actual", "Result")
        rows = [(c.name, c.expected, c.actual, "ok" if c.ok else "MISMATCH") for c in self.checks]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

        return [line(header), line(tuple("-" * width for width in widths)), *(line(row) for row in rows)]


def verify(manifest_path: Path, *, expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Compare the configured database with a manifest: migrations, rows per table, the audit chain and its head."""
    started = time.perf_counter()
    manifest = Manifest.load(Path(manifest_path))
    backend = _backend()
    with db.engine.connect() as connection, connection.begin():
        _begin_snapshot(connection)
        state = _read_state(connection)
        anchored_hash = None
        if expect_head is not None and expect_head[0] and "audit_events" in state.row_counts:
            anchored_hash = connection.scalar(sa.select(AuditEvent.record_hash).where(AuditEvent.id == expect_head[0]))
    head = code_head()
    checks = [
        Check("backend", manifest.backend, backend, manifest.backend == backend),
        Check("migrations: database at the code's head", head, state.revision or "(none)", state.revision == head),
        Check(
            "migrations: as in the backup",
            manifest.alembic_revision,
            state.revision or "(none)",
            state.revision == manifest.alembic_revision,
        ),
    ]
    for table in sorted(set(manifest.row_counts) | set(state.row_counts)):
        expected, actual = manifest.row_counts.get(table), state.row_counts.get(table)
        checks.append(
            Check(
                f"rows: {table}",
                "(not in manifest)" if expected is None else str(expected),
                "(no table)" if actual is None else str(actual),
                expected is not None and expected == actual,
            )
        )
    report = state.audit
    checks.append(
        Check(
            "audit chain",
            "intact",
            f"intact, {report.checked} records"
            if report.ok
            else f"broken at record {report.first_broken_id}: {report.reason}",
            report.ok,
        )
    )
    head_found = report.head if report.ok else "(chain broken)"
    checks.append(Check("audit head", manifest.audit_head, head_found, head_found == manifest.audit_head))
    if expect_head is not None:
        # The head kept outside the portal (the nightly `audit verify`): that record must be in the restored chain.
        if not expect_head[0]:
            found = "present"  # the anchor of an empty chain
        elif anchored_hash is None:
            found = "record missing"
        else:
            found = "present" if anchored_hash == expect_head[1] else f"differs: {expect_head[0]}:{anchored_hash}"
        checks.append(
            Check("audit anchor (--expect-head)", f"{expect_head[0]}:{expect_head[1]}", found, found == "present")
        )
    return VerifyResult(checks, time.perf_counter() - started)
