"""Form pieces shared by every package (core, like errors.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash
from flask_wtf import FlaskForm

from wellness.errors import WellnessError


class ActionForm(FlaskForm):
    """A form with only the CSRF token: for buttons that POST an action."""


def apply_field_errors(form: FlaskForm, error: WellnessError) -> None:
    """Put a service error on the form fields it names; otherwise flash it."""
    placed = False
    for name in error.fields:
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*list(field.errors), error.message]
            placed = True
    if not placed:
        flash(error.message, "error")


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths; anything else goes to ``fallback``."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target
