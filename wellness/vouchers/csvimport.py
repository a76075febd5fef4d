"""Reading member lists and writing CSV exports. Pure: no Flask, no database.

Input: a CSV of members, one per line, as Excel in China saves it: UTF-8 with or without a
byte-order mark, CRLF or LF, maybe a header row (``手机号`` / ``phone`` / ``会员号`` /
``member_id``...), maybe more columns than the one we need. Each line is decoded and parsed
on its own while the file streams through, so a 100,000-line file never sits in memory and
a line in the wrong encoding is one bad row, not a failed import.

Every line yields either a :class:`MemberRef` (a phone in E.164 or a member id) or a
:class:`BadRow` with its 1-based line number and a problem code; blank lines are counted
and skipped. Nothing here is ever evaluated: a cell such as ``=HYPERLINK(...)`` is simply
not a phone number. Exports go through ``defusedcsv``, which neutralises cells that a
spreadsheet would run as formulas, and are encoded UTF-8 with a BOM so Excel shows Chinese.
"""

from __future__ import annotations

import csv as _stdlib_csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from defusedcsv import csv as defused_csv

PHONE = "phone"
MEMBER_ID = "member_id"
AUTO = "auto"

# Problem codes (services map them to localised messages).
ENCODING = "encoding"  # the line is not UTF-8
UTF16 = "utf16"  # the whole file is UTF-16 ("Unicode text" in Excel)
EMPTY = "empty"  # the member cell is empty but the line is not
INVALID = "invalid"  # neither a mainland mobile number nor a member id
SCIENTIFIC = "scientific"  # Excel turned the number into 1.39E+10
TOO_LONG = "too_long"
UNKNOWN = "unknown"  # (services) no active member with this number or id
DUPLICATE = "duplicate"  # (services) the same member on an earlier line
LIMIT = "limit"  # (services) the member already holds the most vouchers allowed

MAX_LINE_BYTES = 4096
MAX_VALUE_SHOWN = 40

_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_MEMBER_ID = re.compile(r"^\d{1,9}$")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d+$", re.IGNORECASE)
_STRIP = re.compile(r"[\s\-()（）]+")

_HEADERS = {
    PHONE: {
        "phone",
        "mobile",
        "mobilephone",
        "phonenumber",
        "mobilenumber",
        "cellphone",
        "tel",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "联系方式",
    },
    MEMBER_ID: {
        "memberid",
        "member",
        "id",
        "userid",
        "会员号",
        "会员id",
        "会员编号",
        "用户id",
        "用户编号",
        "编号",
    },
}


@dataclass(frozen=True)
class MemberRef:
    line: int
    kind: str  # PHONE or MEMBER_ID
    value: str  # "+8613912345678" or "42"
    raw: str  # the cell as written (at most 64 characters; pass it through shown())


@dataclass(frozen=True)
class BadRow:
    line: int
    raw: str
    problem: str
    detail: str | None = None


def shown(value: str) -> str:
    """A cell as it may appear in a report: printable and short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in value)
    return clean if len(clean) <= MAX_VALUE_SHOWN else clean[: MAX_VALUE_SHOWN - 1] + "…"


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-:：]+", "", unicodedata.normalize("NFKC", cell)).lower()


def classify(value: str, kind: str = AUTO) -> tuple[str, str] | str:
    """``(kind, canonical value)`` for a member cell, or a problem code."""
    # The common case, fast: a bare mainland mobile number.
    if (
        len(value) == 11
        and value.isascii()
        and value.isdigit()
        and value[0] == "1"
        and value[1] in "3456789"
        and kind != MEMBER_ID
    ):
        return PHONE, "+86" + value
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    text = text.strip()
    if text.startswith("'"):  # a value an earlier defused export protected
        text = text[1:]
    if len(text) > 64:
        return TOO_LONG
    if _SCIENTIFIC.match(text):
        return SCIENTIFIC
    compact = _STRIP.sub("", text)
    if kind in (AUTO, PHONE):
        match = _MOBILE.match(compact)
        if match:
            return PHONE, "+86" + match.group(1)
    if kind in (AUTO, MEMBER_ID) and _MEMBER_ID.match(compact) and int(compact) > 0:
        return MEMBER_ID, str(int(compact))
    return INVALID


def _parse_line(text: str) -> list[str]:
    if '"' not in text:  # no quoting: the csv module would split on commas just the same
        return text.split(",")
    try:
        return next(_stdlib_csv.reader((text,)), [])
    except _stdlib_csv.Error:
        return [text]


class MemberCsv:
    """Iterate a binary CSV stream as MemberRef / BadRow items, one line at a time.

    After (or during) iteration: ``blank_lines``, ``header`` (the header cells or None),
    ``column`` and ``bytes_read`` (for a progress bar).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.blank_lines = 0
        self.header: list[str] | None = None
        self.column = 0
        self.kind = AUTO
        self.bytes_read = 0

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        number = 0
        while True:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.bytes_read += len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                # Skip the rest of an absurdly long line; it counts as one line.
                while True:
                    more = self.stream.readline(MAX_LINE_BYTES)
                    self.bytes_read += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                number += 1
                yield number, b"\x00too-long"
                continue
            number += 1
            yield number, raw

    def _find_header(self, cells: list[str]) -> bool:
        """A first line without any member value and with a known column name (or words)."""
        if any(isinstance(classify(cell), tuple) for cell in cells):
            return False
        keys = [_header_key(cell) for cell in cells]
        for kind in (PHONE, MEMBER_ID):
            for index, key in enumerate(keys):
                if key in _HEADERS[kind]:
                    self.column, self.kind = index, kind
                    return True
        # Words without digits (e.g. "姓名,备注"): a header we do not know; use column 1.
        return all(not any(ch.isdigit() for ch in cell) for cell in cells) and any(
            cell.strip() for cell in cells
        )

    def __iter__(self) -> Iterator[MemberRef | BadRow]:
        seen_content = False
        for number, raw in self._lines():
            if raw == b"\x00too-long":
                yield BadRow(number, "", TOO_LONG)
                continue
            if number == 1:
                if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                    yield BadRow(1, "", UTF16)
                    return
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield BadRow(number, shown(raw.decode("utf-8", "replace").strip()), ENCODING)
                seen_content = True
                continue
            cells = _parse_line(text)
            if not any(cell.strip() for cell in cells):
                self.blank_lines += 1
                continue
            if not seen_content:
                seen_content = True
                if self._find_header(cells):
                    self.header = [shown(cell) for cell in cells]
                    continue
            value = cells[self.column] if self.column < len(cells) else ""
            if not value.strip():
                yield BadRow(number, shown(text.strip()), EMPTY)
                continue
            result = classify(value, self.kind)
            if isinstance(result, str):
                yield BadRow(number, shown(value.strip()), result)
            else:
                yield MemberRef(number, result[0], result[1], value.strip())


def read_members(stream: BinaryIO) -> MemberCsv:
    return MemberCsv(stream)


def members_from_list(values: Iterable[str]) -> Iterator[MemberRef | BadRow]:
    """The same checks for a JSON list of phones or ids; ``line`` is the 0-based index."""
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            yield BadRow(index, shown(str(value or "")), EMPTY)
            continue
        result = classify(value)
        if isinstance(result, str):
            yield BadRow(index, shown(value.strip()), result)
        else:
            yield MemberRef(index, result[0], result[1], value.strip())


def to_csv_bytes(header: Iterable[object], rows: Iterable[Iterable[object]]) -> bytes:
    """An Excel-friendly CSV: UTF-8 with BOM, CRLF, formula cells neutralised."""
    buffer = io.StringIO()
    writer = defused_csv.writer(buffer)
    writer.writerow(list(header))
    for row in rows:
        writer.writerow(list(row))
    return buffer.getvalue().encode("utf-8-sig")
