"""Mainland China mobile numbers: parse, validate, store as E.164, display nationally.

Pure helper: no Flask, no database.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType


class InvalidPhone(ValueError):
    pass


def normalise_mobile(raw: str) -> str:
    """Return ``+86...`` for a valid mainland mobile number, else raise InvalidPhone."""
    if not isinstance(raw, str):
        raise InvalidPhone("not a string")
    text = raw.strip()
    if not text or len(text) > 24 or not text.isascii():
        raise InvalidPhone("empty, too long or not ASCII digits")
    try:
        number = phonenumbers.parse(text, "CN")
    except NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid mainland number")
    if phonenumbers.number_type(number) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidPhone("not a mobile number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "CN")
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def mask_phone(e164: str | None) -> str:
    """138****5678: enough to recognise, not enough to call."""
    digits = (e164 or "").removeprefix("+86")
    if len(digits) < 7:
        return digits
    return f"{digits[:3]}****{digits[-4:]}"
