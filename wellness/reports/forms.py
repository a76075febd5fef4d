"""The dashboard's filter bar (a GET form: no CSRF token, nothing changes on the server).

Fields only carry text; what they mean (whole months, the organisation exists, at most five
years...) is checked once, in ``services.build_filters``, for the pages and the API alike.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

# Service error fields -> form attributes.
FIELD_NAMES = {"from": "date_from", "to": "date_to"}


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = StringField(
        _l("From month"),
        name="from",
        validators=[Optional(), Length(max=10)],
        render_kw={"type": "month", "placeholder": "2026-01"},
    )
    date_to = StringField(
        _l("To month"),
        name="to",
        validators=[Optional(), Length(max=10)],
        render_kw={"type": "month", "placeholder": "2026-12"},
    )
    org_unit = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    children = BooleanField(_l("Include units below it"), default=True)
    instrument = SelectField(_l("Questionnaire"), choices=[], validate_choice=False)
    station = SelectField(_l("Station"), choices=[], validate_choice=False)
    applied = HiddenField(default="1")


class MonthForm(FlaskForm):
    class Meta:
        csrf = False

    month = StringField(
        _l("Month"),
        validators=[Optional(), Length(max=10)],
        render_kw={"type": "month", "placeholder": "2026-01"},
    )
    org_unit = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    children = BooleanField(_l("Include units below it"), default=True)
    instrument = SelectField(_l("Questionnaire"), choices=[], validate_choice=False)
    applied = HiddenField(default="1")
