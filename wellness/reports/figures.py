"""The dashboard's charts: which section each draws, and the cache in front of them.

A chart is looked up by the SHA-256 of (chart, filter set, the section's data version,
language, k); only on a miss is the section computed and matplotlib run. New data changes
the section's version, so the next request draws afresh; nothing has to be purged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _

from wellness.assessments.instruments import get_instrument
from wellness.charts import has_cjk_font
from wellness.reports import cache, charts, periods, services
from wellness.reports.services import Dashboard, Filters


def _empty() -> str:
    return _("No figures for this period yet.")


def _hidden() -> str:
    return _("Hidden to protect small groups")


def _months(months: list[int]) -> list[str]:
    return [periods.label(m) for m in months]


def bands_chart(dash: Dashboard) -> bytes:
    section = dash.assessments
    inst = get_instrument(dash.filters.instrument)
    return charts.stacked_columns(
        _months(section.months),
        section.band_series,
        section.band_hidden,
        title=_(
            "%(name)s: people screened per month by result band (%(unit)s)",
            name=inst.short_name,
            unit=dash.tree.name(dash.filters.org_unit_id),
        ),
        y_label=_("People"),
        hidden_label=_hidden(),
        empty=_empty(),
    )


def share_chart(dash: Dashboard) -> bytes:
    section = dash.assessments
    series = [
        (get_instrument(code).short_name, [share for share, _mean in points])
        for code, points in section.trend.items()
    ]
    return charts.lines(
        _months(section.months),
        series,
        title=_("Share at moderate or worse, by questionnaire (%)"),
        y_label="%",
        y_max=100,
        empty=_empty(),
    )


def mean_chart(dash: Dashboard) -> bytes:
    section = dash.assessments
    panels = []
    for code, points in section.trend.items():
        inst = get_instrument(code)
        panels.append((inst.short_name, [m for _share, m in points], inst.total_range))
    return charts.small_multiples(
        _months(section.months),
        panels,
        title=_("Mean score per month, by questionnaire (each on its own scale)"),
        empty=_empty(),
    )


def units_chart(dash: Dashboard) -> bytes:
    table = dash.assessments.units
    inst = get_instrument(dash.filters.instrument)
    bands = [c for c in table.columns if c.key not in ("total", "share", "mean")]
    rows = [r for r in table.rows if r.values["total"] != 0]
    series = [(c.label, [r.values[c.key] for r in rows]) for c in bands]
    return charts.share_bars(
        [r.label for r in rows],
        series,
        [r.values["total"] for r in rows],
        title=_("%(name)s: result bands by organisation", name=inst.short_name),
        x_label=_("Share of screenings (%)"),
        hidden_label=_hidden(),
        empty=_empty(),
    )


def risk_chart(dash: Dashboard) -> bytes:
    section = dash.risk
    return charts.stacked_columns(
        _months(section.months),
        section.series,
        section.hidden,
        title=_("Risk flags raised per month, by level"),
        y_label=_("Flags"),
        hidden_label=_hidden(),
        colours=charts.LEVEL_COLOURS,
        empty=_empty(),
    )


def booking_chart(dash: Dashboard) -> bytes:
    section = dash.booking
    rows = [r for r in section.table.rows if r.key != ("st", 0)]
    hidden = []
    for r in rows:
        total = r.values["total"]
        shown = [v for _label, values in section.series for v in [values[rows.index(r)]] if v]
        hidden.append(None if total is None else total - sum(shown))
    return charts.stacked_columns(
        section.stations,
        section.series,
        hidden,
        title=_("Appointments by station"),
        y_label=_("Appointments"),
        hidden_label=_hidden(),
        colours=charts.STATUS_COLOURS,
        empty=_empty(),
    )


def utilisation_chart(dash: Dashboard) -> bytes:
    section = dash.booking
    return charts.bars(
        section.stations,
        section.utilisation,
        title=_("Room use by station (booked share of open room time)"),
        x_label="%",
        hidden_label=_hidden(),
        empty=_empty(),
        percent=True,
    )


def vouchers_chart(dash: Dashboard) -> bytes:
    section = dash.vouchers
    rows = section.batches.rows
    hidden = []
    for index, r in enumerate(rows):
        total = r.values["sessions"]
        shown = [values[index] for _label, values in section.series if values[index]]
        hidden.append(None if total is None else total - sum(shown))
    return charts.stacked_columns(
        section.series_labels,
        section.series,
        hidden,
        title=_("Voucher sessions by batch"),
        y_label=_("Sessions"),
        hidden_label=_hidden(),
        colours=("#0b6e4f", "#b42318", "#8ecae6"),
        empty=_empty(),
    )


def hotline_hours_chart(dash: Dashboard) -> bytes:
    return charts.heatmap(
        dash.hotline.grid,
        services.weekday_names(),
        [f"{h:02d}" for h in range(services.HOURS)],
        title=_("Hotline calls by weekday and hour (Beijing time)"),
        hidden_label=_hidden(),
        value_label=_("Calls"),
    )


def hotline_topics_chart(dash: Dashboard) -> bytes:
    labels = [label for label, _v in dash.hotline.topic_series]
    values = [v for _label, v in dash.hotline.topic_series]
    return charts.bars(
        labels,
        values,
        title=_("Hotline calls by topic"),
        x_label=_("Calls"),
        hidden_label=_hidden(),
        empty=_empty(),
    )


CHARTS: dict[str, tuple[str, Callable[[Dashboard], bytes]]] = {
    "bands": ("assessments", bands_chart),
    "share": ("assessments", share_chart),
    "mean": ("assessments", mean_chart),
    "units": ("assessments", units_chart),
    "risk": ("risk", risk_chart),
    "booking": ("booking", booking_chart),
    "utilisation": ("booking", utilisation_chart),
    "vouchers": ("vouchers", vouchers_chart),
    "hotline_hours": ("hotline", hotline_hours_chart),
    "hotline_topics": ("hotline", hotline_topics_chart),
}


def available(name: str) -> bool:
    if name not in CHARTS:
        return False
    section = CHARTS[name][0]
    return {
        "booking": services.booking_installed,
        "vouchers": services.vouchers_installed,
        "hotline": services.hotline_installed,
    }.get(section, lambda: True)()


def chart_key(name: str, filters: Filters, now: datetime | None = None) -> str:
    section = CHARTS[name][0]
    version = services.section_version(section, filters, now)
    language = services.lang() if has_cjk_font() else "en"
    return cache.digest("chart", name, filters.key(), version, language)


def chart_png(name: str, filters: Filters, now: datetime | None = None) -> tuple[bytes, str]:
    """(PNG, its cache key). Drawn only when the cache has no picture for this key."""
    key = chart_key(name, filters, now)
    png = cache.chart_get(key)
    if png is None:
        section, draw = CHARTS[name]
        if services.lang() == "zh" and not has_cjk_font():
            with force_locale("en"):
                dash = services.dashboard(filters, now, sections=(section,))
                png = draw(dash)
        else:
            dash = services.dashboard(filters, now, sections=(section,))
            png = draw(dash)
        cache.chart_put(key, png)
    return png, key


def warm_default(now: datetime | None = None) -> int:
    """Draw the default dashboard's charts in both languages (the job; idempotent: a chart
    already in the cache for the current data is not drawn again). Returns charts drawn."""
    from flask import current_app

    drawn = 0
    filters = services.default_filters(now)
    for language in ("zh", "en"):
        with current_app.test_request_context(headers={"Accept-Language": language}):
            for name in CHARTS:
                if not available(name):
                    continue
                key = chart_key(name, filters, now)
                if cache.chart_get(key) is None:
                    chart_png(name, filters, now)
                    drawn += 1
    return drawn
