"""E-mail addresses as members type them: pure, no Flask or database."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from wellness.errors import InvalidInput

MAX_LENGTH = 254  # RFC 5321 path limit
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(raw: str | None) -> str | None:
    """Return the address with a lower-case domain, ``None`` for an empty field.

    Raises ``InvalidInput`` naming the ``email`` field when the address is not plausible.
    """
    value = (raw or "").strip()
    if not value:
        return None
    invalid = InvalidInput(str(_l("Enter a valid e-mail address.")), {"email": "invalid"})
    if len(value) > MAX_LENGTH or value.count("@") != 1:
        raise invalid
    local, domain = value.split("@")
    domain = domain.lower().rstrip(".")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise invalid
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise invalid
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise invalid
    if labels[-1].isdigit():
        raise invalid
    address = f"{local}@{domain}"
    if len(address) > MAX_LENGTH:
        raise invalid
    return address
