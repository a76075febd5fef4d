"""Booking pages: members find a station and a time and manage their appointments;
counsellors see their agenda, mark attendance, keep notes and edit their availability;
admins manage stations, rooms, services, counsellors and group sessions.

Views parse HTTP and call services; every rule lives in ``services/`` (the package).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta

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
from flask_login import current_user
from wtforms import SelectChoice

from wellness.auth import services as auth_services
from wellness.auth.decorators import role_required
from wellness.booking import services
from wellness.booking import slots as sl
from wellness.booking.forms import (
    AcceptOfferForm,
    AttendanceForm,
    BookForm,
    CancelForm,
    ClosureForm,
    CounselorStationsForm,
    ExceptionForm,
    GroupSessionForm,
    HoursForm,
    NoteForm,
    ProfileForm,
    ReasonForm,
    RoomForm,
    RuleForm,
    ServiceForm,
    StaffCancelForm,
    StationForm,
    TimeOffForm,
    WaitlistForm,
)
from wellness.database import utcnow
from wellness.errors import InvalidInput, NotFound, WellnessError
from wellness.forms import ActionForm, apply_field_errors, safe_next
from wellness.i18n import format_time_cached
from wellness.transactions import reads_first, writes

bp = Blueprint("booking", __name__, url_prefix="/booking")

WORKER = "worker"
COUNSELOR = "counselor"
ADMIN = "admin"


def _me():
    return current_user._get_current_object()


def _day_arg(name: str = "date", default: date | None = None) -> date:
    raw = (request.args.get(name) or "").strip()
    try:
        return date.fromisoformat(raw) if raw else (default or services.local_today(utcnow()))
    except ValueError:
        return default or services.local_today(utcnow())


def _local_input(value: datetime | None) -> datetime | None:
    """A datetime-local form value is Beijing wall-clock time; make it an aware instant."""
    if value is None:
        return None
    return value.replace(tzinfo=sl.LOCAL_TZ)


def _form_status(form) -> int:
    return 400 if request.method == "POST" and form.errors else 200


def _ics_domain() -> str:
    return current_app.config.get("BOOKING_ICS_DOMAIN") or request.host.split(":")[0]


def _flash_error(error: WellnessError) -> None:
    flash(error.message, "error")


# ============================================================================ members


@bp.route("/")
@role_required(WORKER)
def list_stations():
    lat = request.args.get("lat", type=float)
    lon = request.args.get("lon", type=float)
    try:
        lat, lon = services.check_position(lat, lon)
    except InvalidInput:
        lat = lon = None
    known = services.districts()
    district = request.args.get("district") or None
    if district not in known:
        district = None
    return render_template(
        "booking/stations.html",
        stations=services.stations_near(lat, lon, district),
        districts=known,
        district=district,
        located=lat is not None,
    )


@bp.route("/stations/<int:station_id>")
@role_required(WORKER)
def station(station_id: int):
    now = utcnow()
    found = services.get_station(station_id, active_only=True)
    return render_template(
        "booking/station.html",
        station=found,
        services_here=services.services_at(found.id),
        hours=services.station_hours(found.id),
        sessions=services.upcoming_group_sessions(now, station_id=found.id)[:10],
        closures=services.closures_of(found.id, now),
    )


@bp.route("/stations/<int:station_id>/slots")
@role_required(WORKER)
def slots(station_id: int):
    now = utcnow()
    offered = services.services_at(station_id)
    codes = [s.code for s in offered]
    code = request.args.get("service") or (codes[0] if codes else "")
    if code not in codes:
        if not codes:
            abort(404)
        code = codes[0]
    day = _day_arg()
    result = services.search_slots(station_id, code, day, now=now)
    days = services.bookable_days(result.service, now)
    by_counselor: dict[int, list] = {}
    others = []
    for slot in result.slots:
        if slot.kind == "counselor" and slot.counselor is not None:
            by_counselor.setdefault(slot.counselor.id, []).append(slot)
        else:
            others.append(slot)
    # Format each distinct time once, and build the booking link once.
    times = {s.starts_at: format_time_cached(s.starts_at) for s in result.slots}
    waitlist_form = None
    if not result.slots:
        waitlist_form = WaitlistForm(station_id=station_id, service=code, day=day.isoformat())
    policy = services.policy_text(result.service, result.station)
    return render_template(
        "booking/slots.html",
        result=result,
        services_here=offered,
        days=days,
        by_counselor=by_counselor,
        others=others,
        times=times,
        confirm_url=url_for("booking.confirm"),
        waitlist_form=waitlist_form,
        policy=policy,
    )


def _alternatives(summary: services.SlotSummary, now: datetime) -> list:
    try:
        day = sl.to_local(summary.starts_at).date()
        found = services.search_slots(summary.station.id, summary.service.code, day, now=now)
    except WellnessError:
        return []
    return [s for s in found.slots if s.id != summary.slot_id and s.remaining > 0][:8]


@bp.route("/book", methods=["GET", "POST"])
@role_required(WORKER)
@reads_first  # the booking takes the write lock for its own transaction only
def confirm():
    now = utcnow()
    slot_id = (request.values.get("slot") or request.form.get("slot_id") or "").strip()
    try:
        summary = services.describe_slot(slot_id)
    except WellnessError:
        abort(404)
    user = _me()
    form = BookForm(slot_id=slot_id)
    if request.method == "GET":
        form.nonce.data = secrets.token_urlsafe(16)
    vouchers = []
    if summary.service.voucher_required:
        try:
            vouchers = services.usable_vouchers(user, summary.service, now)
        except ImportError:
            vouchers = []
    status = 200
    alternatives: list = []
    if form.validate_on_submit():
        try:
            result = services.book(
                user,
                form.slot_id.data,
                now=now,
                voucher_code=form.voucher_code.data,
                idempotency_key=form.nonce.data,
                waitlist=form.waitlist.data == "1",
            )
        except WellnessError as error:
            if "voucher_code" in error.fields:
                apply_field_errors(form, error)
            else:
                _flash_error(error)
            status = error.status
            if error.status == 409:
                alternatives = _alternatives(summary, now)
        else:
            if result.appointment is None:
                assert result.waitlist_entry is not None
                flash(
                    services.waitlisted_message(services.waitlist_position(result.waitlist_entry)),
                    "info",
                )
                return redirect(url_for("booking.my_appointments"))
            flash(_("Your appointment is booked."), "success")
            return redirect(url_for("booking.appointment", appointment_id=result.appointment.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "booking/confirm.html",
        summary=summary,
        form=form,
        vouchers=vouchers,
        alternatives=alternatives,
        policy=services.policy_text(summary.service, summary.station),
    ), status


@bp.route("/appointments")
@role_required(WORKER)
def my_appointments():
    user = _me()
    return render_template(
        "booking/my_appointments.html",
        groups=services.my_appointments(user),
        waitlist=services.my_waitlist(user),
        position=services.waitlist_position,
        action_form=ActionForm(),
    )


def _appointment_page(appointment_id: int, status: int = 200, cancel_form=None):
    now = utcnow()
    appointment = services.get_own_appointment(_me(), appointment_id)
    view = services.appointment_view(appointment)
    return render_template(
        "booking/appointment.html",
        view=view,
        now=now,
        can_change=services.can_change(appointment, view.service, now),
        deadline=services.cancel_deadline(appointment, view.service),
        policy=services.policy_text(view.service, view.station, appointment),
        cancel_form=cancel_form or CancelForm(),
        accept_form=AcceptOfferForm(),
        action_form=ActionForm(),
    ), status


@bp.route("/appointments/<int:appointment_id>")
@role_required(WORKER)
def appointment(appointment_id: int):
    return _appointment_page(appointment_id)


@bp.route("/appointments/<int:appointment_id>/calendar.ics")
@role_required(WORKER)
def appointment_ics(appointment_id: int):
    appointment = services.get_own_appointment(_me(), appointment_id)
    view = services.appointment_view(appointment)
    body = services.appointment_calendar(
        view,
        utcnow(),
        _ics_domain(),
        url_for("booking.appointment", appointment_id=appointment.id, _external=True),
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'attachment; filename="appointment-{appointment.reference}.ics"'
        },
    )


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@role_required(WORKER)
def cancel(appointment_id: int):
    form = CancelForm()
    if not form.validate_on_submit():
        return _appointment_page(appointment_id, 400, form)
    try:
        services.cancel_appointment(_me(), appointment_id, reason=form.reason.data)
    except WellnessError as error:
        if error.status == 404:
            raise
        _flash_error(error)
        return _appointment_page(appointment_id, error.status, form)
    flash(_("Your appointment is cancelled."), "success")
    return redirect(url_for("booking.appointment", appointment_id=appointment_id))


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@role_required(WORKER)
def reschedule(appointment_id: int):
    now = utcnow()
    user = _me()
    appointment = services.get_own_appointment(user, appointment_id)
    view = services.appointment_view(appointment)
    status = 200
    if request.method == "POST":
        form = BookForm()
        if form.validate_on_submit():
            try:
                moved = services.reschedule(
                    user,
                    appointment_id,
                    form.slot_id.data,
                    now=now,
                    idempotency_key=form.nonce.data,
                )
            except WellnessError as error:
                _flash_error(error)
                status = error.status
            else:
                flash(_("Your appointment has been moved."), "success")
                return redirect(url_for("booking.appointment", appointment_id=moved.id))
        else:
            status = 400
    day = _day_arg(default=sl.to_local(appointment.starts_at).date())
    result = services.search_slots(view.station.id, view.service.code, day, now=now)
    choices = [s for s in result.slots if s.kind != "group"]
    return render_template(
        "booking/reschedule.html",
        view=view,
        result=result,
        choices=choices,
        days=services.bookable_days(view.service, now),
        can_change=services.can_change(appointment, view.service, now),
        nonce=secrets.token_urlsafe(16),
        policy=services.policy_text(view.service, view.station, appointment),
    ), status


@bp.route("/appointments/<int:appointment_id>/accept", methods=["POST"])
@role_required(WORKER)
def accept_offer(appointment_id: int):
    form = AcceptOfferForm()
    if form.validate_on_submit():
        try:
            services.accept_offer(_me(), appointment_id, voucher_code=form.voucher_code.data)
        except WellnessError as error:
            if error.status == 404:
                raise
            _flash_error(error)
            return _appointment_page(appointment_id, error.status)
        flash(_("The place is yours. See you there!"), "success")
    return redirect(url_for("booking.appointment", appointment_id=appointment_id))


@bp.route("/appointments/<int:appointment_id>/decline", methods=["POST"])
@role_required(WORKER)
def decline_offer(appointment_id: int):
    if ActionForm().validate_on_submit():
        services.decline_offer(_me(), appointment_id)
        flash(_("The place goes to the next person waiting."), "info")
    return redirect(url_for("booking.my_appointments"))


@bp.route("/waitlist", methods=["POST"])
@role_required(WORKER)
def join_waitlist():
    form = WaitlistForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        day = date.fromisoformat(form.day.data)
        station_id = int(form.station_id.data)
    except ValueError:
        abort(400)
    try:
        services.join_day_waitlist(_me(), station_id, form.service.data, day)
    except WellnessError as error:
        if error.status == 404:
            raise
        _flash_error(error)
        return redirect(
            url_for("booking.slots", station_id=station_id, service=form.service.data, date=day)
        )
    flash(_("You are on the waitlist. We will tell you when a time frees up."), "success")
    return redirect(url_for("booking.my_appointments"))


@bp.route("/waitlist/<int:entry_id>/leave", methods=["POST"])
@role_required(WORKER)
def leave_waitlist(entry_id: int):
    if ActionForm().validate_on_submit():
        services.leave_waitlist(_me(), entry_id)
        flash(_("You have left the waitlist."), "info")
    return redirect(url_for("booking.my_appointments"))


@bp.route("/group-sessions/<int:session_id>")
@role_required(WORKER)
def group_session(session_id: int):
    summary = services.describe_slot(services.slot_id_for_group(session_id))
    return render_template("booking/group_session.html", summary=summary)


# ============================================================================ counsellors


@bp.route("/schedule")
@role_required(COUNSELOR)
@writes  # audited read
def counselor_schedule():
    me = _me()
    view = request.args.get("view") if request.args.get("view") in ("day", "week") else "day"
    day = _day_arg()
    first = sl.week_days(day)[0] if view == "week" else day
    days = 7 if view == "week" else 1
    items = services.counselor_agenda(me, first, days)
    by_day: dict[date, list] = {first + timedelta(days=i): [] for i in range(days)}
    for item in items:
        by_day.setdefault(sl.to_local(item.starts_at).date(), []).append(item)
    step = timedelta(days=days)
    return render_template(
        "booking/schedule.html",
        view=view,
        day=day,
        first=first,
        by_day=by_day,
        prev_day=first - step,
        next_day=first + step,
        today=services.local_today(utcnow()),
    )


def _staff_back(default: str) -> str:
    return safe_next(request.values.get("next"), default)


@bp.route("/schedule/appointments/<int:appointment_id>")
@role_required(COUNSELOR, ADMIN)
@writes  # audited read
def schedule_appointment(appointment_id: int):
    me = _me()
    view = services.staff_appointment(me, appointment_id)
    client = auth_services.get_user(view.appointment.user_id)
    return render_template(
        "booking/schedule_appointment.html",
        view=view,
        client=client,
        notes=services.notes_for_client(me, client.id),
        note_form=NoteForm(),
        cancel_form=StaffCancelForm(),
        attendance_form=AttendanceForm(),
        now=utcnow(),
    )


@bp.route("/schedule/appointments/<int:appointment_id>/attendance", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def mark_attendance(appointment_id: int):
    form = AttendanceForm()
    back = _staff_back(url_for("booking.schedule_appointment", appointment_id=appointment_id))
    if not form.validate_on_submit():
        abort(400)
    try:
        services.mark_attendance(_me(), appointment_id, form.outcome.data)
    except WellnessError as error:
        if error.status == 404:
            raise
        _flash_error(error)
        return redirect(back)
    flash(_("Attendance saved."), "success")
    return redirect(back)


@bp.route("/schedule/appointments/<int:appointment_id>/notes", methods=["POST"])
@role_required(COUNSELOR)
def add_note(appointment_id: int):
    form = NoteForm()
    if form.validate_on_submit():
        try:
            services.add_note(_me(), appointment_id, form.body.data)
        except WellnessError as error:
            if error.status == 404:
                raise
            _flash_error(error)
        else:
            flash(_("Note saved."), "success")
    else:
        services.check_staff_appointment(_me(), appointment_id)
        flash(_("Write a note of 1 to 5000 characters."), "error")
    return redirect(url_for("booking.schedule_appointment", appointment_id=appointment_id))


@bp.route("/schedule/appointments/<int:appointment_id>/cancel", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def staff_cancel(appointment_id: int):
    form = StaffCancelForm()
    back = _staff_back(url_for("booking.schedule_appointment", appointment_id=appointment_id))
    if not form.validate_on_submit():
        services.check_staff_appointment(_me(), appointment_id)
        flash(_("Give a reason for the member."), "error")
        return redirect(back)
    try:
        services.staff_cancel(_me(), appointment_id, form.reason.data)
    except WellnessError as error:
        if error.status == 404:
            raise
        _flash_error(error)
        return redirect(back)
    flash(_("The appointment is cancelled and the member has been told."), "success")
    return redirect(back)


@bp.route("/schedule/appointments/<int:appointment_id>/follow-up", methods=["GET", "POST"])
@role_required(COUNSELOR)
@writes  # audited read
def follow_up(appointment_id: int):
    """Book the client's next session in one of the counsellor's own slots."""
    now = utcnow()
    me = _me()
    original = services.staff_appointment(me, appointment_id)
    client = auth_services.get_user(original.appointment.user_id)
    status = 200
    if request.method == "POST":
        form = BookForm()
        if form.validate_on_submit():
            try:
                result = services.book(
                    client,
                    form.slot_id.data,
                    now=now,
                    actor=me,
                    idempotency_key=form.nonce.data,
                )
            except WellnessError as error:
                _flash_error(error)
                status = error.status
            else:
                assert result.appointment is not None
                flash(_("The follow-up session is booked; the client has been told."), "success")
                return redirect(
                    url_for("booking.schedule_appointment", appointment_id=result.appointment.id)
                )
        else:
            status = 400
    mine = services.stations_of(me.id)
    station_id = request.args.get("station", type=int) or original.station.id
    if station_id not in [s.id for s in mine]:
        station_id = mine[0].id if mine else original.station.id
    code = request.args.get("service") or original.service.code
    day = _day_arg(default=services.local_today(now) + timedelta(days=7))
    try:
        result = services.search_slots(station_id, code, day, now=now)
        choices = [s for s in result.slots if s.counselor and s.counselor.id == me.id]
    except WellnessError:
        result, choices = None, []
    return render_template(
        "booking/follow_up.html",
        original=original,
        client=client,
        stations=mine,
        station_id=station_id,
        code=code,
        service_list=services.list_services(),
        day=day,
        result=result,
        choices=choices,
        nonce=secrets.token_urlsafe(16),
    ), status


@bp.route("/schedule/group-sessions/<int:session_id>")
@role_required(COUNSELOR, ADMIN)
@writes  # audited read
def group_roster(session_id: int):
    session, members = services.group_roster(_me(), session_id)
    return render_template(
        "booking/roster.html",
        session=session,
        members=members,
        attendance_form=AttendanceForm(),
        now=utcnow(),
    )


# ---------------------------------------------------------------------------- availability


def _counselor_for(counselor_id: int):
    """The counsellor whose schedule is edited: yourself, or anyone for an admin."""
    me = _me()
    counselor = services.get_counselor(counselor_id)
    if me.role != ADMIN and me.id != counselor.id:
        raise NotFound(_("No such counsellor."))
    return counselor


def _station_choices(counselor, blank: str | None = None) -> list[SelectChoice]:
    choices = [SelectChoice(0, blank)] if blank else []
    return choices + [SelectChoice(s.id, s.name) for s in services.stations_of(counselor.id)]


def _availability_forms(counselor):
    rule_form = RuleForm(prefix="rule")
    rule_form.station_id.choices = _station_choices(counselor, _("— (breaks: every station)"))
    exception_form = ExceptionForm(prefix="exception")
    exception_form.station_id.choices = _station_choices(counselor, _("— (day off)"))
    return rule_form, exception_form, TimeOffForm(prefix="timeoff")


def _availability_page(counselor, status: int = 200, forms=None, clashes=None):
    rule_form, exception_form, time_off_form = forms or _availability_forms(counselor)
    return render_template(
        "booking/availability.html",
        counselor=counselor,
        availability=services.availability_of(counselor, utcnow()),
        rule_form=rule_form,
        exception_form=exception_form,
        time_off_form=time_off_form,
        action_form=ActionForm(),
        clashes=clashes or [],
    ), status


@bp.route("/availability")
@role_required(COUNSELOR)
def my_availability():
    return redirect(url_for("booking.availability", counselor_id=_me().id))


@bp.route("/counselors/<int:counselor_id>/availability")
@role_required(COUNSELOR, ADMIN)
def availability(counselor_id: int):
    return _availability_page(_counselor_for(counselor_id))


def _save_availability(counselor_id: int, index: int, save: Callable):
    """Validate form ``index`` of the availability page and run ``save(counselor, form)``.
    Returns (counselor, what save returned, None), or (counselor, None, the page to answer)
    when the form or the service refused the input."""
    counselor = _counselor_for(counselor_id)
    forms = _availability_forms(counselor)
    form = forms[index]
    if not form.validate_on_submit():
        return counselor, None, _availability_page(counselor, 400, forms)
    try:
        return counselor, save(counselor, form), None
    except WellnessError as error:
        apply_field_errors(form, error)
        return counselor, None, _availability_page(counselor, error.status, forms)


@bp.route("/counselors/<int:counselor_id>/availability/rules", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def add_rule(counselor_id: int):
    counselor, _row, page = _save_availability(
        counselor_id,
        0,
        lambda who, form: services.add_rule(
            _me(),
            who,
            weekday=form.weekday.data,
            starts=form.starts.data,
            ends=form.ends.data,
            kind=form.kind.data,
            station_id=form.station_id.data or None,
        ),
    )
    if page is not None:
        return page
    flash(_("Weekly template updated."), "success")
    return redirect(url_for("booking.availability", counselor_id=counselor.id))


@bp.route("/counselors/<int:counselor_id>/availability/exceptions", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def add_exception(counselor_id: int):
    counselor, _row, page = _save_availability(
        counselor_id,
        1,
        lambda who, form: services.add_exception(
            _me(),
            who,
            day=form.day.data,
            station_id=form.station_id.data or None,
            starts=form.starts.data,
            ends=form.ends.data,
            note=form.note.data,
        ),
    )
    if page is not None:
        return page
    flash(_("Date exception added."), "success")
    return redirect(url_for("booking.availability", counselor_id=counselor.id))


@bp.route("/counselors/<int:counselor_id>/availability/time-off", methods=["POST"])
@role_required(COUNSELOR, ADMIN)
def add_time_off(counselor_id: int):
    counselor, saved, page = _save_availability(
        counselor_id,
        2,
        lambda who, form: services.add_time_off(
            _me(),
            who,
            starts_at=_local_input(form.starts_at.data),
            ends_at=_local_input(form.ends_at.data),
            reason=form.reason.data,
        ),
    )
    if page is not None:
        return page
    _row, clashes = saved
    if clashes:
        flash(
            _(
                "Time off added. %(n)s booked appointments fall inside it: "
                "move or cancel them below.",
                n=len(clashes),
            ),
            "warning",
        )
        return _availability_page(counselor, 200, None, clashes)
    flash(_("Time off added."), "success")
    return redirect(url_for("booking.availability", counselor_id=counselor.id))


@bp.route(
    "/counselors/<int:counselor_id>/availability/<kind>/<int:row_id>/delete", methods=["POST"]
)
@role_required(COUNSELOR, ADMIN)
def delete_availability(counselor_id: int, kind: str, row_id: int):
    counselor = _counselor_for(counselor_id)
    if ActionForm().validate_on_submit():
        services.delete_availability(_me(), counselor, kind, row_id)
        flash(_("Removed."), "info")
    return redirect(url_for("booking.availability", counselor_id=counselor.id))


@bp.route("/profile")
@role_required(COUNSELOR)
def my_profile():
    return redirect(url_for("booking.profile", counselor_id=_me().id))


@bp.route("/counselors/<int:counselor_id>/profile", methods=["GET", "POST"])
@role_required(COUNSELOR, ADMIN)
def profile(counselor_id: int):
    counselor = _counselor_for(counselor_id)
    current = services.profile_of(counselor.id)
    form = ProfileForm(obj=current)
    if request.method == "GET" and current is not None:
        form.gender.data = current.gender or ""
    status = 200
    if form.validate_on_submit():
        try:
            services.save_profile(
                _me(),
                counselor,
                gender=form.gender.data,
                languages=form.languages.data,
                specialties=form.specialties.data,
                bio=form.bio.data,
                accepts_bookings=form.accepts_bookings.data,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Profile saved."), "success")
            return redirect(url_for("booking.profile", counselor_id=counselor.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "booking/profile.html",
        counselor=counselor,
        form=form,
        stations=services.stations_of(counselor.id),
    ), status


@bp.route("/calendar-feed", methods=["GET", "POST"])
@role_required(COUNSELOR)
def calendar_feed():
    me = _me()
    token = None
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        if request.form.get("action") == "revoke":
            services.revoke_feed(me)
            flash(_("The calendar feed address no longer works."), "info")
        else:
            token = services.rotate_feed(me)
    return render_template(
        "booking/calendar_feed.html",
        feed=services.feed_status(me),
        url=url_for("booking.feed", token=token, _external=True) if token else None,
        action_form=ActionForm(),
    )


@bp.route("/feed/<token>.ics")
def feed(token: str):
    """A counsellor's subscription feed: the secret token is the credential."""
    owner = services.feed_owner(token)
    if owner is None:
        abort(404)
    body = services.counselor_feed(owner, utcnow(), _ics_domain())
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# ============================================================================ admin


@bp.route("/admin/stations", methods=["GET", "POST"])
@role_required(ADMIN)
def manage_stations():
    form = StationForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = services.save_station(_me(), None, **_station_fields(form))
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Station saved."), "success")
            return redirect(url_for("booking.edit_station", station_id=created.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "booking/admin_stations.html", stations=services.list_stations_admin(), form=form
    ), status


def _station_fields(form: StationForm) -> dict:
    return {
        name: getattr(form, name).data
        for name in (
            "name",
            "district",
            "address",
            "latitude",
            "longitude",
            "phone",
            "opening_note",
            "accessibility",
            "active",
        )
    }


def _station_page(station_id: int, status: int = 200, **forms):
    now = utcnow()
    found = services.get_station(station_id)
    return render_template(
        "booking/admin_station.html",
        station=found,
        form=forms.get("form") or StationForm(obj=found),
        room_form=forms.get("room_form") or RoomForm(prefix="room"),
        hours_form=forms.get("hours_form") or HoursForm(prefix="hours"),
        closure_form=forms.get("closure_form") or ClosureForm(prefix="closure"),
        rooms=services.list_rooms(found.id),
        hours=services.station_hours(found.id),
        closures=services.closures_of(found.id, now),
        action_form=ActionForm(),
    ), status


@bp.route("/admin/stations/<int:station_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def edit_station(station_id: int):
    services.get_station(station_id)
    if request.method == "GET":
        return _station_page(station_id)
    form = StationForm()
    if not form.validate_on_submit():
        return _station_page(station_id, 400, form=form)
    try:
        services.save_station(_me(), station_id, **_station_fields(form))
    except WellnessError as error:
        apply_field_errors(form, error)
        return _station_page(station_id, error.status, form=form)
    flash(_("Station saved."), "success")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/rooms", methods=["POST"])
@role_required(ADMIN)
def add_room(station_id: int):
    services.get_station(station_id)
    form = RoomForm(prefix="room")
    if not form.validate_on_submit():
        return _station_page(station_id, 400, room_form=form)
    try:
        services.save_room(
            _me(),
            station_id,
            name=form.name.data,
            kind=form.kind.data,
            capacity=form.capacity.data,
            active=form.active.data,
        )
    except WellnessError as error:
        apply_field_errors(form, error)
        return _station_page(station_id, error.status, room_form=form)
    flash(_("Room saved."), "success")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/rooms/<int:room_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def edit_room(station_id: int, room_id: int):
    found = services.get_station(station_id)
    room = next((r for r in services.list_rooms(station_id) if r.id == room_id), None)
    if room is None:
        abort(404)
    form = RoomForm(obj=room)
    status = 200
    if form.validate_on_submit():
        try:
            services.save_room(
                _me(),
                station_id,
                name=form.name.data,
                kind=form.kind.data,
                capacity=form.capacity.data,
                active=form.active.data,
                room_id=room_id,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Room saved."), "success")
            return redirect(url_for("booking.edit_station", station_id=station_id))
    elif request.method == "POST":
        status = 400
    return render_template("booking/admin_room.html", station=found, room=room, form=form), status


@bp.route("/admin/stations/<int:station_id>/hours", methods=["POST"])
@role_required(ADMIN)
def add_hours(station_id: int):
    services.get_station(station_id)
    form = HoursForm(prefix="hours")
    if not form.validate_on_submit():
        return _station_page(station_id, 400, hours_form=form)
    try:
        services.set_station_hours(
            _me(), station_id, form.weekday.data, form.opens.data, form.closes.data
        )
    except WellnessError as error:
        apply_field_errors(form, error)
        return _station_page(station_id, error.status, hours_form=form)
    flash(_("Opening hours added."), "success")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/hours/<int:hours_id>/delete", methods=["POST"])
@role_required(ADMIN)
def delete_hours(station_id: int, hours_id: int):
    if ActionForm().validate_on_submit():
        services.delete_station_hours(_me(), station_id, hours_id)
        flash(_("Removed."), "info")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/closures", methods=["POST"])
@role_required(ADMIN)
def add_closure(station_id: int):
    services.get_station(station_id)
    form = ClosureForm(prefix="closure")
    if not form.validate_on_submit():
        return _station_page(station_id, 400, closure_form=form)
    try:
        closure = services.add_closure(
            _me(), station_id, form.first_day.data, form.last_day.data, form.reason.data
        )
    except WellnessError as error:
        apply_field_errors(form, error)
        return _station_page(station_id, error.status, closure_form=form)
    affected = services.appointments_in(station_id, sl.Span(closure.starts_at, closure.ends_at))
    if affected:
        flash(
            _(
                "Closure added. %(n)s appointments fall inside it: cancel them at the "
                "station desk so the members are told.",
                n=len(affected),
            ),
            "warning",
        )
        return redirect(
            url_for("booking.station_desk", station_id=station_id, date=form.first_day.data)
        )
    flash(_("Closure added."), "success")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/closures/<int:closure_id>/delete", methods=["POST"])
@role_required(ADMIN)
def delete_closure(station_id: int, closure_id: int):
    if ActionForm().validate_on_submit():
        services.delete_closure(_me(), station_id, closure_id)
        flash(_("Removed."), "info")
    return redirect(url_for("booking.edit_station", station_id=station_id))


@bp.route("/admin/stations/<int:station_id>/desk")
@role_required(ADMIN)
def station_desk(station_id: int):
    """The station's appointments on a day, to call or cancel members."""
    found = services.get_station(station_id)
    day = _day_arg()
    return render_template(
        "booking/station_desk.html",
        station=found,
        day=day,
        views=services.appointments_in(found.id, sl.local_day_span(day)),
        cancel_form=StaffCancelForm(),
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
    )


@bp.route("/admin/services")
@role_required(ADMIN)
def manage_services():
    return render_template(
        "booking/admin_services.html", service_list=services.list_services(active_only=False)
    )


@bp.route("/admin/services/<int:service_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def edit_service(service_id: int):
    service = services.get_service_by_id(service_id)
    form = ServiceForm(obj=service)
    status = 200
    if form.validate_on_submit():
        try:
            services.save_service(
                _me(),
                service_id,
                **{
                    field.name: field.data
                    for field in form
                    if field.name not in ("csrf_token", "submit")
                },
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Service saved."), "success")
            return redirect(url_for("booking.manage_services"))
    elif request.method == "POST":
        status = 400
    return render_template("booking/admin_service.html", service=service, form=form), status


@bp.route("/admin/counselors")
@role_required(ADMIN)
def manage_counselors():
    rows = []
    all_stations = services.list_stations_admin()
    for user, profile_row, names in services.list_counselors():
        form = CounselorStationsForm(prefix=f"c{user.id}")
        form.stations.choices = [SelectChoice(s.id, s.name) for s, _n in all_stations]
        form.stations.data = [s.id for s, _n in all_stations if s.name in names]
        rows.append((user, profile_row, names, form))
    return render_template("booking/admin_counselors.html", rows=rows)


@bp.route("/admin/counselors/<int:counselor_id>/stations", methods=["POST"])
@role_required(ADMIN)
def counselor_stations(counselor_id: int):
    counselor = services.get_counselor(counselor_id)
    form = CounselorStationsForm(prefix=f"c{counselor.id}")
    form.stations.choices = [SelectChoice(s.id, s.name) for s, _n in services.list_stations_admin()]
    if form.validate_on_submit():
        try:
            services.set_counselor_stations(_me(), counselor, form.stations.data or [])
        except WellnessError as error:
            _flash_error(error)
        else:
            flash(_("Stations saved."), "success")
    else:
        flash(_("Choose stations from the list."), "error")
    return redirect(url_for("booking.manage_counselors"))


def _group_form() -> GroupSessionForm:
    form = GroupSessionForm()
    form.service.choices = [
        SelectChoice(s.code, services.service_name(s))
        for s in services.list_services()
        if s.room_kind is not None and s.mode != "room"
    ]
    form.room_id.choices = [
        SelectChoice(room.id, f"{station.name} · {room.name} ({room.capacity})")
        for station, _n in services.list_stations_admin()
        for room in services.list_rooms(station.id, active_only=True)
    ]
    form.counselor_id.choices = [
        SelectChoice(user.id, user.name) for user, _p, _s in services.list_counselors()
    ]
    form.org_unit_id.choices = [SelectChoice(0, _("All members"))] + [
        SelectChoice(unit.id, "\u3000" * depth + unit.name)
        for unit, depth in auth_services.org_unit_tree()
    ]
    return form


@bp.route("/admin/group-sessions", methods=["GET", "POST"])
@role_required(ADMIN)
def manage_group_sessions():
    now = utcnow()
    form = _group_form()
    status = 200
    if form.validate_on_submit():
        try:
            created = services.schedule_group_session(
                _me(),
                service_code=form.service.data,
                room_id=form.room_id.data,
                counselor_id=form.counselor_id.data,
                starts_at=_local_input(form.starts_at.data),
                title=form.title.data,
                capacity=form.capacity.data,
                description=form.description.data,
                org_unit_id=form.org_unit_id.data or None,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(
                _("Group session scheduled: %(title)s.", title=created.title),
                "success",
            )
            return redirect(url_for("booking.manage_group_sessions"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "booking/admin_group_sessions.html",
        form=form,
        sessions=services.upcoming_group_sessions(now),
        reason_form=ReasonForm(),
    ), status


@bp.route("/admin/group-sessions/<int:session_id>/cancel", methods=["POST"])
@role_required(ADMIN)
def cancel_group_session(session_id: int):
    services.get_group_session(session_id)
    form = ReasonForm()
    if form.validate_on_submit():
        services.cancel_group_session(_me(), session_id, form.reason.data)
        flash(_("The session is cancelled and its members have been told."), "success")
    else:
        flash(_("Give a reason for the members."), "error")
    return redirect(url_for("booking.manage_group_sessions"))


@bp.context_processor
def booking_template_helpers() -> dict:
    return {"service_name": services.service_name}
