"""Booking forms: field rules only. Choices are filled in by the views from services;
availability, capacity and policy are checked by the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
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

WEEKDAYS = [
    SelectChoice(0, _l("Monday")),
    SelectChoice(1, _l("Tuesday")),
    SelectChoice(2, _l("Wednesday")),
    SelectChoice(3, _l("Thursday")),
    SelectChoice(4, _l("Friday")),
    SelectChoice(5, _l("Saturday")),
    SelectChoice(6, _l("Sunday")),
]

ROOM_KINDS = [
    SelectChoice("individual", _l("Individual counselling room")),
    SelectChoice("group", _l("Group room")),
    SelectChoice("sand_table", _l("Sand-table room")),
    SelectChoice("relaxation", _l("Relaxation room")),
    SelectChoice("assessment", _l("Assessment room")),
]


class BookForm(FlaskForm):
    slot_id = HiddenField(validators=[DataRequired(), Length(max=60)])
    nonce = HiddenField(validators=[Optional(), Length(max=64)])
    voucher_code = StringField(
        _l("Voucher code"),
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )
    waitlist = HiddenField(validators=[Optional()])
    submit = SubmitField(_l("Confirm booking"))


class WaitlistForm(FlaskForm):
    station_id = HiddenField(validators=[DataRequired()])
    service = HiddenField(validators=[DataRequired(), Length(max=30)])
    day = HiddenField(validators=[DataRequired(), Length(max=10)])
    submit = SubmitField(_l("Tell me when a time frees up"))


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Cancel appointment"))


class StaffCancelForm(FlaskForm):
    reason = StringField(_l("Reason for the member"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel appointment"))


class AcceptOfferForm(FlaskForm):
    voucher_code = StringField(
        _l("Voucher code"),
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "off"},
    )
    submit = SubmitField(_l("Accept"))


class AttendanceForm(FlaskForm):
    outcome = HiddenField(validators=[DataRequired(), Length(max=10)])


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Private session note"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("Visible only to you and to counsellors who see this client."),
    )
    submit = SubmitField(_l("Save note"))


class StationForm(FlaskForm):
    name = StringField(_l("Station name"), validators=[DataRequired(), Length(max=120)])
    district = StringField(_l("City district"), validators=[DataRequired(), Length(max=60)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    latitude = FloatField(
        _l("Latitude"), validators=[InputRequired(), NumberRange(min=-90, max=90)]
    )
    longitude = FloatField(
        _l("Longitude"), validators=[InputRequired(), NumberRange(min=-180, max=180)]
    )
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=30)])
    opening_note = StringField(
        _l("Opening hours (as shown to members)"), validators=[Optional(), Length(max=255)]
    )
    accessibility = TextAreaField(
        _l("Accessibility notes"), validators=[Optional(), Length(max=2000)]
    )
    active = BooleanField(_l("Open for bookings"), default=True)
    submit = SubmitField(_l("Save"))


class RoomForm(FlaskForm):
    name = StringField(_l("Room name"), validators=[DataRequired(), Length(max=80)])
    kind = SelectField(_l("Kind"), choices=ROOM_KINDS, validators=[DataRequired()])
    capacity = IntegerField(
        _l("Capacity"), validators=[InputRequired(), NumberRange(min=1, max=200)], default=1
    )
    active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save room"))


class HoursForm(FlaskForm):
    weekday = SelectField(_l("Weekday"), choices=WEEKDAYS, coerce=int)
    opens = TimeField(_l("Opens"), validators=[InputRequired()])
    closes = TimeField(_l("Closes"), validators=[InputRequired()])
    submit = SubmitField(_l("Add opening hours"))


class ClosureForm(FlaskForm):
    first_day = DateField(_l("First day"), validators=[InputRequired()])
    last_day = DateField(_l("Last day"), validators=[InputRequired()])
    reason = StringField(_l("Reason for closing"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Add closure"))


class ServiceForm(FlaskForm):
    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    duration_minutes = IntegerField(
        _l("Duration (minutes)"), validators=[InputRequired(), NumberRange(min=5, max=600)]
    )
    buffer_minutes = IntegerField(
        _l("Buffer after (minutes)"), validators=[InputRequired(), NumberRange(min=0, max=120)]
    )
    capacity = IntegerField(
        _l("Default group size"), validators=[InputRequired(), NumberRange(min=1, max=200)]
    )
    min_notice_minutes = IntegerField(
        _l("Minimum booking notice (minutes)"),
        validators=[InputRequired(), NumberRange(min=0, max=20160)],
    )
    horizon_days = IntegerField(
        _l("Booking horizon (days)"), validators=[InputRequired(), NumberRange(min=1, max=365)]
    )
    late_cancel_hours = IntegerField(
        _l("Late-cancel window (hours)"),
        validators=[InputRequired(), NumberRange(min=0, max=336)],
    )
    voucher_required = BooleanField(_l("A voucher is required"))
    active = BooleanField(_l("Offered"), default=True)
    submit = SubmitField(_l("Save"))


class ProfileForm(FlaskForm):
    gender = SelectField(
        _l("Gender"),
        choices=[
            SelectChoice("", _l("Not shown")),
            SelectChoice("female", _l("Female")),
            SelectChoice("male", _l("Male")),
        ],
        validators=[Optional()],
    )
    languages = StringField(
        _l("Languages"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("For example: 普通话, 粤语, English"),
    )
    specialties = StringField(_l("Specialties"), validators=[Optional(), Length(max=255)])
    bio = TextAreaField(_l("About me"), validators=[Optional(), Length(max=2000)])
    accepts_bookings = BooleanField(_l("Members can book me"), default=True)
    submit = SubmitField(_l("Save profile"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CounselorStationsForm(FlaskForm):
    stations = MultiCheckboxField(_l("Works at"), coerce=int, validators=[Optional()])
    submit = SubmitField(_l("Save stations"))


class RuleForm(FlaskForm):
    weekday = SelectField(_l("Weekday"), choices=WEEKDAYS, coerce=int)
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("work", _l("Working hours")), SelectChoice("break", _l("Break"))],
    )
    station_id = SelectField(_l("Station"), coerce=int, validators=[Optional()])
    starts = TimeField(_l("From"), validators=[InputRequired()])
    ends = TimeField(_l("Until"), validators=[InputRequired()])
    submit = SubmitField(_l("Add to weekly template"))


class ExceptionForm(FlaskForm):
    day = DateField(_l("Date"), validators=[InputRequired()])
    station_id = SelectField(_l("Station"), coerce=int, validators=[Optional()])
    starts = TimeField(_l("From"), validators=[Optional()])
    ends = TimeField(_l("Until"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Add date exception"))


class TimeOffForm(FlaskForm):
    starts_at = DateTimeLocalField(
        _l("From"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Add time off"))


class GroupSessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    service = SelectField(_l("Service"), validators=[DataRequired()])
    room_id = SelectField(_l("Room"), coerce=int, validators=[InputRequired()])
    counselor_id = SelectField(_l("Counsellor"), coerce=int, validators=[InputRequired()])
    starts_at = DateTimeLocalField(
        _l("Starts"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    capacity = IntegerField(
        _l("Seats"), validators=[InputRequired(), NumberRange(min=1, max=200)], default=6
    )
    org_unit_id = SelectField(_l("Open to"), coerce=int, validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Schedule group session"))


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason for cancelling"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel session"))
