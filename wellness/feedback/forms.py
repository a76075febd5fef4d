"""The rating form: a score from 1 to 5 and an optional comment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from wellness.feedback.models import COMMENT_MAX


def score_choices():
    labels = {
        1: _l("1 - Not helpful"),
        2: _l("2"),
        3: _l("3"),
        4: _l("4"),
        5: _l("5 - Very helpful"),
    }
    return [SelectChoice(str(n), labels[n]) for n in range(1, 6)]


class RatingForm(FlaskForm):
    score = RadioField(
        _l("How helpful was this session?"),
        choices=score_choices(),
        validators=[DataRequired(message=_l("Choose a score from 1 to 5."))],
    )
    comment = TextAreaField(
        _l("Anything you would like to tell us (optional)"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
    )
