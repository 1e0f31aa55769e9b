"""Privacy benchmark (issue 6): the access report over 20,000 recorded reads, and `retention run` over the 100,000
signals of the bench database. Part of `make bench` (after `bench/run.py`, which seeds `portal_bench`); prints a
Markdown table.

It works on a scratch copy, PostgreSQL `portal_bench_privacy` (made from `portal_bench` as a template and dropped
at the end), so the seeded database is never changed. Reads are recorded through the audit service, the way the
pages record them; the retention run gets a date ten years ahead, so that every signal is due, and the command's own
code path (`retention.run` with the configured plan) does the work: a dry run, the run, and a second run that must
find nothing left.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCE_DB = "portal_bench"
SCRATCH_DB = "portal_bench_privacy"
SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{SCRATCH_DB}"
READS = 20_000
REPEAT = 5


def _admin(statement: str) -> None:
    engine = sa.create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def _copy_database() -> None:
    engine = sa.create_engine(SERVER_URL)
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": SOURCE_DB}).scalar()
    engine.dispose()
    if not exists:
        raise SystemExit(f"{SOURCE_DB} does not exist: run bench/run.py first (it seeds the bench database)")
    _admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}"')
    _admin(f'CREATE DATABASE "{SCRATCH_DB}" TEMPLATE "{SOURCE_DB}"')


def _timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def _median(samples: list[float]) -> str:
    return f"{statistics.median(samples):.0f} ms (first {samples[0]:.0f} ms)"


def measure() -> list[tuple[str, str]]:
    from sqlalchemy import func, select

    from portal import create_app
    from portal.audit import services as audit
    from portal.core.db import utcnow
    from portal.extensions import db
    from portal.identity.models import User
    from portal.organisations.models import Organisation
    from portal.privacy import retention
    from portal.privacy import services as privacy
    from portal.privacy.models import PersonReference, PersonRole
    from portal.signals.models import Signal

    app = create_app(
        {"ENV": "test", "DATABASE_URL": SCRATCH_URL, "SECRET_KEY": "bench-" + "x" * 40, "BASE_URL": "http://localhost"}
    )
    rows: list[tuple[str, str]] = []
    rng = random.Random(20261128)
    with app.app_context():
        total = db.session.scalar(select(func.count(Signal.id)))
        school_id, school_signals = db.session.execute(
            select(Signal.school_location_id, func.count(Signal.id))
            .where(Signal.school_location_id.is_not(None))
            .group_by(Signal.school_location_id)
            .order_by(func.count(Signal.id).desc())
            .limit(1)
        ).one()
        school = db.session.get(Organisation, school_id)
        # Readers: the bench users (coordinators, police, managers); the privacy officer asks.
        readers = list(db.session.scalars(select(User).where(User.email.like("bench%")).limit(200)))
        officer = db.session.scalar(select(User).where(User.email == "privacy@demo.example"))
        own = list(db.session.scalars(select(Signal).where(Signal.school_location_id == school_id)))
        others = list(db.session.scalars(select(Signal).order_by(Signal.id.desc()).limit(5_000)))
        watched = own[0]
        for index, subject_signal in enumerate(own[:12]):  # one pupil, referred to in a dozen of the school's signals
            db.session.add(
                PersonReference(
                    signal_id=subject_signal.id,
                    subject_key="bench-pupil-1",
                    pseudonym=f"Leerling A{index}",
                    role_in_incident=PersonRole.VICTIM,
                    created_by_id=readers[0].id,
                )
            )

        def record_reads() -> None:
            for i in range(READS):
                pick = rng.random()
                signal = watched if pick < 0.002 else rng.choice(own) if pick < 0.1 else rng.choice(others)
                audit.record(
                    "signal.read",
                    actor=readers[i % len(readers)],
                    ip="127.0.0.1",
                    object_type="signal",
                    object_id=str(signal.public_id),
                )
                if i % 1_000 == 999:
                    db.session.commit()
            db.session.commit()

        wall, _ = _timed(record_reads)
        rows.append((f"record {READS:,} reads through the audit service", f"{wall / 1000:.1f} s"))
        for label, kwargs in (
            ("by signal", {"signal_reference": watched.reference}),
            (f"by school ({school_signals:,} signals)", {"school_code": school.code}),
            ("by person reference (12 signals)", {"subject_key": "bench-pupil-1"}),
        ):
            samples, lines = [], []
            for _ in range(REPEAT):
                wall, lines = _timed(lambda kwargs=kwargs: privacy.access_report(officer, ip="127.0.0.1", **kwargs))
                db.session.rollback()  # the report's own audit record is not kept: every repetition asks the same
                samples.append(wall)
            rows.append((f"access report {label}: {len(lines):,} lines", _median(samples)))

        plan = retention.plan_from_config(today=utcnow().date() + timedelta(days=3_650))
        wall, report = _timed(lambda: retention.run(plan, dry_run=True))
        rows.append((f"retention run --dry-run, {total:,} signals: {report.deleted:,} due", f"{wall / 1000:.1f} s"))
        wall, report = _timed(lambda: retention.run(plan))
        done = f"{report.anonymised:,} anonymised, {report.deleted:,} deleted"
        rows.append((f"retention run, {total:,} signals: {done}", f"{wall / 1000:.1f} s"))
        wall, report = _timed(lambda: retention.run(plan))
        rows.append((f"retention run again: {report.deleted:,} deleted", f"{wall / 1000:.2f} s"))
        left = db.session.scalar(select(func.count(Signal.id)).where(Signal.legal_hold.is_(False)))
        rows.append(("signals left (not on legal hold)", f"{left:,}"))
        db.session.remove()
        db.engine.dispose()
    return rows


def main() -> int:
    _copy_database()
    try:
        rows = measure()
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}"')
    print("\n## Privacy: access report and retention on the bench database (PostgreSQL)\n")
    print("| step | time |")
    print("|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
