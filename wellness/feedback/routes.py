"""A member rates an attended session (the aggregates are in wellness.reports.feedback)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from wellness.auth.decorators import role_required
from wellness.errors import WellnessError
from wellness.extensions import db
from wellness.feedback import services
from wellness.feedback.forms import RatingForm
from wellness.feedback.models import SubjectKind
from wellness.forms import apply_field_errors

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

WORKER = "worker"


def _me():
    return current_user._get_current_object()


@bp.app_template_global("feedback_rated")
def feedback_rated(kind: str, subject_id: int) -> bool:
    """Whether the signed-in member already rated this session (for "Rate this session")."""
    if not current_user.is_authenticated:
        return True
    return services.rating_for(current_user.id, kind, subject_id) is not None


@bp.route("/appointment/<int:appointment_id>", methods=["GET", "POST"])
@role_required(WORKER)
def rate_appointment(appointment_id: int):
    me = _me()
    appointment = services.rateable_appointment(me, appointment_id)
    existing = services.rating_for(me.id, SubjectKind.APPOINTMENT.value, appointment.id)
    form = RatingForm()
    status = 200
    if existing is None and request.method == "POST":
        if form.validate_on_submit():
            try:
                services.rate_appointment(me, appointment.id, form.score.data, form.comment.data)
            except WellnessError as error:
                db.session.rollback()
                apply_field_errors(form, error)
                status = error.status
            else:
                flash(_("Thank you for your feedback."), "success")
                return redirect(url_for("booking.my_appointments"))
        else:
            status = 422
    elif existing is not None and request.method == "POST":
        flash(_("You have already rated this session."), "error")
        status = 409
    return render_template(
        "feedback/rate.html", form=form, appointment=appointment, existing=existing
    ), status
