"""Locale selection and template helpers (dates in Beijing time, crisis lines)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from flask import Flask, current_app, has_request_context, request, session
from flask.globals import _cv_app
from flask_babel import (
    format_date,
    format_datetime,
    format_time,
    format_timedelta,
    get_locale,
    get_timezone,
    get_translations,
)
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


def _babel_state():
    """Flask-Babel's per-context namespace, read without the ``g`` proxy (or None)."""
    ctx = _cv_app.get(None)
    return None if ctx is None else ctx.g.__dict__.get("_flask_babel")


def current_locale():
    """``flask_babel.get_locale()`` with a fast path: the locale Flask-Babel has already
    chosen (or forced) for this context. Falls back to the real call when it has not."""
    state = _babel_state()
    locale = getattr(state, "babel_locale", None) if state is not None else None
    return locale if locale is not None else get_locale()


def current_timezone():
    """``flask_babel.get_timezone()`` with the same fast path."""
    state = _babel_state()
    tz = getattr(state, "babel_tzinfo", None) if state is not None else None
    return tz if tz is not None else get_timezone()


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == "zh" else "en"


_FORMATTERS = {"datetime": format_datetime, "date": format_date, "time": format_time}


@lru_cache(maxsize=4096)
def _formatted(kind: str, value, fmt: str, _type: type, _locale, _tz) -> str:
    # The key holds everything the result depends on: the value (its type too, so a date
    # and a naive datetime never share an entry), the pattern, and the current locale and
    # display time zone, which Flask-Babel reads again inside the call.
    return _FORMATTERS[kind](value, fmt)


def cached_format(kind: str, value, fmt: str) -> str:
    """Flask-Babel's format_datetime/date/time, remembered per process: a slot list or an
    agenda shows the same few dozen times on every request, and formatting one costs more
    than the rest of its line."""
    return _formatted(kind, value, fmt, type(value), current_locale(), current_timezone())


def format_time_cached(value, fmt: str = "short") -> str:
    return cached_format("time", value, fmt)


def _dt(value: datetime | None, fmt: str = "medium") -> str:
    return cached_format("datetime", value, fmt) if value else ""


def _date(value, fmt: str = "medium") -> str:
    return cached_format("date", value, fmt) if value else ""


def _time(value, fmt: str = "short") -> str:
    return cached_format("time", value, fmt) if value else ""


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


def install_gettext(app: Flask) -> None:
    """Jinja's gettext callables with one context lookup per call instead of five.

    Flask-Babel's own callables resolve the domain, the context and the locale on every
    string (a page has dozens); these ask only for the current locale (which honours
    ``force_locale``) and keep that locale's catalogue, which Flask-Babel loads once per
    process anyway."""
    by_locale: dict = {}

    def translations():
        locale = current_locale()
        found = by_locale.get(locale)
        if found is None:
            found = by_locale[locale] = get_translations()
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


def register_template_helpers(app: Flask) -> None:
    install_gettext(app)
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
