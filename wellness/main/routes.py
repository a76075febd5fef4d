from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text

from wellness.auth import services as auth_services
from wellness.extensions import db
from wellness.forms import ActionForm, safe_next

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    return render_template("main/index.html")


@bp.route("/lang", methods=["POST"])
def set_language():
    form = ActionForm()
    lang = request.form.get("lang", "")
    target = safe_next(request.form.get("next"), url_for("main.index"))
    if form.validate_on_submit() and lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            auth_services.set_locale(current_user._get_current_object(), lang)
    return redirect(target)


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - report, never raise, from a health check
        db.session.rollback()
        return jsonify(status="degraded", database=False), 503
    return jsonify(status="ok", database=True)
