"""Configuration classes. This is the only module that reads ``os.environ``.

Every setting has a default that works on a laptop; production overrides come from the
environment (see ``.env.example`` and ``docs/operations.md``).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def normalise_database_url(url: str) -> str:
    """Map 12-factor style URLs onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_or_create_secret_key(instance_path: str) -> str:
    """Return SECRET_KEY from the environment, or one generated once into instance/."""
    from_env = _env("SECRET_KEY")
    if from_env:
        return from_env
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key


def _local_hotlines() -> list[dict[str, str]]:
    """Parse ``HOTLINE_NUMBERS`` as ``label|number[|hours];...``."""
    raw = _env("HOTLINE_NUMBERS", "本市职工心理援助热线|12351|24小时") or ""
    lines = []
    for part in raw.split(";"):
        fields = [f.strip() for f in part.split("|")]
        if len(fields) >= 2 and fields[1]:
            line = {"label": fields[0], "number": fields[1]}
            if len(fields) > 2 and fields[2]:
                line["hours"] = fields[2]
            lines.append(line)
    return lines


class Config:
    """Defaults shared by every environment."""

    SECRET_KEY: str | None = None  # filled by create_app from env or instance/secret_key
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        _env("DATABASE_URL", "sqlite:///wellness.sqlite") or ""
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Sessions and cookies: short, HttpOnly, SameSite, Secure unless explicitly off for dev.
    SESSION_COOKIE_NAME = "wellness_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=_env_int("SESSION_MINUTES", 120))
    REMEMBER_COOKIE_DURATION = timedelta(days=_env_int("REMEMBER_DAYS", 7))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    MAX_FORM_PARTS = 500
    PREFERRED_URL_SCHEME = _env("PREFERRED_URL_SCHEME", "https")
    PROXY_FIX_HOPS = _env_int("PROXY_FIX_HOPS", 0)

    WTF_CSRF_TIME_LIMIT = 3600

    # i18n: Simplified Chinese first, English second; times shown in Beijing time.
    LANGUAGES = ("zh", "en")
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).resolve().parent.parent / "translations")

    # Rate limits (Flask-Limiter). memory:// is per process; use Redis with several workers.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "5 per minute;30 per hour")
    REGISTER_RATE_LIMIT = _env("REGISTER_RATE_LIMIT", "10 per hour")
    # Password reset by SMS code: per client address (the route's limiter) and per number
    # (counted in the database, so it holds across processes).
    RESET_RATE_LIMIT = _env("RESET_RATE_LIMIT", "5 per minute;20 per hour")
    RESET_CODE_MINUTES = int(_env("RESET_CODE_MINUTES", "10"))
    RESET_CODE_MAX_ATTEMPTS = 5
    RESET_CODES_PER_15_MINUTES = 3
    RESET_CODES_PER_DAY = 10

    # Bearer tokens for the JSON API (mobile app).
    API_TOKEN_HOURS = _env_int("API_TOKEN_HOURS", 24 * 30)
    API_MAX_PER_PAGE = 100

    # Password hashing (argon2id, RFC 9106 low-memory profile by default).
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _env_int("ARGON2_MEMORY_COST", 65536)
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 4)
    PASSWORD_MIN_LENGTH = 8

    # Mail (Flask-Mailman). Without MAIL_SERVER, e-mail goes to the console backend.
    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 10)
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "wellness@localhost")
    MAIL_BACKEND = _env("MAIL_BACKEND", "smtp" if _env("MAIL_SERVER") else "console")
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)

    # Notify channels (SMS + quiet hours). SMS_BACKEND: console (logs) or aliyun (Dysmsapi).
    SMS_BACKEND = _env("SMS_BACKEND", "console")
    SMS_ALIYUN_ACCESS_KEY_ID = _env("SMS_ALIYUN_ACCESS_KEY_ID")
    SMS_ALIYUN_ACCESS_KEY_SECRET = _env("SMS_ALIYUN_ACCESS_KEY_SECRET")
    SMS_ALIYUN_SIGN_NAME = _env("SMS_ALIYUN_SIGN_NAME")
    SMS_ALIYUN_TEMPLATE_NOTICE = _env("SMS_ALIYUN_TEMPLATE_NOTICE")
    SMS_ALIYUN_TEMPLATE_CODE = _env("SMS_ALIYUN_TEMPLATE_CODE")
    SMS_HTTP_URL = _env("SMS_HTTP_URL", "https://dysmsapi.aliyuncs.com/")
    SMS_HTTP_TIMEOUT = _env_int("SMS_HTTP_TIMEOUT", 5)
    QUIET_HOURS = _env("QUIET_HOURS", "22:00-08:00")  # Beijing time; SMS waits unless urgent
    OUTBOX_KICK = _env_bool("OUTBOX_KICK", True)  # deliver in a background thread on commit

    # Crisis resources: rendered on every page without touching the database.
    HOTLINE_NUMBERS = _local_hotlines()

    # Consent for processing sensitive personal information (PIPL art. 29).
    CONSENT_VERSION = _env("CONSENT_VERSION", "2026-11")

    # Scheduler
    SCHEDULER_TIMEZONE = "Asia/Shanghai"
    SCHEDULER_LOCK_FILE = _env("SCHEDULER_LOCK_FILE")  # default: instance/scheduler.lock

    # Assessments: a licensed deployment drops extra instrument files here.
    INSTRUMENTS_EXTRA_DIR = _env("INSTRUMENTS_EXTRA_DIR")

    # Booking: a station's computed slots per day kept per worker (0 turns it off).
    SLOT_CACHE_SIZE = _env_int("SLOT_CACHE_SIZE", 512)

    SMALL_CELL_K = _env_int("SMALL_CELL_K", 5)
    REPORTS_CACHE_DIR = _env("REPORTS_CACHE_DIR")  # default: instance/report_cache
    REPORTS_CHART_CACHE_FILES = _env_int("REPORTS_CHART_CACHE_FILES", 400)
    REPORTS_DATA_CHECK_SECONDS = _env_int("REPORTS_DATA_CHECK_SECONDS", 30)

    # Re-screening: days until a member is reminded to take an instrument again.
    RESCREEN_DAYS = {
        "moderate_or_worse": _env_int("RESCREEN_DAYS_MODERATE", 14),
        "mild": _env_int("RESCREEN_DAYS_MILD", 28),
        "minimal": _env_int("RESCREEN_DAYS_MINIMAL", 90),
    }

    # Booking
    BOOKING_HOLD_MINUTES = _env_int("BOOKING_HOLD_MINUTES", 120)  # freed place held for waitlist
    BOOKING_ICS_DOMAIN = _env("BOOKING_ICS_DOMAIN")  # domain in .ics UIDs; default request host

    # Hotline (the 2021 hotline guideline: >= 2 seats, records kept >= 3 years)
    HOTLINE_RETENTION_DAYS = _env_int("HOTLINE_RETENTION_DAYS", 1095)
    HOTLINE_MIN_SEATS = _env_int("HOTLINE_MIN_SEATS", 2)
    HOTLINE_SERVICE_HOURS = _env("HOTLINE_SERVICE_HOURS", "0-24")
    HOTLINE_GAP_WARNING_HOURS = _env_int("HOTLINE_GAP_WARNING_HOURS", 72)
    HOTLINE_ROSTER_WEEKS = _env_int("HOTLINE_ROSTER_WEEKS", 4)
    HOTLINE_REPEAT_DAYS = _env_int("HOTLINE_REPEAT_DAYS", 30)
    HOTLINE_FOLLOW_UP_HOURS = {
        "critical": _env_int("HOTLINE_FOLLOW_UP_HOURS_CRITICAL", 4),
        "high": _env_int("HOTLINE_FOLLOW_UP_HOURS_HIGH", 24),
        "elevated": _env_int("HOTLINE_FOLLOW_UP_HOURS_ELEVATED", 72),
    }
    HOTLINE_WITHDRAW_HOURS = _env_int("HOTLINE_WITHDRAW_HOURS", 48)

    # Risk queue: minutes within which a flag of each level must be claimed.
    RISK_CLAIM_MINUTES = {
        "critical": _env_int("RISK_CLAIM_MINUTES_CRITICAL", 30),
        "high": _env_int("RISK_CLAIM_MINUTES_HIGH", 24 * 60),
        "elevated": _env_int("RISK_CLAIM_MINUTES_ELEVATED", 72 * 60),
    }

    # Risk queue auto-assignment: a NEW flag is claimed on behalf of the on-duty counsellor
    # (wellness.duty) with the fewest open cases. Off: flags wait in the queue to be claimed.
    RISK_AUTO_ASSIGN = _env_bool("RISK_AUTO_ASSIGN", False)

    # Ask a counsellor: first-reply deadlines shown to the member (hours) and how long a
    # closed conversation is kept before the nightly sweep deletes it (days).
    MESSAGING_FIRST_REPLY_HOURS = _env_int("MESSAGING_FIRST_REPLY_HOURS", 24)
    MESSAGING_URGENT_REPLY_HOURS = _env_int("MESSAGING_URGENT_REPLY_HOURS", 1)
    MESSAGING_RETENTION_DAYS = _env_int("MESSAGING_RETENTION_DAYS", 365)

    # Care plans: questionnaires before a session (or assigned) are sent this many hours
    # before they are due; a submission inside that window completes them.
    CARE_MEASURE_LEAD_HOURS = _env_int("CARE_MEASURE_LEAD_HOURS", 48)


class DevelopmentConfig(Config):
    """`make run` on a laptop: plain HTTP on 127.0.0.1, so cookies cannot be Secure-only."""

    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PREFERRED_URL_SCHEME = _env("PREFERRED_URL_SCHEME", "http")


class ProductionConfig(Config):
    """Behind TLS; DATABASE_URL normally points at PostgreSQL."""


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - test only
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        _env("TEST_DATABASE_URL", "sqlite://") or "sqlite://"
    )
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = True  # login limit raised in tests; one test lowers it
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_BACKEND = "locmem"
    SMS_BACKEND = "console"
    OUTBOX_KICK = False  # tests deliver with deliver_due() themselves
    # Cheap hashes keep the suite fast; production keeps the argon2id defaults above.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    HOTLINE_NUMBERS = [{"label": "本市职工心理援助热线", "number": "12351"}]


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env() -> type[Config]:
    return CONFIGS.get(_env("WELLNESS_ENV", "development") or "development", DevelopmentConfig)


def test_database_url() -> str | None:
    """The PostgreSQL URL the test suite runs against, when set."""
    value = _env("TEST_DATABASE_URL")
    return normalise_database_url(value) if value else None
