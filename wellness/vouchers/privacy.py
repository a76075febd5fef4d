"""A member's vouchers: export them, and on account deletion withdraw and unlink them.

Vouchers are entitlements with an accounting ledger, so erasing does not delete rows (the
batch totals and the ledger must still add up): the member's usable sessions are withdrawn
(ledger ``revoke``, reason ``account deleted``) and every voucher loses its link to the
person. Per-member limit counters, staged recipient rows and upload problem rows that show
the member's number are deleted.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select, update

from wellness.auth.models import User
from wellness.extensions import db
from wellness.vouchers.models import (
    EntryKind,
    Voucher,
    VoucherEntry,
    VoucherImportProblem,
    VoucherQuota,
    VoucherRecipient,
    VoucherStatus,
)

ERASED = "account deleted"


def export_for(user_id: int) -> dict:
    vouchers = db.session.scalars(
        select(Voucher).where(Voucher.user_id == user_id).order_by(Voucher.id)
    ).all()
    history = db.session.execute(
        select(VoucherEntry.voucher_id, VoucherEntry.kind, VoucherEntry.sessions, VoucherEntry.at)
        .where(VoucherEntry.voucher_id.in_([v.id for v in vouchers]))
        .order_by(VoucherEntry.id)
    ).all()
    by_voucher: dict[int, list[dict]] = {}
    for voucher_id, kind, sessions, at in history:
        by_voucher.setdefault(voucher_id, []).append(
            {"event": kind, "sessions": sessions, "at": at.isoformat(timespec="seconds")}
        )
    return {
        "vouchers": [
            {
                "code": v.display_code,
                "batch": v.batch.name,
                "status": v.state,
                "sessions": v.sessions,
                "remaining": v.remaining_sessions,
                "reserved": v.reserved_sessions,
                "consumed": v.consumed_sessions,
                "services": v.service_codes,
                "valid_until": v.valid_until.isoformat(timespec="seconds"),
                "history": by_voucher.get(v.id, []),
            }
            for v in vouchers
        ]
    }


def erase_for(user_id: int, now: datetime):
    table = Voucher.__table__
    withdrawn = db.session.execute(
        update(table)
        .where(table.c.user_id == user_id, table.c.status == VoucherStatus.ACTIVE.value)
        .values(
            status=VoucherStatus.REVOKED.value,
            closed_at=now,
            revoked_sessions=table.c.revoked_sessions + table.c.remaining_sessions,
            remaining_sessions=0,
        )
        .returning(table.c.id, table.c.batch_id, table.c.revoked_sessions)
    ).all()
    if withdrawn:
        db.session.execute(
            insert(VoucherEntry.__table__),
            [
                {
                    "batch_id": batch_id,
                    "voucher_id": voucher_id,
                    "kind": EntryKind.REVOKE.value,
                    "sessions": moved,
                    "vouchers": 1,
                    "reason": ERASED,
                    "at": now,
                }
                for voucher_id, batch_id, moved in withdrawn
            ],
        )
    unlinked = db.session.execute(
        update(table).where(table.c.user_id == user_id).values(user_id=None)
    ).rowcount
    db.session.execute(delete(VoucherQuota).where(VoucherQuota.user_id == user_id))
    db.session.execute(delete(VoucherRecipient).where(VoucherRecipient.user_id == user_id))
    phone = db.session.scalar(select(User.phone).where(User.id == user_id)) or ""
    digits = phone.removeprefix("+86")
    if len(digits) == 11 and digits.isdigit():  # the member's number in upload problem rows
        db.session.execute(
            delete(VoucherImportProblem).where(VoucherImportProblem.value.contains(digits))
        )
    if unlinked:
        return _l(
            "Your counselling vouchers were withdrawn and no longer carry your name; "
            "the union keeps only anonymous totals."
        )
    return None
