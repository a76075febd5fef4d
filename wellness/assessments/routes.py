"""Worker pages: questionnaires, results, history with a chart, and exports."""

from __future__ import annotations

import csv
import io
import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from wellness.assessments import services
from wellness.assessments.charts import BandSpan, Point, history_png
from wellness.assessments.fhir import export_bundle
from wellness.assessments.forms import answers_from, questionnaire_form_class
from wellness.assessments.instruments import get_instrument, reliable_change
from wellness.auth import services as auth_services
from wellness.auth.decorators import role_required
from wellness.database import utcnow
from wellness.errors import WellnessError
from wellness.forms import apply_field_errors

bp = Blueprint("assessments", __name__, url_prefix="/assessments")


def lang() -> str:
    return "en" if str(get_locale()) == "en" else "zh"


def me():
    return current_user._get_current_object()


@bp.route("/")
@role_required("worker")
def list_instruments():
    latest = services.latest_by_instrument(current_user.id)
    return render_template(
        "assessments/list_instruments.html",
        instruments=services.available_instruments(lang()),
        latest=latest,
        lang=lang(),
        consent=auth_services.has_consent(me()),
        now=utcnow(),
    )


@bp.route("/<code>", methods=["GET", "POST"])
@role_required("worker")
def take(code: str):
    inst = services.instrument_or_404(code)
    if not inst.translation_verified(lang()):
        abort(404)
    if not auth_services.has_consent(me()):
        flash(_("Before your first self-test, please read how your answers are used."), "info")
        return redirect(url_for("auth.consent", next=url_for("assessments.take", code=code)))
    form_class = questionnaire_form_class(inst, lang())
    form = form_class()
    status = 200
    if request.method == "GET":
        form.submission_key.data = services.new_submission_key()
    elif form.validate_on_submit():
        try:
            submitted = services.submit_assessment(
                me(),
                inst.code,
                answers_from(form, inst),
                lang=lang(),
                submission_key=form.submission_key.data,
            )
        except services.AlreadySubmitted as error:
            flash(error.message, "info")
            return redirect(url_for("assessments.view_result", response_id=error.response_id))
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            return redirect(url_for("assessments.view_result", response_id=submitted.response.id))
    else:
        status = 400
        flash(_("Please answer every question; the ones still open are marked."), "error")
    return render_template(
        "assessments/take.html",
        inst=inst,
        form=form,
        lang=lang(),
        errors=sum(1 for f in form if f.errors),
    ), status


@bp.route("/results/<int:response_id>")
@role_required("worker")
def view_result(response_id: int):
    response = services.get_own_response(me(), response_id)
    inst = get_instrument(response.instrument)
    band = inst.band(response.band)
    suggested = None
    if inst.suggests and response.band != inst.bands[0].code and not inst.higher_is_better:
        suggested = get_instrument(inst.suggests)
    return render_template(
        "assessments/result.html",
        response=response,
        inst=inst,
        band=band,
        lang=lang(),
        suggested=suggested,
        critical=response.level == "critical",
    )


@bp.route("/history/<code>")
@role_required("worker")
def history(code: str):
    inst = services.instrument_or_404(code)
    points = services.history_points(current_user.id, inst.code)
    return render_template(
        "assessments/history.html",
        inst=inst,
        points=points,
        lang=lang(),
        version=services.data_version(current_user.id)[1],
    )


def _chart_points(inst, responses) -> list[Point]:
    points, previous = [], None
    for response in responses:
        change = None if previous is None else reliable_change(inst, previous.total, response.total)
        points.append(Point(at=response.created_at, total=response.total, reliable=change))
        previous = response
    return points


@bp.route("/history/<code>/chart.png")
@role_required("worker")
def history_chart(code: str):
    inst = services.instrument_or_404(code)
    responses = services.history_points(current_user.id, inst.code)
    language = lang()
    from wellness.charts import has_cjk_font

    if language == "zh" and not has_cjk_font():
        language = "en"
    bands = [
        BandSpan(
            low=b.min,
            high=b.max,
            label=b.label.get(language, b.label["en"]),
            severity=services.severity_rank(inst, b.code),
        )
        for b in inst.bands
    ]
    labels = {"worse": _("reliably worse"), "better": _("reliably better")}
    if language == "en":
        labels = {"worse": "reliably worse", "better": "reliably better"}
    png = history_png(
        _chart_points(inst, responses),
        bands,
        title=inst.text("name", language),
        y_label=_("Score") if language == "zh" else "Score",
        labels=labels,
        y_range=inst.total_range,
    )
    resp = Response(png, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=300"
    resp.add_etag()
    return resp.make_conditional(request)


@bp.route("/export.json")
@role_required("worker")
def export_fhir():
    responses = list(reversed(services.responses_for(current_user.id)))
    instruments = {r.instrument: get_instrument(r.instrument) for r in responses}
    bundle = export_bundle(responses, instruments, current_user.id, utcnow())
    return Response(
        json.dumps(bundle, ensure_ascii=False, indent=2),
        mimetype="application/fhir+json",
        headers={"Content-Disposition": "attachment; filename=my-results-fhir.json"},
    )


@bp.route("/export.csv")
@role_required("worker")
def export_csv():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["date", "instrument", "version", "language", "total", "percent", "band", "answers"]
    )
    for r in reversed(services.responses_for(current_user.id)):
        writer.writerow(
            [
                r.created_at.isoformat(timespec="minutes"),
                r.instrument,
                r.instrument_version,
                r.language,
                r.total,
                "" if r.percent is None else r.percent,
                r.band,
                " ".join(str(a) for a in r.answers),
            ]
        )
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=my-results.csv"},
    )
