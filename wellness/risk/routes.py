"""The counsellor queue, case pages, safety plans, the worker's side, and supervision."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from wellness.auth import services as auth_services
from wellness.auth.decorators import role_required
from wellness.database import utcnow
from wellness.errors import Conflict, NotPermitted, WellnessError
from wellness.forms import ActionForm, apply_field_errors
from wellness.risk import services, transfers
from wellness.risk.forms import (
    CallbackForm,
    ContactForm,
    FollowUpDoneForm,
    ResolveForm,
    SafetyPlanForm,
    TransferForm,
)
from wellness.risk.models import FlagLevel, FlagStatus
from wellness.transactions import writes

bp = Blueprint("risk", __name__, url_prefix="/risk")


def me():
    return current_user._get_current_object()


@bp.app_context_processor
def overdue_badge():
    """Overdue flags and follow-ups, counted in the counsellor's navigation."""
    try:
        if current_user.is_authenticated and current_user.role == "counselor":
            return {"risk_overdue": services.overdue_count(current_user)}
    except Exception:  # noqa: BLE001 - never break a page (error pages render without a DB)
        return {}
    return {}


@bp.route("/")
@role_required("counselor")
def queue():
    level = request.args.get("level") or None
    if level not in (None, *[lv.value for lv in FlagLevel]):
        level = None
    org_unit_id = request.args.get("org_unit", type=int) or None
    filters = services.QueueFilter(
        level=level, mine=request.args.get("mine") == "1", org_unit_id=org_unit_id
    )
    flags = services.queue(me(), filters)
    loads = transfers.caseloads()
    counselors = transfers.active_counselors()
    follow_ups = services.follow_ups_due(me())
    people = services.people_by_id(f.person_id for f in flags)
    holders = services.people_by_id(f.claimed_by_id for f in flags if f.claimed_by_id)
    return render_template(
        "risk/queue.html",
        flags=flags,
        people=people,
        holders=holders,
        filters=filters,
        follow_ups=follow_ups,
        now=utcnow(),
        form=ActionForm(),
        units=auth_services.org_unit_tree(),
        done_form=FollowUpDoneForm(),
        follow_up_people=services.people_by_id(fu.person_id for fu in follow_ups),
        caseloads=[(c, loads.get(c.id, 0)) for c in counselors],
    )


@bp.route("/flags/<int:flag_id>/claim", methods=["POST"])
@role_required("counselor")
def claim(flag_id: int):
    if ActionForm().validate_on_submit():
        try:
            services.claim(me(), flag_id)
        except Conflict as error:
            flash(error.message, "warning")
            return redirect(url_for("risk.queue")), 303
        flash(_("You are now handling this case."), "success")
        return redirect(url_for("risk.view_flag", flag_id=flag_id))
    return redirect(url_for("risk.queue"))


@bp.route("/flags/<int:flag_id>")
@role_required("counselor")
@writes  # audited read
def view_flag(flag_id: int):
    flag = services.get_flag(flag_id)
    if flag.status == FlagStatus.OPEN.value:
        return render_template("risk/unclaimed.html", flag=flag, now=utcnow(), form=ActionForm())
    try:
        flag, person, events = services.open_case_view(me(), flag_id)
    except NotPermitted as error:
        holder = services.people_by_id([flag.claimed_by_id]).get(flag.claimed_by_id)
        return render_template(
            "risk/not_yours.html", flag=flag, holder=holder, message=error.message
        ), 403
    return render_template(
        "risk/case.html",
        flag=flag,
        person=person,
        events=events,
        now=utcnow(),
        contacts=services.contacts_for(flag.id),
        triggers=services.triggers_for(flag.id),
        contact_form=ContactForm(),
        resolve_form=ResolveForm(),
        action_form=ActionForm(),
        plan=services.latest_safety_plan(flag.person_id),
        transfer_form=_transfer_form(exclude=flag.claimed_by_id),
        other_flags=[f for f in services.flags_for_person(flag.person_id) if f.id != flag.id],
    )


def _case_action(flag_id: int, form, action) -> tuple:
    if form.validate_on_submit():
        try:
            action(form)
        except WellnessError as error:
            flash(error.message, "error")
            return redirect(url_for("risk.view_flag", flag_id=flag_id)), 303
        return None
    for field, errors in form.errors.items():
        label = getattr(form, field).label.text if hasattr(form, field) else field
        flash(f"{label}: {' '.join(str(e) for e in errors)}", "error")
    return redirect(url_for("risk.view_flag", flag_id=flag_id)), 303


@bp.route("/flags/<int:flag_id>/contact", methods=["POST"])
@role_required("counselor")
def log_contact(flag_id: int):
    form = ContactForm()
    failed = _case_action(
        flag_id,
        form,
        lambda f: services.log_contact(me(), flag_id, f.channel.data, f.reached.data, f.note.data),
    )
    if failed:
        return failed
    flash(_("Contact logged."), "success")
    return redirect(url_for("risk.view_flag", flag_id=flag_id))


@bp.route("/flags/<int:flag_id>/resolve", methods=["POST"])
@role_required("counselor")
def resolve(flag_id: int):
    form = ResolveForm()
    failed = _case_action(
        flag_id,
        form,
        lambda f: services.resolve(
            me(), flag_id, f.outcome.data, f.note.data, f.follow_up_days.data, f.follow_up_kind.data
        ),
    )
    if failed:
        return failed
    flash(_("Case resolved."), "success")
    return redirect(url_for("risk.queue"))


@bp.route("/flags/<int:flag_id>/reopen", methods=["POST"])
@role_required("counselor")
def reopen(flag_id: int):
    failed = _case_action(flag_id, ActionForm(), lambda f: services.reopen(me(), flag_id))
    if failed:
        return failed
    flash(_("Case reopened."), "info")
    return redirect(url_for("risk.view_flag", flag_id=flag_id))


@bp.route("/flags/<int:flag_id>/safety-plan", methods=["GET", "POST"])
@role_required("counselor")
def safety_plan(flag_id: int):
    flag = services.flag_for_handler(me(), flag_id)
    plan = services.latest_safety_plan(flag.person_id)
    form = SafetyPlanForm(obj=plan)
    status = 200
    if form.validate_on_submit():
        try:
            services.save_safety_plan(
                me(),
                flag_id,
                {name: getattr(form, name).data for name in services.SAFETY_PLAN_FIELDS},
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Safety plan saved."), "success")
            return redirect(url_for("risk.view_flag", flag_id=flag_id))
    elif request.method == "POST":
        status = 400
    return render_template("risk/safety_plan_edit.html", form=form, flag=flag, plan=plan), status


@bp.route("/follow-ups/<int:follow_up_id>/done", methods=["POST"])
@role_required("counselor")
def complete_follow_up(follow_up_id: int):
    form = FollowUpDoneForm()
    if form.validate_on_submit():
        try:
            services.complete_follow_up(me(), follow_up_id, form.note.data)
        except WellnessError as error:
            flash(error.message, "error")
        else:
            flash(_("Follow-up done."), "success")
    return redirect(url_for("risk.queue"))


@bp.route("/my-safety-plan")
@role_required("worker")
def my_safety_plan():
    return render_template(
        "risk/my_safety_plan.html", plan=services.latest_safety_plan(current_user.id)
    )


@bp.route("/callback", methods=["POST"])
@role_required("worker")
def request_callback():
    form = CallbackForm()
    if form.validate_on_submit():
        services.request_callback(me(), form.preferred.data or "")
        flash(
            _("Thank you. A counsellor will call you; we have noted the time you prefer."),
            "success",
        )
        return redirect(url_for("main.index"))
    flash(_("Please keep the preferred time under 100 characters."), "error")
    return redirect(url_for("main.index")), 303


@bp.route("/supervision")
@role_required("admin")
def supervision():
    days = request.args.get("days", 30, type=int)
    days = min(max(days or 30, 1), 366)
    until = utcnow()
    stats = services.supervisor_stats(until - timedelta(days=days), until)
    return render_template(
        "risk/supervision.html",
        stats=stats,
        days=days,
        levels=[lv.value for lv in FlagLevel],
        statuses=[s.value for s in FlagStatus],
    )


def _transfer_form(exclude: int | None = None) -> TransferForm:
    form = TransferForm()
    loads = transfers.caseloads()
    form.to_user_id.choices = [
        (c.id, f"{c.name} ({loads.get(c.id, 0)})")
        for c in transfers.active_counselors()
        if c.id != exclude
    ]
    return form


def _hand_over(flag_id: int, back: str):
    form = _transfer_form()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            label = getattr(form, field).label.text if hasattr(form, field) else field
            flash(f"{label}: {' '.join(str(e) for e in errors)}", "error")
        return redirect(back), 303
    try:
        flag = transfers.transfer(
            me(), flag_id, form.to_user_id.data, form.reason.data, form.note.data or ""
        )
    except WellnessError as error:
        flash(error.message, "error")
        return redirect(back), error.status if error.status == 409 else 303
    holder = services.people_by_id([flag.claimed_by_id]).get(flag.claimed_by_id)
    flash(_("The case is now with %(name)s.", name=holder.name if holder else "?"), "success")
    return None


@bp.route("/flags/<int:flag_id>/transfer", methods=["POST"])
@role_required("counselor")
def transfer_case(flag_id: int):
    failed = _hand_over(flag_id, url_for("risk.view_flag", flag_id=flag_id))
    return failed or redirect(url_for("risk.queue"))


@bp.route("/supervise/<int:flag_id>", methods=["GET", "POST"])
@role_required("admin")
@writes  # audited read
def supervise_case(flag_id: int):
    """Where an escalation notice leads a supervisor: who handles the case, since when,
    the counsellors' caseloads, and assign/reassign. No clinical content."""
    if request.method == "POST":
        failed = _hand_over(flag_id, url_for("risk.supervise_case", flag_id=flag_id))
        return failed or redirect(url_for("risk.supervise_case", flag_id=flag_id))
    flag = transfers.supervision_view(me(), flag_id)
    loads = transfers.caseloads()
    history = transfers.transfers_for(flag.id)
    ids = [flag.claimed_by_id, *(t.to_id for t in history), *(t.from_id for t in history)]
    names = services.people_by_id(i for i in ids if i is not None)
    return render_template(
        "risk/supervise.html",
        flag=flag,
        now=utcnow(),
        names=names,
        history=history,
        caseloads=[(c, loads.get(c.id, 0)) for c in transfers.active_counselors()],
        form=_transfer_form(exclude=flag.claimed_by_id),
    )
