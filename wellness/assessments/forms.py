"""The questionnaire form, built per instrument: one required radio group per item."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length

from wellness.assessments.instruments import Instrument


class QuestionnaireBase(FlaskForm):
    submission_key = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("See my result"))


def questionnaire_form_class(inst: Instrument, lang: str) -> type[QuestionnaireBase]:
    """A form class for ``inst`` in ``lang``. Choice values are the item's allowed codes as
    ASCII strings, so anything else (full-width digits, '+3', ' 2') is not a valid choice."""
    attrs = {}
    for item in inst.items:
        choices = [
            SelectChoice(str(option.value), option.label.get(lang) or option.label["zh"])
            for option in item.options
        ]
        attrs[f"q{item.number}"] = RadioField(
            item.text.get(lang) or item.text["zh"],
            choices=choices,
            validators=[InputRequired(message=_l("Please choose an answer."))],
        )
    return type(f"{inst.code.upper()}Form", (QuestionnaireBase,), attrs)


def answers_from(form: QuestionnaireBase, inst: Instrument) -> list[int]:
    return [int(getattr(form, f"q{item.number}").data) for item in inst.items]
