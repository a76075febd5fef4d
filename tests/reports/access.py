from tests.authz import ADMIN

A = frozenset({ADMIN})

ACCESS = {
    "reports.dashboard": A,
    "reports.chart": A,
    "reports.export_csv": A,
    "reports.monthly": A,
    "api.reports_summary": A,
}
