"""Account forms. Field rules only; uniqueness and policy live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from wellness.auth.models import Role
from wellness.auth.phones import InvalidPhone, normalise_mobile

PHONE_ATTRS = {"type": "tel", "inputmode": "numeric", "autocomplete": "tel", "maxlength": 20}


def mainland_mobile(form, field) -> None:
    try:
        field.data = normalise_mobile(field.data or "")
    except InvalidPhone:
        raise ValidationError(_l("Enter a valid mainland mobile number (11 digits).")) from None


class LoginForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"), validators=[DataRequired(), Length(max=24)], render_kw=PHONE_ATTRS
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Sign in"))


class RegisterForm(FlaskForm):
    name = StringField(
        _l("Name or nickname"),
        validators=[DataRequired(), Length(max=80)],
        render_kw={"autocomplete": "nickname"},
    )
    phone = StringField(
        _l("Mobile number"), validators=[DataRequired(), mainland_mobile], render_kw=PHONE_ATTRS
    )
    org_unit_id = SelectField(
        _l("Your union"), coerce=int, validators=[Optional()], validate_choice=True
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=8, max=128)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 8 characters."),
    )
    email = StringField(
        _l("E-mail (optional)"),
        validators=[Optional(), Length(max=254)],
        render_kw={"type": "email", "autocomplete": "email", "inputmode": "email"},
        description=_l("Reminders and replies also reach you by e-mail."),
    )
    sms = BooleanField(
        _l("Send me reminders and replies by SMS"),
        default=True,
        description=_l("Messages never contain your results; quiet from 22:00 to 08:00."),
    )
    submit = SubmitField(_l("Create account"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=8, max=128)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


class ForgotPasswordForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"), validators=[DataRequired(), Length(max=24)], render_kw=PHONE_ATTRS
    )
    submit = SubmitField(_l("Send me a code"))


class ResetPasswordForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"), validators=[DataRequired(), Length(max=24)], render_kw=PHONE_ATTRS
    )
    code = StringField(
        _l("Code from the SMS"),
        validators=[DataRequired(), Length(min=6, max=6)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=8, max=128)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Set the new password"))


class AdminResetPasswordForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, sign this person out and give them a temporary password"),
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Reset password"))


class ConsentForm(FlaskForm):
    version = StringField(validators=[DataRequired(), Length(max=20)])
    agree = BooleanField(
        _l(
            "I have read this and agree to the processing of my sensitive "
            "personal information as described."
        ),
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("I agree"))


class WithdrawConsentForm(FlaskForm):
    submit = SubmitField(_l("Withdraw consent"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


def role_choices():
    return [
        SelectChoice(Role.WORKER.value, _l("Worker")),
        SelectChoice(Role.COUNSELOR.value, _l("Counsellor")),
        SelectChoice(Role.ADMIN.value, _l("Admin")),
    ]


class UserCreateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    phone = StringField(
        _l("Mobile number"), validators=[DataRequired(), mainland_mobile], render_kw=PHONE_ATTRS
    )
    email = StringField(_l("E-mail (optional)"), validators=[Optional(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices())
    org_unit_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(min=8, max=128)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Create user"))


class UserEditForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_choices())
    active = BooleanField(_l("Active"))
    submit = SubmitField(_l("Save"))


class OrgUnitForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("city", _l("City federation")),
            SelectChoice("district", _l("District")),
            SelectChoice("enterprise", _l("Enterprise union")),
        ],
    )
    parent_id = SelectField(_l("Parent"), coerce=int, validators=[Optional()])
    submit = SubmitField(_l("Add"))


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    confirm = BooleanField(
        _l("I understand that this cannot be undone."), validators=[DataRequired()]
    )
    submit = SubmitField(_l("Delete my account and data"))
