"""Form pieces shared by every package (core, like errors.py)."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A form with only the CSRF token: for buttons that POST an action."""
