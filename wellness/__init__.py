"""Wellness: workplace psychological services for trade-union members.

``create_app`` reads like a table of contents; nothing here runs at import time.
"""

from __future__ import annotations

from flask import Flask

from wellness.config import Config, config_from_env, load_or_create_secret_key


def create_app(config: type[Config] | None = None, overrides: dict | None = None) -> Flask:
    """Build the app from a config class (default: from WELLNESS_ENV) plus overrides."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    load_config(app, config, overrides or {})
    register_extensions(app)
    register_models()
    register_blueprints(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_template_helpers(app)
    register_commands(app)
    register_instruments(app)
    return app


def load_config(app: Flask, config: type[Config] | None, overrides: dict) -> None:
    app.config.from_object(config or config_from_env())
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret_key(app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path

        Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def register_extensions(app: Flask) -> None:
    from wellness.auth.services import load_user
    from wellness.extensions import babel, csrf, db, limiter, login_manager, mail, migrate
    from wellness.i18n import select_locale, select_timezone
    from wellness.sqlite import configure_sqlite

    db.init_app(app)
    configure_sqlite(app, db)
    migrate.init_app(app, db)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please sign in to see this page.")


def register_models() -> None:
    """Import every package's models so metadata (create_all, Alembic) sees all tables."""
    from wellness import audit  # noqa: F401 - audit_events
    from wellness.packages import feature_modules

    for _module in feature_modules("wellness.{pkg}.models"):
        pass


def register_blueprints(app: Flask) -> None:
    """Register every feature package's blueprint; the JSON API comes last."""
    from wellness.api import routes as api_routes
    from wellness.packages import feature_modules

    for module in feature_modules("wellness.{pkg}.routes"):
        app.register_blueprint(module.bp)
    api_routes.register(app)


def register_error_handlers(app: Flask) -> None:
    from wellness import errors

    errors.register_error_handlers(app)


def register_request_hooks(app: Flask) -> None:
    from wellness import security, transactions

    security.register(app)
    transactions.register(app)


def register_template_helpers(app: Flask) -> None:
    from wellness import i18n

    i18n.register_template_helpers(app)


def register_commands(app: Flask) -> None:
    from wellness import cli

    cli.register(app)


def register_instruments(app: Flask) -> None:
    """Validate the instrument registry at start-up (clear error on a bad file)."""
    try:
        from wellness.assessments.instruments import configure_registry
    except ImportError:  # the assessments package is optional in a slimmed deployment
        return
    extra = app.config.get("INSTRUMENTS_EXTRA_DIR")
    configure_registry(extra_dirs=[extra] if extra else [])
