"""Messaging forms: field rules only, no database."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from wellness.messaging.models import BODY_MAX, TOPIC_MAX, TransferReason


def optional_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class NewConversationForm(FlaskForm):
    counselor_id = SelectField(_l("To"), coerce=optional_int, choices=[], validate_choice=False)
    topic = StringField(
        _l("Topic (the counselling team sees it before opening)"),
        validators=[
            DataRequired(message=_l("Say in a few words what it is about.")),
            Length(max=TOPIC_MAX),
        ],
    )
    body = TextAreaField(
        _l("Your message"),
        validators=[DataRequired(message=_l("Write a message first.")), Length(max=BODY_MAX)],
    )
    urgent = BooleanField(_l("This is urgent: I need help now"))


class ReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Your message"),
        validators=[DataRequired(message=_l("Write a message first.")), Length(max=BODY_MAX)],
    )
    urgent = BooleanField(_l("This is urgent: I need help now"))


class StaffReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Reply"),
        validators=[DataRequired(message=_l("Write a message first.")), Length(max=BODY_MAX)],
    )


class FlagForm(FlaskForm):
    level = SelectField(
        _l("Risk level"),
        choices=[
            SelectChoice("elevated", _l("Elevated")),
            SelectChoice("high", _l("High")),
            SelectChoice("critical", _l("Critical")),
        ],
    )
    message_id = IntegerField(_l("Message"), validators=[Optional()])


def reason_choices():
    labels = {
        TransferReason.WORKLOAD: _l("Workload"),
        TransferReason.EXPERTISE: _l("Another counsellor fits better"),
        TransferReason.AVAILABILITY: _l("Leave or end of shift"),
        TransferReason.PERSON_ASKED: _l("The member asked"),
    }
    return [SelectChoice("", _l("Choose a reason"))] + [
        SelectChoice(r.value, labels[r]) for r in TransferReason
    ]


class TransferForm(FlaskForm):
    to_user_id = SelectField(_l("Hand to"), coerce=optional_int, choices=[], validate_choice=False)
    reason = SelectField(_l("Reason"), choices=reason_choices())
    note = TextAreaField(
        _l("Note for the new counsellor"), validators=[Optional(), Length(max=1000)]
    )
    submit = SubmitField(_l("Hand over"))


class RatingForm(FlaskForm):
    score = SelectField(
        _l("How helpful was this conversation?"),
        choices=[SelectChoice("", "—")] + [SelectChoice(str(n), str(n)) for n in range(5, 0, -1)],
        validators=[DataRequired(message=_l("Choose a score from 1 to 5."))],
    )
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])
