"""Who may reach each voucher URL (merged into tests/authz.py)."""

from tests.authz import ADMIN, COUNSELOR, SIGNED_IN, WORKER

STAFF = frozenset({COUNSELOR, ADMIN})

ACCESS = {
    "vouchers.wallet": frozenset({WORKER}),
    "vouchers.claim": frozenset({WORKER}),
    "vouchers.open_code": SIGNED_IN,
    "vouchers.station": STAFF,
    "vouchers.station_consume": STAFF,
    "vouchers.list_batches": frozenset({ADMIN}),
    "vouchers.new_batch": frozenset({ADMIN}),
    "vouchers.batch": frozenset({ADMIN}),
    "vouchers.confirm": frozenset({ADMIN}),
    "vouchers.discard": frozenset({ADMIN}),
    "vouchers.problems_csv": frozenset({ADMIN}),
    "vouchers.sheet": frozenset({ADMIN}),
    "vouchers.revoke": frozenset({ADMIN}),
    "vouchers.report": frozenset({ADMIN}),
    "vouchers.report_csv": frozenset({ADMIN}),
    "api.list_vouchers": frozenset({WORKER}),
    "api.create_voucher_batch": frozenset({ADMIN}),
}
