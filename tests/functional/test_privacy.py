"""The privacy machinery (issue 6): access reports list the reads the test made; retention with a frozen clock
removes data from every path (page, API-level queries, socket replay, search); legal hold; subject requests."""

from __future__ import annotations

import json
from datetime import timedelta

from portal.core.db import commit, utcnow
from portal.extensions import db
from tests.conftest import csrf_token
from tests.signal_world import post


def test_access_report_lists_the_reads_made(app, world, client, login_as, make):
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    for who in ("police_a", "other_school"):
        login_as(client, world["users"][who])
        assert client.get(f"/signals/{signal.public_id}").status_code == 200
    # the posting school sees organisations and roles, not names
    login_as(client, world["users"]["colleague"])
    own = client.get(f"/signals/{signal.public_id}/access").get_data(as_text=True)
    assert "politie-test" in own
    assert "police_officer" in own
    assert "Agent A" not in own
    # another school may not see the access log of a signal that is not theirs
    login_as(client, world["users"]["other_school"])
    assert client.get(f"/signals/{signal.public_id}/access").status_code == 404
    # the privacy officer sees people, in order, and can export them
    officer = make.user("privacy_officer", name="FG Test")
    login_as(client, officer)
    report = client.get(f"/privacy/access?signal={signal.reference}").get_data(as_text=True)
    assert report.index("Agent A") < report.index("Coordinator A2")
    csv_text = client.get(f"/privacy/access?signal={signal.reference}&format=csv").get_data(as_text=True)
    assert "Agent A" in csv_text
    assert "signal.read" in csv_text
    login_as(client, world["users"]["police_a"])
    assert client.get(f"/privacy/access?signal={signal.reference}").status_code == 403


def test_retention_removes_data_from_every_path(app, world, client, login_as):
    from portal.privacy import retention
    from portal.privacy.models import DeletionRecord
    from portal.signals import queries
    from portal.signals.models import RoomEvent, Signal

    old = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    held = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    recent = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    with app.app_context():
        db.session.get(Signal, held.id).legal_hold = True
        commit()
        plan = retention.plan_from_config(today=utcnow().date() + timedelta(days=5 * 366))  # a frozen clock
        dry = retention.run(plan, dry_run=True)
        assert dry.deleted == 2  # old and recent are both due five years on; held is not
        assert db.session.query(Signal).count() == 3  # a dry run changes nothing
        report = retention.run(plan)
        assert report.deleted == 2
        assert report.held == 1
        assert retention.run(plan).deleted == 0  # safe to run again
        records = db.session.query(DeletionRecord).filter_by(action="deleted").all()
        assert {r.object_id for r in records} == {str(old.public_id), str(recent.public_id)}
        assert all(r.category_code == "wapens" and r.district_code == "ZA" for r in records)
        assert db.session.query(RoomEvent).filter_by(signal_id=old.id).count() == 0  # replay buffer
        viewer = queries.viewer_for(db.session.merge(world["users"]["police_a"]))
        assert [s.id for s in queries.list_signals(viewer, queries.SignalFilter(q="gevonden"))[0]] == [held.id]
    login_as(client, world["users"]["police_a"])
    assert client.get(f"/signals/{old.public_id}").status_code == 404
    assert old.reference not in client.get(f"/rooms/{world['rooms']['a'].public_id}").get_data(as_text=True)


def test_k3_detail_is_anonymised_after_closure(app, world):
    from portal.privacy import retention
    from portal.signals import services
    from portal.signals.models import Classification, Signal

    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K3")
    with app.app_context():
        services.set_status(db.session.merge(world["users"]["author"]), signal.public_id, "afgesloten", ip="")
        commit()
        plan = retention.plan_from_config(today=utcnow().date() + timedelta(days=400))
        assert retention.run(plan).anonymised == 1
        stored = db.session.get(Signal, signal.id)
        assert stored.classification is Classification.K2
        assert stored.details_html == ""
        assert stored.anonymised_at is not None


def test_subject_request_find_export_rectify_erase(app, world, client, login_as, make):
    signal = post(app, world["users"]["author"], "stadsdeelnetwerk", "K2")
    login_as(client, world["users"]["author"])
    path = f"/signals/{signal.public_id}"
    token = csrf_token(client, path)
    added = client.post(
        f"{path}/people",
        data={
            "csrf_token": token,
            "subject_key": "LLN-4711",
            "pseudonym": "Leerling A",
            "role": "slachtoffer",
            "age_band": "12-15",
        },
    )
    assert added.status_code == 302
    login_as(client, world["users"]["other_school"])  # only the posting school adds references
    assert (
        client.post(
            f"{path}/people",
            data={
                "csrf_token": csrf_token(client, path),
                "subject_key": "X",
                "pseudonym": "Y",
                "role": "getuige",
                "age_band": "12-15",
            },
        ).status_code
        == 404
    )
    # Someone of the posting school who does not post signals (the school's privacy officer) adds no references.
    reader = make.user("privacy_officer", organisation=world["users"]["author"].organisation, name="FG school")
    login_as(client, reader)
    refused = client.post(
        f"{path}/people",
        data={
            "csrf_token": csrf_token(client, "/"),
            "subject_key": "Z",
            "pseudonym": "Q",
            "role": "getuige",
            "age_band": "12-15",
        },
    )
    assert refused.status_code == 404
    officer = make.user("privacy_officer", name="FG Test")
    login_as(client, officer)
    found = client.get("/privacy/subjects?key=LLN-4711").get_data(as_text=True)
    assert signal.reference in found
    exported = json.loads(client.get("/privacy/subjects?key=LLN-4711&format=json").get_data(as_text=True))
    assert exported["references"][0]["signal"]["reference"] == signal.reference
    assert exported["references"][0]["pseudonym"] == "Leerling A"
    pdf = client.get("/privacy/subjects?key=LLN-4711&format=pdf")
    assert pdf.mimetype == "application/pdf"
    from io import BytesIO

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages)
    assert signal.reference in text
    assert "K3" in text
    assert "FG Test" in text  # watermarked with who downloaded it
    token = csrf_token(client, "/privacy/subjects?key=LLN-4711")
    assert client.post("/privacy/subjects/erase", data={"csrf_token": token, "key": "LLN-4711"}).status_code == 302
    assert signal.reference in client.get("/privacy/subjects?key=LLN-4711").get_data(as_text=True)  # not confirmed
    client.post("/privacy/subjects/erase", data={"csrf_token": token, "key": "LLN-4711", "confirm": "yes"})
    assert signal.reference not in client.get("/privacy/subjects?key=LLN-4711").get_data(as_text=True)
    with app.app_context():
        from portal.audit.models import AuditEvent
        from portal.signals.models import Signal

        assert db.session.get(Signal, signal.id).details_html == ""
        actions = {e.action for e in db.session.query(AuditEvent).filter(AuditEvent.action.like("subject.%"))}
        assert {"subject.search", "subject.export", "subject.erase"} <= actions
    login_as(client, world["users"]["police_a"])
    assert client.get("/privacy/subjects?key=LLN-4711").status_code == 403
