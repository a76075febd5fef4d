"""Read and validate instrument data files (JSON, one instrument per file).

The format is documented in ``data/README.md``. Every problem raises :class:`InstrumentError`
naming the file and what is wrong, so a bad file stops the application at start-up instead of
mis-scoring later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .model import (
    LANGS,
    Band,
    Instrument,
    InstrumentError,
    Item,
    Option,
    ReliableChange,
    RouteThreshold,
    Suggestion,
)

SCHEMA_VERSION = 1

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_REQUIRED = (
    "schema",
    "code",
    "version",
    "short_name",
    "name",
    "description",
    "instructions",
    "minutes",
    "options",
    "items",
    "scoring",
    "bands",
    "critical_items",
    "route_threshold",
    "reliable_change",
    "higher_is_better",
    "loinc",
    "licence",
    "sources",
)
_OPTIONAL = ("display_order", "suggests", "comment")
_DEFAULT_DISPLAY_ORDER = 1000


class _Invalid(Exception):
    """A problem inside one file; the caller adds the file name."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(f"duplicate key {key!r} in a JSON object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"{name} is not allowed")


def parse_instrument(text: str, path: str) -> Instrument:
    """Parse and validate one file's text. Raises :class:`InstrumentError`."""
    try:
        data = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
        return _build(data, path)
    except _Invalid as exc:
        raise InstrumentError(path, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise InstrumentError(path, f"not valid JSON: {exc}") from None


# -- small checkers -----------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return type(value) is int


def _int(value: object, where: str, *, minimum: int | None = None) -> int:
    if not _is_int(value):
        raise _Invalid(f"{where} must be an integer, got {value!r}")
    assert isinstance(value, int)  # noqa: S101 - narrowing
    if minimum is not None and value < minimum:
        raise _Invalid(f"{where} must be >= {minimum}, got {value}")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{where} must be a non-empty string")
    return value


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be an object")
    return value


def _list(value: object, where: str, *, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise _Invalid(f"{where} must be a non-empty list")
    return value


def _texts(value: object, where: str) -> Mapping[str, str]:
    """``{"zh": ..., "en": ...}`` with both languages present and non-empty."""
    texts = _obj(value, where)
    for lang in LANGS:
        if lang not in texts:
            raise _Invalid(f"{where} is missing the {lang!r} text")
        _str(texts[lang], f"{where}.{lang}")
    extra = set(texts) - set(LANGS)
    if extra:
        raise _Invalid(f"{where} has unknown languages {sorted(extra)}")
    return MappingProxyType({lang: texts[lang] for lang in LANGS})


def _options(value: object, where: str) -> tuple[Option, ...]:
    options = []
    seen: set[int] = set()
    for index, raw in enumerate(_list(value, where)):
        entry = _obj(raw, f"{where}[{index}]")
        unknown = set(entry) - {"value", "label"}
        if unknown:
            raise _Invalid(f"{where}[{index}] has unknown keys {sorted(unknown)}")
        val = _int(entry.get("value"), f"{where}[{index}].value")
        if val in seen:
            raise _Invalid(f"{where} repeats the value {val}")
        seen.add(val)
        label = _texts(entry.get("label"), f"{where}[{index}].label")
        options.append(Option(value=val, label=label))
    if len(options) < 2:
        raise _Invalid(f"{where} needs at least two options")
    return tuple(options)


# -- the file -----------------------------------------------------------------------------


def _build(data: object, path: str) -> Instrument:
    doc = _obj(data, "the file")
    missing = [key for key in _REQUIRED if key not in doc]
    if missing:
        raise _Invalid(f"missing keys {missing}")
    unknown = [key for key in doc if key not in _REQUIRED + _OPTIONAL and not key.startswith("x_")]
    if unknown:
        raise _Invalid(f"unknown keys {unknown} (extensions must start with 'x_')")
    if doc["schema"] != SCHEMA_VERSION:
        raise _Invalid(f"schema must be {SCHEMA_VERSION}, got {doc['schema']!r}")

    code = doc["code"]
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _Invalid(f"code must match {_CODE_RE.pattern}, got {code!r}")

    shared_options = _options(doc["options"], "options")
    items = _items(doc["items"], shared_options)
    reverse_items, multiplier, percent_multiplier = _scoring(doc["scoring"], items)

    low = sum(item.min_value for item in items)
    high = sum(item.max_value for item in items)
    low = (low * multiplier.numerator) // multiplier.denominator
    high = (high * multiplier.numerator) // multiplier.denominator

    bands = _bands(doc["bands"], low, high)
    critical = _critical_items(doc["critical_items"], items)
    threshold = _route_threshold(doc["route_threshold"], low, high)
    higher_is_better = doc["higher_is_better"]
    if not isinstance(higher_is_better, bool):
        raise _Invalid("higher_is_better must be true or false")
    change = _reliable_change(doc["reliable_change"], percent_multiplier, low, high)
    suggestion = _suggestion(doc.get("suggests"), bands, items)

    loinc = _obj(doc["loinc"], "loinc")
    for key in ("panel", "total"):
        if key not in loinc:
            raise _Invalid(f"loinc.{key} is required (use null when no code exists)")
        if loinc[key] is not None:
            _str(loinc[key], f"loinc.{key}")

    return Instrument(
        code=code,
        version=_str(doc["version"], "version"),
        short_name=_str(doc["short_name"], "short_name"),
        name=_texts(doc["name"], "name"),
        description=_texts(doc["description"], "description"),
        instructions=_texts(doc["instructions"], "instructions"),
        minutes=_int(doc["minutes"], "minutes", minimum=1),
        display_order=_int(doc.get("display_order", _DEFAULT_DISPLAY_ORDER), "display_order"),
        options=shared_options,
        items=items,
        bands=bands,
        critical_items=MappingProxyType(critical),
        route_threshold=threshold,
        reliable_change=change,
        higher_is_better=higher_is_better,
        reverse_items=reverse_items,
        multiplier=multiplier,
        percent_multiplier=percent_multiplier,
        loinc=MappingProxyType(dict(loinc)),
        licence=_str(doc["licence"], "licence"),
        sources=_sources(doc["sources"], len(items)),
        suggestion=suggestion,
        source_path=path,
    )


def _items(value: object, shared: tuple[Option, ...]) -> tuple[Item, ...]:
    items = []
    for index, raw in enumerate(_list(value, "items")):
        where = f"items[{index}]"
        entry = _obj(raw, where)
        unknown = set(entry) - {"number", "text", "options", "loinc"}
        if unknown:
            raise _Invalid(f"{where} has unknown keys {sorted(unknown)}")
        number = _int(entry.get("number"), f"{where}.number")
        if number != index + 1:
            raise _Invalid(f"{where}.number must be {index + 1} (items are numbered 1..N in order)")
        own = "options" in entry
        options = _options(entry["options"], f"item {number} options") if own else shared
        loinc = entry.get("loinc")
        if loinc is not None:
            _str(loinc, f"item {number} loinc")
        items.append(
            Item(
                number=number,
                text=_texts(entry.get("text"), f"item {number} text"),
                options=options,
                loinc=loinc,
                own_options=own,
            )
        )
    return tuple(items)


def _scoring(value: object, items: tuple[Item, ...]) -> tuple[frozenset[int], Fraction, int | None]:
    scoring = _obj(value, "scoring")
    unknown = set(scoring) - {"method", "reverse_items", "multiplier", "percent_multiplier"}
    if unknown:
        raise _Invalid(f"scoring has unknown keys {sorted(unknown)}")
    if scoring.get("method") != "sum":
        raise _Invalid(f"scoring.method must be 'sum', got {scoring.get('method')!r}")

    reverse = _list(scoring.get("reverse_items", []), "scoring.reverse_items", allow_empty=True)
    numbers: set[int] = set()
    for number in reverse:
        _int(number, "scoring.reverse_items entry")
        if not 1 <= number <= len(items):
            raise _Invalid(f"scoring.reverse_items: item {number} does not exist")
        if number in numbers:
            raise _Invalid(f"scoring.reverse_items repeats item {number}")
        item = items[number - 1]
        mirrored = {item.min_value + item.max_value - v for v in item.allowed_values}
        if mirrored != set(item.allowed_values):
            raise _Invalid(f"scoring.reverse_items: item {number}'s values are not symmetric")
        numbers.add(number)

    raw_multiplier = scoring.get("multiplier", 1)
    if _is_int(raw_multiplier) and raw_multiplier > 0:
        multiplier = Fraction(raw_multiplier)
    elif (
        isinstance(raw_multiplier, list)
        and len(raw_multiplier) == 2
        and all(_is_int(x) and x > 0 for x in raw_multiplier)
    ):
        multiplier = Fraction(raw_multiplier[0], raw_multiplier[1])
    else:
        raise _Invalid(
            "scoring.multiplier must be a positive integer or [numerator, denominator] "
            f"of positive integers, got {raw_multiplier!r}"
        )
    if any(item.min_value < 0 for item in items) and multiplier.denominator != 1:
        raise _Invalid("a fractional multiplier needs non-negative item values")

    percent = scoring.get("percent_multiplier")
    if percent is not None:
        percent = _int(percent, "scoring.percent_multiplier", minimum=1)
    return frozenset(numbers), multiplier, percent


def _bands(value: object, low: int, high: int) -> tuple[Band, ...]:
    bands = []
    codes: set[str] = set()
    for index, raw in enumerate(_list(value, "bands")):
        where = f"bands[{index}]"
        entry = _obj(raw, where)
        unknown = set(entry) - {"code", "min", "max", "label", "explanation"}
        if unknown:
            raise _Invalid(f"{where} has unknown keys {sorted(unknown)}")
        code = entry.get("code")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise _Invalid(f"{where}.code must match {_CODE_RE.pattern}, got {code!r}")
        if code in codes:
            raise _Invalid(f"band code {code!r} is used twice")
        codes.add(code)
        band_min = _int(entry.get("min"), f"band {code!r} min")
        band_max = _int(entry.get("max"), f"band {code!r} max")
        if band_min > band_max:
            raise _Invalid(f"band {code!r} has min {band_min} > max {band_max}")
        bands.append(
            Band(
                code=code,
                min=band_min,
                max=band_max,
                label=_texts(entry.get("label"), f"band {code!r} label"),
                explanation=_texts(entry.get("explanation"), f"band {code!r} explanation"),
            )
        )
    bands.sort(key=lambda band: band.min)
    if bands[0].min != low:
        raise _Invalid(
            f"bands must start at the lowest total {low}, first band starts at {bands[0].min}"
        )
    for before, after in zip(bands, bands[1:], strict=False):
        if after.min <= before.max:
            raise _Invalid(f"bands {before.code!r} and {after.code!r} overlap")
        if after.min != before.max + 1:
            raise _Invalid(
                f"gap between bands {before.code!r} (max {before.max}) and "
                f"{after.code!r} (min {after.min})"
            )
    if bands[-1].max != high:
        raise _Invalid(
            f"bands must end at the highest total {high}, last band ends at {bands[-1].max}"
        )
    return tuple(bands)


def _critical_items(value: object, items: tuple[Item, ...]) -> dict[int, int]:
    raw = _obj(value, "critical_items")
    critical: dict[int, int] = {}
    for key, minimum in raw.items():
        if not isinstance(key, str) or not key.isascii() or not key.isdigit():
            raise _Invalid(f"critical_items key {key!r} must be an item number")
        number = int(key)
        if not 1 <= number <= len(items):
            raise _Invalid(f"critical item {number} does not exist (items are 1-{len(items)})")
        item = items[number - 1]
        _int(minimum, f"critical item {number} minimum")
        if minimum not in item.allowed_values or minimum == item.min_value:
            raise _Invalid(
                f"critical item {number} minimum {minimum!r} must be one of the item's values "
                f"above its lowest ({sorted(item.allowed_values)})"
            )
        critical[number] = minimum
    return critical


def _route_threshold(value: object, low: int, high: int) -> RouteThreshold | None:
    if value is None:
        return None
    raw = _obj(value, "route_threshold")
    if len(raw) != 1 or next(iter(raw)) not in ("total_gte", "total_lte"):
        raise _Invalid('route_threshold must be null, {"total_gte": N} or {"total_lte": N}')
    key, threshold = next(iter(raw.items()))
    _int(threshold, f"route_threshold.{key}")
    if not low <= threshold <= high:
        raise _Invalid(f"route_threshold {threshold} is outside the total range {low}-{high}")
    return RouteThreshold(op="gte" if key == "total_gte" else "lte", value=threshold)


def _reliable_change(
    value: object, percent_multiplier: int | None, low: int, high: int
) -> ReliableChange | None:
    if value is None:
        return None
    raw = _obj(value, "reliable_change")
    unknown = set(raw) - {"value", "unit", "source"}
    if unknown:
        raise _Invalid(f"reliable_change has unknown keys {sorted(unknown)}")
    unit = raw.get("unit")
    if unit not in ("points", "percent"):
        raise _Invalid("reliable_change.unit must be 'points' or 'percent'")
    if unit == "percent" and percent_multiplier is None:
        raise _Invalid("reliable_change in percent needs scoring.percent_multiplier")
    amount = _int(raw.get("value"), "reliable_change.value", minimum=1)
    span = (high - low) * (percent_multiplier if unit == "percent" else 1)
    if amount > span:
        raise _Invalid(f"reliable_change.value {amount} exceeds the whole range {span}")
    return ReliableChange(
        value=amount, unit=unit, source=_str(raw.get("source"), "reliable_change.source")
    )


def _suggestion(
    value: object, bands: tuple[Band, ...], items: tuple[Item, ...]
) -> Suggestion | None:
    if value is None:
        return None
    raw = _obj(value, "suggests")
    unknown = set(raw) - {"code", "when_bands", "when_any_item_lte"}
    if unknown:
        raise _Invalid(f"suggests has unknown keys {sorted(unknown)}")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _Invalid(f"suggests.code must be an instrument code, got {code!r}")
    when_bands = _list(raw.get("when_bands", []), "suggests.when_bands", allow_empty=True)
    known = {band.code for band in bands}
    for band in when_bands:
        if band not in known:
            raise _Invalid(f"suggests.when_bands names an unknown band {band!r}")
    item_lte = raw.get("when_any_item_lte")
    if item_lte is not None:
        _int(item_lte, "suggests.when_any_item_lte")
    if not when_bands and item_lte is None:
        raise _Invalid("suggests needs when_bands or when_any_item_lte")
    return Suggestion(code=code, when_bands=tuple(when_bands), when_any_item_lte=item_lte)


def _sources(value: object, item_count: int) -> Mapping[str, Any]:
    raw = _obj(value, "sources")
    _str(raw.get("scoring"), "sources.scoring")
    translations = _obj(raw.get("translations"), "sources.translations")
    for lang in LANGS:
        entry = _obj(translations.get(lang), f"sources.translations.{lang}")
        _str(entry.get("citation"), f"sources.translations.{lang}.citation")
        if not isinstance(entry.get("verified"), bool):
            raise _Invalid(f"sources.translations.{lang}.verified must be true or false")
        unverified = _list(
            entry.get("unverified_items", []),
            f"sources.translations.{lang}.unverified_items",
            allow_empty=True,
        )
        for number in unverified:
            if not _is_int(number) or not 1 <= number <= item_count:
                raise _Invalid(
                    f"sources.translations.{lang}.unverified_items: "
                    f"{number!r} is not an item number"
                )
        if (unverified or not entry["verified"]) and not isinstance(entry.get("note"), str):
            raise _Invalid(f"sources.translations.{lang}: an unverified translation needs a note")
    return MappingProxyType(raw)


# -- folders ------------------------------------------------------------------------------


def load_files(files: Iterable[tuple[str, str]]) -> dict[str, Instrument]:
    """``files`` yields ``(path, text)``; returns instruments by code, validated together."""
    instruments: dict[str, Instrument] = {}
    for path, text in files:
        instrument = parse_instrument(text, path)
        other = instruments.get(instrument.code)
        if other is not None:
            raise InstrumentError(
                path, f"duplicate instrument code {instrument.code!r} (also in {other.source_path})"
            )
        instruments[instrument.code] = instrument
    for instrument in instruments.values():
        if instrument.suggestion and instrument.suggestion.code not in instruments:
            raise InstrumentError(
                instrument.source_path,
                f"suggests unknown instrument {instrument.suggestion.code!r}",
            )
    return instruments


def read_folder(folder: Path) -> list[tuple[str, str]]:
    """``(path, text)`` for every ``*.json`` file directly in ``folder``, in name order."""
    if not folder.is_dir():
        raise InstrumentError(str(folder), "instrument folder does not exist")
    files = []
    for file in sorted(folder.glob("*.json")):
        try:
            files.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise InstrumentError(str(file), f"cannot read: {exc}") from None
    return files
