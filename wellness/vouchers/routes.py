"""Voucher pages: the member's wallet, the station check, and the admin's batches/reports.

Views parse input, call one service, and render; the rules are in services.py.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms import SelectChoice

from wellness.auth import services as auth_services
from wellness.auth.decorators import role_required
from wellness.errors import InvalidInput, WellnessError
from wellness.forms import ActionForm, apply_field_errors
from wellness.transactions import writes
from wellness.vouchers import services
from wellness.vouchers.codes import CodeError, display, normalise
from wellness.vouchers.forms import (
    BatchForm,
    ClaimForm,
    ConsumeForm,
    RevokeForm,
    StationLookupForm,
)
from wellness.vouchers.models import SERVICE_CODES, BatchStatus, BatchTarget, LimitPeriod
from wellness.vouchers.qr import qr_image

bp = Blueprint("vouchers", __name__, url_prefix="/vouchers")

SHEET_PER_PAGE = 24


def _me():
    return current_user._get_current_object()


def _code_link(code: str) -> str:
    return url_for("vouchers.open_code", code=display(code), _external=True)


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


# ----------------------------------------------------------------------------- member


def _render_wallet(form: ClaimForm, status: int = 200):
    vouchers = services.my_vouchers(current_user.id)
    cards = []
    for voucher in vouchers:
        usable = voucher.state == "active"
        cards.append(
            {
                "voucher": voucher,
                "qr": qr_image(_code_link(voucher.code), scale=5) if usable else None,
                "last_day": services.last_valid_day(voucher.valid_until),
            }
        )
    return (
        render_template(
            "vouchers/wallet.html",
            cards=cards,
            form=form,
            services=services,
            book_url=url_for("booking.list_stations")
            if "booking.list_stations" in current_app.view_functions
            else None,
        ),
        status,
    )


@bp.route("/")
@role_required("worker")
def wallet():
    form = ClaimForm(formdata=None)
    form.voucher_code.data = request.args.get("voucher_code", "")[:40]
    return _render_wallet(form)


@bp.route("/claim", methods=["POST"])
@role_required("worker")
def claim():
    form = ClaimForm()
    if not form.validate_on_submit():
        return _render_wallet(form, 400)
    try:
        voucher = services.claim_code(_me(), form.voucher_code.data)
    except WellnessError as error:
        apply_field_errors(form, error)
        return _render_wallet(form, error.status)
    flash(
        ngettext(
            "Voucher %(code)s is now in your wallet: %(num)s free session.",
            "Voucher %(code)s is now in your wallet: %(num)s free sessions.",
            voucher.remaining_sessions,
            code=voucher.display_code,
        ),
        "success",
    )
    return redirect(url_for("vouchers.wallet"))


@bp.route("/v/<code>")
@login_required
def open_code(code: str):
    """Where a scanned QR lands: staff go to the station check, members to their wallet."""
    try:
        canonical = normalise(code)
    except CodeError:
        flash(_("This link does not contain a valid voucher code."), "error")
        canonical = None
    if current_user.has_role("counselor", "admin"):
        if canonical is None:
            return redirect(url_for("vouchers.station"))
        return redirect(url_for("vouchers.station", voucher_code=display(canonical)))
    if canonical is None:
        return redirect(url_for("vouchers.wallet"))
    return redirect(url_for("vouchers.wallet", voucher_code=display(canonical)))


# ----------------------------------------------------------------------------- station


def _consume_form(view, form: ConsumeForm | None = None) -> ConsumeForm:
    form = form or ConsumeForm(formdata=None, prefix="use")
    codes = view.voucher.service_codes if view else SERVICE_CODES
    form.service_code.choices = [SelectChoice(c, services.service_label(c)) for c in codes]
    if view:
        form.voucher_code.data = view.voucher.code
    return form


@bp.route("/station")
@role_required("counselor", "admin")
@writes  # audited read
def station():
    form = StationLookupForm(formdata=request.args if request.args else None)
    view = None
    status = 200
    if request.args.get("voucher_code") is not None:
        if form.validate():
            try:
                view = services.verify_at_station(_me(), form.voucher_code.data)
            except WellnessError as error:
                apply_field_errors(form, error)
                status = error.status
            else:
                form.voucher_code.data = view.voucher.display_code
        else:
            status = 400
    return (
        render_template(
            "vouchers/station.html",
            form=form,
            view=view,
            consume_form=_consume_form(view) if view else None,
            last_day=services.last_valid_day(view.voucher.valid_until) if view else None,
            services=services,
        ),
        status,
    )


@bp.route("/station/consume", methods=["POST"])
@role_required("counselor", "admin")
def station_consume():
    form = _consume_form(None, ConsumeForm(prefix="use"))
    lookup = StationLookupForm(formdata=None)
    lookup.voucher_code.data = (request.form.get("use-voucher_code") or "")[:40]
    if form.validate_on_submit():
        try:
            voucher = services.consume_at_station(
                _me(), form.voucher_code.data, form.service_code.data
            )
        except WellnessError as error:
            flash(error.message, "error")
            status = error.status
        else:
            flash(
                ngettext(
                    "One session used. %(num)s session left on %(code)s.",
                    "One session used. %(num)s sessions left on %(code)s.",
                    voucher.remaining_sessions,
                    code=voucher.display_code,
                ),
                "success",
            )
            return redirect(url_for("vouchers.station", voucher_code=voucher.display_code))
    else:
        status = 400
        flash(_("Check the voucher again, then choose the service."), "error")
    return (
        render_template(
            "vouchers/station.html",
            form=lookup,
            view=None,
            consume_form=None,
            last_day=None,
            services=services,
        ),
        status,
    )


# ----------------------------------------------------------------------------- admin


def _org_choices(blank: str) -> list[SelectChoice]:
    choices = [SelectChoice(0, blank)]
    for unit, depth in auth_services.org_unit_tree():
        choices.append(SelectChoice(unit.id, "\u3000" * depth + unit.name))
    return choices


def _period_labels() -> dict[str, str]:
    return {
        LimitPeriod.BATCH.value: _("in this batch"),
        LimitPeriod.MONTH.value: _("per calendar month, from this union"),
        LimitPeriod.QUARTER.value: _("per quarter, from this union"),
        LimitPeriod.YEAR.value: _("per calendar year, from this union"),
    }


def _batch_form() -> BatchForm:
    form = BatchForm()
    form.org_unit_id.choices = _org_choices(_("The service centre"))
    form.target_org_unit_id.choices = _org_choices(_("Choose an organisation"))
    form.service_codes.choices = [SelectChoice(c, services.service_label(c)) for c in SERVICE_CODES]
    form.limit_period.choices = [SelectChoice(k, v) for k, v in _period_labels().items()]
    if request.method == "GET":
        form.service_codes.data = ["individual", "group", "sand_table", "relaxation"]
        form.limit_period.data = LimitPeriod.BATCH.value
    return form


@bp.route("/batches")
@role_required("admin")
def list_batches():
    pagination = services.list_batches(page=_page())
    return render_template("vouchers/batches.html", pagination=pagination, services=services)


@bp.route("/batches/new", methods=["GET", "POST"])
@role_required("admin")
def new_batch():
    form = _batch_form()
    status = 200
    if form.validate_on_submit():
        spec = services.BatchSpec(
            name=form.name.data,
            sessions=int(form.sessions.data),
            valid_from=form.valid_from.data,
            valid_until=form.valid_until.data,
            service_codes=list(form.service_codes.data or []),
            org_unit_id=form.org_unit_id.data or None,
            per_member_limit=int(form.per_member_limit.data)
            if form.per_member_limit.data
            else None,
            limit_period=form.limit_period.data,
            notes=form.notes.data,
        )
        try:
            batch = _prepare(form, spec)
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            return redirect(url_for("vouchers.batch", batch_id=batch.id))
    elif request.method == "POST":
        status = 400
    return render_template("vouchers/new_batch.html", form=form), status


def _prepare(form: BatchForm, spec: services.BatchSpec):
    target = form.target.data
    if target == BatchTarget.MEMBERS:
        upload = form.csv_file.data
        if upload is None or not getattr(upload, "filename", ""):
            raise InvalidInput(_("Choose a CSV file."), {"csv_file": "required"})
        return services.prepare_csv_batch(_me(), spec, upload.stream)
    if target == BatchTarget.ORG_UNIT:
        if not form.target_org_unit_id.data:
            raise InvalidInput(_("Choose an organisation."), {"target_org_unit_id": "required"})
        return services.prepare_org_unit_batch(_me(), spec, form.target_org_unit_id.data)
    if not form.bearer_count.data:
        raise InvalidInput(_("Enter how many codes to make."), {"bearer_count": "required"})
    return services.prepare_bearer_batch(_me(), spec, int(form.bearer_count.data))


def _render_batch(batch_id: int, status: int = 200, revoke_form: RevokeForm | None = None):
    found = services.get_batch(batch_id)
    status_filter = request.args.get("status") or None
    if status_filter not in (None, "active", "unassigned", "expired", "revoked"):
        status_filter = None
    vouchers = None
    if found.status == BatchStatus.ISSUED:
        vouchers = services.batch_vouchers(found.id, page=_page(), status=status_filter)
    return (
        render_template(
            "vouchers/batch.html",
            batch=found,
            report=found.import_report or {},
            summary=services.batch_summary(found.id),
            labels=services.column_labels(),
            columns=services.REPORT_COLUMNS,
            vouchers=vouchers,
            status_filter=status_filter,
            action_form=ActionForm(),
            revoke_form=revoke_form or RevokeForm(formdata=None),
            period_labels=_period_labels(),
            last_day=services.last_valid_day(found.valid_until),
            services=services,
        ),
        status,
    )


@bp.route("/batches/<int:batch_id>")
@role_required("admin")
def batch(batch_id: int):
    return _render_batch(batch_id)


@bp.route("/batches/<int:batch_id>/issue", methods=["POST"])
@role_required("admin")
def confirm(batch_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    result = services.confirm_batch(_me(), batch_id)
    message = _("%(n)s vouchers issued.", n=result.issued)
    if result.refused:
        message += " " + _(
            "%(n)s members had reached their limit meanwhile and got none.", n=result.refused
        )
    flash(message, "success")
    return redirect(url_for("vouchers.batch", batch_id=batch_id))


@bp.route("/batches/<int:batch_id>/discard", methods=["POST"])
@role_required("admin")
def discard(batch_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    services.discard_batch(_me(), batch_id)
    flash(_("The draft was discarded; nothing was issued."), "info")
    return redirect(url_for("vouchers.list_batches"))


@bp.route("/batches/<int:batch_id>/problems.csv")
@role_required("admin")
def problems_csv(batch_id: int):
    found = services.get_batch(batch_id)
    return Response(
        services.bad_rows_csv(found),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=voucher-batch-{found.id}-problems.csv"
        },
    )


@bp.route("/batches/<int:batch_id>/sheet")
@role_required("admin")
def sheet(batch_id: int):
    """A printable page of bearer codes with QR codes (24 per page)."""
    found = services.get_batch(batch_id)
    if found.target != BatchTarget.BEARER or found.status != BatchStatus.ISSUED:
        abort(404)
    pagination = services.batch_vouchers(found.id, page=_page(), per_page=SHEET_PER_PAGE)
    cards = [
        {"voucher": v, "qr": qr_image(_code_link(v.code), scale=3, border=1)}
        for v in pagination.items
    ]
    return render_template(
        "vouchers/sheet.html",
        batch=found,
        cards=cards,
        pagination=pagination,
        last_day=services.last_valid_day(found.valid_until),
        services=services,
    )


@bp.route("/<int:voucher_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke(voucher_id: int):
    form = RevokeForm()
    batch_id = services.get_voucher(voucher_id).batch_id
    if not form.validate_on_submit():
        flash(_("Give a reason for withdrawing the voucher."), "error")
        return _render_batch(batch_id, 400, form)
    try:
        voucher = services.revoke_voucher(_me(), voucher_id, form.reason.data)
    except WellnessError as error:
        flash(error.message, "error")
        return _render_batch(batch_id, error.status, form)
    flash(_("Voucher %(code)s withdrawn.", code=voucher.display_code), "success")
    return redirect(url_for("vouchers.batch", batch_id=voucher.batch_id))


@bp.route("/reports")
@role_required("admin")
def report():
    return render_template(
        "vouchers/report.html",
        by_batch=services.report_by_batch(),
        by_org_unit=services.report_by_org_unit(),
        labels=services.column_labels(),
        columns=services.REPORT_COLUMNS,
    )


@bp.route("/reports.csv")
@role_required("admin")
def report_csv():
    group = "org_unit" if request.args.get("group") == "org_unit" else "batch"
    return Response(
        services.report_csv(group),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=voucher-report-{group}.csv"},
    )
