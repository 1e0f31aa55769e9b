"""Extreme query values and bodies answer a clear 400, never a 500 (issue 15 item 4, HTML channel): dates far outside
the portal's years, forged page cursors, 23-digit page numbers and a JSON body nested 10,000 deep."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import csrf_token
from tests.functional.test_meetings import plan, set_status

FAR_DATES = ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"]
DATE_ERROR = "Enter a date between 2000 and 2100."
HUGE = "9" * 23
BAD_REQUEST_PAGE = "Something is wrong with this request"  # errors/400.html: a link no page of ours makes


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED_CURSORS = [
    "czk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # "s9999..." (26 digits): beyond the INTEGER column
    _cursor("s2147483648"),  # one past the largest id
    _cursor("s-1"),
    _cursor("s0"),
    _cursor("x1"),
    "not*base64!",
    "%C3%A9t%C3%A9",  # non-ASCII
    "A" * 200,
]


@pytest.fixture
def english(client):
    """English pages: the tests read the messages (msgids)."""
    with client.session_transaction() as session:
        session["language"] = "en"


def _assert_clear_400(response, message: str | None = None) -> None:
    assert response.status_code == 400, response.status_code
    if message is not None:
        assert message in response.get_data(as_text=True)


# --- room page and police overview ------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("day", FAR_DATES)
def test_room_page_refuses_far_dates(app, world, client, english, login_as, field, day):
    login_as(client, world["users"]["author"])
    room = world["rooms"]["a"].public_id
    _assert_clear_400(client.get(f"/rooms/{room}?{field}={day}"), DATE_ERROR)


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_room_page_refuses_forged_cursors(app, world, client, english, login_as, cursor):
    login_as(client, world["users"]["author"])
    _assert_clear_400(client.get(f"/rooms/{world['rooms']['a'].public_id}?cursor={cursor}"), BAD_REQUEST_PAGE)


def test_room_page_accepts_the_sane_years(app, world, client, login_as):
    login_as(client, world["users"]["author"])
    room = world["rooms"]["a"].public_id
    assert client.get(f"/rooms/{room}?start=2000-01-01&end=2100-12-31").status_code == 200


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("day", FAR_DATES)
def test_police_overview_refuses_far_dates(app, world, client, english, login_as, field, day):
    login_as(client, world["users"]["police_a"])
    _assert_clear_400(client.get(f"/police?{field}={day}"), DATE_ERROR)


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_police_overview_refuses_forged_cursors(app, world, client, english, login_as, cursor):
    login_as(client, world["users"]["police_a"])
    _assert_clear_400(client.get(f"/police?cursor={cursor}"), BAD_REQUEST_PAGE)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_police_figures_refuse_far_dates(app, world, client, english, login_as, day):
    login_as(client, world["users"]["om"])
    _assert_clear_400(client.get(f"/statistics?start={day}&end={day}"), DATE_ERROR)


def test_police_overview_pages_with_a_real_cursor(app, world, client, login_as):
    from portal.signals import queries

    login_as(client, world["users"]["police_a"])
    assert client.get(f"/police?cursor={queries.encode_cursor(queries.MAX_ID)}").status_code == 200
    assert client.get("/police?cursor=").status_code == 200  # an empty cursor is the first page
    assert client.get("/police?start=2000-01-01&end=2100-12-31").status_code == 200


# --- audit trail and administration -----------------------------------------------------------------------------


@pytest.fixture
def privacy_officer(make):
    return make.user("privacy_officer", name="FG Test")


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("day", FAR_DATES)
def test_audit_filter_refuses_far_dates(app, client, english, login_as, privacy_officer, field, day):
    login_as(client, privacy_officer)
    _assert_clear_400(client.get(f"/audit/?{field}={day}"), DATE_ERROR)


@pytest.mark.parametrize("before", [HUGE, "-1", "0", "2147483648", "abc", "1e5", " 12"])
def test_audit_filter_refuses_garbage_before(app, client, english, login_as, privacy_officer, before):
    login_as(client, privacy_officer)
    _assert_clear_400(client.get("/audit/", query_string={"before": before}), BAD_REQUEST_PAGE)


def test_audit_filter_pages_with_a_real_before(app, client, login_as, privacy_officer):
    login_as(client, privacy_officer)
    assert client.get("/audit/?before=2147483647&start=2000-01-01&end=2100-12-31").status_code == 200


@pytest.mark.parametrize("page", [HUGE, "0", "-3", "abc", "2147483647"])
def test_admin_user_list_refuses_garbage_page(app, client, english, login_as, make, page):
    login_as(client, make.user("functional_admin", name="Beheerder Test"))
    _assert_clear_400(client.get("/admin/users", query_string={"page": page}), BAD_REQUEST_PAGE)


def test_admin_user_list_pages(app, client, login_as, make):
    login_as(client, make.user("functional_admin", name="Beheerder Test"))
    assert client.get("/admin/users?page=2").status_code == 200
    assert client.get("/admin/users?page=21474836").status_code == 200  # far past the end: an empty page
    assert client.get("/admin/users?page=").status_code == 200


# --- JSON bodies ------------------------------------------------------------------------------------------------


def test_agenda_order_nested_ten_thousand_deep_is_a_400(app, world, client, login_as):
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    login_as(client, manager)
    set_status(client, meeting, "agenda_open")
    body = '{"order": ' + "[" * 10_000 + "]" * 10_000 + "}"
    answer = client.post(
        f"/meetings/{meeting.public_id}/agenda/order",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client, "/account/sessions"), "Accept": "application/json"},
    )
    assert answer.status_code == 400


def test_deep_json_is_malformed_json_for_every_endpoint(app):
    """Centrally: ``request.get_json()`` answers 400 (``silent=True``: None) instead of raising RecursionError."""
    body = "[" * 10_000 + "]" * 10_000
    with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
        from flask import request
        from werkzeug.exceptions import BadRequest

        assert request.get_json(silent=True) is None
        with pytest.raises(BadRequest):
            request.get_json()
    with app.app_context():
        from flask import json

        with pytest.raises(ValueError):
            json.loads(body)
        assert json.loads("[[1]]") == [[1]]
