"""Domain exception root and the HTTP error handlers (HTML pages, JSON under /api/)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class WellnessError(Exception):
    """Root of every domain exception. ``status`` maps it to HTTP at the edge."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(WellnessError):
    status = 422
    code = "invalid"


class NotFound(WellnessError):
    status = 404
    code = "not_found"


class NotPermitted(WellnessError):
    status = 403
    code = "forbidden"


class PasswordChangeRequired(NotPermitted):
    code = "password_change_required"


class Conflict(WellnessError):
    status = 409
    code = "conflict"


_DEFAULT_MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "You do not have access to this page.",
    404: "The page was not found.",
    405: "This method is not allowed here.",
    409: "The request conflicts with the current state.",
    413: "The request is too large.",
    422: "Some fields are not valid.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side.",
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


def localized_default(status: int) -> str:
    # Literal strings so pybabel extracts them.
    messages = {
        400: _("The request could not be understood."),
        401: _("Please sign in."),
        403: _("You do not have access to this page."),
        404: _("The page was not found."),
        405: _("This method is not allowed here."),
        409: _("The request conflicts with the current state."),
        413: _("The request is too large."),
        422: _("Some fields are not valid."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side."),
    }
    return messages.get(status, _DEFAULT_MESSAGES.get(status, ""))


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, code: str, message: str, fields: dict | None = None, headers=None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def _render(status: int, message: str | None = None, headers=None):
    if wants_json():
        return json_error(
            status, _CODES.get(status, "error"), message or localized_default(status), None, headers
        )
    template = f"errors/{status if status in (400, 403, 404, 429, 500) else 'generic'}.html"
    body = render_template(template, status=status, message=message or localized_default(status))
    return body, status, headers or {}


def register_error_handlers(app: Flask) -> None:
    from wellness.extensions import db

    @app.errorhandler(WellnessError)
    def handle_domain_error(error: WellnessError):
        db.session.rollback()
        if wants_json():
            return json_error(error.status, error.code, error.message, error.fields)
        return _render(error.status, error.message)

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        if wants_json():
            return json_error(400, "csrf", _("The form expired. Please go back and try again."))
        return _render(
            400,
            _(
                "The form expired or was sent without its security token. "
                "Please go back, reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        status = error.code or 500
        headers = dict(error.get_headers()) if status in (405, 429) else None
        if headers:
            headers.pop("Content-Type", None)
        return _render(status, None, headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _render(500)
