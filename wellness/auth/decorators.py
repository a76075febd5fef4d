"""Role checks for views and an object-level permission helper."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required


def role_required(*roles: str) -> Callable:
    """Require a signed-in user with one of ``roles`` (401 -> login page, else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_owner_or(obj: Any, owner_id: int | None, *roles: str, hide: bool = True) -> Any:
    """Object-level check: the owner, or a user with one of ``roles``, may see ``obj``.

    Others get 404 (``hide=True``, so ids cannot be probed) or 403.
    """
    if obj is None:
        abort(404)
    if current_user.is_authenticated and (
        current_user.id == owner_id or current_user.has_role(*roles)
    ):
        return obj
    abort(404 if hide else 403)
