"""Admin pages: the dashboard, its charts (PNG), CSV exports and the printable monthly report.

Admins only (workers and counsellors get 403). Every figure comes from ``services`` and is
already suppressed there; these views only parse the query string and pick a format.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from wellness.auth.decorators import role_required
from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.forms import apply_field_errors
from wellness.packages import module_exists
from wellness.reports import exports, figures, periods, services
from wellness.reports.forms import FIELD_NAMES, FilterForm, MonthForm

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.app_template_filter("report_value")
def report_value(value, kind: str = "count") -> str:
    """A figure for a table cell: hidden -> "—", undefined -> "". Chinese and English both
    group digits with commas and use a decimal point, so plain formatting serves both (and
    keeps a 500-cell page fast)."""
    if value is None:
        return exports.HIDDEN
    if value == "":
        return ""
    if kind == "percent":
        return f"{value:,.1f}%"
    if kind == "mean":
        return f"{value:,.1f}"
    if kind == "minutes":
        if value >= 120:
            return _("%(n)s h", n=f"{value / 60:,.1f}")
        return _("%(n)s min", n=f"{value:,.0f}")
    return f"{value:,}"


@bp.app_template_filter("report_month")
def report_month(month: int) -> str:
    return periods.label(month)


def _place_errors(form, error: InvalidInput, names=FIELD_NAMES) -> None:
    renamed = InvalidInput(error.message, {names.get(k, k): v for k, v in error.fields.items()})
    apply_field_errors(form, renamed)


def _filter_form(tree) -> FilterForm:
    form = FilterForm(request.args)
    form.org_unit.choices = [(str(u), label) for u, label in services.org_unit_choices(tree)]
    form.instrument.choices = services.instrument_choices()
    form.station.choices = [(str(s), label) for s, label in services.station_choices()]
    return form


def _fill(form, filters: services.Filters) -> None:
    form.date_from.data = periods.label(filters.first)
    form.date_to.data = periods.label(filters.last)
    form.org_unit.data = str(filters.org_unit_id)
    form.children.data = filters.with_children
    form.instrument.data = filters.instrument
    form.station.data = str(filters.station_id or 0)


@bp.route("/")
@role_required("admin")
def dashboard():
    tree = services.load_tree()
    form = _filter_form(tree)
    form.validate()
    try:
        filters = services.filters_from_args(request.args, utcnow())
    except InvalidInput as error:
        _place_errors(form, error)
        form.children.data = services.checkbox(request.args, "children")
        return render_template("reports/dashboard.html", form=form, dash=None), error.status
    _fill(form, filters)
    dash = services.dashboard(filters)
    return render_template(
        "reports/dashboard.html",
        form=form,
        dash=dash,
        feedback_rows=_feedback_rows(filters, dash.tree, dash.k),
        args=filters.query_args(),
        charts={name: figures.available(name) for name in figures.CHARTS},
        scope=dash.tree.name(filters.org_unit_id),
        stations=services.station_names(),
    )


@bp.route("/charts/<name>.png")
@role_required("admin")
def chart(name: str):
    if not figures.available(name):
        abort(404)
    filters = services.filters_from_args(request.args, utcnow())
    png, key = figures.chart_png(name, filters)
    response = Response(png, mimetype="image/png")
    response.set_etag(key)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response.make_conditional(request)


@bp.route("/export/<table>.csv")
@role_required("admin")
def export_csv(table: str):
    section = services.TABLE_SECTIONS.get(table)
    if section is None:
        abort(404)
    filters = services.filters_from_args(request.args, utcnow())
    dash = services.dashboard(filters, sections=(section,))
    found = dash.tables().get(table)
    if found is None:  # the feature (booking, vouchers, hotline) is not installed
        abort(404)
    body = exports.table_csv(found, filters, dash.tree.name(filters.org_unit_id), dash.k)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={exports.filename(found, filters)}",
            "Cache-Control": "private, no-store",
        },
    )


def _feedback_rows(filters: services.Filters, tree, k: int):
    """Session ratings, or None when the feedback package is not installed."""
    if not module_exists("wellness.feedback.models"):
        return None
    from wellness.reports import feedback  # noqa: PLC0415 (reads an optional package's models)

    return feedback.rows(filters, tree, k)


@bp.route("/feedback.csv")
@role_required("admin")
def feedback_csv():
    filters = services.filters_from_args(request.args, utcnow())
    tree = services.load_tree()
    k = services.small_cell_k()
    rows = _feedback_rows(filters, tree, k)
    if rows is None:
        abort(404)
    from wellness.reports import feedback  # noqa: PLC0415

    return Response(
        feedback.rows_csv(rows, k),
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=session-ratings.csv",
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/monthly")
@role_required("admin")
def monthly():
    tree = services.load_tree()
    form = MonthForm(request.args)
    form.org_unit.choices = [(str(u), label) for u, label in services.org_unit_choices(tree)]
    form.instrument.choices = services.instrument_choices()
    form.validate()
    try:
        filters = services.month_filters_from_args(request.args, utcnow())
    except InvalidInput as error:
        _place_errors(form, error, {"from": "month", "to": "month"})
        form.children.data = services.checkbox(request.args, "children")
        return render_template("reports/monthly.html", form=form, dash=None), error.status
    form.month.data = periods.label(filters.first)
    form.org_unit.data = str(filters.org_unit_id)
    form.children.data = filters.with_children
    form.instrument.data = filters.instrument
    dash = services.dashboard(filters)
    trend = services.Filters(
        periods.add_months(filters.last, -11),
        filters.last,
        filters.org_unit_id,
        filters.with_children,
        filters.instrument,
    )
    return render_template(
        "reports/monthly.html",
        form=form,
        dash=dash,
        args=filters.query_args(),
        trend_args=trend.query_args(),
        month=periods.label(filters.first),
        scope=dash.tree.name(filters.org_unit_id),
        charts={name: figures.available(name) for name in figures.CHARTS},
        generated=utcnow(),
    )
