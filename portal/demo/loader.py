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
    return report


def demo_assignments_count() -> int:
    return len(db.session.scalars(select(RoleAssignment).where(RoleAssignment.source == "demo")).all())
