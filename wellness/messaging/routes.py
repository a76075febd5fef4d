"""Ask a counsellor: the member's conversations and the counsellors' shared inbox."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from wellness.auth.decorators import role_required
from wellness.database import utcnow
from wellness.errors import NotPermitted, WellnessError
from wellness.forms import ActionForm, apply_field_errors
from wellness.messaging import services
from wellness.messaging.forms import (
    FlagForm,
    NewConversationForm,
    RatingForm,
    ReplyForm,
    StaffReplyForm,
    TransferForm,
    reason_choices,
)
from wellness.messaging.models import ConversationStatus
from wellness.transactions import writes

bp = Blueprint("messaging", __name__, url_prefix="/messages")


def me():
    return current_user._get_current_object()


bp.add_app_template_filter(services.mask_name, "mask_name")


def reason_labels() -> dict[str, object]:
    return {choice.value: choice.label for choice in reason_choices() if choice.value}


@bp.app_template_filter("due")
def due(value) -> str:
    """A deadline as '12月6日 20:30' (zh) or 'Dec 6, 20:30' (en), in Beijing time."""
    if value is None:
        return ""
    pattern = "M月d日 HH:mm" if str(get_locale() or "zh").startswith("zh") else "MMM d, HH:mm"
    return format_datetime(value, pattern)


# ------------------------------------------------------------------------------ members


@bp.route("/")
@role_required("worker")
def my_conversations():
    return render_template(
        "messaging/list.html",
        conversations=services.member_conversations(me()),
        holders=services.people_by_id(c.claimed_by_id for c in services.member_conversations(me())),
        now=utcnow(),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required("worker")
def new_conversation():
    form = NewConversationForm()
    mine = services.my_counselors(me().id)
    form.counselor_id.choices = [SelectChoice("", _("The counselling team"))] + [
        SelectChoice(c.id, _("My counsellor %(name)s", name=c.name)) for c in mine
    ]
    status = 200
    if form.validate_on_submit():
        try:
            conv = services.open_conversation(
                me(), form.topic.data, form.body.data, form.urgent.data, form.counselor_id.data
            )
        except WellnessError as error:
            apply_field_errors(form, error)
            status = error.status
        else:
            flash(_("Your message was sent."), "success")
            args = {"crisis": 1} if conv.urgent else {}
            return redirect(url_for("messaging.thread", conversation_id=conv.id, **args))
    elif request.method == "POST":
        status = 422
    return render_template("messaging/new.html", form=form, has_mine=bool(mine)), status


def _member_thread(conversation_id: int, form=None, status: int = 200):
    conv = services.own_conversation(me(), conversation_id)
    rating = None
    if (
        conv.status == ConversationStatus.CLOSED.value
        and conv.rated_at is None
        and services.feedback_services() is not None
    ):
        rating = RatingForm()
    return render_template(
        "messaging/thread.html",
        conv=conv,
        messages=services.messages_for(conv.id),
        people=services.people_by_id([conv.claimed_by_id, conv.member_id]),
        form=form or ReplyForm(formdata=None),
        rating_form=rating,
        crisis=request.args.get("crisis") == "1",
        now=utcnow(),
    ), status


@bp.route("/<int:conversation_id>")
@role_required("worker")
def thread(conversation_id: int):
    return _member_thread(conversation_id)


@bp.route("/<int:conversation_id>/reply", methods=["POST"])
@role_required("worker")
def reply(conversation_id: int):
    form = ReplyForm()
    if not form.validate_on_submit():
        return _member_thread(conversation_id, form, 422)
    try:
        services.member_reply(me(), conversation_id, form.body.data, form.urgent.data)
    except WellnessError as error:
        flash(error.message, "error")
        return _member_thread(conversation_id, form, error.status)
    args = {"crisis": 1} if form.urgent.data else {}
    return redirect(url_for("messaging.thread", conversation_id=conversation_id, **args))


@bp.route("/<int:conversation_id>/rate", methods=["POST"])
@role_required("worker")
def rate(conversation_id: int):
    form = RatingForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
        return _member_thread(conversation_id, status=422)
    try:
        services.rate(me(), conversation_id, int(form.score.data), form.comment.data or None)
    except WellnessError as error:
        flash(error.message, "error")
        return _member_thread(conversation_id, status=error.status)
    flash(_("Thank you for your rating."), "success")
    return redirect(url_for("messaging.thread", conversation_id=conversation_id))


# ------------------------------------------------------------------------------ counsellors


@bp.route("/inbox")
@role_required("counselor", "admin")
def inbox():
    now = utcnow()
    user = me()
    is_admin = user.role == "admin"
    unclaimed = [] if is_admin else services.unclaimed()
    mine = [] if is_admin else services.mine(user)
    transfers = services.recent_transfers() if is_admin else []
    ids = {c.member_id for c in unclaimed + mine} | {c.requested_counselor_id for c in unclaimed}
    ids |= (
        {t.from_id for t in transfers} | {t.to_id for t in transfers} | {t.by_id for t in transfers}
    )
    return render_template(
        "messaging/inbox.html",
        unclaimed=unclaimed,
        mine=mine,
        transfers=transfers,
        counts=services.counts(now),
        people=services.people_by_id(ids),
        is_admin=is_admin,
        reasons=reason_labels(),
        form=ActionForm(),
        now=now,
    )


def _transfer_form(exclude: int | None) -> TransferForm:
    form = TransferForm(formdata=None)
    form.to_user_id.choices = [SelectChoice("", _("Choose a counsellor"))] + [
        SelectChoice(c.id, c.name) for c in services.active_counselors() if c.id != exclude
    ]
    return form


@bp.route("/inbox/<int:conversation_id>")
@role_required("counselor")
@writes  # audited read
def staff_thread(conversation_id: int):
    conv = services.get_conversation(conversation_id)
    people = services.people_by_id(
        [conv.member_id, conv.claimed_by_id, conv.requested_counselor_id]
    )
    if not services.can_read(me(), conv):
        if conv.status == ConversationStatus.OPEN.value:
            return render_template(
                "messaging/unclaimed.html",
                conv=conv,
                people=people,
                form=ActionForm(),
                now=utcnow(),
            )
        return render_template(
            "messaging/not_yours.html", conv=conv, holder=people.get(conv.claimed_by_id)
        ), 403
    try:
        conv, messages = services.staff_thread(me(), conversation_id)
    except NotPermitted as error:  # pragma: no cover - checked just above
        return render_template("messaging/not_yours.html", conv=conv, message=error.message), 403
    return render_template(
        "messaging/staff_thread.html",
        conv=conv,
        messages=messages,
        people=people,
        transfers=services.transfers_for(conv.id),
        reasons=reason_labels(),
        reply_form=StaffReplyForm(formdata=None),
        flag_form=FlagForm(formdata=None),
        transfer_form=_transfer_form(conv.claimed_by_id),
        form=ActionForm(),
        now=utcnow(),
    )


def _staff_action(conversation_id: int, form, action, done: str):
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            label = getattr(form, field).label.text if hasattr(form, field) else field
            flash(f"{label}: {' '.join(str(e) for e in errors)}", "error")
        return redirect(url_for("messaging.staff_thread", conversation_id=conversation_id)), 303
    try:
        action(form)
    except WellnessError as error:
        flash(error.message, "error" if error.status != 409 else "warning")
        target = (
            url_for("messaging.inbox")
            if error.status in (403, 404) or me().role == "admin"
            else url_for("messaging.staff_thread", conversation_id=conversation_id)
        )
        return redirect(target), 303
    flash(done, "success")
    return redirect(url_for("messaging.staff_thread", conversation_id=conversation_id))


@bp.route("/inbox/<int:conversation_id>/claim", methods=["POST"])
@role_required("counselor")
def claim(conversation_id: int):
    form = ActionForm()
    if form.validate_on_submit():
        try:
            services.claim(me(), conversation_id)
        except WellnessError as error:
            flash(error.message, "warning")
            return redirect(url_for("messaging.inbox")), 303
        flash(_("You are now answering this conversation."), "success")
        return redirect(url_for("messaging.staff_thread", conversation_id=conversation_id))
    return redirect(url_for("messaging.inbox")), 303


@bp.route("/inbox/<int:conversation_id>/reply", methods=["POST"])
@role_required("counselor")
def staff_reply(conversation_id: int):
    return _staff_action(
        conversation_id,
        StaffReplyForm(),
        lambda f: services.counselor_reply(me(), conversation_id, f.body.data),
        _("Reply sent."),
    )


@bp.route("/inbox/<int:conversation_id>/close", methods=["POST"])
@role_required("counselor")
def close(conversation_id: int):
    return _staff_action(
        conversation_id,
        ActionForm(),
        lambda f: services.close(me(), conversation_id),
        _("Conversation closed."),
    )


@bp.route("/inbox/<int:conversation_id>/flag", methods=["POST"])
@role_required("counselor")
def raise_flag(conversation_id: int):
    return _staff_action(
        conversation_id,
        FlagForm(),
        lambda f: services.raise_flag_from(me(), conversation_id, f.level.data, f.message_id.data),
        _("A risk flag was raised for this member."),
    )


@bp.route("/inbox/<int:conversation_id>/transfer", methods=["POST"])
@role_required("counselor", "admin")
def transfer(conversation_id: int):
    form = TransferForm()
    form.to_user_id.choices = [SelectChoice(c.id, c.name) for c in services.active_counselors()]
    response = _staff_action(
        conversation_id,
        form,
        lambda f: services.transfer(
            me(), conversation_id, f.to_user_id.data, f.reason.data, f.note.data or ""
        ),
        _("Conversation handed over."),
    )
    # After handing it over the former holder can no longer open it; go back to the inbox.
    if getattr(response, "status_code", 0) == 302:
        return redirect(url_for("messaging.inbox"))
    return response
