"""Password hashing (argon2id via argon2-cffi) and TOTP (pyotp) for break-glass accounts."""

from __future__ import annotations

import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Compared against when the account does not exist, so a wrong e-mail costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name="Schoolveiligheid Almere")


def verify_totp(secret: str, code: str, last_step: int | None) -> int | None:
    """Return the accepted time step, or None. A code is accepted once (a replay within its window fails)."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time()
    for drift in (-1, 0, 1):
        at = now + drift * totp.interval
        if totp.verify(code, for_time=at, valid_window=0):
            step = int(at // totp.interval)
            if last_step is not None and step <= last_step:
                return None
            return step
    return None
