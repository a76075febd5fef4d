"""Locale selection and template helpers (dates in Beijing time, crisis lines)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, format_time, format_timedelta, get_locale
from flask_login import current_user

from wellness import navigation
from wellness.auth.phones import display_phone, mask_phone

# Shown on every page and on error pages; never read from the database.
NATIONAL_CRISIS_LINES = (
    ("12356", "national"),  # national psychological assistance hotline
    ("120", "ambulance"),
    ("110", "police"),
)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and jobs: the default (Simplified Chinese)
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    try:
        user_locale = current_user.locale if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - the database may be down on an error page
        user_locale = None
    if user_locale in languages:
        return user_locale
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == "zh" else "en"


def _dt(value: datetime | None, fmt: str = "medium") -> str:
    return format_datetime(value, fmt) if value else ""


def _date(value, fmt: str = "medium") -> str:
    return format_date(value, fmt) if value else ""


def _time(value, fmt: str = "short") -> str:
    return format_time(value, fmt) if value else ""


def viewer():
    """The signed-in user, or None; never raises (error pages render with the DB down)."""
    try:
        return current_user if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001
        return None


def has_endpoint(endpoint: str) -> bool:
    """Templates link to other features only when they are installed."""
    return endpoint in current_app.view_functions


def _delta(value) -> str:
    """A signed timedelta as 'in 25 minutes' / '2 hours ago', localised."""
    return format_timedelta(value, add_direction=True, threshold=1.5) if value is not None else ""


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        dt=_dt, date=_date, time=_time, delta=_delta, phone=display_phone, mask_phone=mask_phone
    )
    app.jinja_env.globals.update(
        html_lang=html_lang,
        get_locale=get_locale,
        viewer=viewer,
        has_endpoint=has_endpoint,
    )
    navigation.register(app)

    @app.context_processor
    def crisis_lines():
        return {
            "national_crisis_lines": NATIONAL_CRISIS_LINES,
            "local_hotlines": current_app.config["HOTLINE_NUMBERS"],
        }
