"""Role-aware navigation. Packages add entries; missing endpoints are skipped."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # lazy string
    roles: tuple[str, ...]


NAV: list[NavItem] = [
    NavItem("main.index", _l("Home"), ("worker", "counselor", "admin")),
    NavItem("assessments.list_instruments", _l("Self-tests"), ("worker",)),
    NavItem("booking.list_stations", _l("Book"), ("worker",)),
    NavItem("booking.my_appointments", _l("My appointments"), ("worker",)),
    NavItem("vouchers.wallet", _l("Vouchers"), ("worker",)),
    NavItem("messaging.my_conversations", _l("Ask a counsellor"), ("worker",)),
    NavItem("care.my_plan", _l("My care plan"), ("worker",)),
    NavItem("risk.queue", _l("Risk queue"), ("counselor",)),
    NavItem("messaging.inbox", _l("Members' questions"), ("counselor", "admin")),
    NavItem("care.caseload", _l("Care plans"), ("counselor",)),
    NavItem("booking.counselor_schedule", _l("My schedule"), ("counselor",)),
    NavItem("hotline.console", _l("Hotline console"), ("counselor",)),
    NavItem("vouchers.station", _l("Check a voucher"), ("counselor",)),
    NavItem("reports.dashboard", _l("Reports"), ("admin",)),
    NavItem("risk.supervision", _l("Risk supervision"), ("admin",)),
    NavItem("vouchers.list_batches", _l("Vouchers"), ("admin",)),
    NavItem("booking.manage_stations", _l("Stations"), ("admin",)),
    NavItem("hotline.roster", _l("Hotline roster"), ("admin",)),
    NavItem("auth.list_users", _l("Users"), ("admin",)),
    NavItem("auth.org_units", _l("Organisations"), ("admin",)),
]


def nav_items() -> list[NavItem]:
    try:
        user = current_user._get_current_object()  # once, not through the proxy per item
        if not user.is_authenticated:
            return []
    except Exception:  # noqa: BLE001 - the database may be down on an error page
        return []
    views = current_app.view_functions
    role = user.role
    return [item for item in NAV if role in item.roles and item.endpoint in views]


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
