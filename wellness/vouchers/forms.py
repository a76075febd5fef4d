"""Voucher forms. Field rules only; every business rule lives in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

CODE_ATTRS = {
    "autocomplete": "off",
    "autocapitalize": "characters",
    "spellcheck": "false",
    "maxlength": 40,
    "placeholder": "XXXX-XXXX-XXXX-XXXX",
}
DIGITS = r"^[0-9]{1,6}$"  # ASCII digits only (WTForms' IntegerField accepts "٣" and "+3")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def at_least_one(form, field) -> None:
    """Like DataRequired, without putting ``required`` on every checkbox of the group."""
    if not field.data:
        raise ValidationError(_l("Choose at least one."))


class ClaimForm(FlaskForm):
    voucher_code = StringField(
        _l("Voucher code"),
        validators=[DataRequired(), Length(max=300)],
        render_kw=CODE_ATTRS,
        description=_l("16 characters, printed under the QR code. Dashes and spaces are fine."),
    )
    submit = SubmitField(_l("Add to my wallet"))


class StationLookupForm(FlaskForm):
    """A GET form (no CSRF): looking a code up changes nothing but the audit trail."""

    class Meta:
        csrf = False

    voucher_code = StringField(
        _l("Voucher code"),
        validators=[DataRequired(), Length(max=300)],
        render_kw=CODE_ATTRS,
        description=_l("Type the code or scan the QR code with the tablet camera."),
    )
    submit = SubmitField(_l("Check"))


class ConsumeForm(FlaskForm):
    voucher_code = HiddenField(validators=[DataRequired(), Length(max=300)])
    service_code = SelectField(_l("Service given"), validators=[DataRequired()])
    submit = SubmitField(_l("Use one session now"))


class RevokeForm(FlaskForm):
    reason = StringField(
        _l("Reason for withdrawing"),
        validators=[DataRequired(), Length(max=300)],
    )
    submit = SubmitField(_l("Withdraw voucher"))


class BatchForm(FlaskForm):
    name = StringField(_l("Batch name"), validators=[DataRequired(), Length(max=120)])
    org_unit_id = SelectField(_l("Issued by"), coerce=int, validators=[Optional()])
    service_codes = MultiCheckboxField(
        _l("Services it pays for"), validators=[at_least_one], validate_choice=True
    )
    sessions = StringField(
        _l("Free sessions per voucher"),
        default="1",
        validators=[InputRequired(), Regexp(DIGITS, message=_l("Enter a whole number."))],
        render_kw={"inputmode": "numeric", "maxlength": 3},
    )
    valid_from = DateField(_l("First day"), validators=[Optional()])
    valid_until = DateField(_l("Last day"), validators=[DataRequired()])
    per_member_limit = StringField(
        _l("Vouchers per member"),
        default="1",
        validators=[Optional(), Regexp(DIGITS, message=_l("Enter a whole number."))],
        render_kw={"inputmode": "numeric", "maxlength": 3},
        description=_l("Leave empty for no limit."),
    )
    limit_period = SelectField(_l("Per"), validators=[DataRequired()])
    target = RadioField(
        _l("Give vouchers to"),
        choices=[
            SelectChoice("members", _l("Members in a CSV file (mobile number or member id)")),
            SelectChoice("org_unit", _l("Every member of an organisation and the units below it")),
            SelectChoice("bearer", _l("Unassigned codes to print and hand out")),
        ],
        default="members",
        validators=[DataRequired()],
    )
    csv_file = FileField(
        _l("CSV file"),
        description=_l(
            "One member per line; a header such as 手机号 is fine. UTF-8, with or without BOM."
        ),
    )
    target_org_unit_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    bearer_count = StringField(
        _l("Number of codes"),
        validators=[Optional(), Regexp(DIGITS, message=_l("Enter a whole number."))],
        render_kw={"inputmode": "numeric", "maxlength": 6},
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Check recipients"))
