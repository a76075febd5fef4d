"""Hotline forms: field shapes only. Choices that come from the database (taxonomies,
counsellors) are filled in by the views; every rule lives in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from wellness.hotline.models import AgeBand, CallKind, Gender, ShiftMode, TermKind

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
PHONE_ATTRS = {"type": "tel", "inputmode": "numeric", "autocomplete": "off", "maxlength": 24}


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs -> SelectChoice (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def optional_int(value):
    """'' or None -> None, else int (so a blank choice means 'not rated')."""
    if value in (None, "", "None"):
        return None
    return int(value)


def when(label, **kwargs) -> DateTimeLocalField:
    return DateTimeLocalField(label, format=LOCAL_FORMATS, validators=[Optional()], **kwargs)


def kind_choices():
    return options(
        [
            (CallKind.ANSWERED.value, _l("Answered")),
            (CallKind.SILENT.value, _l("Silent call")),
            (CallKind.ABANDONED.value, _l("Hung up before answer")),
        ]
    )


def age_choices():
    return options(
        [
            (AgeBand.UNKNOWN.value, _l("Not known")),
            (AgeBand.UNDER_18.value, _l("Under 18")),
            (AgeBand.A18_29.value, "18–29"),
            (AgeBand.A30_39.value, "30–39"),
            (AgeBand.A40_49.value, "40–49"),
            (AgeBand.A50_59.value, "50–59"),
            (AgeBand.A60_PLUS.value, _l("60 or older")),
        ]
    )


def gender_choices():
    return options(
        [
            (Gender.UNKNOWN.value, _l("Not known")),
            (Gender.FEMALE.value, _l("Female")),
            (Gender.MALE.value, _l("Male")),
            (Gender.OTHER.value, _l("Other")),
        ]
    )


def mode_choices():
    return options(
        [
            (ShiftMode.SEATED.value, _l("Seated (answering calls)")),
            (ShiftMode.ON_CALL.value, _l("On call (reachable as backup)")),
        ]
    )


RATING_CHOICES = {
    "ideation": [
        ("", "—"),
        (0, _l("0 · none")),
        (1, _l("1 · passive wish to be dead")),
        (2, _l("2 · active thoughts of suicide")),
        (3, _l("3 · thoughts with intent to act")),
    ],
    "plan": [
        ("", "—"),
        (0, _l("0 · no plan")),
        (1, _l("1 · vague (a method considered)")),
        (2, _l("2 · specific (method, time or place)")),
    ],
    "means": [
        ("", "—"),
        (0, _l("0 · no access")),
        (1, _l("1 · has access to means")),
        (2, _l("2 · means at hand or prepared")),
    ],
    "attempts": [
        ("", "—"),
        (0, _l("0 · none")),
        (1, _l("1 · more than a year ago")),
        (2, _l("2 · within the past year")),
    ],
    "hopelessness": [
        ("", "—"),
        (0, _l("0 · none")),
        (1, _l("1 · mild")),
        (2, _l("2 · moderate")),
        (3, _l("3 · severe, sees no way out")),
    ],
}


def level_choices():
    return options(
        [
            ("", _l("Use the rating")),
            ("elevated", _l("Elevated")),
            ("high", _l("High")),
            ("critical", _l("Critical")),
        ]
    )


def rating_field(item: str, label) -> SelectField:
    return SelectField(
        label, choices=options(RATING_CHOICES[item]), coerce=optional_int, validators=[Optional()]
    )


class CallForm(FlaskForm):
    kind = RadioField(
        _l("Call"), choices=kind_choices(), default=CallKind.ANSWERED.value, validators=[]
    )
    started_at = when(_l("Started at"))
    duration_minutes = IntegerField(
        _l("Duration (minutes)"),
        validators=[Optional(), NumberRange(min=0, max=720)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 720},
    )
    ended_at = when(_l("or ended at"))
    wait_seconds = IntegerField(
        _l("Waiting time before answer (seconds, if known)"),
        validators=[Optional(), NumberRange(min=0, max=3600)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 3600},
    )
    caller_number = StringField(
        _l("Caller's number (optional)"),
        validators=[Optional(), Length(max=30)],
        render_kw=PHONE_ATTRS,
        description=_l("Used only to recognise repeat callers; the number itself is not stored."),
    )
    member_phone = StringField(
        _l("Link to a member: their mobile number"),
        validators=[Optional(), Length(max=24)],
        render_kw=PHONE_ATTRS,
    )
    member_consent = BooleanField(_l("The caller agreed to link this call to their account"))
    age_band = SelectField(_l("Age"), choices=age_choices(), default=AgeBand.UNKNOWN.value)
    gender = SelectField(_l("Gender"), choices=gender_choices(), default=Gender.UNKNOWN.value)
    topic_ids = MultiCheckboxField(_l("Topics"), coerce=int, validators=[Optional()])
    summary = TextAreaField(
        _l("Notes (counsellors only)"),
        validators=[Optional(), Length(max=4000)],
        render_kw={"rows": 4},
    )
    action_id = SelectField(_l("Action taken"), coerce=int, validators=[Optional()])
    referral_id = SelectField(_l("Referred to"), coerce=int, validators=[Optional()])
    # Crisis record (risk calls)
    is_risk = BooleanField(_l("Risk call: open a crisis record"))
    ideation = rating_field("ideation", _l("Suicidal ideation"))
    plan = rating_field("plan", _l("Plan"))
    means = rating_field("means", _l("Access to means"))
    attempts = rating_field("attempts", _l("Past attempts"))
    hopelessness = rating_field("hopelessness", _l("Hopelessness"))
    in_progress = BooleanField(_l("Attempt in progress or immediate danger"))
    judged_level = SelectField(
        _l("Counsellor's judgment (can only raise the level)"),
        choices=level_choices(),
        default="",
    )
    police_called_at = when(_l("110 called at"))
    ambulance_called_at = when(_l("120 called at"))
    contact_reached_at = when(_l("Emergency contact reached at"))
    contact_note = StringField(_l("Who was reached"), validators=[Optional(), Length(max=200)])
    help_arrived_at = when(_l("Help confirmed on site at"))
    help_note = StringField(_l("How it was confirmed"), validators=[Optional(), Length(max=200)])
    follow_up_owner_id = SelectField(_l("Follow-up owner"), coerce=int, validators=[Optional()])
    follow_up_due_at = when(
        _l("Follow-up due"),
        description=_l("Blank: critical 4 h, high 24 h, elevated 72 h."),
    )
    follow_up_plan = TextAreaField(
        _l("Follow-up plan"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    handover_to_id = SelectField(
        _l("Hand over to (next shift)"), coerce=int, validators=[Optional()]
    )
    handover_note = TextAreaField(
        _l("Handover note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Save call"))


class CrisisUpdateForm(FlaskForm):
    police_called_at = when(_l("110 called at"))
    ambulance_called_at = when(_l("120 called at"))
    contact_reached_at = when(_l("Emergency contact reached at"))
    contact_note = StringField(_l("Who was reached"), validators=[Optional(), Length(max=200)])
    help_arrived_at = when(_l("Help confirmed on site at"))
    help_note = StringField(_l("How it was confirmed"), validators=[Optional(), Length(max=200)])
    handover_to_id = SelectField(_l("Hand over to"), coerce=int, validators=[Optional()])
    handover_note = TextAreaField(
        _l("Handover note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("Save"))


class FollowUpForm(FlaskForm):
    note = TextAreaField(
        _l("What the follow-up found"),
        validators=[DataRequired(), Length(max=2000)],
        render_kw={"rows": 3},
    )
    submit = SubmitField(_l("Close the follow-up"))


class ReassignForm(FlaskForm):
    owner_id = SelectField(_l("New owner"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Reassign"))


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    start_time = TimeField(_l("Starts at (Beijing time)"), validators=[InputRequired()])
    duration_minutes = IntegerField(
        _l("Duration (minutes)"),
        default=480,
        validators=[InputRequired(), NumberRange(min=30, max=1440)],
        render_kw={"inputmode": "numeric"},
    )
    weekdays = MultiCheckboxField(
        _l("Days of the week"),
        coerce=int,
        default=list(range(7)),
        validators=[DataRequired()],
    )
    seats_needed = IntegerField(
        _l("People needed"),
        default=2,
        validators=[InputRequired(), NumberRange(min=1, max=50)],
        render_kw={"inputmode": "numeric"},
    )
    mode = SelectField(_l("Kind"), choices=mode_choices(), default=ShiftMode.SEATED.value)
    valid_from = DateField(_l("From"), validators=[Optional()])
    valid_until = DateField(_l("Until (optional)"), validators=[Optional()])
    submit = SubmitField(_l("Add template"))


class OneOffShiftForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    starts_at = DateTimeLocalField(
        _l("Starts at"), format=LOCAL_FORMATS, validators=[InputRequired()]
    )
    duration_minutes = IntegerField(
        _l("Duration (minutes)"),
        default=240,
        validators=[InputRequired(), NumberRange(min=30, max=1440)],
    )
    seats_needed = IntegerField(
        _l("People needed"), default=1, validators=[InputRequired(), NumberRange(min=1, max=50)]
    )
    mode = SelectField(_l("Kind"), choices=mode_choices(), default=ShiftMode.SEATED.value)
    submit = SubmitField(_l("Add shift"))


class AssignForm(FlaskForm):
    counselor_id = SelectField(_l("Counsellor"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Assign"))


class SwapForm(FlaskForm):
    to_id = SelectField(_l("Colleague who takes the shift"), coerce=int)
    note = StringField(_l("Message (optional)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Ask for a swap"))


SWAP_DECISIONS = ("accept", "decline", "cancel", "approve", "reject")


class SwapDecisionForm(FlaskForm):
    decision = StringField(validators=[DataRequired(), AnyOf(SWAP_DECISIONS)])


class TermForm(FlaskForm):
    kind = SelectField(
        _l("List"),
        choices=options(
            [
                (TermKind.TOPIC.value, _l("Topics")),
                (TermKind.ACTION.value, _l("Actions taken")),
                (TermKind.REFERRAL.value, _l("Referral targets")),
            ]
        ),
    )
    label_zh = StringField(_l("Chinese label"), validators=[DataRequired(), Length(max=80)])
    label_en = StringField(_l("English label"), validators=[Optional(), Length(max=80)])
    submit = SubmitField(_l("Add"))


class TermEditForm(FlaskForm):
    label_zh = StringField(_l("Chinese label"), validators=[DataRequired(), Length(max=80)])
    label_en = StringField(_l("English label"), validators=[Optional(), Length(max=80)])
    active = BooleanField(_l("In use"))
    submit = SubmitField(_l("Save"))
