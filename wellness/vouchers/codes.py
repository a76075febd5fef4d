"""Voucher codes: generation, display and validation. Pure: no Flask, no database.

A code is 16 characters from a 32-symbol alphabet without look-alikes (no 0, O, 1, I):
15 random characters (75 bits from ``secrets``) and one check character. It is shown in
four groups of four for reading aloud over the phone: ``7KQD-M3XH-PW2A-9RTC``.

The check character is Luhn mod 32: it catches every single wrong character and every
swap of two neighbours except ``2``/``Z`` (the first and last symbols), so a typo is
reported before the database is asked.

Codes are made in bulk from one ``secrets.token_bytes`` call: base32 of 10 random bytes is
exactly 16 symbols, translated to our alphabet in C (``bytes.translate``), so 100,000 codes
cost well under a second (choosing each character with ``secrets.choice`` costs ~1.6 s).
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from collections.abc import Iterable

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0/O, no 1/I

BODY_LENGTH = 15  # random symbols; 15 x 5 bits = 75 bits
CODE_LENGTH = BODY_LENGTH + 1  # plus the check character
GROUP = 4
RANDOM_BITS = BODY_LENGTH * 5

_B32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_ALPHABET = bytes.maketrans(_B32, ALPHABET.encode())
# Per-symbol addends for Luhn mod 32: value (odd positions from the right) and the
# "doubled" value folded back into 0..31 (even positions). Unknown symbols map to 0 but
# are rejected before the sum is taken.
_VALUE = bytes.maketrans(ALPHABET.encode(), bytes(range(32)))
_DOUBLED = bytes.maketrans(
    ALPHABET.encode(), bytes((2 * v) // 32 + (2 * v) % 32 for v in range(32))
)
_ALLOWED = frozenset(ALPHABET)
_SEPARATORS = re.compile(r"[\s\-_.·—–]+")


class CodeError(ValueError):
    """A code that cannot be right. ``kind`` is ``format`` or ``check``."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _check_symbol(body: bytes) -> bytes:
    """Luhn mod 32 over ``body`` (15 symbols): the symbol that makes the sum 0 mod 32.

    Counting from the right of the finished code, the check symbol has weight 1 and the
    body's last symbol weight 2; with an odd-length body that is every even index.
    """
    total = sum(body[0::2].translate(_DOUBLED)) + sum(body[1::2].translate(_VALUE))
    return ALPHABET[(32 - total % 32) % 32].encode()


def check_symbol(body: str) -> str:
    if len(body) != BODY_LENGTH or not set(body) <= _ALLOWED:
        raise CodeError("format")
    return _check_symbol(body.encode()).decode()


def generate_codes(n: int) -> list[str]:
    """``n`` fresh codes (canonical form, no dashes) from one call to ``secrets``."""
    if n <= 0:
        return []
    symbols = base64.b32encode(secrets.token_bytes(10 * n)).translate(_TO_ALPHABET)
    codes = []
    append = codes.append
    for start in range(0, 16 * n, 16):
        body = symbols[start : start + BODY_LENGTH]
        append((body + _check_symbol(body)).decode())
    return codes


def is_valid(code: str) -> bool:
    """True when ``code`` (canonical) has the right length, symbols and check symbol."""
    if len(code) != CODE_LENGTH or not set(code) <= _ALLOWED:
        return False
    raw = code.encode()
    # The check symbol sits at an odd index (15): weight 1, like the other odd indices.
    total = sum(raw[0::2].translate(_DOUBLED)) + sum(raw[1::2].translate(_VALUE))
    return total % 32 == 0


def normalise(raw: str) -> str:
    """Canonical code from what a person typed or a scanner read, or raise CodeError.

    Accepts lower case, full-width characters from a Chinese IME, spaces and dashes, and a
    pasted QR link (``https://.../vouchers/v/7KQD-M3XH-PW2A-9RTC``).
    """
    if not isinstance(raw, str):
        raise CodeError("format")
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) > 300:
        raise CodeError("format")
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
        text = text.split("?", 1)[0].split("#", 1)[0]
    text = _SEPARATORS.sub("", text).upper()
    if len(text) != CODE_LENGTH or not set(text) <= _ALLOWED:
        raise CodeError("format")
    if not is_valid(text):
        raise CodeError("check")
    return text


def display(code: str) -> str:
    """``7KQDM3XHPW2A9RTC`` -> ``7KQD-M3XH-PW2A-9RTC`` (for reading aloud and printing)."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def chunked(items: Iterable, size: int):
    """Yield lists of at most ``size`` items (a generator: memory stays flat)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
