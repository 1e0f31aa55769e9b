"""The audit trail is append-only and tamper-evident (R-LOG-3, T53) and never holds secrets (R-LOG-2, T52).

Tampering needs the database's own guard out of the way first: each test asserts that the trigger refuses, then
disables it inside the test's transaction, which is rolled back at the end (nothing persists).
"""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from portal.audit import services as audit
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.identity.web import SESSION_TOKEN_KEY
from tests.conftest import CSRF_INPUT, TEST_PASSWORD, csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _record_some(n: int = 5) -> list[AuditEvent]:
    return [
        audit.record(f"test.action{i}", object_type="thing", object_id=f"obj-{i}", details={"n": i}, ip="192.0.2.1")
        for i in range(n)
    ]


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _assert_refused(statement: str, params: dict) -> None:
    """The statement fails with the trigger's message; a savepoint keeps the test's transaction usable."""
    savepoint = db.session.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement), params)
    savepoint.rollback()


def _disable_guard(event_id: int) -> None:
    """First prove the database refuses tampering with this row, then take the guard away (test transaction only)."""
    _assert_refused("UPDATE audit_events SET action = 'forged' WHERE id = :id", {"id": event_id})
    _assert_refused("DELETE FROM audit_events WHERE id = :id", {"id": event_id})
    if _dialect() == "postgresql":
        db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
    else:
        db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_records_chain_to_each_other(ctx):
    events = _record_some()
    assert events[0].prev_hash == (
        db.session.scalar(
            select(AuditEvent.record_hash).where(AuditEvent.id < events[0].id).order_by(AuditEvent.id.desc())
        )
        or audit.GENESIS_HASH
    )
    for previous, current in itertools.pairwise(events):
        assert current.prev_hash == previous.record_hash
        assert current.record_hash == audit.compute_hash(current, previous.record_hash)
    assert len({e.record_hash for e in events}) == len(events)
    db.session.flush()
    db.session.expire_all()  # verify what the database holds, not the objects in memory
    report = audit.verify_chain()
    assert report.ok
    assert report.checked >= len(events)


def test_the_database_refuses_update_and_delete(ctx):
    event = _record_some(2)[0]
    _assert_refused("UPDATE audit_events SET action = 'forged' WHERE id = :id", {"id": event.id})
    _assert_refused("DELETE FROM audit_events WHERE id = :id", {"id": event.id})
    if _dialect() == "postgresql":
        _assert_refused("TRUNCATE audit_events", {})
    assert db.session.get(AuditEvent, event.id).action == "test.action0"


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "'login'"), ("result", "'failure'"), ("actor_id", "'someone-else'"), ("ip", "'198.51.100.1'")],
)
def test_verify_detects_an_edited_row(ctx, column, value):
    events = _record_some()
    victim = events[2]
    _disable_guard(victim.id)
    db.session.execute(text(f"UPDATE audit_events SET {column} = {value} WHERE id = :id"), {"id": victim.id})  # noqa: S608
    db.session.expire_all()
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_broken_id == victim.id
    assert "edited" in report.reason


def test_verify_detects_edited_details(ctx):
    events = _record_some()
    _disable_guard(events[1].id)
    db.session.execute(
        text("UPDATE audit_events SET details = :details WHERE id = :id"),
        {"details": json.dumps({"n": 99}), "id": events[1].id},
    )
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.first_broken_id == events[1].id


def test_verify_detects_a_deleted_row(ctx):
    events = _record_some()
    _disable_guard(events[2].id)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[2].id})
    db.session.expire_all()
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_broken_id == events[3].id  # the record after the gap no longer links
    assert "removed" in report.reason


def test_verify_detects_a_rehashed_edit(ctx):
    """Recomputing the edited row's own hash does not help: the next record's link breaks."""
    events = _record_some()
    victim = events[1]
    _disable_guard(victim.id)
    victim.action = "forged"
    forged_hash = audit.compute_hash(victim, victim.prev_hash)
    db.session.execute(
        text("UPDATE audit_events SET action = 'forged', record_hash = :h WHERE id = :id"),
        {"h": forged_hash, "id": victim.id},
    )
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.first_broken_id == events[2].id


def test_cli_verify_exit_codes(app, dbs):
    runner = app.test_cli_runner()
    with app.app_context():
        events = _record_some()
        db.session.commit()
    intact = runner.invoke(args=["portal", "audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output

    with app.app_context():
        _disable_guard(events[3].id)
        db.session.execute(text("UPDATE audit_events SET action = 'forged' WHERE id = :id"), {"id": events[3].id})
        db.session.commit()
    broken = runner.invoke(args=["portal", "audit", "verify"])
    assert broken.exit_code == 1
    assert str(events[3].id) in broken.output


def test_removing_the_newest_records_is_caught_by_the_head_kept_elsewhere(ctx):
    """What is left of a chain cut at its end still links up; only a head stored outside the portal shows the cut."""
    events = _record_some()
    anchored = audit.verify_chain()
    assert anchored.ok
    assert anchored.head == f"{events[-1].id}:{events[-1].record_hash}"
    assert audit.verify_chain(expect_head=audit.parse_head(anchored.head)).ok

    _disable_guard(events[-1].id)  # the guard is per table: off for every row of this test's transaction
    for victim in events[-2:]:
        db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim.id})
    db.session.expire_all()
    assert audit.verify_chain().ok  # the chain alone cannot tell
    report = audit.verify_chain(expect_head=audit.parse_head(anchored.head))
    assert not report.ok
    assert report.first_broken_id == audit.parse_head(anchored.head)[0]
    assert "removed from the end" in report.reason


def test_a_chain_rewritten_after_the_anchor_is_caught(ctx):
    """Editing the anchored record and re-hashing everything from it on keeps the links intact, not the anchor."""
    events = _record_some()
    head = audit.parse_head(audit.verify_chain().head)
    _disable_guard(events[0].id)  # the guard is per table: off for every row of this test's transaction
    prev = events[0].prev_hash
    for event in events:
        event.action = f"rewritten-{event.id}"
        new_hash = audit.compute_hash(event, prev)
        db.session.execute(
            text("UPDATE audit_events SET action = :a, prev_hash = :p, record_hash = :h WHERE id = :id"),
            {"a": event.action, "p": prev, "h": new_hash, "id": event.id},
        )
        prev = new_hash
    db.session.expire_all()
    assert audit.verify_chain().ok
    report = audit.verify_chain(expect_head=head)
    assert report.first_broken_id == events[-1].id
    assert "rewritten" in report.reason


@pytest.mark.parametrize("value", ["", "12", "x:" + "0" * 64, "3:" + "0" * 63, "3:" + "G" * 64])
def test_a_malformed_head_is_refused(value):
    with pytest.raises(ValueError, match="record id"):
        audit.parse_head(value)


def test_cli_prints_the_head_and_checks_it(app, dbs):
    runner = app.test_cli_runner()
    with app.app_context():
        events = _record_some()
        db.session.commit()
    first = runner.invoke(args=["portal", "audit", "verify"])
    assert first.exit_code == 0, first.output
    head = first.output.split("Head: ", 1)[1].strip()
    assert head == f"{events[-1].id}:{events[-1].record_hash}"
    assert runner.invoke(args=["portal", "audit", "verify", "--expect-head", head]).exit_code == 0
    refused = runner.invoke(args=["portal", "audit", "verify", "--expect-head", "not-a-head"])
    assert refused.exit_code == 2
    assert "--expect-head" in refused.output

    with app.app_context():
        _disable_guard(events[-1].id)
        db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[-1].id})
        db.session.commit()
    cut = runner.invoke(args=["portal", "audit", "verify", "--expect-head", head])
    assert cut.exit_code == 1
    assert "removed from the end" in cut.output


# --- R-LOG-2: no secrets in the trail -----------------------------------------------------------------------------


def _all_audit_text(app) -> str:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent)).all()
        return "\n".join(
            json.dumps({c.name: getattr(row, c.name) for c in AuditEvent.__table__.columns}, default=str)
            for row in rows
        )


def test_no_password_session_token_or_csrf_token_in_the_trail(app, client, make):
    user = make.user("privacy_officer", password=TEST_PASSWORD)
    wrong_password = "Zeer-Geheim-Fout-9876"
    # A failed attempt, a successful one, a page view, an audit search and a sign-out: every kind of record.
    token = csrf_token(client)
    client.post("/auth/login", data={"email": user.email, "password": wrong_password, "csrf_token": token})
    login_page = client.get("/auth/login").get_data(as_text=True)
    match = CSRF_INPUT.search(login_page)
    form_token = match.group(1) or match.group(2)
    response = client.post(
        "/auth/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": form_token}
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        session_token = session[SESSION_TOKEN_KEY]
    page = client.get("/audit/?action=login")
    assert page.status_code == 200
    with client.session_transaction() as session:
        raw_csrf = session["csrf_token"]
    signed_csrf = csrf_token(client, "/")
    client.post("/auth/logout", data={"csrf_token": signed_csrf})

    trail = _all_audit_text(app)
    actions = {"login", "audit.search", "logout"}
    assert all(f'"action": "{action}"' in trail for action in actions), trail
    for secret in (TEST_PASSWORD, wrong_password, session_token, raw_csrf, signed_csrf, form_token):
        assert secret not in trail
    # The session's public id may be audited (it is not a credential); its token hash may not be.
    assert hashlib.sha256(session_token.encode()).hexdigest() not in trail


def test_audit_details_refuse_structured_payloads(ctx):
    with pytest.raises(TypeError):
        audit.record("test.action", details={"body": {"nested": "free text"}})
    long = audit.record("test.action", details={"code": "x" * 500})
    assert len(long.details["code"]) <= 120
