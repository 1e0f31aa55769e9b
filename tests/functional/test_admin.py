"""The administration screens: who may use them, what each form does, and that every change is audited."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.identity.models import RoleAssignment, User, UserSession, UserStatus
from portal.organisations.models import Area, District, Organisation
from portal.rooms.models import Room, RoomMembership
from portal.signals.models import TaxonomyTerm, Vocabulary
from tests.conftest import TEST_PASSWORD, csrf_token

# --- helpers ----------------------------------------------------------------------------------------------------


def _fetch(app, stmt):
    with app.app_context():
        return db.session.scalar(stmt)


def _audits(app, action: str, object_id=None) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if object_id is not None:
            stmt = stmt.where(AuditEvent.object_id == str(object_id))
        return list(db.session.scalars(stmt))


def _assert_audited(app, action: str, actor, object_id=None) -> AuditEvent:
    events = [e for e in _audits(app, action, object_id) if e.actor_id == str(actor.public_id)]
    assert events, f"no {action} audit record by {actor.email}"
    return events[-1]


@contextmanager
def count_queries(app):
    counter = {"n": 0}

    def _count(*_args, **_kwargs):
        counter["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(make):
    return make.user("functional_admin", name="Beheerder Test")


def _in_english(client):
    """The assertions read the English msgids; Dutch is the default interface language."""
    with client.session_transaction() as session:
        session["language"] = "en"
    return client


@pytest.fixture
def admin_client(client, login_as, admin):
    login_as(client, admin)
    return _in_english(client)


@pytest.fixture
def token(admin_client):
    return csrf_token(admin_client, "/admin/")


@pytest.fixture
def world(make):
    """A district with an area, a school location, a room with a member, and a pending user."""
    district = make.district("STADX", "Almere Stad X")
    with make.app.app_context():
        from portal.organisations import services

        area = services.create_area(db.session.merge(district), "Filmwijk X")
        db.session.commit()
    school = make.organisation("school_location", code="vaartzicht-x", name="Vaartzicht X", district=district)
    room = make.room(district, code="netwerk-x")
    coordinator = make.user("school_coordinator", organisation=school, name="Sanne Coordinator")
    membership = make.member(room, coordinator)
    pending = make.user(None, status="pending", name="Pending Persoon", email="pending@test.example")
    return {
        "district": district,
        "area": area,
        "school": school,
        "room": room,
        "coordinator": coordinator,
        "membership": membership,
        "pending": pending,
    }


def _term(app, code: str = "geweld") -> TaxonomyTerm:
    from portal.signals import taxonomy

    with app.app_context():
        term = taxonomy.get_term(Vocabulary.CATEGORY, code)
        if term is None:
            term = taxonomy.save_term(
                None, vocabulary=Vocabulary.CATEGORY, code=code, label_nl="Geweld", label_en="Violence"
            )
            db.session.commit()
        return term


def _detail_paths(app, world) -> list[str]:
    term = _term(app)
    return [
        f"/admin/organisations/{world['school'].public_id}",
        f"/admin/districts/{world['district'].public_id}",
        f"/admin/rooms/{world['room'].public_id}",
        f"/admin/users/{world['coordinator'].public_id}",
        f"/admin/taxonomy/terms/{term.public_id}",
    ]


ORGANISATION_PAGES = ["/admin/organisations", "/admin/organisations/new", "/admin/districts"]
ROOM_PAGES = ["/admin/rooms", "/admin/rooms/new"]
USER_PAGES = ["/admin/users", "/admin/users/new", "/admin/users?status=pending&q=a"]
TAXONOMY_PAGES = ["/admin/taxonomy", "/admin/taxonomy/category", "/admin/taxonomy/theme"]
ALL_LIST_PAGES = ["/admin/", *ORGANISATION_PAGES, *ROOM_PAGES, *USER_PAGES, *TAXONOMY_PAGES]


# --- who may use the administration -----------------------------------------------------------------------------


def test_functional_admin_sees_every_page(app, admin_client, world):
    for path in ALL_LIST_PAGES + _detail_paths(app, world):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert "utrecht-heading-1" in _text(response)
    index = _text(admin_client.get("/admin/"))
    for section in ("/admin/organisations", "/admin/districts", "/admin/rooms", "/admin/users", "/admin/taxonomy"):
        assert f'href="{section}"' in index


def test_covenant_coordinator_may_only_use_the_taxonomy(app, client, login_as, make, world):
    coordinator = make.user("covenant_coordinator")
    login_as(client, coordinator)
    index = client.get("/admin/")
    assert index.status_code == 200
    html = _text(index)
    assert 'href="/admin/taxonomy"' in html
    for hidden in ("/admin/organisations", "/admin/districts", "/admin/rooms", "/admin/users"):
        assert f'href="{hidden}"' not in html
    for path in [*TAXONOMY_PAGES, f"/admin/taxonomy/terms/{_term(app).public_id}"]:
        assert client.get(path).status_code == 200, path
    for path in ORGANISATION_PAGES + ROOM_PAGES + USER_PAGES + _detail_paths(app, world)[:4]:
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["school_coordinator", "privacy_officer"])
def test_other_roles_are_refused(app, client, login_as, make, world, role):
    login_as(client, make.user(role))
    for path in ALL_LIST_PAGES + _detail_paths(app, world):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/")
    pending = world["pending"]
    response = client.post(f"/admin/users/{pending.public_id}/approve", data={"csrf_token": token})
    assert response.status_code == 403
    assert _fetch(app, select(User.status).where(User.id == pending.id)) is UserStatus.PENDING
    assert _audits(app, "access.denied")


def test_anonymous_is_sent_to_sign_in(app, client, world):
    for path in ALL_LIST_PAGES + _detail_paths(app, world):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/auth/login"), path


def test_admin_link_is_in_the_menu_only_for_admins(client, login_as, make, admin):
    login_as(client, admin)
    assert 'href="/admin/"' in _text(client.get("/"))
    other = make.user("school_coordinator")
    client2 = client.application.test_client()
    login_as(client2, other)
    assert 'href="/admin/"' not in _text(client2.get("/"))


# --- organisations ----------------------------------------------------------------------------------------------


def test_create_organisation_and_duplicate_code(app, admin_client, admin, token, world):
    data = {
        "csrf_token": token,
        "code": "nieuw-college",
        "name": "Nieuw College (fictief)",
        "kind": "school_location",
        "parent": "",
        "district": str(world["district"].public_id),
        "area": str(world["area"].public_id),
        "sector": "VO",
        "levels": ["havo", "vwo"],
        "school_code": "99ZZ",
        "convenant_signatory": "y",
        "is_fictional": "y",
        "active": "y",
    }
    response = admin_client.post("/admin/organisations/new", data=data)
    assert response.status_code == 302
    org = _fetch(app, select(Organisation).where(Organisation.code == "nieuw-college"))
    assert org.name == "Nieuw College (fictief)"
    assert org.levels == ["havo", "vwo"]
    assert org.district_id == world["district"].id
    assert org.area_id == world["area"].id
    assert org.convenant_signatory
    assert org.is_fictional
    assert org.active
    _assert_audited(app, "organisation.create", admin, org.public_id)
    assert "Nieuw College (fictief)" in _text(admin_client.get(response.headers["Location"]))

    again = admin_client.post("/admin/organisations/new", data={**data, "name": "Tweede"})
    assert again.status_code == 400
    html = _text(again)
    assert "Another organisation already uses this code." in html
    assert 'id="error-summary"' in html
    assert re.search(r'id="code"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="code"', html)
    assert _fetch(app, select(func.count()).select_from(Organisation).where(Organisation.name == "Tweede")) == 0


def test_edit_organisation(app, admin_client, admin, token, world):
    school = world["school"]
    page = _text(admin_client.get(f"/admin/organisations/{school.public_id}"))
    assert 'value="vaartzicht-x"' in page
    data = {
        "csrf_token": token,
        "code": "vaartzicht-x",
        "name": "Vaartzicht Hernoemd",
        "kind": "school_location",
        "district": str(world["district"].public_id),
        "sector": "PRO",
        "levels": ["praktijkonderwijs"],
        "active": "y",
    }
    response = admin_client.post(f"/admin/organisations/{school.public_id}", data=data)
    assert response.status_code == 302
    with app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.id == school.id))
        db.session.refresh(org)
        assert org.name == "Vaartzicht Hernoemd"
        assert org.sector.value == "PRO"
        assert org.levels == ["praktijkonderwijs"]
        assert org.convenant_signatory is False
    _assert_audited(app, "organisation.update", admin, school.public_id)


def test_edit_organisation_validation_errors_are_shown(app, admin_client, token, make, world):
    other = make.organisation(code="bezette-code")
    school = world["school"]
    base = {"csrf_token": token, "name": "X", "kind": "school_location", "sector": "VO", "active": "y"}
    taken = admin_client.post(
        f"/admin/organisations/{school.public_id}",
        data={**base, "code": other.code, "district": str(world["district"].public_id)},
    )
    assert taken.status_code == 400
    assert "Another organisation already uses this code." in _text(taken)
    no_district = admin_client.post(f"/admin/organisations/{school.public_id}", data={**base, "code": "vaartzicht-x"})
    assert no_district.status_code == 400
    assert "A school location needs a district." in _text(no_district)
    bad_code = admin_client.post("/admin/organisations/new", data={**base, "code": "Geen Code!", "kind": "halt"})
    assert bad_code.status_code == 400
    assert "lower-case letters" in _text(bad_code)
    bad_choice = admin_client.post("/admin/organisations/new", data={**base, "code": "ok-code", "kind": "nonsense"})
    assert bad_choice.status_code == 400
    assert _fetch(app, select(Organisation.name).where(Organisation.id == school.id)) == "Vaartzicht X"


def test_organisation_list_filters_and_search(admin_client, make, world):
    make.organisation("police_unit", code="politie-test", name="Politie Testbureau")
    by_kind = _text(admin_client.get("/admin/organisations?kind=police_unit"))
    assert "Politie Testbureau" in by_kind
    assert "Vaartzicht X" not in by_kind
    by_name = _text(admin_client.get("/admin/organisations?q=vaartZICHT"))
    assert "Vaartzicht X" in by_name
    assert "Politie Testbureau" not in by_name
    wildcard = _text(admin_client.get("/admin/organisations?q=%25"))
    assert "Vaartzicht X" not in wildcard


# --- districts and areas ----------------------------------------------------------------------------------------


def test_district_list_edit_and_add_area(app, admin_client, admin, token, world):
    district = world["district"]
    listing = _text(admin_client.get("/admin/districts"))
    assert "Almere Stad X" in listing
    assert "Filmwijk X" in listing
    assert "Testnetwerk" in listing

    response = admin_client.post(
        f"/admin/districts/{district.public_id}", data={"csrf_token": token, "name": "Almere Stad Y"}
    )
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(District, district.id)
        db.session.refresh(saved)
        assert saved.name == "Almere Stad Y"
        assert saved.active is False
    _assert_audited(app, "district.update", admin, district.public_id)

    empty = admin_client.post(f"/admin/districts/{district.public_id}", data={"csrf_token": token, "name": ""})
    assert empty.status_code == 400

    added = admin_client.post(
        f"/admin/districts/{district.public_id}/areas",
        data={"area-csrf_token": token, "area-name": "Kruidenwijk X", "area-kind": "buurt"},
    )
    assert added.status_code == 302
    area = _fetch(app, select(Area).where(Area.name == "Kruidenwijk X"))
    assert area.district_id == district.id
    assert area.kind.value == "buurt"
    _assert_audited(app, "area.create", admin, district.public_id)

    duplicate = admin_client.post(
        f"/admin/districts/{district.public_id}/areas",
        data={"area-csrf_token": token, "area-name": "Kruidenwijk X", "area-kind": "wijk"},
    )
    assert duplicate.status_code == 400
    assert "already has an area with this name" in _text(duplicate)


# --- rooms and memberships --------------------------------------------------------------------------------------


def test_room_list_and_create(app, admin_client, admin, token, world):
    listing = _text(admin_client.get("/admin/rooms"))
    assert "netwerk-x" in listing
    response = admin_client.post(
        "/admin/rooms/new",
        data={
            "csrf_token": token,
            "code": "netwerk-nieuw",
            "name": "Nieuw netwerk",
            "kind": "district",
            "district": str(world["district"].public_id),
            "meetings_per_year": "3",
        },
    )
    assert response.status_code == 302
    room = _fetch(app, select(Room).where(Room.code == "netwerk-nieuw"))
    assert room.district_id == world["district"].id
    assert room.meetings_per_year == 3
    assert response.headers["Location"].endswith(f"/admin/rooms/{room.public_id}")
    _assert_audited(app, "room.create", admin, room.public_id)

    duplicate = admin_client.post(
        "/admin/rooms/new",
        data={"csrf_token": token, "code": "netwerk-nieuw", "name": "X", "kind": "city", "meetings_per_year": "1"},
    )
    assert duplicate.status_code == 400
    assert "Another room already uses this code." in _text(duplicate)
    no_district = admin_client.post(
        "/admin/rooms/new",
        data={"csrf_token": token, "code": "netwerk-zonder", "name": "X", "kind": "district", "meetings_per_year": "1"},
    )
    assert no_district.status_code == 400
    assert "A district room needs a district." in _text(no_district)


def test_add_and_revoke_room_membership(app, admin_client, admin, token, make, world):
    room = world["room"]
    newcomer = make.user("police_officer", name="Rob Agent")
    page = _text(admin_client.get(f"/admin/rooms/{room.public_id}"))
    assert "Sanne Coordinator" in page
    assert str(newcomer.public_id) in page  # offered in the list of people

    until = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    response = admin_client.post(
        f"/admin/rooms/{room.public_id}/members",
        data={"csrf_token": token, "user": str(newcomer.public_id), "role": "guest", "valid_until": until},
    )
    assert response.status_code == 302
    membership = _fetch(
        app,
        select(RoomMembership).where(RoomMembership.room_id == room.id, RoomMembership.user_id == newcomer.id),
    )
    assert membership.role.value == "guest"
    assert membership.valid_until is not None
    assert membership.is_current()
    _assert_audited(app, "membership.add", admin, room.public_id)

    revoke = admin_client.post(
        f"/admin/rooms/{room.public_id}/members/{membership.public_id}/revoke", data={"csrf_token": token}
    )
    assert revoke.status_code == 302
    with app.app_context():
        saved = db.session.get(RoomMembership, membership.id)
        db.session.refresh(saved)
        assert saved.revoked_at is not None
    _assert_audited(app, "membership.revoke", admin, room.public_id)
    page = _text(admin_client.get(f"/admin/rooms/{room.public_id}"))
    assert "Former members" in page
    assert "Rob Agent" in page.split("Former members", 1)[1]

    twice = admin_client.post(
        f"/admin/rooms/{room.public_id}/members/{membership.public_id}/revoke", data={"csrf_token": token}
    )
    assert twice.status_code == 302
    assert len(_audits(app, "membership.revoke", room.public_id)) == 1


def test_add_member_validation(app, admin_client, token, make, world):
    room = world["room"]
    past = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    newcomer = make.user("partner")
    response = admin_client.post(
        f"/admin/rooms/{room.public_id}/members",
        data={"csrf_token": token, "user": str(newcomer.public_id), "role": "member", "valid_until": past},
    )
    assert response.status_code == 400
    assert "Choose a date after today." in _text(response)
    sitting = admin_client.post(
        f"/admin/rooms/{room.public_id}/members",
        data={"csrf_token": token, "user": str(world["coordinator"].public_id), "role": "member"},
    )
    assert sitting.status_code == 400  # already a member: not among the choices
    blocked = make.user("partner", status="blocked")
    refused = admin_client.post(
        f"/admin/rooms/{room.public_id}/members",
        data={"csrf_token": token, "user": str(blocked.public_id), "role": "member"},
    )
    assert refused.status_code == 400
    count = select(func.count()).select_from(RoomMembership).where(RoomMembership.room_id == room.id)
    assert _fetch(app, count) == 1


# --- users and roles --------------------------------------------------------------------------------------------


def test_user_list_shows_pending_first_and_filters(admin_client, make, world):
    make.user("partner", name="Aaron Eerste")
    html = _text(admin_client.get("/admin/users"))
    assert html.index("Pending Persoon") < html.index("Aaron Eerste")
    assert "waiting for approval" in html
    pending_only = _text(admin_client.get("/admin/users?status=pending"))
    assert "Pending Persoon" in pending_only
    assert "Aaron Eerste" not in pending_only
    by_mail = _text(admin_client.get("/admin/users?q=PENDING%40test"))
    assert "Pending Persoon" in by_mail
    assert "Aaron Eerste" not in by_mail
    assert admin_client.get("/admin/users?status=nonsense").status_code == 200


def test_approve_pending_user(app, admin_client, admin, token, world):
    pending = world["pending"]
    page = _text(admin_client.get(f"/admin/users/{pending.public_id}"))
    assert f"/admin/users/{pending.public_id}/approve" in page
    response = admin_client.post(f"/admin/users/{pending.public_id}/approve", data={"csrf_token": token})
    assert response.status_code == 302
    assert _fetch(app, select(User.status).where(User.id == pending.id)) is UserStatus.ACTIVE
    record = _assert_audited(app, "user.status", admin, pending.public_id)
    assert record.details == {"from": "pending", "to": "active"}
    again = admin_client.post(f"/admin/users/{pending.public_id}/approve", data={"csrf_token": token})
    assert again.status_code == 400
    assert "Only a pending account can be approved." in _text(again)


def test_blocking_ends_the_users_sessions(app, admin_client, admin, token, login_as, world):
    coordinator = world["coordinator"]
    victim_client = app.test_client()
    login_as(victim_client, coordinator)
    _in_english(victim_client)
    assert victim_client.get("/").status_code == 200

    response = admin_client.post(f"/admin/users/{coordinator.public_id}/block", data={"csrf_token": token})
    assert response.status_code == 302
    assert _fetch(app, select(User.status).where(User.id == coordinator.id)) is UserStatus.BLOCKED
    sessions = select(func.count()).select_from(UserSession).where(UserSession.user_id == coordinator.id)
    assert _fetch(app, sessions) == 0
    signed_out = victim_client.get("/")
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/auth/login")
    _assert_audited(app, "user.status", admin, coordinator.public_id)

    unblock = admin_client.post(f"/admin/users/{coordinator.public_id}/unblock", data={"csrf_token": token})
    assert unblock.status_code == 302
    assert _fetch(app, select(User.status).where(User.id == coordinator.id)) is UserStatus.ACTIVE


def test_admin_cannot_block_themselves(app, admin_client, admin, token):
    response = admin_client.post(f"/admin/users/{admin.public_id}/block", data={"csrf_token": token})
    assert response.status_code == 400
    assert "You cannot block your own account." in _text(response)
    assert _fetch(app, select(User.status).where(User.id == admin.id)) is UserStatus.ACTIVE


def test_create_user(app, admin_client, admin, token, world):
    data = {
        "csrf_token": token,
        "email": "Nieuwe.Collega@Test.Example",
        "display_name": "Nieuwe Collega",
        "organisation": str(world["school"].public_id),
        "job_title": "Teamleider",
    }
    response = admin_client.post("/admin/users/new", data=data)
    assert response.status_code == 302
    user = _fetch(app, select(User).where(User.email == "nieuwe.collega@test.example"))
    assert user.status is UserStatus.ACTIVE
    assert user.organisation_id == world["school"].id
    assert response.headers["Location"].endswith(f"/admin/users/{user.public_id}")
    _assert_audited(app, "user.create", admin, user.public_id)
    duplicate = admin_client.post("/admin/users/new", data=data)
    assert duplicate.status_code == 400
    assert "An account with this e-mail address already exists." in _text(duplicate)
    invalid = admin_client.post("/admin/users/new", data={**data, "email": "geen-adres"})
    assert invalid.status_code == 400


def test_assign_and_revoke_role(app, admin_client, admin, token, world):
    user = world["coordinator"]
    school = world["school"]
    response = admin_client.post(
        f"/admin/users/{user.public_id}/roles",
        data={
            "csrf_token": token,
            "role": "school_director",
            "scope_type": "location",
            "scope_organisation": str(school.public_id),
            "valid_from": "",
            "valid_until": "2099-01-01",
        },
    )
    assert response.status_code == 302
    assignment = _fetch(
        app, select(RoleAssignment).where(RoleAssignment.user_id == user.id, RoleAssignment.role == "school_director")
    )
    assert assignment.scope_organisation_id == school.id
    assert assignment.valid_until.year in (2098, 2099)  # midnight in Almere is the evening before in UTC
    assert assignment.granted_by_id == admin.id
    _assert_audited(app, "role.assign", admin, user.public_id)
    assert "School director" in _text(admin_client.get(f"/admin/users/{user.public_id}"))

    revoke = admin_client.post(
        f"/admin/users/{user.public_id}/roles/{assignment.public_id}/revoke", data={"csrf_token": token}
    )
    assert revoke.status_code == 302
    assert _fetch(app, select(RoleAssignment.id).where(RoleAssignment.id == assignment.id)) is None
    _assert_audited(app, "role.revoke", admin, user.public_id)


def test_assign_role_validation(app, admin_client, token, world):
    user = world["coordinator"]
    path = f"/admin/users/{user.public_id}/roles"
    base = {"csrf_token": token, "role": "school_director"}
    missing_org = admin_client.post(path, data={**base, "scope_type": "location"})
    assert missing_org.status_code == 400
    assert "Choose the organisation this role applies to." in _text(missing_org)
    missing_district = admin_client.post(path, data={**base, "scope_type": "district"})
    assert missing_district.status_code == 400
    assert "Choose the district this role applies to." in _text(missing_district)
    wrong_kind = admin_client.post(
        path, data={**base, "scope_type": "board", "scope_organisation": str(world["school"].public_id)}
    )
    assert wrong_kind.status_code == 400
    assert "does not fit the chosen scope" in _text(wrong_kind)
    dates = admin_client.post(
        path, data={**base, "scope_type": "city", "valid_from": "2030-01-02", "valid_until": "2030-01-01"}
    )
    assert dates.status_code == 400
    assert "The end date must be after the start date." in _text(dates)
    ended = admin_client.post(path, data={**base, "scope_type": "city", "valid_until": "2020-01-01"})
    assert ended.status_code == 400
    assert "Choose a date after today." in _text(ended)
    duplicate = admin_client.post(
        path,
        data={
            "csrf_token": token,
            "role": "school_coordinator",
            "scope_type": "city",
        },
    )
    assert duplicate.status_code == 400
    assert "already holds this role" in _text(duplicate)
    count = select(func.count()).select_from(RoleAssignment).where(RoleAssignment.user_id == user.id)
    assert _fetch(app, count) == 1


def test_administrative_role_is_refused_for_a_single_sign_on_account(app, admin_client, admin, token, world):
    """docs/security.md / policy.ADMINISTRATIVE_ROLES: only break-glass accounts (a local password, and a second factor
    outside demo mode) hold the administrator role. An administrator cannot hand it to an account that signs in
    through single sign-on only, neither through the screen nor through the service every caller uses."""
    from portal.authz.permissions import Role, ScopeType
    from portal.core.errors import ValidationFailed
    from portal.identity import services

    created = admin_client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "email": "sso.collega@test.example",
            "display_name": "SSO Collega",
            "organisation": str(world["school"].public_id),
        },
    )
    assert created.status_code == 302
    sso_user = _fetch(app, select(User).where(User.email == "sso.collega@test.example"))
    admin_roles = select(func.count()).select_from(RoleAssignment).where(RoleAssignment.role == "functional_admin")
    before = _fetch(app, admin_roles)
    for user in (sso_user, world["coordinator"]):
        response = admin_client.post(
            f"/admin/users/{user.public_id}/roles",
            data={"csrf_token": token, "role": "functional_admin", "scope_type": "city"},
        )
        assert response.status_code == 400
        assert "Only an account with a local break-glass password can hold this role" in _text(response)
        held = select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == "functional_admin"
        )
        assert _fetch(app, held) is None
    assert _fetch(app, admin_roles) == before
    granted = [e for e in _audits(app, "role.assign", sso_user.public_id) if e.details["role"] == "functional_admin"]
    assert granted == []

    with app.app_context():
        user = db.session.get(User, sso_user.id)
        actor = db.session.get(User, admin.id)
        for grant in (services.assign_role, services.grant_role):
            with pytest.raises(ValidationFailed) as refused:
                grant(user, Role.FUNCTIONAL_ADMIN, ScopeType.CITY, actor=actor)
            assert refused.value.field == "role"
        db.session.rollback()
    assert _fetch(app, admin_roles) == before


def test_administrative_role_can_go_to_a_break_glass_account(app, admin_client, admin, token, make):
    """The positive control: an account with a local password may be made administrator."""
    colleague = make.user(None, password=TEST_PASSWORD, name="Tweede Beheerder")
    response = admin_client.post(
        f"/admin/users/{colleague.public_id}/roles",
        data={"csrf_token": token, "role": "functional_admin", "scope_type": "city"},
    )
    assert response.status_code == 302
    held = select(RoleAssignment.granted_by_id).where(
        RoleAssignment.user_id == colleague.id, RoleAssignment.role == "functional_admin"
    )
    assert _fetch(app, held) == admin.id
    _assert_audited(app, "role.assign", admin, colleague.public_id)


def test_admin_cannot_revoke_own_admin_role(app, admin_client, admin, token):
    assignment = _fetch(app, select(RoleAssignment).where(RoleAssignment.user_id == admin.id))
    response = admin_client.post(
        f"/admin/users/{admin.public_id}/roles/{assignment.public_id}/revoke", data={"csrf_token": token}
    )
    assert response.status_code == 400
    assert _fetch(app, select(RoleAssignment.id).where(RoleAssignment.id == assignment.id)) == assignment.id


# --- taxonomy ---------------------------------------------------------------------------------------------------


def test_edit_taxonomy_label(app, client, login_as, make):
    editor = make.user("covenant_coordinator")
    login_as(client, editor)
    _in_english(client)
    token = csrf_token(client, "/admin/")
    term = _term(app)
    assert "Geweld" in _text(client.get("/admin/taxonomy/category"))
    response = client.post(
        f"/admin/taxonomy/terms/{term.public_id}",
        data={
            "csrf_token": token,
            "label_nl": "Geweld en mishandeling",
            "label_en": "Violence and assault",
            "description": "Fysiek geweld.",
            "position": "3",
            "active": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(TaxonomyTerm, term.id)
        db.session.refresh(saved)
        assert (saved.label_nl, saved.label_en, saved.position, saved.code) == (
            "Geweld en mishandeling",
            "Violence and assault",
            3,
            "geweld",
        )
    _assert_audited(app, "taxonomy.update", editor, term.public_id)
    empty = client.post(
        f"/admin/taxonomy/terms/{term.public_id}", data={"csrf_token": token, "label_nl": "", "position": "0"}
    )
    assert empty.status_code == 400


def test_add_taxonomy_terms(app, admin_client, admin, token):
    parent = _term(app)
    response = admin_client.post(
        "/admin/taxonomy/category",
        data={
            "new-csrf_token": token,
            "new-parent": str(parent.public_id),
            "new-code": "messengevecht",
            "new-label_nl": "Messengevecht",
            "new-label_en": "",
            "new-position": "9",
            "new-active": "y",
        },
    )
    assert response.status_code == 302
    child = _fetch(app, select(TaxonomyTerm).where(TaxonomyTerm.code == "geweld.messengevecht"))
    assert child.parent_id == parent.id
    assert child.label_en == "Messengevecht"
    _assert_audited(app, "taxonomy.create", admin, child.public_id)
    assert "Messengevecht" in _text(admin_client.get("/admin/taxonomy/category"))

    flat = admin_client.post(
        "/admin/taxonomy/theme",
        data={"new-csrf_token": token, "new-code": "wapenbezit_x", "new-label_nl": "Wapenbezit", "new-position": "0"},
    )
    assert flat.status_code == 302
    duplicate = admin_client.post(
        "/admin/taxonomy/theme",
        data={"new-csrf_token": token, "new-code": "wapenbezit_x", "new-label_nl": "Nog eens", "new-position": "0"},
    )
    assert duplicate.status_code == 400
    assert "This code is already used in this list." in _text(duplicate)
    parent_elsewhere = admin_client.post(
        "/admin/taxonomy/theme",
        data={
            "new-csrf_token": token,
            "new-parent": str(parent.public_id),
            "new-code": "iets",
            "new-label_nl": "Iets",
            "new-position": "0",
        },
    )
    assert parent_elsewhere.status_code == 400  # themes are flat: no parent is offered


# --- ids, CSRF and queries --------------------------------------------------------------------------------------


def test_unknown_and_garbage_ids_are_404(app, admin_client, token, make, world):
    other_room = make.room(make.district())
    other_user = make.user("partner")
    other_assignment = _fetch(app, select(RoleAssignment).where(RoleAssignment.user_id == other_user.id))
    missing = uuid.uuid4()
    for path in [
        "/admin/organisations/not-a-uuid",
        f"/admin/organisations/{missing}",
        "/admin/districts/%27%20OR%201=1",
        f"/admin/districts/{missing}",
        "/admin/rooms/123",
        f"/admin/rooms/{missing}",
        "/admin/users/../../etc",
        f"/admin/users/{missing}",
        f"/admin/taxonomy/terms/{missing}",
        "/admin/taxonomy/terms/0",
        "/admin/taxonomy/not_a_list",
    ]:
        assert admin_client.get(path).status_code == 404, path
    posts = [
        f"/admin/rooms/{other_room.public_id}/members/{world['membership'].public_id}/revoke",
        f"/admin/rooms/{world['room'].public_id}/members/garbage/revoke",
        f"/admin/users/{world['coordinator'].public_id}/roles/{other_assignment.public_id}/revoke",
        f"/admin/users/{missing}/block",
        f"/admin/users/{missing}/roles",
        f"/admin/districts/{missing}/areas",
    ]
    for path in posts:
        assert admin_client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert _fetch(app, select(RoomMembership.revoked_at).where(RoomMembership.id == world["membership"].id)) is None
    assert _fetch(app, select(RoleAssignment.id).where(RoleAssignment.id == other_assignment.id)) is not None


def test_post_without_csrf_token_is_refused(app, admin_client, admin, world):
    coordinator = world["coordinator"]
    before = _fetch(app, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.status"))
    attempts = [
        (f"/admin/users/{coordinator.public_id}/block", {}),
        ("/admin/organisations/new", {"code": "zonder-token", "name": "Zonder", "kind": "halt"}),
        (f"/admin/rooms/{world['room'].public_id}/members/{world['membership'].public_id}/revoke", {}),
        (f"/admin/users/{coordinator.public_id}/roles", {"role": "partner", "scope_type": "city"}),
    ]
    for path, data in attempts:
        assert admin_client.post(path, data=data).status_code == 400, path
        assert admin_client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    assert _fetch(app, select(User.status).where(User.id == coordinator.id)) is UserStatus.ACTIVE
    assert _fetch(app, select(Organisation.id).where(Organisation.code == "zonder-token")) is None
    assert _fetch(app, select(RoomMembership.revoked_at).where(RoomMembership.id == world["membership"].id)) is None
    count = select(func.count()).select_from(RoleAssignment).where(RoleAssignment.user_id == coordinator.id)
    assert _fetch(app, count) == 1
    after = _fetch(app, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.status"))
    assert after == before
    assert [e for e in _audits(app, "access.denied") if e.details.get("code") == "csrf"]


def test_state_changing_routes_refuse_get(admin_client, world):
    for path in [
        f"/admin/users/{world['pending'].public_id}/approve",
        f"/admin/users/{world['coordinator'].public_id}/block",
        f"/admin/rooms/{world['room'].public_id}/members/{world['membership'].public_id}/revoke",
        f"/admin/districts/{world['district'].public_id}/areas",
    ]:
        assert admin_client.get(path).status_code == 405, path


@pytest.mark.parametrize(("path", "extra"), [("/admin/users", "user"), ("/admin/organisations", "organisation")])
def test_list_pages_do_not_query_per_row(app, admin_client, make, path, extra):
    def add(n):
        for _ in range(n):
            if extra == "user":
                make.user("partner", organisation=make.organisation(), scope="city")
            else:
                make.organisation("school_location", parent=None)

    add(2)
    admin_client.get(path)  # warm up
    with count_queries(app) as few:
        assert admin_client.get(path).status_code == 200
    add(6)
    with count_queries(app) as many:
        assert admin_client.get(path).status_code == 200
    assert many["n"] == few["n"]


def test_every_admin_route_has_a_permission(app):
    from portal.authz.permissions import Permission

    expected = {
        "admin.index": Permission.ADMIN_ACCESS,
        "admin.organisations": Permission.ADMIN_ORGANISATIONS,
        "admin.districts": Permission.ADMIN_ORGANISATIONS,
        "admin.rooms": Permission.ADMIN_ROOMS,
        "admin.member_add": Permission.ADMIN_ROOMS,
        "admin.users": Permission.ADMIN_USERS,
        "admin.role_assign": Permission.ADMIN_USERS,
        "admin.user_block": Permission.ADMIN_USERS,
        "admin.taxonomy_index": Permission.ADMIN_TAXONOMY,
        "admin.term_edit": Permission.ADMIN_TAXONOMY,
    }
    endpoints = [name for name in app.view_functions if name.startswith("admin.")]
    assert len(endpoints) >= 20
    for name in endpoints:
        permission = getattr(app.view_functions[name], "_portal_permission", None)
        assert permission is not None, name
        assert permission.value.startswith("admin:"), name
        if name in expected:
            assert permission is expected[name], name


# --- rules the services own (review findings) -------------------------------------------------------------------


def test_add_member_refuses_a_current_seat_and_keeps_it_unchanged(app, make, world):
    from portal.core.errors import ValidationFailed
    from portal.rooms import services as room_services
    from portal.rooms.models import MemberRole

    with app.app_context():
        room = db.session.merge(world["room"])
        coordinator = db.session.merge(world["coordinator"])
        seat = db.session.get(RoomMembership, world["membership"].id)
        started, role = seat.valid_from, seat.role
        with pytest.raises(ValidationFailed) as refused:
            room_services.add_member(room, coordinator, MemberRole.CHAIR, actor=None)
        assert refused.value.field == "user"
        assert refused.value.template == "This person is already a member of this room."
        db.session.refresh(seat)
        assert (seat.valid_from, seat.role, seat.revoked_at) == (started, role, None)
        # A revoked seat may be taken again: the same row comes back to life.
        room_services.revoke_member(seat, actor=None)
        again = room_services.add_member(room, coordinator, MemberRole.CHAIR, actor=None)
        assert again.id == seat.id
        assert again.is_current()
        assert again.role is MemberRole.CHAIR
        db.session.rollback()


def test_revoking_twice_keeps_the_first_date(app, admin_client, token, world):
    from portal.core.errors import ValidationFailed
    from portal.rooms import services as room_services

    with app.app_context():
        seat = db.session.get(RoomMembership, world["membership"].id)
        room_services.revoke_member(seat, actor=None)
        first = seat.revoked_at
        with pytest.raises(ValidationFailed) as refused:
            room_services.revoke_member(seat, actor=None)
        assert refused.value.template == "This membership had already been revoked."
        assert seat.revoked_at == first
        db.session.commit()
    room = world["room"]
    response = admin_client.post(
        f"/admin/rooms/{room.public_id}/members/{world['membership'].public_id}/revoke",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "This membership had already been revoked." in _text(response)
    assert _fetch(app, select(RoomMembership.revoked_at).where(RoomMembership.id == world["membership"].id)) == first
    assert len(_audits(app, "membership.revoke", room.public_id)) == 1


def test_organisation_parent_cycles_are_refused(app, admin_client, token, make):
    from portal.core.errors import ValidationFailed
    from portal.organisations import services as organisation_services
    from portal.organisations.models import OrganisationKind

    top = make.organisation("school_board", code="cyclus-a", name="Bestuur A")
    middle = make.organisation("school_board", code="cyclus-b", name="Bestuur B", parent=top)
    bottom = make.organisation("school_board", code="cyclus-c", name="Bestuur C", parent=middle)
    # Through the administration: A under B while B lies under A.
    response = admin_client.post(
        f"/admin/organisations/{top.public_id}",
        data={
            "csrf_token": token,
            "code": "cyclus-a",
            "name": "Bestuur A",
            "kind": "school_board",
            "parent": str(middle.public_id),
            "active": "y",
        },
    )
    assert response.status_code == 400
    assert "The parent organisation falls under this organisation itself." in _text(response)
    assert _fetch(app, select(Organisation.parent_id).where(Organisation.id == top.id)) is None
    # Through the service, over two steps: A under C while C lies under B under A.
    with app.app_context():
        organisation = db.session.get(Organisation, top.id)
        with pytest.raises(ValidationFailed) as refused:
            organisation_services.save_organisation(
                organisation,
                code="cyclus-a",
                name="Bestuur A",
                kind=OrganisationKind.SCHOOL_BOARD,
                parent=db.session.get(Organisation, bottom.id),
            )
        assert refused.value.field == "parent"
        db.session.rollback()
        # Moving a branch elsewhere in the tree stays possible: C directly under A.
        moved = organisation_services.save_organisation(
            db.session.get(Organisation, bottom.id),
            code="cyclus-c",
            name="Bestuur C",
            kind=OrganisationKind.SCHOOL_BOARD,
            parent=db.session.get(Organisation, top.id),
        )
        assert moved.parent_id == top.id
        db.session.rollback()


def test_audit_filter_dates_are_local_days(app, client, login_as, make, monkeypatch):
    from portal.audit import services as audit_services

    officer = make.user("privacy_officer")
    # 23:30 UTC on 10 June 2024 is 01:30 on 11 June in Almere (summer time).
    monkeypatch.setattr(audit_services, "utcnow", lambda: datetime(2024, 6, 10, 23, 30, tzinfo=UTC))
    with app.app_context():
        audit_services.record("test.local-day", actor=None, object_type="test", object_id="lokale-dag")
        db.session.commit()
    monkeypatch.undo()
    login_as(client, officer)
    _in_english(client)

    def found(start: str, end: str) -> bool:
        page = client.get(f"/audit/?object_id=lokale-dag&start={start}&end={end}")
        assert page.status_code == 200
        return '<span class="portal-mono">lokale-dag</span>' in _text(page)

    assert found("2024-06-11", "2024-06-11")
    assert not found("2024-06-10", "2024-06-10")
    assert not found("2024-06-12", "2024-06-12")
