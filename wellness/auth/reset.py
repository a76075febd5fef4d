"""Getting back in: a one-time SMS code the member requests, or a reset by an admin.

Both end every session and API token (``revoke_sessions``). The self-service path answers
the same whether or not the number is registered, limits codes per number in the database
(so the limit holds across processes; the per-address limit is the route's), and consumes a
code with one conditional UPDATE, so of several concurrent submits of the same code exactly
one changes the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from wellness import audit
from wellness.auth.models import PasswordResetCode, User
from wellness.auth.passwords import hash_password
from wellness.auth.phones import InvalidPhone, normalise_mobile
from wellness.auth.services import check_password_policy, find_by_phone, revoke_sessions
from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.notify import services as notify

CODE_DIGITS = 6


def _digest(user_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _bad_code() -> InvalidInput:
    return InvalidInput(
        str(_l("The code is not correct or has expired. Request a new one.")), {"code": "invalid"}
    )


def _member(phone_raw: str) -> User | None:
    try:
        user = find_by_phone(normalise_mobile(phone_raw or ""))
    except InvalidPhone:
        return None
    return user if user is not None and user.active else None


def _under_limits(user_id: int, now: datetime) -> bool:
    config = current_app.config
    for window, limit in (
        (timedelta(minutes=15), config["RESET_CODES_PER_15_MINUTES"]),
        (timedelta(days=1), config["RESET_CODES_PER_DAY"]),
    ):
        sent = db.session.scalar(
            select(func.count(PasswordResetCode.id)).where(
                PasswordResetCode.user_id == user_id, PasswordResetCode.created_at > now - window
            )
        )
        if (sent or 0) >= limit:
            return False
    return True


def request_code(phone_raw: str, now: datetime | None = None) -> bool:
    """Send a code when the number belongs to an active account and is under its limits.

    The caller shows one generic answer whatever this returns (True: a code was queued).
    """
    now = now or utcnow()
    user = _member(phone_raw)
    if user is None or not _under_limits(user.id, now):
        hash_password(secrets.token_hex(8))  # about the same work as a real request
        return False
    # A new code supersedes every older unused one.
    db.session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.user_id == user.id, PasswordResetCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    minutes = current_app.config["RESET_CODE_MINUTES"]
    row = PasswordResetCode(
        user_id=user.id,
        code_hash=_digest(user.id, code),
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.session.add(row)
    db.session.flush()
    notify.queue(
        user,
        str(_l("Your password reset code")),
        str(_l("A password reset code was sent to your phone.")),
        channels=("sms",),
        inapp=False,
        urgent=True,
        sensitive=True,
        sms_text=str(
            _l(
                "[Workers' wellbeing] Code %(code)s resets your password, valid %(n)s minutes. "
                "If you did not ask for it, ignore this message.",
                code=code,
                n=minutes,
            )
        ),
        dedupe_key=f"reset:{row.id}",
        now=now,
    )
    audit.record(user, "auth.reset_code_sent", row)
    db.session.commit()
    return True


def reset_with_code(
    phone_raw: str, code: str, new_password: str, now: datetime | None = None
) -> User:
    """Set a new password with a valid code; raises one generic error for every bad code."""
    now = now or utcnow()
    user = _member(phone_raw)
    code = (code or "").strip()
    if user is None or not (len(code) == CODE_DIGITS and code.isdigit()):
        raise _bad_code()
    check_password_policy(new_password, "new_password", phone=user.phone)
    live = (
        PasswordResetCode.user_id == user.id,
        PasswordResetCode.used_at.is_(None),
        PasswordResetCode.expires_at > now,
        PasswordResetCode.attempts < current_app.config["RESET_CODE_MAX_ATTEMPTS"],
    )
    won = db.session.execute(
        update(PasswordResetCode)
        .where(*live, PasswordResetCode.code_hash == _digest(user.id, code))
        .values(used_at=now)
    ).rowcount
    if not won:
        # A wrong try counts against every live code of the account, so guessing ends.
        db.session.execute(
            update(PasswordResetCode).where(*live).values(attempts=PasswordResetCode.attempts + 1)
        )
        audit.record(user, "auth.reset_code_rejected", user)
        db.session.commit()
        raise _bad_code()
    _set_password(user, new_password, must_change=False)
    audit.record(user, "auth.password_reset", user)
    _tell_owner(user, now)
    db.session.commit()
    return user


def _set_password(user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    revoke_sessions(user)  # every session and API token of the account stops working


def _tell_owner(user: User, now: datetime) -> None:
    notify.queue(
        user,
        str(_l("Your password was changed")),
        str(
            _l(
                "The password of your account was just reset. If this was not you, "
                "contact your union's service centre at once."
            )
        ),
        channels=("sms",),
        urgent=True,
        sms_text=str(
            _l(
                "[Workers' wellbeing] Your password was reset. If this was not you, "
                "contact your service centre."
            )
        ),
        now=now,
    )


def admin_reset(actor: User, user: User, now: datetime | None = None) -> str:
    """Give the account a random temporary password, shown once to the admin; the member
    must choose their own at the next sign-in."""
    now = now or utcnow()
    if actor.id == user.id:
        raise InvalidInput(
            str(_l("Change your own password on the password page.")), {"user": "self"}
        )
    temporary = "-".join(secrets.token_hex(3) for _ in range(3))
    _set_password(user, temporary, must_change=True)
    audit.record(actor, "auth.admin_password_reset", user)
    _tell_owner(user, now)
    db.session.commit()
    return temporary
