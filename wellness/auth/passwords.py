"""argon2id password hashing (argon2-cffi). Pure helper configured from app config."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

# A valid hash of a random string: verifying against it when the phone is unknown keeps
# the response time of "no such user" equal to "wrong password".
_DUMMY_SOURCE = "wellness-dummy-password-for-timing"


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    cache = current_app.extensions.setdefault("wellness_hashers", {})
    if key not in cache:
        cache[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return cache[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    hasher = _hasher()
    if not stored_hash:
        dummy = current_app.extensions.get("wellness_dummy_hash")
        if dummy is None:
            dummy = current_app.extensions["wellness_dummy_hash"] = hasher.hash(_DUMMY_SOURCE)
        with contextlib.suppress(VerificationError):
            hasher.verify(dummy, password)
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
