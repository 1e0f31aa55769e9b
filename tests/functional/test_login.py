"""Local sign-in (break-glass and demo accounts): safe redirects, generic errors, auditing, throttling, TOTP."""

from __future__ import annotations

import html
import json
import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.extensions import db, limiter
from portal.identity.models import UserSession
from tests.conftest import REDIS_URL, TEST_PASSWORD, csrf_token, login, missing_service

pytestmark = pytest.mark.usefixtures("fast_passwords")

ALERT = re.compile(r'role="alert".*?<p class="utrecht-paragraph">(.*?)</p>', re.S)
WRONG_PASSWORD = "Wrong-Password-4711-xyz"


def _alert(response) -> str | None:
    match = ALERT.search(response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def _message(app, msgid: str) -> str:
    """The message as the Dutch interface shows it (the catalogue's translation, or the source text until then)."""
    with app.test_request_context("/"), force_locale("nl"):
        return _(msgid)


def _audit_rows(app, action: str = "login") -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _sessions_of(app, user) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


def _post_login(client, email: str, password: str, *, totp: str = "", ip: str = "127.0.0.1", next_url: str = ""):
    token = csrf_token(client)
    data = {"email": email, "password": password, "totp": totp, "csrf_token": token, "next": next_url}
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": ip})


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


# --- success and failure ------------------------------------------------------------------------------------------


def test_successful_login_redirects_to_safe_next_and_is_audited(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    response = login(client, user, next_url="/account/sessions")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account/sessions"
    assert _signed_in(client)
    assert _sessions_of(app, user) == 1
    (row,) = _audit_rows(app)
    assert (row.result, row.actor_id, row.details) == ("success", str(user.public_id), {"method": "local"})


def test_successful_login_without_next_goes_home(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    response = login(client, user)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"


def test_wrong_password_is_refused_generically(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    wrong = _post_login(client, user.email, WRONG_PASSWORD)
    unknown = _post_login(client, "nobody@test.example", WRONG_PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert 'lang="nl"' in response.get_data(as_text=True)
        assert _alert(response) == _message(app, "The e-mail address or password is incorrect.")
        assert WRONG_PASSWORD not in response.get_data(as_text=True)
    assert not _signed_in(client)
    assert _sessions_of(app, user) == 0


def test_failed_login_is_audited_without_the_password(app, client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    _post_login(client, user.email, WRONG_PASSWORD, ip="192.0.2.10")
    _post_login(client, "nobody@test.example", WRONG_PASSWORD, ip="192.0.2.11")
    known, unknown = _audit_rows(app)
    assert (known.result, known.actor_id, known.ip) == ("failure", str(user.public_id), "192.0.2.10")
    assert known.details == {"method": "local", "reason": "bad_credentials"}
    assert (unknown.result, unknown.actor_id, unknown.ip) == ("failure", "", "192.0.2.11")
    assert unknown.details["reason"] == "bad_credentials"
    for row in (known, unknown):
        text = json.dumps({c.name: str(getattr(row, c.name)) for c in AuditEvent.__table__.columns})
        assert WRONG_PASSWORD not in text
        assert "nobody@test.example" not in text


def test_missing_fields_are_a_400_not_a_sign_in(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": user.email, "password": "", "csrf_token": token})
    assert response.status_code == 400
    assert not _signed_in(client)


@pytest.mark.parametrize("status", ["pending", "blocked"])
def test_inactive_accounts_are_refused(app, client, make, status):
    user = make.user("school_coordinator", password=TEST_PASSWORD, status=status)
    response = login(client, user)
    assert response.status_code == 401
    assert _alert(response) == _message(
        app, "Your account is not active. Your organisation's portal administrator can help you."
    )
    assert not _signed_in(client)
    assert _sessions_of(app, user) == 0
    (row,) = _audit_rows(app)
    assert (row.result, row.details["reason"]) == ("denied", f"account_{status}")


# --- throttling ---------------------------------------------------------------------------------------------------


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert 'lang="nl"' in response.get_data(as_text=True)


def test_five_failures_from_one_address_then_429(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    for attempt in range(5):
        response = _post_login(client, f"unknown-{attempt}@test.example", WRONG_PASSWORD, ip="198.51.100.7")
        assert response.status_code == 401
    # Even the right password is refused now: the throttle comes before the password check.
    _assert_throttled(_post_login(client, user.email, TEST_PASSWORD, ip="198.51.100.7"))
    assert not _signed_in(client)
    # Another address is not affected.
    assert _post_login(client, user.email, TEST_PASSWORD, ip="198.51.100.8").status_code == 302


def test_failures_count_per_account_across_addresses(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    other = make.user("school_coordinator", password=TEST_PASSWORD)
    for attempt in range(5):
        assert _post_login(client, user.email, WRONG_PASSWORD, ip=f"203.0.113.{attempt + 1}").status_code == 401
    _assert_throttled(_post_login(client, user.email, TEST_PASSWORD, ip="203.0.113.99"))
    # Another account from a fresh address still signs in: no global lock-out.
    assert _post_login(client, other.email, TEST_PASSWORD, ip="203.0.113.100").status_code == 302


@pytest.mark.parametrize(
    "spelling",
    [
        lambda e: e.upper(),
        lambda e: f"  {e}  ",
        lambda e: e.replace("@", "\u200e@"),  # a bidi mark: removed before the account is looked up
        lambda e: e.replace("@", "\x01@"),  # a control character: likewise
        lambda e: "\u202e" + e,
    ],
    ids=["upper", "spaces", "lrm", "control", "rlo"],
)
def test_account_counter_cannot_be_dodged_by_spelling_the_address_differently(client, make, spelling):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    for attempt in range(5):
        address = spelling(user.email) if attempt % 2 else user.email
        assert _post_login(client, address, WRONG_PASSWORD, ip=f"203.0.113.{attempt + 1}").status_code == 401
    _assert_throttled(_post_login(client, spelling(user.email), TEST_PASSWORD, ip="203.0.113.50"))


def test_successful_logins_are_not_counted(client, make):
    user = make.user("school_coordinator", password=TEST_PASSWORD)
    for _attempt in range(6):
        response = _post_login(client, user.email, TEST_PASSWORD, ip="198.51.100.20")
        assert response.status_code == 302
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})


def test_throttle_counter_lives_in_redis(build_app, dbs, make):
    if not REDIS_URL:
        missing_service("Redis (PORTAL_TEST_REDIS_URL)")
    connection = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        missing_service(f"Redis at {REDIS_URL}")
    redis_app = build_app(REDIS_URL=REDIS_URL)
    assert type(limiter._storage).__name__.lower().startswith("redis")
    with redis_app.app_context():
        limiter.reset()  # counters of an earlier run
    try:
        user = make.user("school_coordinator", password=TEST_PASSWORD)
        client = redis_app.test_client()
        for attempt in range(5):
            assert _post_login(client, user.email, WRONG_PASSWORD, ip=f"192.0.2.{attempt + 1}").status_code == 401
        keys = [key.decode() for key in connection.keys("*")]
        assert any(f"account:{user.email}" in key for key in keys), keys
        # A second worker (another app on the same Redis) sees the same counter.
        second_worker = build_app(REDIS_URL=REDIS_URL).test_client()
        _assert_throttled(_post_login(second_worker, user.email, TEST_PASSWORD, ip="192.0.2.77"))
    finally:
        with redis_app.app_context():
            limiter.reset()
        connection.close()


# --- second factor for administrators -----------------------------------------------------------------------------


def _wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + drift * totp.interval) for drift in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def test_administrator_needs_a_totp_code(app, client, make):
    secret = pyotp.random_base32()
    admin = make.user("functional_admin", password=TEST_PASSWORD, totp_secret=secret)

    missing = login(client, admin)
    assert missing.status_code == 401
    assert _alert(missing) == _message(app, "Enter the six-digit code from your authenticator app.")
    wrong = login(client, admin, totp=_wrong_code(secret))
    assert wrong.status_code == 401
    assert not _signed_in(client)

    code = pyotp.TOTP(secret).now()
    assert login(client, admin, totp=code).status_code == 302
    assert _signed_in(client)

    # The same code again (a shoulder-surfed or phished code) is refused, from any browser.
    replay_client = app.test_client()
    replay = login(replay_client, admin, totp=code)
    assert replay.status_code == 401
    assert not _signed_in(replay_client)

    reasons = [row.details.get("reason") for row in _audit_rows(app)]
    assert reasons == ["totp_missing", "bad_totp", None, "bad_totp"]


def test_administrator_without_enrolled_totp_is_refused_outside_demo_mode(app, client, make):
    admin = make.user("functional_admin", password=TEST_PASSWORD)
    assert app.config["DEMO_MODE"] is False
    assert login(client, admin).status_code == 401
    assert not _signed_in(client)
    (row,) = _audit_rows(app)
    assert row.details["reason"] == "totp_not_enrolled"


def test_demo_mode_relaxes_totp_only_for_accounts_without_one(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    admin = make.user("functional_admin", password=TEST_PASSWORD)
    assert login(client, admin).status_code == 302
    enrolled = make.user("functional_admin", password=TEST_PASSWORD, totp_secret=pyotp.random_base32())
    other_client = app.test_client()
    assert login(other_client, enrolled).status_code == 401
    assert not _signed_in(other_client)


def test_ordinary_roles_need_no_code(client, make):
    user = make.user("district_safety_manager", password=TEST_PASSWORD)
    assert login(client, user).status_code == 302


def test_a_code_used_concurrently_by_another_worker_is_refused(app, make, ctx):
    """Two workers receive the same code at once; each has read ``totp_last_step`` before the other wrote it. The
    second must still lose (the stale read is modelled by changing the row behind this session's back)."""
    from sqlalchemy import update

    from portal.identity import services
    from portal.identity.models import LocalCredential

    secret = pyotp.random_base32()
    admin = db.session.merge(make.user("functional_admin", password=TEST_PASSWORD, totp_secret=secret))
    credential = admin.credential
    assert credential.totp_last_step is None  # what this worker read
    code = pyotp.TOTP(secret).now()
    step = int(time.time() // 30)
    db.session.execute(
        update(LocalCredential)
        .where(LocalCredential.id == credential.id)
        .values(totp_last_step=step + 1)  # the other worker accepted this (or a later) code meanwhile
        .execution_options(synchronize_session=False)
    )
    assert credential.totp_last_step is None  # still the stale value in this session
    with pytest.raises(services.AuthenticationFailed) as refused:
        services.authenticate_local(admin.email, TEST_PASSWORD, code, ip="192.0.2.1", demo_mode=False)
    assert refused.value.reason == "bad_totp"


def test_totp_step_is_recorded_on_success(app, make, ctx):
    from portal.identity import services

    secret = pyotp.random_base32()
    admin = db.session.merge(make.user("functional_admin", password=TEST_PASSWORD, totp_secret=secret))
    code = pyotp.TOTP(secret).now()
    services.authenticate_local(admin.email, TEST_PASSWORD, code, ip="192.0.2.1", demo_mode=False)
    db.session.expire_all()
    assert admin.credential.totp_last_step is not None
    with pytest.raises(services.AuthenticationFailed):
        services.authenticate_local(admin.email, TEST_PASSWORD, code, ip="192.0.2.1", demo_mode=False)
