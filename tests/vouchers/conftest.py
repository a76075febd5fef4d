from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.models import Voucher, VoucherBatch

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def spec(**overrides) -> services.BatchSpec:
    values = {
        "name": "2026年度职工心理关爱券",
        "sessions": 1,
        "valid_until": date(2027, 6, 30),
        "valid_from": None,
        "service_codes": ["individual", "sand_table"],
    }
    values.update(overrides)
    return services.BatchSpec(**values)


@pytest.fixture
def issue(app) -> Callable[..., list[Voucher]]:
    """issue(*users, sessions=1, now=NOW, **spec) -> detached vouchers, one per user."""

    def make(*users, bearer: int | None = None, now: datetime = NOW, **overrides):
        with app.app_context():
            kwargs = {"bearer_count": bearer} if bearer else {"members": [u.phone for u in users]}
            result = services.issue_batch_now(None, spec(**overrides), now=now, **kwargs)
            vouchers = list(
                db.session.scalars(
                    db.select(Voucher)
                    .where(Voucher.batch_id == result.batch.id)
                    .order_by(Voucher.id)
                )
            )
            for voucher in vouchers:
                db.session.expunge(voucher)
            return vouchers

    return make


def balance_ok(batch_id: int) -> dict:
    """Assert the ledger and the vouchers agree and both add up (call in an app context)."""
    balance = services.ledger_balance(batch_id)
    issued = balance["issued"]
    assert issued["ledger"] == issued["vouchers"], balance
    assert balance["ledger"] == balance["vouchers"], balance
    assert sum(balance["vouchers"].values()) == issued["vouchers"], balance
    assert all(v >= 0 for v in balance["vouchers"].values()), balance
    return balance


def later(days: float = 0, **kw) -> datetime:
    return NOW + timedelta(days=days, **kw)


def batch_of(voucher) -> VoucherBatch:
    return db.session.get(VoucherBatch, voucher.batch_id)
