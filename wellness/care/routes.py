"""Care plans: the counsellor's plans and questionnaires, one plan's page, the member's view."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from wellness.assessments.instruments import list_instruments
from wellness.auth.decorators import role_required
from wellness.auth.models import User
from wellness.booking import services as booking
from wellness.booking import slots as sl
from wellness.booking.models import Service
from wellness.care import charts, services
from wellness.care.forms import AssignForm, BookSeriesForm, CloseForm, EpisodeForm
from wellness.database import utcnow
from wellness.errors import InvalidInput, WellnessError
from wellness.extensions import db
from wellness.forms import apply_field_errors
from wellness.transactions import writes

bp = Blueprint("care", __name__, url_prefix="/care")


def me():
    return current_user._get_current_object()


def _lang() -> str:
    return "en" if str(get_locale() or "zh").startswith("en") else "zh"


def _instrument_choices() -> list[SelectChoice]:
    lang = _lang()
    return [
        SelectChoice(inst.code, f"{inst.short_name} · {inst.name.get(lang) or inst.name['zh']}")
        for inst in list_instruments()
    ]


def instrument_names() -> dict[str, str]:
    return {inst.code: inst.short_name for inst in list_instruments()}


def _local_evening(day) -> datetime:
    return datetime.combine(day, time(20), tzinfo=sl.LOCAL_TZ).astimezone(UTC)


# ------------------------------------------------------------------------------ counsellors


@bp.route("/")
@role_required("counselor")
def caseload():
    return _caseload_page(AssignForm(formdata=None))


def _caseload_page(form: AssignForm, status: int = 200):
    episodes = services.my_episodes(me())
    _fill_assign(form, episodes)
    overdue = services.overdue_for(me(), utcnow())
    people = services.people_by_id([e.person_id for e in episodes] + [a.member_id for a in overdue])
    return render_template(
        "care/index.html",
        episodes=episodes,
        overdue=overdue,
        people=people,
        names=instrument_names(),
        form=form,
    ), status


def _fill_assign(form: AssignForm, episodes) -> None:
    people = services.people_by_id(e.person_id for e in episodes)
    form.member_id.choices = [SelectChoice("", _("Choose a client"))] + [
        SelectChoice(pid, people[pid].name)
        for pid in dict.fromkeys(e.person_id for e in episodes)
        if pid in people
    ]
    form.instrument.choices = _instrument_choices()


@bp.route("/assign", methods=["POST"])
@role_required("counselor")
def assign():
    form = AssignForm()
    if not form.validate_on_submit():
        return _caseload_page(form, 422)
    try:
        made = services.assign(
            me(),
            form.member_id.data,
            form.instrument.data,
            _local_evening(form.first_due.data),
            form.every_days.data,
            form.times.data,
        )
    except WellnessError as error:
        apply_field_errors(form, error)
        return _caseload_page(form, error.status)
    flash(_("Questionnaire assigned (%(n)s times).", n=len(made)), "success")
    return redirect(url_for("care.caseload"))


@bp.route("/new", methods=["GET", "POST"])
@role_required("counselor")
def new_episode():
    form = EpisodeForm()
    form.measures.choices = _instrument_choices()
    if request.method == "GET":
        form.person_id.data = request.args.get("person_id", "")
        form.source.data = request.args.get("source", "manual")
        form.source_id.data = request.args.get("source_id", "")
        form.measures.data = ["phq9", "gad7"]
    person = None
    try:
        person = db.session.get(User, int(form.person_id.data or 0))
    except ValueError:
        person = None
    status = 200
    if form.validate_on_submit():
        try:
            episode = services.open_episode(
                me(),
                person.id if person else None,
                form.goals.data,
                form.planned_sessions.data,
                form.measures.data,
                form.source.data or "manual",
                form.source_id.data or None,
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            if "person_id" in (error.fields or {}):
                flash(error.message, "error")
            status = error.status
        else:
            flash(_("Care plan opened. Book its sessions below."), "success")
            return redirect(url_for("care.episode", episode_id=episode.id))
    elif request.method == "POST":
        status = 422
    if person is None or person.role != "worker":
        person = None
    return render_template("care/new.html", form=form, person=person), status


def _book_form(episode, formdata=True) -> BookSeriesForm:
    form = BookSeriesForm() if formdata else BookSeriesForm(formdata=None)
    stations = booking.stations_of(episode.counselor_id)
    form.station_id.choices = [SelectChoice(s.id, s.name) for s in stations]
    lang = _lang()
    individual = db.session.scalars(
        db.select(Service)
        .where(Service.mode == "individual", Service.active.is_(True))
        .order_by(Service.sort_order)
    ).all()
    form.service_code.choices = [
        SelectChoice(s.code, s.name_en if lang == "en" else s.name) for s in individual
    ]
    return form


def _episode_page(episode_id: int, book_form=None, close_form=None, status: int = 200):
    episode = services.episode_for_staff(me(), episode_id)
    sessions = services.sessions_of(episode.id)
    return render_template(
        "care/episode.html",
        episode=episode,
        person=db.session.get(User, episode.person_id),
        sessions=sessions,
        appointments={
            v.appointment.id: v
            for v in booking.views_for([s.appointment_id for s in sessions if s.appointment_id])
        },
        progress=services.progress(episode),
        names=instrument_names(),
        book_form=book_form or _book_form(episode, formdata=False),
        close_form=close_form or CloseForm(formdata=None),
        mine=episode.counselor_id == me().id,
        now=utcnow(),
    ), status


@bp.route("/<int:episode_id>")
@role_required("counselor", "admin")
@writes  # audited read
def episode(episode_id: int):
    return _episode_page(episode_id)


@bp.route("/<int:episode_id>/book", methods=["POST"])
@role_required("counselor")
def book(episode_id: int):
    episode = services.get_episode(episode_id)
    form = _book_form(episode)
    if not form.validate_on_submit():
        return _episode_page(episode_id, book_form=form, status=422)
    try:
        proposals = services.propose_series(
            me(),
            episode,
            form.station_id.data,
            form.service_code.data,
            form.first_day.data,
            form.at.data,
        )
        service = db.session.scalar(
            db.select(Service).where(Service.code == form.service_code.data)
        )
        last_day = utcnow().astimezone(sl.LOCAL_TZ).date() + timedelta(
            days=service.horizon_days if service else 0
        )
        later = [p for p in proposals if p.day > last_day]
        proposals = [p for p in proposals if p.day <= last_day]
        missing = [p for p in proposals if p.slot is None]
        if not proposals and later:
            raise InvalidInput(
                _("Times can be booked up to %(day)s.", day=last_day.isoformat()),
                {"first_day": "too_far"},
            )
        if not proposals:
            raise InvalidInput(_("Every session of this plan is booked."), {"first_day": "full"})
        if missing:
            raise InvalidInput(
                _(
                    "You have no free time for session %(n)s on %(day)s. Choose another day or "
                    "time, or open times in your schedule.",
                    n=missing[0].number,
                    day=missing[0].day.isoformat(),
                ),
                {"first_day": "no_time"},
            )
        made = services.book_sessions(
            me(), episode_id, [p.slot.id for p in proposals], form.voucher_code.data
        )
    except WellnessError as error:
        apply_field_errors(form, error)
        flash(error.message, "error")
        return _episode_page(episode_id, book_form=form, status=error.status)
    flash(_("%(n)s sessions booked. The member was told.", n=len(made)), "success")
    if later:
        flash(
            _(
                "Sessions from %(day)s are further ahead than the service can be booked; "
                "book them here later.",
                day=later[0].day.isoformat(),
            ),
            "info",
        )
    return redirect(url_for("care.episode", episode_id=episode_id))


@bp.route("/<int:episode_id>/close", methods=["POST"])
@role_required("counselor")
def close(episode_id: int):
    form = CloseForm()
    if not form.validate_on_submit():
        return _episode_page(episode_id, close_form=form, status=422)
    try:
        services.close_episode(me(), episode_id, form.outcome.data, form.note.data)
    except WellnessError as error:
        apply_field_errors(form, error)
        return _episode_page(episode_id, close_form=form, status=error.status)
    flash(_("Care plan closed."), "success")
    return redirect(url_for("care.episode", episode_id=episode_id))


@bp.route("/<int:episode_id>/progress.png")
@role_required("counselor", "admin")
@writes  # audited read
def progress_chart(episode_id: int):
    episode = services.episode_for_staff(me(), episode_id)
    png = charts.progress_png(
        services.progress(episode),
        title=_("Scores during the care plan"),
        names=instrument_names(),
        y_label=_("Total score"),
    )
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


# ------------------------------------------------------------------------------ members


@bp.route("/mine")
@role_required("worker")
def my_plan():
    member = me()
    plans = services.plans_for_member(member)
    ids = [s.appointment_id for p in plans for s in p.sessions if s.appointment_id]
    return render_template(
        "care/mine.html",
        plans=plans,
        appointments={v.appointment.id: v for v in booking.views_for(ids)},
        due=services.due_for_member(member),
        names=instrument_names(),
        now=utcnow(),
    )
