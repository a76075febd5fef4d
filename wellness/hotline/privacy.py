"""A member's hotline records, for wellness.privacy: export the calls linked to them; on a
deletion request, de-identify instead of deleting, because the 2021 NHC hotline guideline
requires hotline records to be kept at least 3 years. The member is told how many."""

from __future__ import annotations

from datetime import datetime

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from wellness.hotline import services


def _locale() -> str:
    try:
        return str(get_locale() or "zh")
    except Exception:  # noqa: BLE001 - outside a request (CLI): the default language
        return "zh"


def export_for(user_id: int) -> list[dict]:
    """Calls the member agreed to link to their account (anonymous calls stay anonymous)."""
    locale = _locale()
    return [
        {
            "started_at": call.started_at.isoformat(timespec="minutes"),
            "duration_minutes": round(call.duration_seconds / 60),
            "kind": call.kind,
            "topics": [t.label_for(locale) for t in call.topics],
            "action": call.action.label_for(locale) if call.action else None,
            "referred_to": call.referral.label_for(locale) if call.referral else None,
            "notes": call.summary,
            "crisis_level": call.crisis.level if call.crisis else None,
        }
        for call in services.calls_of_member(user_id)
    ]


def erase_for(user_id: int, now: datetime):
    """De-identify (joins the caller's transaction, does not commit); a notice or None."""
    count = services.deidentify_member(user_id, now)
    if not count:
        return None
    return _l(
        "%(n)s hotline call record(s) are kept for 3 years, as the law requires for hotline "
        "records. They no longer identify you.",
        n=count,
    )
