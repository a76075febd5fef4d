"""The OpenAPI document is generated from these declarations (spectree, strict mode).

Request bodies are strict pydantic models (no coercion, unknown fields rejected); query
strings are parsed leniently (they are text by nature) but unknown parameters are rejected.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

from wellness.errors import InvalidInput


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


class PageQuery(Query):
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=100)


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "__root__")]
    return ".".join(parts) or "body"


def _message_for(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown_field"
    if kind.endswith("_type") or kind in ("int_from_float",):
        return "wrong_type"
    return kind or "invalid"


def raise_validation_error(req, resp, req_validation_error, instance, model_adapter=None):
    """spectree 'before' hook: turn a pydantic error into our one error format."""
    if req_validation_error is None:
        return
    fields: dict[str, str] = {}
    for error in req_validation_error.errors():
        fields.setdefault(_field_name(tuple(error.get("loc", ()))), _message_for(error))
    raise InvalidInput(_("Some fields are not valid."), fields)


api_spec = SpecTree(
    "flask",
    mode="strict",
    title="Wellness API",
    version="1.0.0",
    description=(
        "JSON API v1 for the Wellness mobile app. Authenticate with POST /api/v1/auth/token "
        "and send `Authorization: Bearer <token>`. Every error has the shape "
        '`{"error": {"code", "message", "fields"}}`; messages follow Accept-Language (zh, en).'
    ),
    path="apidoc",  # only used by spectree to skip its own routes; we serve the document
    page_templates={},
    before=raise_validation_error,
    validation_error_status=422,
    validation_error_model=ErrorBody,
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
    ],
    security={"bearer": []},
    annotations=True,
)

COMMON_ERRORS = ("HTTP_400", "HTTP_401", "HTTP_403", "HTTP_404", "HTTP_429")


def responses(ok: str, model: type[BaseModel] | None, *extra: str) -> Response:
    """A Response declaring the success model plus every error status the view may return."""
    codes = {code: ErrorBody for code in (*COMMON_ERRORS, *extra)}
    return Response(**{ok: model}, **codes)


def page_of(stmt, query: PageQuery) -> tuple[list[Any], PageMeta]:
    """Run a select with a stable ORDER BY (the caller's, ending in a unique column)."""
    from wellness.extensions import db

    page = db.paginate(
        stmt, page=query.page, per_page=query.per_page, error_out=False, max_per_page=100
    )
    meta = PageMeta(page=page.page, per_page=page.per_page, total=page.total or 0, pages=page.pages)
    return list(page.items), meta
