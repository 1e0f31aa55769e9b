"""Seeds the benchmark database (run by ``bench/run.py``; never against a real database).

1. The schema (``alembic upgrade head``) and the Almere demo data, through the app as production loads them.
2. Bench users: coordinators of Almere Stad's schools, some police officers and safety managers, all members of the
   Almere Stad district room, each with a personal access token. Created through the services
   (``identity.services.create_user``, ``assign_role``, ``rooms.services.add_member``, ``identity.tokens``), so roles,
   memberships and tokens are exactly what the portal makes. The secrets go to a JSON file that the Node load
   generator reads (they are shown once, like any token).
3. Signals in bulk with PostgreSQL's COPY: a realistic spread over districts, schools, categories, severities, scopes,
   classifications, statuses and a year of dates, newest last. ``search_vector`` is a generated column and fills
   itself; the per-room event log (``room_events`` and ``rooms.last_seq``), the status history, themes, extra
   districts, named recipients and the reference counters are written to match, as the services would.

The database is reused when it already holds what was asked for (``--fresh`` rebuilds it).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED_VERSION = 4  # bump when what the seed writes changes: a cached database is then rebuilt
BENCH_DOMAIN = "bench.example"
BENCH_ROOM = "netwerk-stad"
BENCH_DISTRICT = "STAD"
POSTERS = 40  # users whose tokens post the signals (the API allows 30 posts per minute per user)


def log(message: str) -> None:
    print(f"[seed] {message}", flush=True)


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    if not name or not name.startswith("portal_bench"):
        raise SystemExit(f"refusing to recreate {name!r}: the bench database must be named portal_bench*")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def database_exists(url: str) -> bool:
    parsed = make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
    admin.dispose()
    return found is not None


def make_app(url: str):
    from portal import create_app

    return create_app(
        {"ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48), "DATABASE_URL": url, "REDIS_URL": None}
    )


# --- bench users ------------------------------------------------------------------------------------------------


def seed_users(count: int) -> dict:
    from sqlalchemy import select

    from portal.authz.permissions import Role, ScopeType
    from portal.core.db import commit
    from portal.demo import data
    from portal.extensions import db
    from portal.identity import services as identity
    from portal.identity import tokens
    from portal.organisations import services as organisations
    from portal.organisations.models import Organisation, OrganisationKind
    from portal.rooms import services as rooms

    room = rooms.get_room(BENCH_ROOM)
    district = organisations.get_district(BENCH_DISTRICT)
    schools = list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.kind == OrganisationKind.SCHOOL_LOCATION, Organisation.district_id == district.id)
            .order_by(Organisation.id)
        )
    )
    police = organisations.get_organisation("politie-bureau-almere")
    municipality = organisations.get_organisation("gemeente-almere-oov")
    users = []
    started = time.monotonic()
    for i in range(count):
        # 85 % school coordinators spread over the district's schools, 10 % police, 5 % municipality.
        if i % 20 in (7, 17):
            org, role, scope, kw, kind = police, Role.POLICE_OFFICER, ScopeType.DISTRICT, {"district": district}, "p"
        elif i % 20 == 11:
            org, role, scope = municipality, Role.DISTRICT_SAFETY_MANAGER, ScopeType.DISTRICT
            kw, kind = {"district": district}, "m"
        else:
            school = schools[i % len(schools)]
            org, role, scope, kw, kind = (
                school,
                Role.SCHOOL_COORDINATOR,
                ScopeType.LOCATION,
                {"organisation": school},
                "s",
            )
        user = identity.create_user(
            email=f"bench-{i:05d}@{BENCH_DOMAIN}",
            display_name=f"Bench gebruiker {i}",
            organisation=org,
            job_title="Benchmark",
        )
        identity.assign_role(user, role, scope, actor=None, source="bench", **kw)
        rooms.add_member(room, user, actor=None)
        issued = tokens.create_token(user, name="make bench", days=30, via="cli")
        users.append({"email": user.email, "token": issued.secret, "kind": kind, "organisation": org.code})
        if (i + 1) % 500 == 0:
            commit()
            log(f"{i + 1} bench users ({time.monotonic() - started:.0f} s)")
    commit()
    school_codes = {code for code, *_ in data.SCHOOLS}
    posters = [u["token"] for u in users if u["organisation"] in school_codes][:POSTERS]
    stad_coordinators = [
        f"coordinator.{code}@{data.EMAIL_DOMAIN}" for code, *_rest in data.SCHOOLS if _rest[4] == BENCH_DISTRICT
    ]
    return {
        "room": str(room.public_id),
        "room_id": room.id,
        "users": users,
        "posters": posters,
        "login_email": stad_coordinators[0],
    }


# --- signals ----------------------------------------------------------------------------------------------------

SUBJECTS = [
    "Vechtpartij tussen leerlingen",
    "Groep jongeren hangt rond",
    "Dreigende berichten",
    "Mes aangetroffen",
    "Diefstal van fietsen",
    "Vernieling van ruiten",
    "Lachgas gebruik",
    "Vuurwerk afgestoken",
    "Intimidatie van docenten",
    "Ronselen voor drugshandel",
    "Filmpje van mishandeling gedeeld",
    "Afpersing van brugklassers",
    "Scooter met onbekenden",
    "Bedreiging via sociale media",
    "Brandje in de prullenbak",
]
PLACES = [
    "bij de fietsenstalling",
    "op het schoolplein",
    "in het winkelcentrum",
    "bij het busstation",
    "in het park naast de school",
    "bij de sporthal",
    "op weg naar huis",
    "in de kantine",
    "online in een groepsapp",
    "bij de snackbar",
]
TIMES = ["na schooltijd", "in de pauze", "voor de eerste les", "in het weekend", "tijdens de avond", ""]
DETAILS = [
    "Meerdere leerlingen waren getuige. De mentor is ingelicht en de ouders zijn gebeld.",
    "De wijkagent is op de hoogte gebracht. Er wordt extra toezicht gehouden.",
    "Het incident is besproken in het zorgoverleg; de school overweegt maatregelen.",
    "Leerlingen voelen zich onveilig op deze plek. Graag horen wij of andere scholen dit herkennen.",
    "Er zijn beelden rondgestuurd. De school heeft de verspreiding gemeld bij het platform.",
    "De situatie herhaalt zich sinds enkele weken, vooral op woensdagmiddag.",
]
DISTRICT_WEIGHTS = {"STAD": 35, "BUITEN": 25, "HAVEN": 15, "POORT": 13, "HOUT": 10, "PAMPUS": 2}
SCOPES = [
    ("stadsdeelnetwerk", 70),
    ("stedelijk", 10),
    ("eigen_locatie", 8),
    ("eigen_bestuur", 7),
    ("meerdere_stadsdelen", 3),
    ("benoemde_ontvangers", 2),
]
STATUSES = [("gedeeld", 50), ("in_behandeling", 20), ("afgesloten", 25), ("concept", 3), ("ingetrokken", 2)]
DAYPARTS = ["ochtend", "middag", "avond", "nacht", "onbekend"]
REPORT_STATUSES = ["geen", "overwogen", "gedaan_door_school", "gedaan_door_slachtoffer", "onbekend"]
AGE_BANDS = ["<12", "12-15", "16-17", "18-22"]
PLATFORMS = ["Snapchat", "Instagram", "TikTok", "WhatsApp", "Telegram"]
SIGNAL_COLUMNS = [
    "reference",
    "client_key",
    "created_by_id",
    "organisation_id",
    "school_location_id",
    "district_id",
    "area_id",
    "occurred_on",
    "daypart",
    "location_type_id",
    "category_id",
    "subcategory_id",
    "severity_id",
    "summary",
    "details_html",
    "details_text",
    "involved_counts",
    "age_bands",
    "weapon_type_id",
    "online_platform",
    "school_measures",
    "police_involved",
    "report_status",
    "classification",
    "sharing_scope",
    "status",
    "shared_at",
    "purpose",
    "legal_regime",
    "recognised_count",
    "response_count",
    "retention_until",
    "public_id",
    "created_at",
    "updated_at",
]


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def seed_signals(count: int, rng: random.Random) -> int:
    from sqlalchemy import select, text

    from portal.core.db import commit
    from portal.extensions import db
    from portal.identity.models import User
    from portal.organisations.models import Area, District, Organisation, OrganisationKind
    from portal.rooms.models import Room, RoomKind, RoomMembership
    from portal.signals.models import TaxonomyTerm, Vocabulary

    session = db.session
    districts = {d.code: d for d in session.scalars(select(District))}
    rooms = list(session.scalars(select(Room)))
    district_rooms = {r.district_id: r for r in rooms if r.kind is RoomKind.DISTRICT}
    areas: dict[int, list[int]] = {}
    for area in session.scalars(select(Area)):
        areas.setdefault(area.district_id, []).append(area.id)
    schools: dict[int, list[Organisation]] = {}
    for org in session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.SCHOOL_LOCATION)):
        schools.setdefault(org.district_id, []).append(org)
    all_orgs = [
        o.id for o in session.scalars(select(Organisation).where(Organisation.kind != OrganisationKind.SCHOOL_BOARD))
    ]
    # Posters: a school's people (demo coordinator and bench users) for school signals; the non-school members of
    # the district room (police, municipality) for the rest.
    people_by_org: dict[int, list[int]] = {}
    for user in session.scalars(select(User)):
        people_by_org.setdefault(user.organisation_id, []).append(user.id)
    partners_by_district: dict[int, list[tuple[int, int]]] = {}
    for room in district_rooms.values():
        rows = session.execute(
            select(User.id, User.organisation_id)
            .join(RoomMembership, RoomMembership.user_id == User.id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(RoomMembership.room_id == room.id, Organisation.kind != OrganisationKind.SCHOOL_LOCATION)
        ).all()
        partners_by_district[room.district_id] = [(u, o) for u, o in rows]
    fallback_partners = [p for rows in partners_by_district.values() for p in rows]

    terms: dict[str, list[TaxonomyTerm]] = {}
    for term in session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.active.is_(True))):
        terms.setdefault(term.vocabulary.value, []).append(term)
    main_categories = [t for t in terms[Vocabulary.CATEGORY.value] if t.parent_id is None]
    children: dict[int, list[int]] = {}
    for t in terms[Vocabulary.CATEGORY.value]:
        if t.parent_id is not None:
            children.setdefault(t.parent_id, []).append(t.id)
    severities = sorted(terms[Vocabulary.SEVERITY.value], key=lambda t: t.position)
    severity_weights = [40, 35, 20, 5][: len(severities)] + [1] * max(0, len(severities) - 4)
    location_types = [t.id for t in terms[Vocabulary.LOCATION_TYPE.value]]
    weapons = [t.id for t in terms.get(Vocabulary.WEAPON_TYPE.value, [])]
    measures = [t.code for t in terms.get(Vocabulary.SCHOOL_MEASURE.value, [])]
    themes = [t.id for t in terms.get(Vocabulary.THEME.value, [])]
    weapon_category = next((t.id for t in main_categories if t.code == "wapens"), None)

    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - timedelta(days=364)
    stamps = sorted(start + timedelta(seconds=rng.uniform(0, 364 * 86400)) for _ in range(count))
    counters = {
        year: number or 0
        for year, number in session.execute(text("SELECT year, last_number FROM reference_counters")).all()
    }
    first_id = session.scalar(text("SELECT coalesce(max(id), 0) FROM signals")) + 1
    district_codes, district_weights = zip(*DISTRICT_WEIGHTS.items(), strict=True)

    rows, extras, recipients, theme_rows, history = [], [], [], [], []
    for n, created in enumerate(stamps):
        signal_id = first_id + n
        district = districts[rng.choices(district_codes, weights=district_weights)[0]]
        local_schools = schools.get(district.id, [])
        if local_schools and rng.random() < 0.85:
            school = rng.choice(local_schools)
            org_id, author = school.id, rng.choice(people_by_org.get(school.id) or [fallback_partners[0][0]])
            area = school.area_id
        else:
            school = None
            author, org_id = rng.choice(partners_by_district.get(district.id) or fallback_partners)
            area = rng.choice(areas[district.id]) if areas.get(district.id) and rng.random() < 0.6 else None
        scope = _weighted(rng, SCOPES)
        if school is None and scope in ("eigen_locatie", "eigen_bestuur"):
            scope = "stadsdeelnetwerk"
        status = _weighted(rng, STATUSES)
        category = rng.choice(main_categories)
        subcategory = rng.choice(children[category.id]) if children.get(category.id) and rng.random() < 0.7 else None
        occurred = (created - timedelta(days=rng.choice([0, 0, 0, 1, 1, 2, 3]))).date()
        if occurred < start.date():
            occurred = start.date()
        summary = f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)} {rng.choice(TIMES)}".strip()
        detail = " ".join(rng.sample(DETAILS, k=rng.randint(1, 3)))
        year = created.year
        counters[year] = counters.get(year, 0) + 1
        rows.append(
            (
                f"SIG-{year}-{counters[year]:04d}",
                f"seed-{signal_id}",
                author,
                org_id,
                school.id if school else None,
                district.id,
                area,
                occurred,
                rng.choice(DAYPARTS),
                rng.choice(location_types),
                category.id,
                subcategory,
                rng.choices(severities, weights=severity_weights)[0].id,
                summary[:280],
                f"<p>{detail}</p>",
                detail,
                json.dumps({"leerlingen": rng.randint(1, 6)} if rng.random() < 0.8 else {}),
                json.dumps(rng.sample(AGE_BANDS, k=rng.randint(0, 2))),
                rng.choice(weapons) if weapons and category.id == weapon_category and rng.random() < 0.8 else None,
                rng.choice(PLATFORMS) if rng.random() < 0.15 else None,
                json.dumps(rng.sample(measures, k=min(len(measures), rng.randint(0, 2)))),
                rng.random() < 0.2,
                rng.choice(REPORT_STATUSES),
                "K3" if rng.random() < 0.2 else "K2",
                scope,
                status,
                None if status == "concept" else created,  # shared_at
                "convenant_veiligheid",
                "avg",
                0,
                0,
                created.date() + timedelta(days=5 * 365),
                uuid.uuid4(),
                created,
                created,
            )
        )
        if scope == "meerdere_stadsdelen":
            others = [d.id for d in districts.values() if d.id != district.id and d.id in district_rooms]
            extras += [(signal_id, d) for d in rng.sample(others, k=min(2, len(others)))]
        if scope == "benoemde_ontvangers":
            recipients += [(signal_id, o) for o in rng.sample(all_orgs, k=3) if o != org_id]
            if not any(r[0] == signal_id for r in recipients):
                recipients.append((signal_id, next(o for o in all_orgs if o != org_id)))
        if themes and rng.random() < 0.2:
            theme_rows.append((signal_id, rng.choice(themes)))
        first = "concept" if status == "concept" else "gedeeld"
        history.append((signal_id, None, first, author, created))
        if status not in ("concept", "gedeeld"):
            history.append((signal_id, "gedeeld", status, author, created + timedelta(days=1)))

    raw = session.connection().connection.driver_connection  # psycopg 3: COPY in the session's transaction
    with raw.cursor() as cur:
        cur.execute("SELECT setval('signals_id_seq', %s, false)", (first_id,))
        with cur.copy(f"COPY signals (id, {', '.join(SIGNAL_COLUMNS)}) FROM STDIN") as copy:
            for n, row in enumerate(rows):
                copy.write_row((first_id + n, *row))
        cur.execute("SELECT setval('signals_id_seq', %s, true)", (first_id + len(rows) - 1,))
        for table, columns, data in (
            ("signal_districts", "signal_id, district_id", extras),
            ("signal_recipients", "signal_id, organisation_id", recipients),
            ("signal_themes", "signal_id, term_id", theme_rows),
            ("signal_status_changes", "signal_id, from_status, to_status, changed_by_id, changed_at", history),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
    # The room streams, exactly as services.rooms_for + _append_events would have numbered them.
    session.execute(
        text(
            """
            INSERT INTO room_events (room_id, seq, kind, signal_id, created_at)
            SELECT t.room_id, r.last_seq + row_number() OVER (PARTITION BY t.room_id ORDER BY t.signal_id),
                   'signal.created', t.signal_id, t.created_at
            FROM (
                SELECT r.id AS room_id, s.id AS signal_id, s.created_at
                FROM signals s JOIN rooms r ON r.kind = 'district' AND r.district_id = s.district_id
                WHERE s.id >= :first AND s.status <> 'concept' AND s.sharing_scope <> 'stedelijk'
                UNION
                SELECT r.id, s.id, s.created_at
                FROM signals s JOIN signal_districts sd ON sd.signal_id = s.id
                JOIN rooms r ON r.kind = 'district' AND r.district_id = sd.district_id
                WHERE s.id >= :first AND s.status <> 'concept' AND s.sharing_scope = 'meerdere_stadsdelen'
                UNION
                SELECT r.id, s.id, s.created_at
                FROM signals s JOIN rooms r ON r.kind IN ('district', 'city')
                WHERE s.id >= :first AND s.status <> 'concept' AND s.sharing_scope = 'stedelijk'
            ) t JOIN rooms r ON r.id = t.room_id
            """
        ),
        {"first": first_id},
    )
    session.execute(
        text("UPDATE rooms SET last_seq = (SELECT coalesce(max(seq), 0) FROM room_events e WHERE e.room_id = rooms.id)")
    )
    for year, number in counters.items():
        session.execute(
            text(
                "INSERT INTO reference_counters (year, last_number) VALUES (:y, :n) "
                "ON CONFLICT (year) DO UPDATE SET last_number = excluded.last_number"
            ),
            {"y": year, "n": number},
        )
    commit()
    return len(rows)


def bench_user_count() -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.identity.models import User

    return db.session.scalar(select(func.count()).select_from(User).where(User.email.like(f"%@{BENCH_DOMAIN}")))


def signal_count() -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.signals.models import Signal

    return db.session.scalar(select(func.count()).select_from(Signal))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--state", type=Path, required=True, help="JSON file with the tokens (read by Node)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the database even if it could be reused")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()

    state = json.loads(args.state.read_text()) if args.state.exists() else {}
    reusable = (
        not args.fresh
        and state.get("seed_version") == SEED_VERSION
        and state.get("database_url") == args.database_url
        and len(state.get("users", [])) >= args.users
        and database_exists(args.database_url)
    )
    if not reusable:
        log(f"creating {make_url(args.database_url).database}")
        recreate_database(args.database_url)
    app = make_app(args.database_url)
    with app.app_context():
        from flask_migrate import upgrade

        from portal.core.db import commit
        from portal.demo.loader import load_demo

        started = time.monotonic()
        upgrade()
        if reusable and bench_user_count() >= args.users and signal_count() >= args.signals:
            log(f"reusing the database: {bench_user_count()} bench users, {signal_count()} signals")
            return 0
        load_demo(app.config["DEMO_PASSWORD"])
        commit()
        log(f"schema and demo data ({time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        state = {"seed_version": SEED_VERSION, "database_url": args.database_url, **seed_users(args.users)}
        log(f"{args.users} bench users with tokens ({time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        made = seed_signals(args.signals, random.Random(args.seed))
        log(f"{made} signals by COPY ({time.monotonic() - started:.0f} s)")
        from portal.extensions import db

        db.session.execute(sa.text("ANALYZE"))
        commit()
    args.state.parent.mkdir(parents=True, exist_ok=True)
    args.state.write_text(json.dumps(state))
    args.state.chmod(0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
