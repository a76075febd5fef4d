"""Pages, charts, CSV exports, the monthly report and the JSON summary."""

from __future__ import annotations

import re
import sys

import pytest

from tests.reports.conftest import BUSY, populate
from wellness.auth.models import OrgUnit
from wellness.extensions import db
from wellness.reports import cache

EN = {"Accept-Language": "en"}


@pytest.fixture
def data(app, org, frozen):
    with app.app_context():
        for unit in ("a1", "a2", "b1"):
            populate(org[unit], 202611, BUSY)
        db.session.commit()
    return org


@pytest.mark.parametrize("role", ["worker", "counselor"])
def test_only_admins_see_reports(client, make_user, login_as, role, data):
    login_as(make_user(role))
    for url in (
        "/reports/",
        "/reports/charts/bands.png",
        "/reports/export/bands.csv",
        "/reports/monthly",
    ):
        assert client.get(url).status_code == 403, url


def test_dashboard_shows_tables_charts_and_notes(client, make_user, login_as, data):
    login_as(make_user("admin"))
    response = client.get("/reports/?from=2026-06&to=2026-11", headers=EN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<h1>") == 1
    for table in (
        "bands",
        "instruments",
        "units",
        "risk",
        "booking",
        "voucher_units",
        "hotline_hours",
    ):
        assert f'id="table-{table}"' in page, table
    assert "/reports/charts/bands.png?" in page and "/reports/export/units.csv?" in page
    assert "fewer than 5 people" in page
    assert 'class="filters no-print"' in page
    assert "<td>228</td>" in page  # November, everyone


def test_bad_filters_are_422_with_the_field_named_and_no_figures(client, make_user, login_as, data):
    login_as(make_user("admin"))
    cases = {
        "from=2026-10&to=2026-02": ("to", "The end month is before the start month."),
        "from=2019-01&to=2026-11": ("from", "Choose at most 5 years (60 months)."),
        "org_unit=424242": ("org_unit", "There is no such organisation."),
        "from=last+year": ("from", "Enter a month as YYYY-MM (for example 2026-03)."),
        "instrument=bdi": ("instrument", "There is no questionnaire with this code."),
    }
    for query, (field, message) in cases.items():
        assert field in query
        response = client.get(f"/reports/?{query}", headers=EN)
        assert response.status_code == 422, query
        page = response.get_data(as_text=True)
        assert message in page
        assert 'aria-invalid="true"' in page
        assert 'id="table-bands"' not in page
        assert re.search(r'<input checked id="children"', page)  # the default stays ticked
        # the same rule behind charts and CSV files
        assert client.get(f"/reports/export/bands.csv?{query}", headers=EN).status_code == 422
        assert client.get(f"/reports/charts/bands.png?{query}").status_code == 422


def test_unknown_chart_or_table_is_404(client, make_user, login_as, data):
    login_as(make_user("admin"))
    assert client.get("/reports/charts/nope.png").status_code == 404
    assert client.get("/reports/export/nope.csv").status_code == 404


def test_chart_is_a_cached_png_redrawn_after_new_data(app, client, make_user, login_as, data):
    login_as(make_user("admin"))
    url = "/reports/charts/bands.png?from=2026-06&to=2026-11"
    first = client.get(url, headers=EN)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG")
    etag = first.headers["ETag"]
    assert client.get(url, headers={**EN, "If-None-Match": etag}).status_code == 304
    again = client.get(url, headers=EN)
    assert again.headers["ETag"] == etag and again.data == first.data
    assert "matplotlib.pyplot" not in sys.modules
    with app.app_context():
        populate(data["b1"], 202610, BUSY)  # a month already reported gets new rows
        db.session.commit()
    changed = client.get(url, headers=EN)
    assert changed.headers["ETag"] != etag


def test_chart_cache_is_bounded(app, client, make_user, login_as, data, monkeypatch):
    monkeypatch.setitem(app.config, "REPORTS_CHART_CACHE_FILES", 3)
    login_as(make_user("admin"))
    for name in ("bands", "share", "mean", "units", "risk"):
        assert client.get(f"/reports/charts/{name}.png").status_code == 200
    with app.app_context():
        folder = cache._folder()
        assert len(list(folder.glob("*.png"))) == 3
    small = cache.LRU(2)
    for n in range(5):
        small.put(n, n)
    assert len(small) == 2 and small.get(4) == 4 and small.get(0) is None


def test_csv_has_a_bom_and_neutralised_formulas(app, client, make_user, login_as, data):
    with app.app_context():
        unit = db.session.get(OrgUnit, data["b1"])
        unit.name = '=HYPERLINK("http://evil.example","点我")'
        db.session.commit()
    login_as(make_user("admin"))
    response = client.get(
        f"/reports/export/units.csv?from=2026-11&to=2026-11&org_unit={data['b']}", headers=EN
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert "hidden to protect small groups" in text


def test_monthly_report_is_printable(client, make_user, login_as, data):
    login_as(make_user("admin"))
    response = client.get(
        f"/reports/monthly?month=2026-11&org_unit={data['city']}&instrument=phq9", headers=EN
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<h1>") == 1 and "Monthly report 2026-11" in page
    assert '<section class="no-print">' in page
    assert "data-print" in page and "js/reports.js" in page
    assert "<td>228</td>" in page
    bad = client.get("/reports/monthly?month=2026-12", headers=EN)
    assert bad.status_code == 422 and "not ended yet" in bad.get_data(as_text=True)


def test_api_summary(api, make_user, token_for, data):
    admin = token_for(make_user("admin"))
    response = api("GET", "/reports/summary?from=2026-11&to=2026-11", admin, headers=EN)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["first_month"] == "2026-11" and body["k"] == 5
    (phq9,) = [r for r in body["assessments"] if r["instrument"] == "phq9"]
    assert phq9["screenings"] == 228 and phq9["moderate_or_worse"] == 78
    assert {r["level"] for r in body["risk_flags"]} == {"critical", "high", "elevated", "total"}
    bad = api("GET", "/reports/summary?from=2026-11&to=2026-01", admin, headers=EN)
    assert bad.status_code == 422 and bad.json["error"]["fields"] == {"to": "before_start"}
    unknown = api("GET", "/reports/summary?org_unit_id=99999", admin, headers=EN)
    assert unknown.status_code == 422 and "org_unit" in unknown.json["error"]["fields"]
    for role in ("worker", "counselor"):
        token = token_for(make_user(role))
        assert api("GET", "/reports/summary", token).status_code == 403


def test_data_checks_are_spaced_out_but_a_new_month_is_seen_at_once(
    app, client, make_user, login_as, data, monkeypatch
):
    """With a check interval, a cached chart is served without a query until the interval
    has passed (only ended months are reported, so waiting a little loses nothing)."""
    import time

    monkeypatch.setitem(app.config, "REPORTS_DATA_CHECK_SECONDS", 30)
    login_as(make_user("admin"))
    url = "/reports/charts/bands.png?from=2026-06&to=2026-11"
    etag = client.get(url).headers["ETag"]
    with app.app_context():
        populate(data["b1"], 202610, BUSY)
        db.session.commit()
    assert client.get(url).headers["ETag"] == etag  # within the interval
    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert client.get(url).headers["ETag"] != etag
