from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SubmitField
from wtforms.validators import Length


class ChannelsForm(FlaskForm):
    """How a member hears from us besides the in-app inbox (always on)."""

    sms = BooleanField(_l("Text message (SMS) to my phone"))
    email = BooleanField(_l("E-mail"))
    email_address = EmailField(
        _l("E-mail address"),
        validators=[Length(max=254, message=_l("At most 254 characters."))],
        description=_l("Leave empty if you do not want e-mail."),
    )
    submit = SubmitField(_l("Save"))
