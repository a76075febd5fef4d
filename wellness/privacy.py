"""A member's rights over their own data (PIPL): export it all, or delete the account.

Core and generic, like ``timeline``: each package with personal data has a ``privacy.py``
exposing ``export_for(user_id) -> dict`` and ``erase_for(user_id, now) -> str | None`` (a
notice for the member, e.g. that records the law requires us to keep were de-identified
instead of deleted). ``erase_for`` joins the caller's transaction and does not commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from wellness import audit
from wellness.auth.models import ApiToken, ConsentRecord, User
from wellness.auth.passwords import hash_password, verify_password
from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.packages import feature_modules


def export_all(user: User, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    consents = db.session.scalars(
        db.select(ConsentRecord)
        .where(ConsentRecord.user_id == user.id)
        .order_by(ConsentRecord.given_at)
    ).all()
    data: dict[str, Any] = {
        "generated_at": now.isoformat(timespec="seconds"),
        "account": {
            "name": user.name,
            "phone": user.phone,
            "email": user.email,
            "role": user.role,
            "org_unit": user.org_unit.name if user.org_unit else None,
            "created_at": user.created_at.isoformat(timespec="seconds"),
        },
        "consents": [
            {
                "version": c.version,
                "given_at": c.given_at.isoformat(timespec="seconds"),
                "withdrawn_at": c.withdrawn_at.isoformat(timespec="seconds")
                if c.withdrawn_at
                else None,
            }
            for c in consents
        ],
    }
    for module in feature_modules("wellness.{pkg}.privacy"):
        data[module.__name__.split(".")[1]] = module.export_for(user.id)
    audit.record(user, "privacy.export", user)
    db.session.commit()
    return data


def delete_account(user: User, password: str, now: datetime | None = None) -> list[str]:
    """Erase the member's data package by package and anonymise the account, in one
    transaction. The audit trail keeps only ids, never the content."""
    now = now or utcnow()
    if not verify_password(user.password_hash, password or ""):
        raise InvalidInput(str(_l("The password is not correct.")), {"password": "wrong"})
    notices = []
    for module in feature_modules("wellness.{pkg}.privacy"):
        notice = module.erase_for(user.id, now)
        if notice:
            notices.append(str(notice))
    db.session.execute(db.delete(ConsentRecord).where(ConsentRecord.user_id == user.id))
    db.session.execute(db.delete(ApiToken).where(ApiToken.user_id == user.id))
    user.name = str(_l("Deleted account"))
    user.phone = f"deleted:{user.id}"
    user.email = None
    user.password_hash = hash_password(utcnow().isoformat() + user.phone)
    user.active = False
    user.session_version += 1
    user.org_unit_id = None
    audit.record(user.id, "privacy.delete_account", ("users", user.id))
    db.session.commit()
    return notices
