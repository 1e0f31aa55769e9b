"""One rate limit over every export (issue 15, item 6): meeting PDFs and the ``.ics`` invitation, the access-report
CSV and the data-subject JSON and PDF. Counted per signed-in person: a new address does not reset it, another person
is not affected, all kinds share the counter, and past it the answer is 429 with the limiter's ``Retry-After``."""

from __future__ import annotations

import pytest

from portal.core.db import commit
from portal.extensions import db
from tests.conftest import csrf_token
from tests.functional.test_meetings import STATUS_FLOW, plan, set_status
from tests.signal_world import post

LIMIT = 3
MEETING_EXPORTS = ("agenda.pdf", "trend.pdf", "minutes.pdf", "invite.ics")
PRIVACY_EXPORTS = ("access.csv", "subject.json", "subject.pdf")


@pytest.fixture
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_LIMIT", f"{LIMIT} per 10 minutes")


@pytest.fixture
def meeting(app, world, client, login_as):
    """A held meeting of room A with a trend report and minutes: every meeting export answers 200."""
    from portal.meetings import trend_report
    from portal.meetings.models import Meeting

    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    with app.app_context():
        trend_report.generate_trend_report(db.session.merge(manager), db.session.get(Meeting, meeting.id), ip="")
        commit()
    login_as(client, manager)
    for status in STATUS_FLOW[:3]:
        assert set_status(client, meeting, status).status_code == 302
    data = {"csrf_token": csrf_token(client, "/account/sessions"), "base_version": "0", "body": "Besluit: toezicht."}
    assert client.post(f"/meetings/{meeting.public_id}/minutes", data=data).status_code == 302
    return meeting


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _people_and_url(kind, request, world, make):
    """Two people who may both make this export, and its URL."""
    if kind in MEETING_EXPORTS:
        meeting = request.getfixturevalue("meeting")
        return world["users"]["manager_a"], world["users"]["author"], f"/meetings/{meeting.public_id}/{kind}"
    officer, other = make.user("privacy_officer", name="FG Een"), make.user("privacy_officer", name="FG Twee")
    if kind == "access.csv":
        signal = post(request.getfixturevalue("app"), world["users"]["author"], "stadsdeelnetwerk", "K2")
        return officer, other, f"/privacy/access?signal={signal.reference}&format=csv"
    return officer, other, f"/privacy/subjects?key=LLN-4711&format={kind.split('.')[1]}"


@pytest.mark.parametrize("kind", MEETING_EXPORTS + PRIVACY_EXPORTS)
def test_each_export_is_limited_per_person_whatever_the_address(
    kind, request, app, world, make, client, login_as, small_limit
):
    person, colleague, url = _people_and_url(kind, request, world, make)
    login_as(client, person)
    for n in range(LIMIT):
        assert client.get(url, **_from(f"198.51.100.{n + 1}")).status_code == 200, n
    refused = client.get(url, **_from("203.0.113.9"))  # yet another address: still the same person
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert refused.mimetype == "text/html"  # the portal's own 429 page
    other = app.test_client()
    login_as(other, colleague)
    assert other.get(url, **_from("203.0.113.9")).status_code == 200  # the same address, another person


def test_the_privacy_pages_themselves_are_not_counted(app, world, make, client, login_as, small_limit):
    officer = make.user("privacy_officer")
    login_as(client, officer)
    for _ in range(LIMIT + 2):
        assert client.get("/privacy/subjects?key=LLN-4711").status_code == 200
        assert client.get("/privacy/access?subject=LLN-4711").status_code == 200
    assert client.get("/privacy/subjects?key=LLN-4711&format=json").status_code == 200


def test_all_export_kinds_share_one_counter(app, world, client, meeting, small_limit):
    base = f"/meetings/{meeting.public_id}"
    for kind in MEETING_EXPORTS[:LIMIT]:
        assert client.get(f"{base}/{kind}").status_code == 200, kind
    assert client.get(f"{base}/{MEETING_EXPORTS[LIMIT]}").status_code == 429


def test_the_default_limit_stops_a_run_of_invitations(app, world, client, login_as):
    """The issue's 70 ``.ics`` in a row: with the shipped default (30 per 10 minutes) the 31st is refused."""
    assert app.config["EXPORT_LIMIT"] == "30 per 10 minutes"
    meeting = plan(app, world["users"]["manager_a"], world["rooms"]["a"])
    login_as(client, world["users"]["manager_a"])
    url = f"/meetings/{meeting.public_id}/invite.ics"
    assert {client.get(url, **_from(f"198.51.100.{n + 1}")).status_code for n in range(30)} == {200}
    assert client.get(url, **_from("203.0.113.9")).status_code == 429


def test_retry_after_is_the_limiters_own_window(app, world, client, login_as, monkeypatch):
    """A window shorter than a minute says so (the 429 page used to answer at least 60 seconds)."""
    monkeypatch.setitem(app.config, "EXPORT_LIMIT", "1 per 15 seconds")
    meeting = plan(app, world["users"]["manager_a"], world["rooms"]["a"])
    login_as(client, world["users"]["manager_a"])
    url = f"/meetings/{meeting.public_id}/invite.ics"
    assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15
    problem = client.get(url, headers={"Accept": "application/json"})
    assert problem.status_code == 429
    assert problem.mimetype == "application/problem+json"
    assert 0 < int(problem.headers["Retry-After"]) <= 15
