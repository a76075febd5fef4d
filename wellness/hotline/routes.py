"""Hotline pages: the public numbers page, the on-duty console, call and crisis records,
the roster (templates, sign-up, swaps), coverage, supervisor figures and taxonomies.

Who sees what: the public page is for everyone and never touches the database. Call and
crisis records (notes) are for counsellors only, and every view is audited. Admins run the
roster and the taxonomies and see aggregates (supervisor page) without notes or callers.
Counsellors see the supervisor page too: the hotline has no separate supervisor role, and
peer supervision on a hotline team needs the crisis follow-up list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from wellness.auth.decorators import role_required
from wellness.auth.models import Role
from wellness.database import utcnow
from wellness.errors import WellnessError
from wellness.extensions import db
from wellness.forms import ActionForm, apply_field_errors
from wellness.hotline import forms, services
from wellness.hotline.roster import BEIJING, mask_days
from wellness.transactions import writes

bp = Blueprint("hotline", __name__, url_prefix="/hotline")

COUNSELOR = Role.COUNSELOR.value
ADMIN = Role.ADMIN.value
NATIONAL_LINES = ("12356", "120", "110")


def _me():
    return current_user._get_current_object()


def _to_utc(naive: datetime | None) -> datetime | None:
    """A datetime-local value (Beijing wall clock) -> aware UTC."""
    if naive is None:
        return None
    return naive.replace(tzinfo=BEIJING).astimezone(UTC)


def _local_now_naive() -> datetime:
    return services.local(utcnow()).replace(second=0, microsecond=0, tzinfo=None)


def _fail(form, error: WellnessError) -> int:
    db.session.rollback()
    apply_field_errors(form, error)
    return error.status


def _locale() -> str:
    return str(get_locale())


def _counselor_choices(blank=None, mark: set[int] | None = None, skip: int | None = None):
    choices = [SelectChoice(0, blank)] if blank is not None else []
    for user in services.counselors():
        if user.id == skip:
            continue
        label = user.name
        if mark and user.id in mark:
            label = _("%(name)s (next shift)", name=user.name)
        choices.append(SelectChoice(user.id, label))
    return choices


def _term_choices(kind: str, blank=None):
    choices = [SelectChoice(0, blank)] if blank is not None else []
    return choices + [
        SelectChoice(t.id, t.label_for(_locale()))
        for t in services.list_terms(kind, active_only=True)
    ]


# ----------------------------------------------------------------------- public page


@bp.route("/")
def index():
    """Crisis numbers for everyone. Reads configuration only: no database access at all,
    so it renders while the database is down."""
    lines = current_app.config.get("HOTLINE_NUMBERS", [])
    opens, closes = services.service_hours()  # configuration only
    return render_template(
        "hotline/index.html",
        lines=lines,
        all_day=(opens, closes) == (0, 24) or opens == closes,
        opens=opens,
        closes=closes,
    )


# --------------------------------------------------------------------------- console


def _call_form_choices(form: forms.CallForm, now: datetime) -> None:
    form.topic_ids.choices = _term_choices("topic")
    form.action_id.choices = _term_choices("action", "—")
    form.referral_id.choices = _term_choices("referral", "—")
    next_ids = services.next_shift_counselor_ids(now)
    form.follow_up_owner_id.choices = _counselor_choices("—")
    form.handover_to_id.choices = _counselor_choices("—", mark=next_ids)


def _call_input(form: forms.CallForm) -> services.CallInput:
    return services.CallInput(
        kind=form.kind.data,
        started_at=_to_utc(form.started_at.data),
        ended_at=_to_utc(form.ended_at.data),
        duration_minutes=form.duration_minutes.data,
        wait_seconds=form.wait_seconds.data,
        caller_number=form.caller_number.data,
        member_phone=form.member_phone.data,
        member_consent=bool(form.member_consent.data),
        age_band=form.age_band.data,
        gender=form.gender.data,
        topic_ids=list(form.topic_ids.data or []),
        summary=form.summary.data or "",
        action_id=form.action_id.data or None,
        referral_id=form.referral_id.data or None,
    )


def _crisis_input(form: forms.CallForm) -> services.CrisisInput | None:
    if not form.is_risk.data:
        return None
    return services.CrisisInput(
        ideation=form.ideation.data,
        plan=form.plan.data,
        means=form.means.data,
        attempts=form.attempts.data,
        hopelessness=form.hopelessness.data,
        in_progress=bool(form.in_progress.data),
        judged_level=form.judged_level.data or None,
        police_called_at=_to_utc(form.police_called_at.data),
        ambulance_called_at=_to_utc(form.ambulance_called_at.data),
        contact_reached_at=_to_utc(form.contact_reached_at.data),
        contact_note=form.contact_note.data,
        help_arrived_at=_to_utc(form.help_arrived_at.data),
        help_note=form.help_note.data,
        handover_to_id=form.handover_to_id.data or None,
        handover_note=form.handover_note.data,
        follow_up_owner_id=form.follow_up_owner_id.data or None,
        follow_up_due_at=_to_utc(form.follow_up_due_at.data),
        follow_up_plan=form.follow_up_plan.data,
    )


@bp.route("/console", methods=["GET", "POST"])
@role_required(COUNSELOR)
def console():
    me = _me()
    me_id = me.id
    now = utcnow()
    form = forms.CallForm()
    if request.method == "GET":
        form.started_at.data = _local_now_naive()
        form.follow_up_owner_id.data = me_id
    _call_form_choices(form, now)
    status = 200
    if form.validate_on_submit():
        try:
            call = services.log_call(me, _call_input(form), _crisis_input(form), now=now)
        except WellnessError as error:
            status = _fail(form, error)
        else:
            if call.outside_shift:
                flash(
                    _("Call saved. You were not on a shift at that time: it is marked."),
                    "warning",
                )
            else:
                flash(_("Call saved."), "success")
            if call.crisis is not None:
                return redirect(url_for("hotline.crisis", crisis_id=call.crisis.id))
            return redirect(url_for("hotline.console"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "hotline/console.html",
        form=form,
        shift=services.current_shift_for(me_id, now),
        upcoming=services.upcoming_assignments(me_id, now, limit=3),
        recent=services.recent_calls(me_id, now),
        handovers=services.handovers_for(me_id),
        follow_ups=services.open_follow_ups(me_id),
        now=now,
        locale=_locale(),
    ), status


@bp.route("/calls/<int:call_id>")
@role_required(COUNSELOR)
@writes  # audited read
def view_call(call_id: int):
    call = services.view_call(_me(), call_id)
    return render_template(
        "hotline/call.html",
        call=call,
        history=services.caller_history(call),
        locale=_locale(),
        now=utcnow(),
    )


# --------------------------------------------------------------------- crisis record


@bp.route("/crises/<int:crisis_id>", methods=["GET", "POST"])
@role_required(COUNSELOR)
@writes  # audited read
def crisis(crisis_id: int):
    me = _me()
    now = utcnow()
    if request.method == "GET":
        record = services.view_crisis(me, crisis_id)
    else:
        record = services.get_crisis(crisis_id)
    form = forms.CrisisUpdateForm(prefix="u")
    form.handover_to_id.choices = _counselor_choices(
        "—", mark=services.next_shift_counselor_ids(now)
    )
    follow_up = forms.FollowUpForm(prefix="f")
    reassign = forms.ReassignForm(prefix="r")
    reassign.owner_id.choices = _counselor_choices()
    status = 200
    if request.method == "POST":
        if form.submit.data and form.validate_on_submit():
            update = services.CrisisUpdate(
                police_called_at=_to_utc(form.police_called_at.data),
                ambulance_called_at=_to_utc(form.ambulance_called_at.data),
                contact_reached_at=_to_utc(form.contact_reached_at.data),
                contact_note=form.contact_note.data,
                help_arrived_at=_to_utc(form.help_arrived_at.data),
                help_note=form.help_note.data,
                handover_to_id=form.handover_to_id.data or None,
                handover_note=form.handover_note.data,
            )
            try:
                services.update_crisis(me, crisis_id, update, now=now)
            except WellnessError as error:
                status = _fail(form, error)
            else:
                flash(_("Crisis record updated."), "success")
                return redirect(url_for("hotline.crisis", crisis_id=crisis_id))
        elif follow_up.submit.data and follow_up.validate_on_submit():
            try:
                services.complete_follow_up(me, crisis_id, follow_up.note.data, now=now)
            except WellnessError as error:
                status = _fail(follow_up, error)
            else:
                flash(_("Follow-up closed."), "success")
                return redirect(url_for("hotline.crisis", crisis_id=crisis_id))
        elif reassign.submit.data and reassign.validate_on_submit():
            try:
                services.reassign_follow_up(me, crisis_id, reassign.owner_id.data, now=now)
            except WellnessError as error:
                status = _fail(reassign, error)
            else:
                flash(_("Follow-up reassigned."), "success")
                return redirect(url_for("hotline.crisis", crisis_id=crisis_id))
        else:
            status = 400
        record = services.view_crisis(me, crisis_id)  # shown again: audited as a view
    return render_template(
        "hotline/crisis.html",
        record=record,
        call=record.call,
        form=form,
        follow_up=follow_up,
        reassign=reassign,
        ack=ActionForm(prefix="a"),
        now=now,
        locale=_locale(),
    ), status


@bp.route("/crises/<int:crisis_id>/acknowledge", methods=["POST"])
@role_required(COUNSELOR)
def acknowledge_handover(crisis_id: int):
    if ActionForm(prefix="a").validate_on_submit():
        try:
            services.acknowledge_handover(_me(), crisis_id)
        except WellnessError as error:
            db.session.rollback()
            if error.status == 404:
                raise
            flash(error.message, "error")
        else:
            flash(_("Handover acknowledged."), "success")
    return redirect(url_for("hotline.crisis", crisis_id=crisis_id))


# ---------------------------------------------------------------------------- roster


def _roster_page():
    me = _me()
    now = utcnow()
    withdraw_hours = int(current_app.config.get("HOTLINE_WITHDRAW_HOURS", 48))
    assign_form = forms.AssignForm()
    assign_form.counselor_id.choices = _counselor_choices()
    mine = {}
    if me.role == COUNSELOR:
        mine = {a.shift_id: a for a in services.upcoming_assignments(me.id, now, limit=200)}
    return render_template(
        "hotline/roster.html",
        days=services.roster_days(now, days=14),
        mine=mine,
        assign_form=assign_form,
        action=ActionForm(),
        now=now,
        is_admin=me.role == ADMIN,
        withdraw_hours=withdraw_hours,
        leave_after=now + timedelta(hours=withdraw_hours),
    )


@bp.route("/roster")
@role_required(COUNSELOR, ADMIN)
def roster():
    return _roster_page()


def _action_failed(error: WellnessError, page):
    """A refused action: 404 stays a 404 page; otherwise the page with the message."""
    db.session.rollback()
    if error.status == 404:
        raise error
    flash(error.message, "error")
    return page(), error.status


def _back_to_roster():
    return redirect(url_for("hotline.roster"))


@bp.route("/shifts/<int:shift_id>/sign-up", methods=["POST"])
@role_required(COUNSELOR)
def sign_up(shift_id: int):
    if not ActionForm().validate_on_submit():
        return _back_to_roster()
    try:
        services.sign_up(_me(), shift_id)
    except WellnessError as error:
        return _action_failed(error, _roster_page)
    flash(_("You are on this shift."), "success")
    return _back_to_roster()


@bp.route("/shifts/<int:shift_id>/assign", methods=["POST"])
@role_required(ADMIN)
def assign(shift_id: int):
    form = forms.AssignForm()
    form.counselor_id.choices = _counselor_choices()
    if not form.validate_on_submit():
        flash(_("Choose a counsellor."), "error")
        return _back_to_roster()
    try:
        services.assign(_me(), shift_id, form.counselor_id.data)
    except WellnessError as error:
        return _action_failed(error, _roster_page)
    flash(_("Counsellor assigned."), "success")
    return _back_to_roster()


@bp.route("/assignments/<int:assignment_id>/withdraw", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def withdraw(assignment_id: int):
    if not ActionForm().validate_on_submit():
        return _back_to_roster()
    try:
        services.withdraw(_me(), assignment_id)
    except WellnessError as error:
        return _action_failed(error, _roster_page)
    flash(_("Removed from the shift."), "success")
    return _back_to_roster()


@bp.route("/assignments/<int:assignment_id>/swap", methods=["GET", "POST"])
@role_required(COUNSELOR)
def request_swap(assignment_id: int):
    me = _me()
    services.own_assignment(me, assignment_id)
    form = forms.SwapForm()
    form.to_id.choices = _counselor_choices("—", skip=me.id)
    status = 200
    if form.validate_on_submit():
        try:
            services.request_swap(me, assignment_id, form.to_id.data or None, form.note.data)
        except WellnessError as error:
            status = _fail(form, error)
        else:
            flash(_("Swap requested. Your colleague is asked first, then an admin."), "success")
            return redirect(url_for("hotline.swaps"))
    elif request.method == "POST":
        status = 400
    assignment = services.own_assignment(me, assignment_id)
    return render_template("hotline/swap_request.html", form=form, shift=assignment.shift), status


def _swaps_page():
    me = _me()
    return render_template(
        "hotline/swaps.html",
        swaps=services.swaps_for(me),
        me=me,
        form=forms.SwapDecisionForm(formdata=None),
        label=services.swap_status_label,
    )


@bp.route("/swaps")
@role_required(COUNSELOR, ADMIN)
def swaps():
    return _swaps_page()


@bp.route("/swaps/<int:swap_id>", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def decide_swap(swap_id: int):
    form = forms.SwapDecisionForm()
    if not form.validate_on_submit():
        flash(_("Unknown decision."), "error")
        return _swaps_page(), 400
    try:
        services.act_on_swap(_me(), swap_id, form.decision.data)
    except WellnessError as error:
        return _action_failed(error, _swaps_page)
    flash(_("Done."), "success")
    return redirect(url_for("hotline.swaps"))


# ------------------------------------------------------------------------ templates


@bp.route("/roster/templates", methods=["GET", "POST"])
@role_required(ADMIN)
def templates():
    me = _me()
    form = forms.TemplateForm(prefix="t")
    form.weekdays.choices = _weekday_choices()
    shift_form = forms.OneOffShiftForm(prefix="s")
    status = 200
    if request.method == "POST":
        if form.submit.data and form.validate_on_submit():
            data = services.TemplateInput(
                name=form.name.data,
                start_time=form.start_time.data,
                duration_minutes=form.duration_minutes.data,
                weekdays=sum(1 << int(d) for d in set(form.weekdays.data or [])),
                seats_needed=form.seats_needed.data,
                mode=form.mode.data,
                valid_from=form.valid_from.data,
                valid_until=form.valid_until.data,
            )
            try:
                services.create_template(me, data)
            except WellnessError as error:
                status = _fail(form, error)
            else:
                flash(_("Template added; its shifts for the coming weeks are ready."), "success")
                return redirect(url_for("hotline.templates"))
        elif shift_form.submit.data and shift_form.validate_on_submit():
            try:
                services.create_shift(
                    me,
                    name=shift_form.name.data,
                    starts_at=_to_utc(shift_form.starts_at.data),
                    duration_minutes=shift_form.duration_minutes.data,
                    seats_needed=shift_form.seats_needed.data,
                    mode=shift_form.mode.data,
                )
            except WellnessError as error:
                status = _fail(shift_form, error)
            else:
                flash(_("Shift added."), "success")
                return redirect(url_for("hotline.templates"))
        else:
            status = 400
    return render_template(
        "hotline/templates.html",
        templates=services.list_templates(),
        form=form,
        shift_form=shift_form,
        stop=ActionForm(prefix="stop"),
        day_names=_weekday_names(),
        mask_days=mask_days,
    ), status


@bp.route("/roster/templates/<int:template_id>/stop", methods=["POST"])
@role_required(ADMIN)
def stop_template(template_id: int):
    if ActionForm(prefix="stop").validate_on_submit():
        try:
            result = services.deactivate_template(_me(), template_id)
        except WellnessError as error:
            db.session.rollback()
            if error.status == 404:
                raise
            flash(error.message, "error")
        else:
            flash(
                _(
                    "Template stopped: %(removed)s empty shifts removed, %(kept)s staffed "
                    "shifts kept.",
                    removed=result["removed"],
                    kept=result["kept"],
                ),
                "success",
            )
    return redirect(url_for("hotline.templates"))


def _weekday_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def _weekday_choices():
    return [SelectChoice(day, name) for day, name in enumerate(_weekday_names())]


# -------------------------------------------------------------------------- coverage


@bp.route("/coverage")
@role_required(COUNSELOR, ADMIN)
def coverage():
    now = utcnow()
    weeks_ahead = request.args.get("weeks", 2, type=int) or 2
    weeks_ahead = min(max(weeks_ahead, 1), 6)
    weeks, gaps = services.coverage_weeks(now, weeks_ahead)
    return render_template(
        "hotline/coverage.html",
        weeks=weeks,
        gaps=gaps,
        now=services.local(now),
        weeks_ahead=weeks_ahead,
        day_names=_weekday_names(),
        min_seats=services.min_seats(),
    )


# ------------------------------------------------------------------------ supervisor


def _parse_day(raw: str | None, fallback: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else fallback
    except ValueError:
        return fallback


@bp.route("/supervisor")
@role_required(COUNSELOR, ADMIN)
def supervisor():
    now = utcnow()
    today = services.local(now).date()
    first = _parse_day(request.args.get("from"), today - timedelta(days=27))
    last = _parse_day(request.args.get("to"), today)
    if last < first:
        first, last = last, first
    if (last - first).days > 366:
        first = last - timedelta(days=366)
    start = datetime.combine(first, datetime.min.time(), tzinfo=BEIJING)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=BEIJING)
    report = services.supervisor_report(start, end, now)
    return render_template(
        "hotline/supervisor.html",
        report=report,
        first=first,
        last=last,
        now=now,
        day_names=_weekday_names(),
        locale=_locale(),
        is_counselor=_me().role == COUNSELOR,
        label=services.level_label,
    )


# -------------------------------------------------------------------------- taxonomy


@bp.route("/taxonomy", methods=["GET", "POST"])
@role_required(ADMIN)
def taxonomy():
    me = _me()
    form = forms.TermForm(prefix="new")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.add_term(me, form.kind.data, form.label_zh.data, form.label_en.data)
            except WellnessError as error:
                status = _fail(form, error)
            else:
                flash(_("Added."), "success")
                return redirect(url_for("hotline.taxonomy"))
        else:
            status = 400
    terms = services.list_terms()
    edit_forms = {
        term.id: forms.TermEditForm(prefix=f"t{term.id}", obj=term, formdata=None) for term in terms
    }
    return render_template(
        "hotline/taxonomy.html",
        terms=terms,
        form=form,
        edit_forms=edit_forms,
        seed=ActionForm(prefix="seed"),
    ), status


@bp.route("/taxonomy/<int:term_id>", methods=["POST"])
@role_required(ADMIN)
def edit_term(term_id: int):
    term = services.get_term(term_id)
    form = forms.TermEditForm(prefix=f"t{term.id}")
    if not form.validate_on_submit():
        flash(_("Enter a Chinese label of 1 to 80 characters."), "error")
        return redirect(url_for("hotline.taxonomy")), 400
    try:
        services.update_term(
            _me(),
            term_id,
            label_zh=form.label_zh.data,
            label_en=form.label_en.data,
            active=form.active.data,
        )
    except WellnessError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("hotline.taxonomy")), error.status
    flash(_("Saved."), "success")
    return redirect(url_for("hotline.taxonomy"))


@bp.route("/taxonomy/standard", methods=["POST"])
@role_required(ADMIN)
def standard_terms():
    if ActionForm(prefix="seed").validate_on_submit():
        created = services.add_standard_terms(_me())
        flash(_("%(n)s standard entries added.", n=created), "success")
    return redirect(url_for("hotline.taxonomy"))
