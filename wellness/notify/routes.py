from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from wellness.forms import ActionForm
from wellness.notify import services

bp = Blueprint("notify", __name__, url_prefix="/inbox")


@bp.route("/")
@login_required
def inbox():
    return render_template(
        "notify/inbox.html", messages=services.inbox(current_user.id), form=ActionForm()
    )


@bp.route("/read", methods=["POST"])
@login_required
def mark_read():
    if ActionForm().validate_on_submit():
        services.mark_all_read(current_user.id)
        flash(_("All messages marked as read."), "info")
    return redirect(url_for("notify.inbox"))
