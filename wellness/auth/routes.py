"""Login, logout, registration, password, consent, and admin user/org-unit management."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import SelectChoice

from wellness import privacy
from wellness.auth import reset, services
from wellness.auth.decorators import role_required
from wellness.auth.forms import (
    AdminResetPasswordForm,
    ChangePasswordForm,
    ConsentForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    OrgUnitForm,
    RegisterForm,
    ResetPasswordForm,
    UserCreateForm,
    UserEditForm,
    WithdrawConsentForm,
)
from wellness.auth.models import Role
from wellness.errors import WellnessError
from wellness.extensions import limiter
from wellness.forms import apply_field_errors, safe_next
from wellness.transactions import writes

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _org_unit_choices(blank_label: str) -> list[SelectChoice]:
    choices = [SelectChoice(0, blank_label)]
    for unit, depth in services.org_unit_tree():
        choices.append(SelectChoice(unit.id, "\u3000" * depth + unit.name))
    return choices


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_phone_key() -> str:
    return "login-phone:" + (request.form.get("phone") or "").strip()[-11:]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_phone_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.phone.data, form.password.data)
        except WellnessError as error:
            flash(error.message, "error")
            status = 401
        else:
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            if user.locale:
                session["lang"] = user.locale
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        services.logout_everywhere(current_user._get_current_object())
        logout_user()
        session.clear()
        flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    form.org_unit_id.choices = _org_unit_choices(_("Not listed / choose later"))
    status = 200
    if form.validate_on_submit():
        try:
            user = services.register_worker(
                form.phone.data,
                form.name.data,
                form.password.data,
                form.org_unit_id.data or None,
                email_address=form.email.data,
                sms=form.sms.data,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            session.clear()
            session.permanent = True
            login_user(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/register.html", form=form), status


def _signed_out_to_login(message: str):
    """After a password change or reset: this browser's session ends too (the service has
    already revoked every other one)."""
    logout_user()
    session.clear()
    flash(message, "success")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user._get_current_object(),
                form.current_password.data,
                form.new_password.data,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            return _signed_out_to_login(
                _("Password changed. Please sign in again on every device.")
            )
    elif request.method == "POST":
        status = 400
    return render_template("auth/change_password.html", form=form), status


def _reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


# Views a member who must change the password can still reach.
PASSWORD_CHANGE_EXEMPT = frozenset({"auth.change_password", "auth.logout", "static"})


@bp.before_app_request
def require_password_change():
    """After an admin's reset, every page leads to the change-password form first."""
    if request.endpoint in PASSWORD_CHANGE_EXEMPT or request.path.startswith("/api/"):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        flash(_("Your password was reset by an administrator. Choose your own now."), "warning")
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    status = 200
    if form.validate_on_submit():
        reset.request_code(form.phone.data)
        flash(
            _(
                "If this number is registered, we have sent a code to it by SMS. It is valid "
                "for %(n)s minutes.",
                n=current_app.config["RESET_CODE_MINUTES"],
            ),
            "info",
        )
        return redirect(url_for("auth.reset_password", phone=form.phone.data.strip()[:24]))
    elif request.method == "POST":
        status = 400
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password():
    form = ResetPasswordForm()
    if request.method == "GET" and request.args.get("phone"):
        form.phone.data = request.args["phone"][:24]
    status = 200
    if form.validate_on_submit():
        try:
            reset.reset_with_code(form.phone.data, form.code.data, form.new_password.data)
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            return _signed_out_to_login(_("Your password is changed. Sign in with the new one."))
    elif request.method == "POST":
        status = 400
    return render_template("auth/reset_password.html", form=form), status


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@role_required(Role.ADMIN.value)
def admin_reset_password(user_id: int):
    user = services.get_user(user_id)
    if not AdminResetPasswordForm().validate_on_submit():
        flash(_("Tick the box to confirm the reset."), "error")
        return redirect(url_for("auth.edit_user", user_id=user.id)), 303
    try:
        temporary = reset.admin_reset(current_user._get_current_object(), user)
    except WellnessError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.edit_user", user_id=user.id)), 303
    response = render_template("auth/temporary_password.html", user=user, temporary=temporary)
    return response, 200, {"Cache-Control": "no-store"}


@bp.route("/consent", methods=["GET", "POST"])
@role_required(Role.WORKER.value)
def consent():
    user = current_user._get_current_object()
    form = ConsentForm(version=current_app.config["CONSENT_VERSION"])
    withdraw_form = WithdrawConsentForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.give_consent(user, form.version.data, ip=request.remote_addr)
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Thank you. Your consent has been recorded."), "success")
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    elif request.method == "POST":
        status = 400
    return render_template(
        "auth/consent.html",
        form=form,
        withdraw_form=withdraw_form,
        record=services.current_consent(user),
        version=current_app.config["CONSENT_VERSION"],
    ), status


@bp.route("/consent/withdraw", methods=["POST"])
@role_required(Role.WORKER.value)
def withdraw_consent():
    if WithdrawConsentForm().validate_on_submit():
        services.withdraw_consent(current_user._get_current_object())
        flash(
            _("Your consent has been withdrawn. New self-assessments need consent again."), "info"
        )
    return redirect(url_for("auth.consent"))


@bp.route("/my-data", methods=["GET", "POST"])
@role_required(Role.WORKER.value)
def my_data():
    """Download everything we hold about me, or delete my account (PIPL rights)."""
    form = DeleteAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            notices = privacy.delete_account(current_user._get_current_object(), form.password.data)
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            logout_user()
            session.clear()
            flash(_("Your account and your data have been deleted."), "info")
            for notice in notices:
                flash(notice, "info")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/my_data.html", form=form), status


@bp.route("/my-data/export.json")
@role_required(Role.WORKER.value)
@writes  # audited read
def export_my_data():
    data = privacy.export_all(current_user._get_current_object())
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": "attachment; filename=my-data.json"},
    )


# --------------------------------------------------------------------------- admin


@bp.route("/users")
@role_required(Role.ADMIN.value)
def list_users():
    role = request.args.get("role") or None
    if role not in (None, *[r.value for r in Role]):
        role = None
    q = (request.args.get("q") or "").strip()[:40] or None
    page = request.args.get("page", 1, type=int) or 1
    pagination = services.list_users(q=q, role=role, page=max(page, 1))
    return render_template(
        "auth/list_users.html",
        pagination=pagination,
        role=role,
        q=q or "",
        counts=services.count_users_by_role(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN.value)
def create_user():
    form = UserCreateForm()
    form.org_unit_id.choices = _org_unit_choices("—")
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_user(
                phone=form.phone.data,
                name=form.name.data,
                password=form.password.data,
                role=form.role.data,
                org_unit_id=form.org_unit_id.data or None,
                email=form.email.data or None,
                actor=current_user._get_current_object(),
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("User %(name)s created.", name=user.name), "success")
            return redirect(url_for("auth.list_users"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/create_user.html", form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN.value)
def edit_user(user_id: int):
    user = services.get_user(user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        actor = current_user._get_current_object()
        try:
            if form.role.data != user.role:
                services.set_user_role(actor, user, form.role.data)
            if form.active.data != user.active:
                services.set_user_active(actor, user, form.active.data)
        except WellnessError as error:
            flash(error.message, "error")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("auth.edit_user", user_id=user.id))
    return render_template(
        "auth/edit_user.html", form=form, user=user, reset_form=AdminResetPasswordForm()
    )


@bp.route("/org-units", methods=["GET", "POST"])
@role_required(Role.ADMIN.value)
def org_units():
    form = OrgUnitForm()
    form.parent_id.choices = _org_unit_choices(_("(top level)"))
    status = 200
    if form.validate_on_submit():
        try:
            services.create_org_unit(
                form.name.data,
                form.kind.data,
                form.parent_id.data or None,
                actor=current_user._get_current_object(),
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Organisation added."), "success")
            return redirect(url_for("auth.org_units"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/org_units.html", form=form, tree=services.org_unit_tree()), status
