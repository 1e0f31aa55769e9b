"""The trend report and the exports: small counts suppressed in every output (HTML, JSON, PDF), secondary
suppression of totals that would give a small count away, the PDF's classification marking and watermark (read
back from the PDF's text), and the refusal to fetch anything while rendering."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest

from portal.core.db import commit, utcnow
from portal.extensions import db
from portal.meetings import trends
from tests.conftest import csrf_token
from tests.functional.test_meetings import STATUS_FLOW, plan, set_status


def _signal(app, author, category: str, location: str, days_ago: int, themes=()):
    from portal.signals import services

    data = services.SignalInput(
        client_key=uuid.uuid4().hex,
        occurred_on=utcnow().date() - timedelta(days=days_ago),
        category=category,
        location_type=location,
        severity="midden",
        summary=f"Trendtest {category}",
        sharing_scope="stadsdeelnetwerk",
        themes=list(themes),
    )
    services.create_signal(db.session.merge(author), data, ip="127.0.0.1")


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["language"] = "en"


@pytest.fixture
def reported(app, world, client, english, login_as):
    """A room with 6 weapons signals, 2 drugs signals (a small count) and 4 earlier ones, and a generated report."""
    author = world["users"]["author"]
    with app.app_context():
        for _ in range(6):
            _signal(app, author, "wapens", "in_schoolgebouw", 3, themes=["wapenbezit"])
        for _ in range(2):
            _signal(app, author, "drugs", "schoolterrein", 3)
        for _ in range(4):  # the previous period: before the report's start
            _signal(app, author, "wapens", "in_schoolgebouw", 300)
        commit()
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"], days=10)
    login_as(client, manager)
    with app.app_context():
        from portal.meetings import trend_report
        from portal.meetings.models import Meeting

        trend_report.generate_trend_report(db.session.merge(manager), db.session.get(Meeting, meeting.id), ip="")
        commit()
    return meeting


def _all_cells(view: dict):
    for table in view["tables"].values():
        for row in table["rows"]:
            yield from row["cells"]
            yield row["total"]
            yield row["previous"]
        yield from table["footer"]
        yield table["total"]
    for row in view["rising_themes"] + view["cross_district"]:
        yield row["total"]
        yield row["previous"]


def test_present_suppresses_every_small_count_and_totals_that_give_one_away():
    data = {
        "scope": "district",
        "period": {"from": "2026-01-01", "to": "2026-02-28"},
        "previous": {"from": "2025-11-01", "to": "2025-12-31"},
        "months": ["2026-01", "2026-02"],
        "total": 14,
        "previous_total": 2,
        "month_totals": {"2026-01": 6, "2026-02": 8},
        "categories": [
            {
                "code": "a",
                "label_nl": "A",
                "label_en": "A",
                "months": {"2026-01": 5, "2026-02": 7},
                "total": 12,
                "previous": 0,
            },
            {
                "code": "b",
                "label_nl": "B",
                "label_en": "B",
                "months": {"2026-01": 1, "2026-02": 1},
                "total": 2,
                "previous": 2,
            },
        ],
        "location_types": [
            {
                "code": "x",
                "label_nl": "X",
                "label_en": "X",
                "months": {"2026-01": 6, "2026-02": 6},
                "total": 12,
                "previous": 2,
            },
            {
                "code": "y",
                "label_nl": "Y",
                "label_en": "Y",
                "months": {"2026-01": 0, "2026-02": 2},
                "total": 2,
                "previous": 0,
            },
        ],
        "districts": [],
        "themes": [],
        "cross_district": [],
    }
    view = trends.present(data, 3)
    for cell in _all_cells(view):
        assert cell["value"] is None or cell["value"] == 0 or cell["value"] >= 3
        assert cell["text"] not in {"1", "2"}
    categories = view["tables"]["categories"]
    assert [c["text"] for c in categories["rows"][1]["cells"]] == ["<3", "<3"]
    # Row B: two suppressed cells summing to 2 (= the smallest possible): its total would tell; it is "<3" anyway.
    assert categories["rows"][1]["total"]["text"] == "<3"
    # Column January: 5 + "<3" with total 6 would reveal B's January (1): the month total is hidden, in every table.
    assert categories["footer"][0]["text"] == "*"
    assert view["tables"]["location_types"]["footer"][0]["text"] == "*"
    # Y: one suppressed cell and a total that equals it: the total is suppressed too.
    assert view["tables"]["location_types"]["rows"][1]["total"]["text"] == "<3"
    # A change is only shown between two visible counts.
    assert categories["rows"][1]["change"]["text"] == ""
    assert view["previous_total"]["text"] == "<3"
    assert view["change"]["text"] == ""
    # A higher threshold suppresses more.
    assert trends.present(data, 6)["tables"]["categories"]["rows"][0]["cells"][0]["text"] == "<6"


def test_html_and_json_show_no_small_counts(app, world, client, english, reported):
    page = client.get(f"/meetings/{reported.public_id}/trend")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Signals per category and month" in html
    assert "&lt;3" in html  # drugs: 2 signals
    assert "<svg" in html
    assert 'role="img"' in html
    assert "style=" not in html
    answer = client.get(f"/meetings/{reported.public_id}/trend.json")
    assert answer.status_code == 200
    view = answer.get_json()["report"]
    rows = {r["code"]: r for r in view["tables"]["categories"]["rows"]}
    assert rows["wapens"]["total"]["value"] == 6
    assert rows["wapens"]["previous"]["value"] == 4
    assert rows["wapens"]["change"]["text"] == "+2"
    assert rows["drugs"]["total"] == {"text": "<3", "value": None, "suppressed": True, "primary": True}
    for cell in _all_cells(view):
        assert cell["value"] is None or cell["value"] == 0 or cell["value"] >= 3
    assert "2" not in {c["text"] for c in _all_cells(view)}
    assert [r["code"] for r in view["rising_themes"]] == ["wapenbezit"]


def test_suppression_threshold_comes_from_the_configuration(app, world, client, english, reported):
    app.config["SUPPRESSION_THRESHOLD"] = 7
    try:
        view = client.get(f"/meetings/{reported.public_id}/trend.json").get_json()["report"]
    finally:
        app.config["SUPPRESSION_THRESHOLD"] = 3
    rows = {r["code"]: r for r in view["tables"]["categories"]["rows"]}
    assert rows["wapens"]["total"]["text"] == "<7"


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_trend_pdf_is_marked_watermarked_and_suppressed(app, world, client, english, reported):
    from portal.audit.models import AuditEvent

    response = client.get(f"/meetings/{reported.public_id}/trend.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    assert "K2 · Covenant-internal" in text  # the running header on every page
    assert "Veiligheidsmanager A · Gemeente ·" in text  # the watermark: who
    assert "UTC" in text  # ... and when
    assert "<3" in text
    assert "Weapons" in text
    with app.app_context():
        exports = db.session.query(AuditEvent).filter_by(action="meeting.export", object_id=str(reported.public_id))
        assert [e.details["document"] for e in exports] == ["trendrapport"]


def test_agenda_and_minutes_pdf(app, world, client, english, login_as):
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    login_as(client, manager)
    for status in STATUS_FLOW[:3]:
        set_status(client, meeting, status)
    agenda = client.get(f"/meetings/{meeting.public_id}/agenda.pdf")
    assert agenda.status_code == 200
    text = _pdf_text(agenda.data)
    assert "Agenda" in text
    assert "Trendbeeld scholen" in text
    assert "Rondvraag" in text
    assert "K2" in text
    assert "Veiligheidsmanager A" in text
    assert client.get(f"/meetings/{meeting.public_id}/minutes.pdf").status_code == 409  # no minutes yet
    token = csrf_token(client, "/account/sessions")
    client.post(
        f"/meetings/{meeting.public_id}/minutes",
        data={"csrf_token": token, "base_version": "0", "body": "Besluit: extra toezicht op vrijdag."},
    )
    login_as(client, world["users"]["author"])
    minutes = client.get(f"/meetings/{meeting.public_id}/minutes.pdf")
    assert minutes.status_code == 200
    text = _pdf_text(minutes.data)
    assert "extra toezicht op vrijdag" in text
    assert "K2" in text
    assert "Auteur A1" in text
    # Other rooms get nothing.
    login_as(client, world["users"]["district_b"])
    assert client.get(f"/meetings/{meeting.public_id}/minutes.pdf").status_code == 404


def test_pdf_rendering_fetches_nothing():
    from portal.core import pdf

    with pytest.raises(pdf.FetchRefused):
        pdf.refusing_fetcher().fetch("http://127.0.0.1:1/secret")
    with pytest.raises(pdf.FetchRefused):
        pdf.refusing_fetcher().fetch("file:///etc/passwd")
    document = pdf.render_pdf(
        '<p>K2</p><img src="file:///etc/passwd"><img src="http://127.0.0.1:1/x">'
        '<link rel="stylesheet" href="file:///etc/hostname">'
    )
    assert document.startswith(b"%PDF")


def test_city_report_shows_district_aggregates_only(app, world, make, client, english, login_as):
    author = world["users"]["author"]
    with app.app_context():
        for _ in range(3):
            _signal(app, author, "wapens", "in_schoolgebouw", 3)
        commit()
    gemeente = world["users"]["manager_a"].organisation
    coordinator = make.user("covenant_coordinator", organisation=gemeente, name="Convenantcoördinator")
    make.member(world["rooms"]["city"], coordinator)
    meeting = plan(app, coordinator, world["rooms"]["city"], days=5, title="Stedelijk")
    login_as(client, coordinator)
    token = csrf_token(client, "/account/sessions")
    assert client.post(f"/meetings/{meeting.public_id}/trend/generate", data={"csrf_token": token}).status_code == 302
    view = client.get(f"/meetings/{meeting.public_id}/trend.json").get_json()["report"]
    assert view["scope"] == "districts"
    assert [r["code"] for r in view["tables"]["districts"]["rows"]] == ["ZA"]
    html = client.get(f"/meetings/{meeting.public_id}/trend").get_data(as_text=True)
    assert "Trendtest" not in html  # aggregates, never single signals
    assert "School A1" not in html
