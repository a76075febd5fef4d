"""Export and account deletion for vouchers (wellness/privacy.py calls vouchers.privacy)."""

from __future__ import annotations

import io

from sqlalchemy import select

from tests.vouchers.conftest import NOW, balance_ok, later, spec
from wellness.extensions import db
from wellness.vouchers import privacy, services
from wellness.vouchers.models import Voucher, VoucherEntry, VoucherImportProblem, VoucherQuota


def test_export_lists_the_members_vouchers_and_their_history(app, make_user, issue):
    worker, other = make_user("worker"), make_user("worker")
    (mine,) = issue(worker, sessions=2)
    issue(other)
    with app.app_context():
        services.consume_at_station(None, mine.code, "individual", NOW)
        data = privacy.export_for(worker.id)
    assert [v["code"].replace("-", "") for v in data["vouchers"]] == [mine.code]
    voucher = data["vouchers"][0]
    assert (voucher["remaining"], voucher["consumed"]) == (1, 1)
    assert [h["event"] for h in voucher["history"]] == ["reserve", "consume"]


def test_erase_withdraws_unlinks_and_keeps_the_books_balanced(app, make_user, issue):
    worker = make_user("worker")
    with app.app_context():  # an upload that listed the member twice keeps a problem row
        draft = services.prepare_csv_batch(
            None, spec(name="草稿"), io.BytesIO(f"{worker.phone}\n{worker.phone}\n".encode()), NOW
        )
        assert draft.import_report["bad_count"] == 1
    (active,) = issue(worker, sessions=3, per_member_limit=2, limit_period="year")
    (old,) = issue(worker, name="旧", sessions=1)
    with app.app_context():
        services.reserve_for_appointment(worker.id, active.code, "individual", 1, NOW)
        db.session.commit()
        services.revoke_voucher(None, old.id, "测试", NOW)
        notice = privacy.erase_for(worker.id, later(1))
        db.session.commit()
        assert "收回" in str(notice)  # outside a request: the default language, zh
        rows = db.session.scalars(select(Voucher).order_by(Voucher.id)).all()
        assert {v.user_id for v in rows} == {None}
        a = rows[0]
        assert (a.status, a.remaining_sessions, a.reserved_sessions, a.revoked_sessions) == (
            "revoked",
            0,
            1,
            2,
        )
        assert (
            db.session.scalar(
                select(VoucherEntry.reason).where(
                    VoucherEntry.voucher_id == a.id, VoucherEntry.kind == "revoke"
                )
            )
            == privacy.ERASED
        )
        assert db.session.scalars(select(VoucherQuota)).all() == []
        for v in rows:
            balance_ok(v.batch_id)
        assert privacy.erase_for(worker.id, later(2)) is None  # nothing left
        assert db.session.scalars(select(VoucherImportProblem)).all() == []
