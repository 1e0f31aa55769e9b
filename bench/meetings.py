"""Meetings benchmark (issue 5): generating the trend report and rendering its page and PDF for a district room
with 5,000 signals, on SQLite and PostgreSQL. Part of `make bench`; prints a Markdown table.

Each database is a scratch one (a file under bench/.state, and PostgreSQL `portal_bench_meetings`), rebuilt on
every run; five timed repetitions each, the median reported with its CPU time and the first (cold) run.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIGNALS = 5_000
REPEAT = 5
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_meetings"


def _timed(action) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _summary(samples: list[tuple[float, float]]) -> str:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return f"{statistics.median(walls):.0f} ms ({statistics.median(cpus):.0f} ms CPU; first {walls[0]:.0f} ms)"


def measure(url: str) -> dict[str, str]:
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from portal import create_app
    from portal.authz.permissions import Role, ScopeType
    from portal.core.db import commit, utcnow
    from portal.extensions import db
    from portal.identity import services as identity
    from portal.identity.models import UserStatus
    from portal.identity.web import SESSION_TOKEN_KEY
    from portal.meetings import services as meetings
    from portal.meetings import trend_report
    from portal.organisations import services as organisations
    from portal.organisations.models import OrganisationKind, SchoolSector
    from portal.rooms import services as rooms
    from portal.rooms.models import MemberRole, RoomKind
    from portal.signals.models import Signal, Vocabulary, signal_themes
    from portal.signals.taxonomy import load_reference_data, terms

    app = create_app(
        {"ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40, "BASE_URL": "http://localhost"}
    )
    results: dict[str, str] = {}
    with app.app_context():
        upgrade()
        load_reference_data()
        district = organisations.create_district("BENCH", "Bench")
        municipality = organisations.save_organisation(
            None, code="gem-bench", name="Gemeente", kind=OrganisationKind.MUNICIPALITY_UNIT
        )
        schools = [
            organisations.save_organisation(
                None,
                code=f"s{i}",
                name=f"School {i}",
                kind=OrganisationKind.SCHOOL_LOCATION,
                district=district,
                sector=SchoolSector.VO,
            )
            for i in range(8)
        ]
        manager = identity.create_user(
            email="m@bench.example", display_name="Manager", organisation=municipality, status=UserStatus.ACTIVE
        )
        identity.assign_role(manager, Role.DISTRICT_SAFETY_MANAGER, ScopeType.DISTRICT, district=district, actor=None)
        room = rooms.create_room("bench", "Bench room", RoomKind.DISTRICT, district)
        rooms.add_member(room, manager, MemberRole.CHAIR, actor=None)
        ids = {
            v: [t.id for t in terms(v)]
            for v in (Vocabulary.CATEGORY, Vocabulary.LOCATION_TYPE, Vocabulary.SEVERITY, Vocabulary.THEME)
        }
        today, rng, now = utcnow().date(), random.Random(5), utcnow()
        rows = []
        for n in range(SIGNALS):
            school = rng.choice(schools)
            rows.append(
                {
                    "public_id": uuid.uuid4(),
                    "reference": f"SIG-B-{n:05d}",
                    "client_key": f"bench-{n}",
                    "created_by_id": manager.id,
                    "organisation_id": school.id,
                    "school_location_id": school.id,
                    "district_id": district.id,
                    "occurred_on": today - timedelta(days=rng.randint(0, 360)),
                    "daypart": "onbekend",
                    "location_type_id": rng.choice(ids[Vocabulary.LOCATION_TYPE]),
                    "category_id": rng.choice(ids[Vocabulary.CATEGORY]),
                    "severity_id": rng.choice(ids[Vocabulary.SEVERITY]),
                    "summary": "Bench signaal",
                    "details_html": "",
                    "details_text": "",
                    "involved_counts": {},
                    "age_bands": [],
                    "school_measures": [],
                    "police_involved": False,
                    "report_status": "geen",
                    "classification": "K2",
                    "sharing_scope": "stadsdeelnetwerk",
                    "status": "gedeeld",
                    "shared_at": now,
                    "purpose": "convenant_veiligheid",
                    "legal_regime": "avg",
                    "recognised_count": 0,
                    "response_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        db.session.execute(insert(Signal), rows)
        signal_ids = list(db.session.scalars(select(Signal.id)))
        db.session.execute(
            insert(signal_themes),
            [{"signal_id": i, "term_id": rng.choice(ids[Vocabulary.THEME])} for i in signal_ids[::2]],
        )
        meeting = meetings.create_meeting(
            manager,
            room,
            meetings.MeetingInput(
                kind="stadsdeel",
                title="Bench",
                scheduled_at=now + timedelta(days=7),
                duration_min=150,
                place="X",
                chair_id=str(manager.public_id),
            ),
            ip="",
        )
        commit()

        def generate():
            trend_report.generate_trend_report(manager, meeting, ip="")
            commit()

        results["generate"] = _summary([_timed(generate) for _ in range(REPEAT)])
        token = identity.start_session(
            manager,
            policy=identity.SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=1)),
            ip="127.0.0.1",
            user_agent="bench",
            method="bench",
        )
        commit()
        meeting_id, user_id = str(meeting.public_id), str(manager.public_id)
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_TOKEN_KEY], session["_user_id"], session["_fresh"] = token, user_id, True
    for path in ("trend", "trend.pdf"):

        def fetch(path=path):
            response = client.get(f"/meetings/{meeting_id}/{path}")
            assert response.status_code == 200, response.status_code

        results[path] = _summary([_timed(fetch) for _ in range(REPEAT)])
    return results


def main() -> int:
    state = ROOT / "bench" / ".state"
    state.mkdir(parents=True, exist_ok=True)
    sqlite_file = state / "meetings.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    import sqlalchemy as sa

    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS portal_bench_meetings WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE portal_bench_meetings"))
    admin.dispose()
    rows = {"SQLite": measure(f"sqlite:///{sqlite_file}"), "PostgreSQL": measure(PG_URL)}
    print(f"\n## Meetings: a district room with {SIGNALS:,} signals (median of {REPEAT}; wall, CPU, cold first run)\n")
    print("| step | SQLite | PostgreSQL |")
    print("|---|---|---|")
    for key, label in (
        ("generate", "generate the trend report"),
        ("trend", "trend report page (GET)"),
        ("trend.pdf", "trend report PDF (GET)"),
    ):
        print(f"| {label} | {rows['SQLite'][key]} | {rows['PostgreSQL'][key]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
