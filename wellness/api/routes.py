"""The /api/v1 blueprint: bearer authentication, caching headers, and the feature modules.

Each feature adds its endpoints in ``wellness/api/<feature>.py`` on this blueprint; those
views call the same services as the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from wellness.api.spec import api_spec
from wellness.errors import NotPermitted, PasswordChangeRequired, WellnessError
from wellness.packages import feature_modules

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class MalformedJson(WellnessError):
    status = 400
    code = "malformed_json"


class Unauthorized(WellnessError):
    status = 401
    code = "unauthorized"


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def load_user_from_request(req):
    """Flask-Login request loader: bearer tokens, only under /api/."""
    if not req.path.startswith("/api/"):
        return None
    token = bearer_token()
    if token is None:
        return None
    from wellness.auth.services import user_for_api_token

    return user_for_api_token(token)


def session_user_loader(session_id: str):
    """Flask-Login session loader that ignores cookies under /api/ (bearer tokens only)."""
    if request.path.startswith("/api/"):
        return None
    from wellness.auth.services import load_user

    return load_user(session_id)


def before_password_change(view: Callable) -> Callable:
    """Mark an endpoint usable while an admin's reset still asks for a new password."""
    view.allowed_before_password_change = True  # type: ignore[attr-defined]
    return view


def api_auth(*roles: str) -> Callable:
    """Require a valid bearer token (401) and, when given, one of ``roles`` (403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                raise Unauthorized(_("A valid bearer token is required."))
            if roles and not current_user.has_role(*roles):
                raise NotPermitted(_("Your role cannot use this endpoint."))
            if current_user.must_change_password and not getattr(
                view, "allowed_before_password_change", False
            ):
                raise PasswordChangeRequired(
                    _("Your password was reset by an administrator. Choose your own first.")
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.after_request
def cache_headers(response):
    if response.status_code in (401, 429):
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="wellness"')
    if request.method == "GET" and response.status_code == 200 and response.is_json:
        response.add_etag()
        response.headers["Cache-Control"] = "private, no-cache"
        response.make_conditional(request)
    return response


@bp.before_request
def reject_malformed_json():
    """A body that claims to be JSON but does not parse is a 400, not a missing field."""
    has_body = request.method in ("POST", "PUT", "PATCH", "DELETE") and request.content_length
    if has_body and request.is_json and request.get_json(silent=True) is None:
        raise MalformedJson(_("The request body is not valid JSON."))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document generated from the declared request and response models."""
    return jsonify(api_spec.spec)


@bp.get("/docs")
def docs():
    """A readable page of the OpenAPI document, rendered on the server (no CDN, no JS)."""
    return render_template("api/docs.html", spec=api_spec.spec)


def load_feature_modules() -> None:
    """Import wellness/api/<package>.py for every feature package (they add to ``bp``)."""
    for _module in feature_modules("wellness.api.{pkg}"):
        pass


def register(app: Flask) -> None:
    from wellness.extensions import csrf, login_manager

    load_feature_modules()
    csrf.exempt(bp)
    login_manager.user_loader(session_user_loader)
    login_manager.request_loader(load_user_from_request)
    app.register_blueprint(bp)
