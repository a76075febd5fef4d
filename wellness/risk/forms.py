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
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from wellness.risk.models import ContactChannel, FollowUpKind, Outcome, TransferReason


def outcome_choices():
    labels = {
        Outcome.SAFETY_PLAN: _l("Safety plan made"),
        Outcome.APPOINTMENT_BOOKED: _l("Appointment booked"),
        Outcome.REFERRED_HOSPITAL: _l("Referred to hospital / 120"),
        Outcome.REFERRED_HOTLINE: _l("Referred to the hotline"),
        Outcome.NOT_REACHABLE: _l("Not reachable after several attempts"),
        Outcome.NO_RISK: _l("No risk found on contact"),
    }
    return [SelectChoice("", _l("Choose an outcome"))] + [
        SelectChoice(o.value, labels[o]) for o in Outcome
    ]


class ContactForm(FlaskForm):
    channel = SelectField(
        _l("How"),
        choices=[
            SelectChoice(ContactChannel.PHONE.value, _l("Phone")),
            SelectChoice(ContactChannel.IN_PERSON.value, _l("In person")),
            SelectChoice(ContactChannel.MESSAGE.value, _l("Message")),
        ],
    )
    reached = BooleanField(_l("Reached the person"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Log contact"))


class ResolveForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=outcome_choices(),
        validators=[DataRequired(message=_l("Choose an outcome."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
    follow_up_days = IntegerField(
        _l("Follow up in (days)"),
        validators=[Optional(), NumberRange(min=1, max=365)],
        render_kw={"inputmode": "numeric"},
    )
    follow_up_kind = SelectField(
        _l("Follow-up"),
        choices=[
            SelectChoice(FollowUpKind.CONTACT.value, _l("Contact again")),
            SelectChoice(FollowUpKind.REASSESSMENT.value, _l("Re-assessment")),
        ],
    )
    submit = SubmitField(_l("Resolve"))


class SafetyPlanForm(FlaskForm):
    warning_signs = TextAreaField(_l("Warning signs"), validators=[Length(max=4000)])
    coping_steps = TextAreaField(_l("Things I can do to cope"), validators=[Length(max=4000)])
    people_places = TextAreaField(_l("People and places that help"), validators=[Length(max=4000)])
    contacts = TextAreaField(_l("People and services I can call"), validators=[Length(max=4000)])
    safe_environment = TextAreaField(
        _l("Making my surroundings safe"), validators=[Length(max=4000)]
    )
    submit = SubmitField(_l("Save a new version"))


class CallbackForm(FlaskForm):
    preferred = StringField(
        _l("When is a good time to call you?"), validators=[Optional(), Length(max=100)]
    )


class FollowUpDoneForm(FlaskForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Done"))


def transfer_reason_choices():
    labels = {
        TransferReason.WORKLOAD: _l("Workload"),
        TransferReason.EXPERTISE: _l("Another counsellor fits better"),
        TransferReason.AVAILABILITY: _l("Leave or end of shift"),
        TransferReason.PERSON_ASKED: _l("The person asked for someone else"),
        TransferReason.UNCLAIMED: _l("Nobody claimed it in time"),
    }
    return [SelectChoice(reason.value, label) for reason, label in labels.items()]


class TransferForm(FlaskForm):
    to_user_id = SelectField(
        _l("Hand the case to"),
        coerce=int,
        validators=[DataRequired(message=_l("Choose a counsellor."))],
    )
    reason = SelectField(
        _l("Reason for the hand-over"),
        choices=transfer_reason_choices(),
        validators=[DataRequired(message=_l("Choose a reason."))],
    )
    note = TextAreaField(
        _l("Note for the new counsellor"), validators=[Optional(), Length(max=1000)]
    )
    submit = SubmitField(_l("Hand over"))
