from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from wellness.errors import WellnessError
from wellness.forms import ActionForm, apply_field_errors
from wellness.notify import services
from wellness.notify.forms import ChannelsForm
from wellness.notify.quiet import parse_window

bp = Blueprint("notify", __name__)


@bp.route("/inbox/")
@login_required
def inbox():
    return render_template(
        "notify/inbox.html", messages=services.inbox(current_user.id), form=ActionForm()
    )


@bp.route("/inbox/read", methods=["POST"])
@login_required
def mark_read():
    if ActionForm().validate_on_submit():
        services.mark_all_read(current_user.id)
        flash(_("All messages marked as read."), "info")
    return redirect(url_for("notify.inbox"))


@bp.route("/notify/settings", methods=["GET", "POST"])
@login_required
def settings():
    user = current_user._get_current_object()
    form = ChannelsForm()
    if request.method == "GET":
        chosen = services.channels_for(user)
        form.sms.data = chosen["sms"]
        form.email.data = chosen["email"]
        form.email_address.data = chosen["email_address"] or ""
    status = 200
    if form.validate_on_submit():
        try:
            services.save_channels(
                user,
                sms=form.sms.data,
                email_address=form.email_address.data,
                email=form.email.data,
            )
        except WellnessError as error:
            # The service names the address "email"; on this form that is email_address.
            error.fields = {
                ("email_address" if name == "email" else name): code
                for name, code in error.fields.items()
            }
            apply_field_errors(form, error)
            status = 400
        else:
            flash(_("Your notification settings are saved."), "success")
            return redirect(url_for("notify.settings"))
    elif request.method == "POST":
        status = 400
    quiet = parse_window(current_app.config.get("QUIET_HOURS"))
    return render_template("notify/settings.html", form=form, quiet=quiet), status
