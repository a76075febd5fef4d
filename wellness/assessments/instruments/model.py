"""The instrument model and the scorer (pure Python, stdlib only).

An :class:`Instrument` is built by :mod:`.loader` from one validated data file. It scores a
list of raw answers into a :class:`ScoreResult`: the reported total, the band, whether the
result routes to the counsellor queue (DESIGN.md section 5) and at which level.

Texts are dictionaries ``{"zh": ..., "en": ...}``; every accessor takes a ``lang`` and falls
back to ``"zh"`` (the platform's first language) for anything it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"

Change = Literal["worse", "better"]


class InstrumentError(Exception):
    """An instrument data file is missing, unreadable or invalid.

    ``path`` names the file (or folder) and ``problem`` says what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnknownInstrument(KeyError):
    """No instrument with that code is loaded."""

    def __init__(self, code: object) -> None:
        self.code = code
        super().__init__(code)

    def __str__(self) -> str:
        return f"unknown instrument: {self.code!r}"


class InvalidAnswers(ValueError):
    """The answers cannot be scored.

    Attributes for callers that build a localised message: ``reason`` (one of
    ``not_a_sequence``, ``wrong_count``, ``not_an_integer``, ``out_of_range``), ``item``
    (1-based item number or ``None``), ``value`` (the offending value), ``expected``
    (the expected count, or the allowed values of the item).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        instrument: str,
        item: int | None = None,
        value: object = None,
        expected: object = None,
    ) -> None:
        self.reason = reason
        self.instrument = instrument
        self.item = item
        self.value = value
        self.expected = expected
        super().__init__(message)


def normalize_lang(lang: str | None) -> str:
    """``"en-US"`` -> ``"en"``; anything unknown (or empty) -> ``"zh"``."""
    if not isinstance(lang, str) or not lang:
        return DEFAULT_LANG
    base = lang.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if base in LANGS else DEFAULT_LANG


def pick(texts: Mapping[str, str], lang: str | None) -> str:
    """The text for ``lang`` with the ``zh`` fallback."""
    return texts.get(normalize_lang(lang)) or texts[DEFAULT_LANG]


@dataclass(frozen=True, eq=False)
class Option:
    value: int
    label: Mapping[str, str]

    def localized(self, lang: str | None = DEFAULT_LANG) -> dict[str, Any]:
        return {"value": self.value, "label": pick(self.label, lang)}


@dataclass(frozen=True, eq=False)
class Item:
    number: int
    text: Mapping[str, str]
    options: tuple[Option, ...]
    loinc: str | None = None
    own_options: bool = False  # True when the item does not use the shared option list

    @property
    def allowed_values(self) -> frozenset[int]:
        return frozenset(option.value for option in self.options)

    @property
    def min_value(self) -> int:
        return min(self.allowed_values)

    @property
    def max_value(self) -> int:
        return max(self.allowed_values)

    def localized(self, lang: str | None = DEFAULT_LANG) -> dict[str, Any]:
        return {
            "number": self.number,
            "text": pick(self.text, lang),
            "options": [option.localized(lang) for option in self.options],
            "loinc": self.loinc,
        }


@dataclass(frozen=True, eq=False)
class Band:
    code: str
    min: int
    max: int
    label: Mapping[str, str]
    explanation: Mapping[str, str]

    def contains(self, total: int) -> bool:
        return self.min <= total <= self.max

    def localized(self, lang: str | None = DEFAULT_LANG) -> dict[str, Any]:
        return {
            "code": self.code,
            "min": self.min,
            "max": self.max,
            "label": pick(self.label, lang),
            "explanation": pick(self.explanation, lang),
        }


@dataclass(frozen=True, eq=False)
class RouteThreshold:
    """When a total routes to the counsellor queue: ``total >= value`` or ``total <= value``."""

    op: Literal["gte", "lte"]
    value: int

    def matches(self, total: int) -> bool:
        return total >= self.value if self.op == "gte" else total <= self.value

    @property
    def rule(self) -> str:
        return f"threshold:total{'>=' if self.op == 'gte' else '<='}{self.value}"

    def as_dict(self) -> dict[str, int]:
        return {f"total_{self.op}": self.value}


@dataclass(frozen=True, eq=False)
class ReliableChange:
    """Smallest change that counts as real, in the instrument's reported unit."""

    value: int
    unit: Literal["points", "percent"]
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True, eq=False)
class Suggestion:
    """A positive short screen suggests the full scale (phq2 -> phq9)."""

    code: str
    when_bands: tuple[str, ...] = ()
    when_any_item_lte: int | None = None


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    version: str
    answers: tuple[int, ...]
    total: int
    percent: int | None
    band: str
    risk: bool
    level: Literal["critical", "high", "elevated"] | None
    critical_items: tuple[int, ...]
    rule: str
    suggests: str | None = None


@dataclass(frozen=True, eq=False)
class Instrument:
    code: str
    version: str
    short_name: str
    name: Mapping[str, str]
    description: Mapping[str, str]
    instructions: Mapping[str, str]
    minutes: int
    display_order: int
    options: tuple[Option, ...]
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    critical_items: Mapping[int, int]
    route_threshold: RouteThreshold | None
    reliable_change: ReliableChange | None
    higher_is_better: bool
    reverse_items: frozenset[int]
    multiplier: Fraction
    percent_multiplier: int | None
    loinc: Mapping[str, Any]
    licence: str
    sources: Mapping[str, Any]
    suggestion: Suggestion | None = None
    source_path: str = field(default="", repr=False)

    # -- derived -----------------------------------------------------------------------
    @property
    def suggests(self) -> str | None:
        """Code of the instrument a positive result suggests next (phq2 -> "phq9")."""
        return self.suggestion.code if self.suggestion else None

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def total_range(self) -> tuple[int, int]:
        low = sum(item.min_value for item in self.items)
        high = sum(item.max_value for item in self.items)
        return _apply_multiplier(low, self.multiplier), _apply_multiplier(high, self.multiplier)

    @property
    def top_band(self) -> Band:
        """The most severe band: the highest one, or the lowest when higher is better."""
        return self.bands[0] if self.higher_is_better else self.bands[-1]

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.contains(total):
                return band
        raise ValueError(f"{self.code}: total {total} is outside {self.total_range}")

    def band(self, code: str) -> Band:
        for band in self.bands:
            if band.code == code:
                return band
        raise KeyError(code)

    def percent_of(self, total: int) -> int | None:
        return None if self.percent_multiplier is None else total * self.percent_multiplier

    # -- texts -------------------------------------------------------------------------
    def text(self, what: str, lang: str | None = DEFAULT_LANG) -> str:
        """``inst.text("name", "en")``; ``what`` is name, description or instructions."""
        texts = {
            "name": self.name,
            "description": self.description,
            "instructions": self.instructions,
        }
        if what not in texts:
            raise KeyError(what)
        return pick(texts[what], lang)

    def translation_verified(self, lang: str | None = DEFAULT_LANG) -> bool:
        entry = self.sources["translations"][normalize_lang(lang)]
        return bool(entry.get("verified"))

    def localized(self, lang: str | None = DEFAULT_LANG) -> dict[str, Any]:
        """Plain, JSON-ready description of the instrument in one language."""
        lang = normalize_lang(lang)
        low, high = self.total_range
        translation = self.sources["translations"][lang]
        return {
            "code": self.code,
            "version": self.version,
            "lang": lang,
            "short_name": self.short_name,
            "name": pick(self.name, lang),
            "description": pick(self.description, lang),
            "instructions": pick(self.instructions, lang),
            "minutes": self.minutes,
            "options": [option.localized(lang) for option in self.options],
            "items": [item.localized(lang) for item in self.items],
            "bands": [band.localized(lang) for band in self.bands],
            "total_min": low,
            "total_max": high,
            "higher_is_better": self.higher_is_better,
            "percent_multiplier": self.percent_multiplier,
            "critical_items": {str(k): v for k, v in self.critical_items.items()},
            "route_threshold": self.route_threshold.as_dict() if self.route_threshold else None,
            "reliable_change": self.reliable_change.as_dict() if self.reliable_change else None,
            "suggests": self.suggests,
            "loinc": dict(self.loinc),
            "licence": self.licence,
            "source": translation["citation"],
            "translation_verified": bool(translation.get("verified")),
        }

    # -- scoring -----------------------------------------------------------------------
    def validate_answers(self, answers: object) -> tuple[int, ...]:
        """Return the answers as a tuple, or raise :class:`InvalidAnswers`."""
        count = len(self.items)
        if not isinstance(answers, (list, tuple)):
            raise InvalidAnswers(
                f"{self.code}: answers must be a list of {count} integers, "
                f"not {type(answers).__name__}",
                reason="not_a_sequence",
                instrument=self.code,
                value=answers,
                expected=count,
            )
        if len(answers) != count:
            raise InvalidAnswers(
                f"{self.code}: expected {count} answers, got {len(answers)}",
                reason="wrong_count",
                instrument=self.code,
                value=len(answers),
                expected=count,
            )
        for item, answer in zip(self.items, answers, strict=True):
            if type(answer) is not int:  # rejects bool, float, str, Decimal, None, lists ...
                raise InvalidAnswers(
                    f"{self.code}: answer to item {item.number} must be an integer, "
                    f"got {type(answer).__name__} {answer!r}",
                    reason="not_an_integer",
                    instrument=self.code,
                    item=item.number,
                    value=answer,
                    expected=sorted(item.allowed_values),
                )
            if answer not in item.allowed_values:
                allowed = ", ".join(str(v) for v in sorted(item.allowed_values))
                raise InvalidAnswers(
                    f"{self.code}: answer to item {item.number} must be one of {allowed}, "
                    f"got {answer}",
                    reason="out_of_range",
                    instrument=self.code,
                    item=item.number,
                    value=answer,
                    expected=sorted(item.allowed_values),
                )
        return tuple(answers)

    def item_score(self, item: Item, answer: int) -> int:
        if item.number in self.reverse_items:
            return item.min_value + item.max_value - answer
        return answer

    def score(self, answers: object) -> ScoreResult:
        values = self.validate_answers(answers)
        raw = sum(self.item_score(item, v) for item, v in zip(self.items, values, strict=True))
        total = _apply_multiplier(raw, self.multiplier)
        band = self.band_for(total)

        fired = tuple(
            number
            for number, minimum in sorted(self.critical_items.items())
            if values[number - 1] >= minimum
        )
        over_threshold = bool(self.route_threshold and self.route_threshold.matches(total))
        risk = bool(fired) or over_threshold
        if fired:
            level: Literal["critical", "high", "elevated"] | None = "critical"
            rule = "critical_item:" + ",".join(str(n) for n in fired)
        elif over_threshold:
            assert self.route_threshold is not None  # noqa: S101 - narrowing for type checkers
            level = "high" if band is self.top_band else "elevated"
            rule = self.route_threshold.rule
        else:
            level, rule = None, ""

        return ScoreResult(
            instrument=self.code,
            version=self.version,
            answers=values,
            total=total,
            percent=self.percent_of(total),
            band=band.code,
            risk=risk,
            level=level,
            critical_items=fired,
            rule=rule,
            suggests=self._suggestion_for(band, values),
        )

    def _suggestion_for(self, band: Band, values: tuple[int, ...]) -> str | None:
        rule = self.suggestion
        if rule is None:
            return None
        if band.code in rule.when_bands:
            return rule.code
        if rule.when_any_item_lte is not None and any(v <= rule.when_any_item_lte for v in values):
            return rule.code
        return None


def _apply_multiplier(raw: int, multiplier: Fraction) -> int:
    """Exact integer arithmetic; a fractional multiplier truncates (floor, totals are >= 0)."""
    return (raw * multiplier.numerator) // multiplier.denominator


def reliable_change(inst: Instrument, previous_total: int, current_total: int) -> Change | None:
    """Did the reported total change reliably between two results of the same instrument?

    Returns ``"worse"``, ``"better"`` or ``None`` (no reliable change, or the instrument has
    no reliable-change threshold). The threshold is inclusive and expressed in the
    instrument's own unit: points of the total, or percentage points (WHO-5, where the
    totals are raw scores and are compared as ``raw * 4``). The direction honours
    ``higher_is_better``.
    """
    low, high = inst.total_range
    for name, total in (("previous_total", previous_total), ("current_total", current_total)):
        if type(total) is not int:
            raise ValueError(f"{inst.code}: {name} must be an integer, got {total!r}")
        if not low <= total <= high:
            raise ValueError(f"{inst.code}: {name} {total} is outside {low}-{high}")
    rc = inst.reliable_change
    if rc is None:
        return None
    if rc.unit == "percent":
        assert inst.percent_multiplier is not None  # noqa: S101 - guaranteed by the loader
        delta = (current_total - previous_total) * inst.percent_multiplier
    else:
        delta = current_total - previous_total
    if abs(delta) < rc.value:
        return None
    improved = delta > 0 if inst.higher_is_better else delta < 0
    return "better" if improved else "worse"


__all__ = [
    "Band",
    "Change",
    "Instrument",
    "InstrumentError",
    "InvalidAnswers",
    "Item",
    "Option",
    "ReliableChange",
    "RouteThreshold",
    "ScoreResult",
    "Suggestion",
    "UnknownInstrument",
    "normalize_lang",
    "pick",
    "reliable_change",
]
