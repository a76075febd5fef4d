"""Tokens, consent and the signed-in user."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import Field

from wellness.api.routes import api_auth, bearer_token, before_password_change, bp
from wellness.api.spec import Body, Out, api_spec, responses
from wellness.auth import reset, services
from wellness.extensions import limiter


class TokenRequest(Body):
    phone: str = Field(min_length=1, max_length=24)
    password: str = Field(min_length=1, max_length=128)


class TokenOut(Out):
    token: str
    expires_at: datetime


class MeOut(Out):
    id: int
    name: str
    phone: str
    role: str
    org_unit_id: int | None
    locale: str | None


class ConsentOut(Out):
    version: str
    text: str
    given: bool
    given_at: datetime | None = None


class ConsentRequest(Body):
    version: str = Field(min_length=1, max_length=20)


class Empty(Out):
    ok: bool = True


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.post("/auth/token")
@limiter.limit(_login_limit)
@api_spec.validate(
    json=TokenRequest, resp=responses("HTTP_201", TokenOut, "HTTP_422"), tags=["auth"], security={}
)
def issue_token(json: TokenRequest):
    """Exchange a mobile number and password for a bearer token."""
    token, row = services.issue_api_token(json.phone, json.password)
    return TokenOut(token=token, expires_at=row.expires_at), 201


@bp.delete("/auth/token")
@api_auth()
@api_spec.validate(resp=responses("HTTP_200", Empty), tags=["auth"])
def revoke_token():
    """Revoke the token used for this request."""
    services.revoke_api_token(bearer_token() or "")
    return Empty()


@bp.get("/me")
@api_auth()
@api_spec.validate(resp=responses("HTTP_200", MeOut), tags=["auth"])
def me():
    """The signed-in user."""
    return MeOut.model_validate(current_user._get_current_object())


def consent_text() -> str:
    return _(
        "Your answers to self-assessment questionnaires and their scores, the appointments you "
        "book, the vouchers you hold, and any notes a counsellor makes when following up with "
        "you. This is health information and is treated as sensitive personal information "
        "under the Personal Information Protection Law."
    )


def _consent_out() -> ConsentOut:
    record = services.current_consent(current_user._get_current_object())
    return ConsentOut(
        version=current_app.config["CONSENT_VERSION"],
        text=consent_text(),
        given=record is not None,
        given_at=record.given_at if record else None,
    )


@bp.get("/consent")
@api_auth("worker")
@api_spec.validate(resp=responses("HTTP_200", ConsentOut), tags=["consent"])
def get_consent():
    """The current consent text and whether the member has given it."""
    return _consent_out()


@bp.post("/consent")
@api_auth("worker")
@api_spec.validate(
    json=ConsentRequest, resp=responses("HTTP_201", ConsentOut, "HTTP_422"), tags=["consent"]
)
def give_consent(json: ConsentRequest):
    """Record consent to process sensitive personal information (needed for assessments)."""
    services.give_consent(current_user._get_current_object(), json.version, ip=request.remote_addr)
    return _consent_out(), 201


@bp.delete("/consent")
@api_auth("worker")
@api_spec.validate(resp=responses("HTTP_200", ConsentOut), tags=["consent"])
def withdraw_consent():
    """Withdraw consent; new assessments then need it again."""
    services.withdraw_consent(current_user._get_current_object())
    return _consent_out()


# ----------------------------------------------------------------------------- passwords


class ResetRequest(Body):
    phone: str = Field(min_length=1, max_length=24)


class ResetConfirm(Body):
    phone: str = Field(min_length=1, max_length=24)
    code: str = Field(min_length=1, max_length=12)
    new_password: str = Field(min_length=1, max_length=128)


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class ResetAccepted(Out):
    message: str


def _reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


@bp.post("/auth/password-reset")
@limiter.limit(_reset_limit)
@api_spec.validate(
    json=ResetRequest,
    resp=responses("HTTP_202", ResetAccepted, "HTTP_422"),
    tags=["auth"],
    security={},
)
def request_password_reset(json: ResetRequest):
    """Send a one-time code by SMS. The answer is the same whether or not the number exists."""
    reset.request_code(json.phone)
    message = _(
        "If this number is registered, we have sent a code to it by SMS. It is valid "
        "for %(n)s minutes.",
        n=current_app.config["RESET_CODE_MINUTES"],
    )
    return ResetAccepted(message=message), 202


@bp.post("/auth/password-reset/confirm")
@limiter.limit(_reset_limit)
@api_spec.validate(
    json=ResetConfirm, resp=responses("HTTP_200", Empty, "HTTP_422"), tags=["auth"], security={}
)
def confirm_password_reset(json: ResetConfirm):
    """Set a new password with the code; every session and token of the account ends."""
    reset.reset_with_code(json.phone, json.code, json.new_password)
    return Empty()


@bp.post("/auth/password")
@api_auth()
@api_spec.validate(
    json=PasswordChange, resp=responses("HTTP_200", Empty, "HTTP_422"), tags=["auth"]
)
@before_password_change
def change_password(json: PasswordChange):
    """Change the password (also after an admin's reset); every token of the account ends."""
    services.change_password(
        current_user._get_current_object(), json.current_password, json.new_password
    )
    return Empty()
