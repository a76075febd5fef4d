"""Care-plan forms: field rules only, no database."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from wellness.care.models import GOALS_MAX, MAX_SESSIONS, NOTE_MAX, Outcome


def optional_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EpisodeForm(FlaskForm):
    person_id = HiddenField()
    source = HiddenField(default="manual")
    source_id = HiddenField()
    goals = TextAreaField(
        _l("Goals"),
        validators=[
            DataRequired(message=_l("Write the goals of the plan.")),
            Length(max=GOALS_MAX),
        ],
        description=_l("What the person wants to change, in their words. They see this."),
    )
    planned_sessions = IntegerField(
        _l("Planned sessions"),
        default=6,
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(min=1, max=MAX_SESSIONS),
        ],
    )
    measures = CheckboxesField(
        _l("Questionnaires before each session"), choices=[], validate_choice=False
    )
    submit = SubmitField(_l("Open the care plan"))


class BookSeriesForm(FlaskForm):
    station_id = SelectField(_l("Station"), coerce=optional_int, choices=[], validate_choice=False)
    service_code = SelectField(_l("Service"), choices=[], validate_choice=False)
    first_day = DateField(
        _l("First session on"), validators=[DataRequired(message=_l("Choose a date."))]
    )
    at = TimeField(_l("At or after"), validators=[DataRequired(message=_l("Choose a time."))])
    voucher_code = StringField(
        _l("Member's voucher code (if the service needs one)"),
        validators=[Optional(), Length(max=40)],
    )
    submit = SubmitField(_l("Book the sessions weekly"))


def outcome_choices():
    labels = {
        Outcome.IMPROVED: _l("Improved"),
        Outcome.UNCHANGED: _l("Unchanged"),
        Outcome.WORSE: _l("Worse"),
        Outcome.REFERRED: _l("Referred on"),
        Outcome.DROPPED_OUT: _l("Stopped coming"),
    }
    return [SelectChoice("", _l("Choose the outcome"))] + [
        SelectChoice(o.value, labels[o]) for o in Outcome
    ]


class CloseForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=outcome_choices())
    note = TextAreaField(_l("Closing note"), validators=[Optional(), Length(max=NOTE_MAX)])
    submit = SubmitField(_l("Close the care plan"))


class AssignForm(FlaskForm):
    member_id = SelectField(_l("Client"), coerce=optional_int, choices=[], validate_choice=False)
    instrument = SelectField(_l("Questionnaire"), choices=[], validate_choice=False)
    first_due = DateField(_l("Due on"), validators=[DataRequired(message=_l("Choose a date."))])
    every_days = IntegerField(_l("Then every (days)"), validators=[Optional()])
    times = IntegerField(
        _l("Times in all"),
        default=1,
        validators=[InputRequired(message=_l("Enter a whole number."))],
    )
    submit = SubmitField(_l("Assign"))
