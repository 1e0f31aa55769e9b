"""Loads the Almere demo through the same services the admin uses. Idempotent: a second run changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from portal.authz.permissions import Role, ScopeType
from portal.demo import data
from portal.extensions import db
from portal.identity import services as identity
from portal.identity.models import RoleAssignment, User, UserStatus
from portal.organisations import services as organisations
from portal.organisations.models import AreaKind, Organisation, OrganisationKind, SchoolSector
from portal.rooms import services as rooms
from portal.rooms.models import MemberRole, RoomKind
from portal.signals.taxonomy import load_reference_data


@dataclass
class DemoReport:
    created: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (e-mail, name, role)


def _email(local: str) -> str:
    return f"{local}@{data.EMAIL_DOMAIN}"


def _ensure_user(
    report: DemoReport,
    local: str,
    name: str,
    org: Organisation,
    role: Role,
    scope: ScopeType,
    password: str,
    job_title: str,
    scope_org: Organisation | None = None,
    scope_district=None,
) -> User:
    email = _email(local)
    report.accounts.append((email, name, role.value))
    user = identity.find_user_by_email(email)
    if user is not None:
        return user
    user = identity.create_user(
        email=email,
        display_name=name,
        organisation=org,
        status=UserStatus.ACTIVE,
        job_title=job_title,
        password=password,
        is_demo=True,
    )
    identity.assign_role(user, role, scope, organisation=scope_org, district=scope_district, actor=None, source="demo")
    report.created += 1
    return user


def _ensure_member(room_code: str, user: User, role: str) -> None:
    room = rooms.get_room(room_code)
    from portal.rooms.models import RoomMembership

    exists = db.session.scalar(
        select(RoomMembership).where(RoomMembership.room_id == room.id, RoomMembership.user_id == user.id)
    )
    if exists is None:
        rooms.add_member(room, user, MemberRole(role), actor=None)


def load_demo(password: str) -> DemoReport:
    report = DemoReport()
    report.created += load_reference_data()

    districts = {}
    for code, name, area_kind, areas in data.DISTRICTS:
        district = organisations.get_district(code)
        if district is None:
            district = organisations.create_district(code, name)
            for area_name in areas:
                organisations.create_area(district, area_name, AreaKind(area_kind))
            report.created += 1
        districts[code] = district

    def ensure_org(code, name, kind, **kwargs) -> Organisation:
        existing = organisations.get_organisation(code)
        if existing is not None:
            return existing
        report.created += 1
        return organisations.save_organisation(None, code=code, name=name, kind=OrganisationKind(kind), **kwargs)

    for code, name, kind, district, signatory in data.PARTNER_ORGANISATIONS:
        ensure_org(code, name, kind, district=districts.get(district), convenant_signatory=signatory)
    boards = {
        code: ensure_org(code, name, "school_board", is_fictional=True, convenant_signatory=True)
        for code, name in data.BOARDS
    }
    schools = {}
    for code, name, board, sector, levels, district_code, area_name, _coordinator in data.SCHOOLS:
        district = districts[district_code]
        area = next((a for a in district.areas if a.name == area_name), None)
        schools[code] = ensure_org(
            code,
            name,
            "school_location",
            parent=boards[board],
            district=district,
            area=area,
            sector=SchoolSector(sector),
            levels=levels,
            is_fictional=True,
        )

    for code, name, kind, district_code in data.ROOMS:
        if rooms.get_room(code) is None:
            rooms.create_room(
                code,
                name,
                RoomKind(kind),
                districts.get(district_code) if district_code else None,
                meetings_per_year=1 if kind == "city" else 2,
            )
            report.created += 1

    for code, _name, _board, _sector, _levels, district_code, _area, coordinator in data.SCHOOLS:
        user = _ensure_user(
            report,
            f"coordinator.{code}",
            coordinator,
            schools[code],
            Role.SCHOOL_COORDINATOR,
            ScopeType.LOCATION,
            password,
            "Schoolveiligheidscoördinator",
            scope_org=schools[code],
        )
        _ensure_member(data.DISTRICT_ROOM[district_code], user, "member")

    for district_code, name, unit in data.POLICE_OFFICERS:
        user = _ensure_user(
            report,
            f"wijkagent.{district_code.lower()}",
            name,
            organisations.get_organisation(unit),
            Role.POLICE_OFFICER,
            ScopeType.DISTRICT,
            password,
            "Wijkagent met schooltaak",
            scope_district=districts[district_code],
        )
        _ensure_member(data.DISTRICT_ROOM[district_code], user, "member")
        _ensure_member("stedelijk", user, "member")

    municipality = organisations.get_organisation("gemeente-almere-oov")
    for district_code, manager_name in data.SAFETY_MANAGERS:
        user = _ensure_user(
            report,
            f"veiligheidsmanager.{district_code.lower()}",
            manager_name,
            municipality,
            Role.DISTRICT_SAFETY_MANAGER,
            ScopeType.DISTRICT,
            password,
            "Veiligheidsmanager stadsdeel",
            scope_district=districts[district_code],
        )
        _ensure_member(data.DISTRICT_ROOM[district_code], user, "chair")
        _ensure_member("stedelijk", user, "member")

    for local, name, org_code, role, scope, job_title, seats in data.OTHER_USERS:
        user = _ensure_user(
            report,
            local,
            name,
            organisations.get_organisation(org_code),
            Role(role),
            ScopeType(scope),
            password,
            job_title,
        )
        for room_code, member_role in seats:
            _ensure_member(room_code, user, member_role)
    db.session.flush()
    report.created += load_demo_meetings()
    report.created += load_demo_follow_up()
    return report


def demo_assignments_count() -> int:
    return len(db.session.scalars(select(RoleAssignment).where(RoleAssignment.source == "demo")).all())


# --- demo signals and meetings (docs/domain.md C.4 "Demo signals", D) -----------------------------------------

# (client key, school code, days ago, category, subcategory, location, severity, scope, classification, summary,
#  extra districts, themes). Fixed client keys: loading the demo again adds nothing.
DEMO_SIGNALS = [
    (
        "demo-sig-01",
        "vaartzicht-college",
        12,
        "wapens",
        "wapens.kluisjescontrole",
        "in_schoolgebouw",
        "midden",
        "stadsdeelnetwerk",
        "K2",
        "Mes gevonden bij kluisjescontrole; ouders geïnformeerd, melding politie",
        [],
        ["wapenbezit"],
    ),
    (
        "demo-sig-02",
        "strand-college-poort",
        9,
        "online",
        "online.online_conflict",
        "online",
        "hoog",
        "meerdere_stadsdelen",
        "K3",
        "Filmpjes met dreigementen tussen twee groepen; vechtpartij na school verwacht",
        ["STAD"],
        ["online_drill"],
    ),
    (
        "demo-sig-03",
        "oostvaardershorst-college",
        20,
        "seksueel",
        "seksueel.exposing",
        "online",
        "hoog",
        "stadsdeelnetwerk",
        "K2",
        "Naaktfoto rondgestuurd in klassenapp; aangifte overwogen, Helpwanted ingeschakeld",
        [],
        ["sexting_exposing"],
    ),
    (
        "demo-sig-04",
        "werven-scholengemeenschap",
        15,
        "drugs",
        "drugs.ronselen",
        "directe_schoolomgeving",
        "midden",
        "stadsdeelnetwerk",
        "K2",
        "Volwassene bij de ingang spreekt leerlingen aan om snel geld te verdienen",
        [],
        ["ronselen"],
    ),
    (
        "demo-sig-05",
        "nobelhorst-campus",
        6,
        "ongewenst_bezoek",
        "",
        "schoolterrein",
        "laag",
        "stadsdeelnetwerk",
        "K2",
        "Terugkerende groep niet-leerlingen op het schoolplein na 16.00 uur",
        [],
        [],
    ),
    (
        "demo-sig-06",
        "lumen-lyceum",
        4,
        "bedreiging",
        "bedreiging.dreiging_school",
        "online",
        "hoog",
        "stedelijk",
        "K2",
        "Dreigbericht via Snapchat waarin meerdere scholen worden genoemd",
        [],
        ["online_drill"],
    ),
    (
        "demo-sig-07",
        "vaartzicht-college",
        40,
        "vuurwerk",
        "vuurwerk.illegaal",
        "route_ov",
        "midden",
        "stadsdeelnetwerk",
        "K2",
        "Illegaal vuurwerk afgestoken op de route naar school; Halt-verwijzing door politie",
        [],
        [],
    ),
    (
        "demo-sig-08",
        "oostvaardershorst-college",
        25,
        "discriminatie",
        "discriminatie.racisme",
        "schoolterrein",
        "midden",
        "stadsdeelnetwerk",
        "K2",
        "Racistische leus op de muur van het fietsenhok geschilderd",
        [],
        [],
    ),
]
# More Almere Stad signals spread over the months, so its trend report shows figures above the threshold.
for number, (days, category, sub, location, theme) in enumerate(
    [
        (18, "wapens", "wapens.mes_overig", "directe_schoolomgeving", "wapenbezit"),
        (33, "wapens", "wapens.mes_overig", "route_ov", "wapenbezit"),
        (47, "wapens", "wapens.steekwapen_wwm", "in_schoolgebouw", "wapenbezit"),
        (61, "wapens", "wapens.kluisjescontrole", "in_schoolgebouw", "wapenbezit"),
        (75, "drugs", "drugs.gebruik", "schoolterrein", "vapen_middelen"),
        (52, "drugs", "drugs.gebruik", "in_schoolgebouw", "vapen_middelen"),
        (28, "drugs", "drugs.gebruik", "schoolterrein", "vapen_middelen"),
        (14, "online", "online.cyberpesten", "online", "online_drill"),
        (38, "online", "online.online_conflict", "online", "online_drill"),
        (66, "online", "online.misbruik_sociale_media", "online", "online_drill"),
        (22, "jeugdgroepen", "jeugdgroepen.intimiderende_groep", "directe_schoolomgeving", ""),
        (90, "wapens", "wapens.mes_overig", "in_schoolgebouw", "wapenbezit"),
        (110, "wapens", "wapens.mes_overig", "route_ov", "wapenbezit"),
        (130, "drugs", "drugs.gebruik", "schoolterrein", "vapen_middelen"),
    ],
    start=9,
):
    school = ("vaartzicht-college", "lumen-lyceum", "noorderplas-gymnasium", "weerwater-praktijkschool")[number % 4]
    DEMO_SIGNALS.append(
        (
            f"demo-sig-{number:02d}",
            school,
            days,
            category,
            sub,
            location,
            "midden",
            "stadsdeelnetwerk",
            "K2",
            "Signaal voor het trendbeeld (demo)",
            [],
            [theme] if theme else [],
        )
    )

HELD_MINUTES = """Opening en mededelingen. De voorzitter heet iedereen welkom.

Actielijst: de acties van de vorige keer zijn besproken.

Trendbeeld scholen: meer meldingen van messen rond de scholen in het centrum; vapes blijven een zorg.

Politiebeeld: extra surveillance bij het busstation op vrijdagmiddag heeft effect.

Afspraken: scholen melden kluisjescontroles vooraf bij de wijkagent; jongerenwerk is aanwezig bij de uitgang."""


def _demo_signals() -> int:
    from datetime import timedelta

    from portal.core.db import utcnow
    from portal.signals import services as signal_services
    from portal.signals.models import Signal

    if db.session.scalar(select(Signal.id).limit(1)) is not None:
        return 0
    created = 0
    today = utcnow().date()
    for (
        key,
        school,
        days,
        category,
        sub,
        location,
        severity,
        scope,
        classification,
        summary,
        extra,
        themes,
    ) in DEMO_SIGNALS:
        author = identity.find_user_by_email(_email(f"coordinator.{school}"))
        if author is None:
            continue
        data = signal_services.SignalInput(
            client_key=key,
            occurred_on=today - timedelta(days=days),
            category=category,
            subcategory=sub,
            location_type=location,
            severity=severity,
            summary=summary,
            classification=classification,
            sharing_scope=scope,
            extra_districts=extra,
            themes=themes,
        )
        created += int(signal_services.create_signal(author, data, ip="").created)
    return created


def load_demo_meetings() -> int:
    """Per district room: one held meeting with adopted minutes and open actions, and one upcoming meeting whose
    agenda is open (with those actions carried onto it). Idempotent: a room that has meetings is left alone."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from portal.core.db import utcnow
    from portal.meetings import actions as meeting_actions
    from portal.meetings import minutes as meeting_minutes
    from portal.meetings import queries as meeting_queries
    from portal.meetings import services as meetings
    from portal.meetings import trend_report

    created = _demo_signals()
    # The OM is invited to Almere Stad's meetings as a guest (no seat in the room): "My meetings" shows them.
    om_office = organisations.get_organisation("om-midden-nederland")
    local = ZoneInfo("Europe/Amsterdam")
    today = utcnow().date()
    for district_code, room_code in data.DISTRICT_ROOM.items():
        room = rooms.get_room(room_code)
        chair = identity.find_user_by_email(_email(f"veiligheidsmanager.{district_code.lower()}"))
        if room is None or chair is None or meetings.count_meetings(room):
            continue
        network = meeting_queries.member_organisations(room)
        invited = [str(o.public_id) for o in network]
        if district_code == "STAD" and om_office is not None:
            invited.append(str(om_office.public_id))

        def at(days: int, hour: int) -> datetime:
            return datetime.combine(today + timedelta(days=days), time(hour, 0), tzinfo=local)

        held = meetings.create_meeting(
            chair,
            room,
            meetings.MeetingInput(
                kind="stadsdeel",
                title=f"Netwerkbijeenkomst {room.district.name} (voorjaar)",
                scheduled_at=at(-75, 15),
                duration_min=150,
                place="Stadhuis Almere, Stadhuisplein 1",
                chair_id=str(chair.public_id),
                secretary_id=str(chair.public_id),
                invited_organisations=invited,
            ),
            ip="",
        )
        for status in ("agenda_open", "agenda_definitief", "gehouden"):
            meetings.change_status(chair, held, status, ip="")
        meeting_actions.record_attendance(
            chair, held, [str(m.user.public_id) for m in meeting_queries.members(room)], ip=""
        )
        police = next((o for o in network if o.kind is OrganisationKind.POLICE_UNIT), network[0])
        school = next((o for o in network if o.kind is OrganisationKind.SCHOOL_LOCATION), network[0])
        for description, owner, due in (
            ("Extra surveillance bij het busstation op vrijdagmiddag", police, today + timedelta(days=10)),
            ("Voorlichting over vapes in de tweede klassen", school, today - timedelta(days=5)),
            ("Afspraken kluisjescontrole delen met alle scholen", school, today + timedelta(days=30)),
        ):
            meeting_actions.create_action(
                chair,
                held,
                meeting_actions.ActionInput(
                    description=description, owner_organisation_id=str(owner.public_id), due_date=due
                ),
                ip="",
            )
        from portal.core.sanitize import plain_text_to_html

        meeting_minutes.save_minutes(
            chair, held, plain_text_to_html(HELD_MINUTES), base_version=0, confirmed=False, ip=""
        )
        meetings.change_status(chair, held, "verslag_concept", ip="")
        meetings.change_status(chair, held, "verslag_vastgesteld", ip="")

        upcoming = meetings.create_meeting(
            chair,
            room,
            meetings.MeetingInput(
                kind="stadsdeel",
                title=f"Netwerkbijeenkomst {room.district.name} (najaar)",
                scheduled_at=at(21, 15),
                duration_min=150,
                place="Stadhuis Almere, Stadhuisplein 1",
                chair_id=str(chair.public_id),
                secretary_id=str(chair.public_id),
                invited_organisations=invited,
            ),
            ip="",
        )
        meetings.change_status(chair, upcoming, "agenda_open", ip="")
        trend_report.generate_trend_report(chair, upcoming, ip="")
        created += 2
    db.session.flush()
    return created


def load_demo_follow_up() -> int:
    """Police follow-up on a few demo signals and some reads by partners, so the police view, the school's
    "who opened this signal" page and the privacy officer's access report have something to show. Idempotent:
    nothing happens once any follow-up exists."""
    from portal.police import services as police
    from portal.police.models import PoliceFollowUp
    from portal.signals import queries
    from portal.signals import services as signal_services

    if db.session.scalar(select(PoliceFollowUp.id).limit(1)) is not None:
        return 0
    added = 0
    steps = [
        ("kennisgenomen", "", ""),
        ("actie_gestart", "extra_toezicht", "PL0900-2026-0417"),
        ("overgedragen", "halt", "PL0900-2026-0388"),
    ]
    for district in ("stad", "buiten", "poort"):
        officer = identity.find_user_by_email(_email(f"wijkagent.{district}"))
        if officer is None:
            continue
        viewer = queries.viewer_for(officer)
        signals, _next = queries.list_signals(viewer, queries.SignalFilter(), limit=3)
        for signal, (status, intervention, reference) in zip(signals, steps, strict=False):
            signal_services.record_read(officer, signal, ip="127.0.0.1")
            police.record_follow_up(
                officer, signal.public_id, status, intervention=intervention, police_reference=reference, ip="127.0.0.1"
            )
            added += 1
    for local in ("veiligheidsmanager.stad", "jongerenwerker.stad", "coordinator.lumen-lyceum"):
        reader = identity.find_user_by_email(_email(local))
        if reader is None:
            continue
        viewer = queries.viewer_for(reader)
        for signal in queries.list_signals(viewer, queries.SignalFilter(), limit=4)[0]:
            signal_services.record_read(reader, signal, ip="127.0.0.1")
    return added
