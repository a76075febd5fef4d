"""Account use cases: register, authenticate, sessions, passwords, org units, consent."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from wellness import audit
from wellness.auth.models import ApiToken, ConsentRecord, OrgUnit, OrgUnitKind, Role, User
from wellness.auth.passwords import hash_password, needs_rehash, verify_password
from wellness.auth.phones import InvalidPhone, normalise_mobile
from wellness.database import utcnow
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db

COMMON_PASSWORDS = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "password1",
        "11111111",
        "88888888",
        "66666666",
        "00000000",
        "12341234",
        "abcd1234",
        "qwertyui",
        "a1234567",
        "woaini1314",
        "iloveyou",
        "1qaz2wsx",
        "aa123456",
        "qq123456",
        "zxcvbnm1",
        "asdfghjk",
        "abc12345",
        "123123123",
        "147258369",
        "5201314520",
    }
)


class InvalidCredentials(InvalidInput):
    """Deliberately says nothing about whether the phone number exists."""


# ----------------------------------------------------------------------------- users


def parse_phone(raw: str, field: str = "phone") -> str:
    try:
        return normalise_mobile(raw)
    except InvalidPhone:
        raise InvalidInput(
            str(_l("Enter a valid mainland mobile number (11 digits).")), {field: "invalid"}
        ) from None


def check_password_policy(password: str, field: str = "password", phone: str = "") -> None:
    """ASVS 5.0: a length minimum and a blocklist; no composition rules."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if not isinstance(password, str) or len(password) < minimum:
        raise InvalidInput(
            str(_l("The password must be at least %(n)s characters.", n=minimum)),
            {field: "too_short"},
        )
    if len(password) > 128:
        raise InvalidInput(str(_l("The password is too long.")), {field: "too_long"})
    digits = phone.removeprefix("+86")
    if password.lower() in COMMON_PASSWORDS or (digits and digits in password):
        raise InvalidInput(
            str(_l("This password is too easy to guess. Choose another.")), {field: "common"}
        )


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(str(_l("No such user.")))
    return user


def find_by_phone(phone: str) -> User | None:
    return db.session.scalar(select(User).where(User.phone == phone))


def create_user(
    *,
    phone: str,
    name: str,
    password: str,
    role: str = Role.WORKER.value,
    org_unit_id: int | None = None,
    email: str | None = None,
    actor: User | None = None,
    commit: bool = True,
) -> User:
    e164 = parse_phone(phone)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput(str(_l("Enter a name of 1 to 80 characters.")), {"name": "invalid"})
    if role not in {r.value for r in Role}:
        raise InvalidInput(str(_l("Unknown role.")), {"role": "invalid"})
    check_password_policy(password, phone=e164)
    if org_unit_id is not None and db.session.get(OrgUnit, org_unit_id) is None:
        raise InvalidInput(str(_l("Unknown organisation.")), {"org_unit_id": "unknown"})
    if find_by_phone(e164) is not None:
        raise Conflict(str(_l("This mobile number is already registered.")), {"phone": "taken"})
    user = User(
        phone=e164,
        name=name,
        role=role,
        password_hash=hash_password(password),
        org_unit_id=org_unit_id,
        email=email or None,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            str(_l("This mobile number is already registered.")), {"phone": "taken"}
        ) from None
    audit.record(actor or user, "user.create", user, {"role": role})
    if commit:
        db.session.commit()
    return user


def register_worker(
    phone: str,
    name: str,
    password: str,
    org_unit_id: int | None,
    *,
    email_address: str | None = None,
    sms: bool = True,
) -> User:
    """A new member with the channels they chose (in-app always; SMS; e-mail optional)."""
    from wellness.notify import services as notify

    user = create_user(
        phone=phone, name=name, password=password, org_unit_id=org_unit_id, commit=False
    )
    try:
        notify.save_channels(
            user, sms=sms, email_address=email_address, email=bool(email_address), commit=False
        )
    except InvalidInput:
        db.session.rollback()
        raise
    db.session.commit()
    return user


def authenticate(phone_raw: str, password: str, now: datetime | None = None) -> User:
    """Return the user or raise InvalidCredentials with one generic message."""
    generic = InvalidCredentials(str(_l("The mobile number or password is not correct.")))
    try:
        phone = normalise_mobile(phone_raw)
    except InvalidPhone:
        verify_password(None, password or "")
        raise generic from None
    user = find_by_phone(phone)
    if user is None or not user.active:
        verify_password(None, password or "")
        raise generic
    if not verify_password(user.password_hash, password or ""):
        audit.record(user, "auth.login_failed", user)
        db.session.commit()
        raise generic
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    audit.record(user, "auth.login", user)
    db.session.commit()
    return user


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version; a bumped version revokes."""
    try:
        raw_id, raw_version = session_id.split(".", 1)
        user_id, version = int(raw_id), int(raw_version)
    except (AttributeError, ValueError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def revoke_sessions(user: User) -> None:
    """Invalidate every session and API token of the user (atomic increment)."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    db.session.refresh(user)


def logout_everywhere(user: User) -> None:
    revoke_sessions(user)
    audit.record(user, "auth.logout", user)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current or ""):
        raise InvalidInput(
            str(_l("The current password is not correct.")), {"current_password": "wrong"}
        )
    check_password_policy(new, "new_password", phone=user.phone)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    revoke_sessions(user)
    audit.record(user, "auth.password_change", user)
    db.session.commit()


def set_user_role(actor: User, user: User, role: str) -> None:
    if role not in {r.value for r in Role}:
        raise InvalidInput(str(_l("Unknown role.")), {"role": "invalid"})
    old = user.role
    user.role = role
    revoke_sessions(user)
    audit.record(actor, "user.role_change", user, {"from": old, "to": role})
    db.session.commit()


def set_user_active(actor: User, user: User, active: bool) -> None:
    if actor.id == user.id and not active:
        raise Conflict(str(_l("You cannot deactivate your own account.")))
    user.active = active
    if not active:
        revoke_sessions(user)
    audit.record(actor, "user.activate" if active else "user.deactivate", user)
    db.session.commit()


def set_locale(user: User | None, locale: str) -> None:
    if user is not None and locale in current_app.config["LANGUAGES"]:
        user.locale = locale
        db.session.commit()


def list_users(*, q: str | None = None, role: str | None = None, page: int = 1, per_page: int = 50):
    stmt = select(User).order_by(User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(User.name.like(like) | User.phone.like(like))
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=200, error_out=False)


def count_users_by_role() -> dict[str, int]:
    rows = db.session.execute(select(User.role, func.count(User.id)).group_by(User.role))
    return {role: count for role, count in rows}


# ----------------------------------------------------------------------------- org units


def create_org_unit(
    name: str, kind: str, parent_id: int | None = None, actor: User | None = None
) -> OrgUnit:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise InvalidInput(str(_l("Enter a name of 1 to 120 characters.")), {"name": "invalid"})
    if kind not in {k.value for k in OrgUnitKind}:
        raise InvalidInput(str(_l("Unknown kind of organisation.")), {"kind": "invalid"})
    if parent_id is not None and db.session.get(OrgUnit, parent_id) is None:
        raise InvalidInput(str(_l("Unknown organisation.")), {"parent_id": "unknown"})
    same_parent = (
        OrgUnit.parent_id.is_(None) if parent_id is None else OrgUnit.parent_id == parent_id
    )
    exists = db.session.scalar(select(OrgUnit.id).where(OrgUnit.name == name, same_parent))
    if exists:
        raise Conflict(
            str(_l("An organisation with this name already exists here.")), {"name": "taken"}
        )
    unit = OrgUnit(name=name, kind=kind, parent_id=parent_id)
    db.session.add(unit)
    db.session.flush()
    audit.record(actor, "org_unit.create", unit)
    db.session.commit()
    return unit


def list_org_units() -> list[OrgUnit]:
    return list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.parent_id, OrgUnit.name)))


def org_unit_tree() -> list[tuple[OrgUnit, int]]:
    """Units in depth-first order with their depth, for indented pickers."""
    units = list_org_units()
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    ordered: list[tuple[OrgUnit, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: u.name):
            ordered.append((unit, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return ordered


def descendant_ids(unit_id: int) -> list[int]:
    """The unit and all units below it (recursive CTE in the database)."""
    tree = select(OrgUnit.id).where(OrgUnit.id == unit_id).cte("tree", recursive=True)
    tree = tree.union_all(select(OrgUnit.id).where(OrgUnit.parent_id == tree.c.id))
    return list(db.session.scalars(select(tree.c.id)))


# ----------------------------------------------------------------------------- consent


def current_consent(user: User) -> ConsentRecord | None:
    version = current_app.config["CONSENT_VERSION"]
    return db.session.scalar(
        select(ConsentRecord)
        .where(
            ConsentRecord.user_id == user.id,
            ConsentRecord.version == version,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .order_by(ConsentRecord.given_at.desc())
        .limit(1)
    )


def has_consent(user: User) -> bool:
    return current_consent(user) is not None


def give_consent(
    user: User, version: str, ip: str | None = None, now: datetime | None = None
) -> ConsentRecord:
    expected = current_app.config["CONSENT_VERSION"]
    if version != expected:
        raise InvalidInput(
            str(_l("The consent text has changed. Please read the current version.")),
            {"version": "outdated"},
        )
    existing = current_consent(user)
    if existing is not None:
        return existing
    record = ConsentRecord(user_id=user.id, version=version, given_at=now or utcnow(), ip=ip)
    db.session.add(record)
    db.session.flush()
    audit.record(user, "consent.give", record, {"version": version})
    db.session.commit()
    return record


def withdraw_consent(user: User, now: datetime | None = None) -> int:
    now = now or utcnow()
    count = db.session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.user_id == user.id, ConsentRecord.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    ).rowcount
    audit.record(user, "consent.withdraw", user)
    db.session.commit()
    return count


# ----------------------------------------------------------------------------- API tokens


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_api_token(
    phone_raw: str, password: str, now: datetime | None = None
) -> tuple[str, ApiToken]:
    """Authenticate and return (plain token, stored row). The plain token is shown once."""
    now = now or utcnow()
    user = authenticate(phone_raw, password, now=now)
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_token_digest(token),
        session_version=user.session_version,
        created_at=now,
        expires_at=now + timedelta(hours=current_app.config["API_TOKEN_HOURS"]),
    )
    db.session.add(row)
    db.session.flush()
    audit.record(user, "auth.token_issue", row)
    db.session.commit()
    return token, row


# The whole token check in one statement (it runs on every API request): a live token of
# an active user whose session version has not moved on since the token was issued.
_USER_FOR_TOKEN = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now"),
        ApiToken.session_version == User.session_version,
        User.active.is_(True),
    )
)


def user_for_api_token(token: str, now: datetime | None = None) -> User | None:
    if not token or len(token) > 200:
        return None
    params = {"digest": _token_digest(token), "now": now or utcnow()}
    return db.session.scalar(_USER_FOR_TOKEN, params)


def revoke_api_token(token: str, now: datetime | None = None) -> bool:
    count = db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    ).rowcount
    db.session.commit()
    return bool(count)
