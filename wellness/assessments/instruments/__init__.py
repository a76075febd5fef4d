"""Self-assessment instruments: a registry of data files and their pure scoring.

    >>> from wellness.assessments.instruments import get_instrument
    >>> result = get_instrument("phq9").score([0, 1, 2, 3, 0, 1, 2, 0, 1])
    >>> result.total, result.band, result.risk, result.level, result.rule
    (10, 'moderate', True, 'critical', 'critical_item:9')

Stdlib only: no Flask, no database. Nothing is read at import time; the registry loads the
shipped files in ``data/`` on first use, or when :func:`configure_registry` is called with
the deployment's extra folders (licensed instruments in the same JSON format).
"""

from .model import (
    Band,
    Instrument,
    InstrumentError,
    InvalidAnswers,
    Item,
    Option,
    ReliableChange,
    RouteThreshold,
    ScoreResult,
    UnknownInstrument,
    normalize_lang,
    reliable_change,
)
from .registry import configure_registry, get_instrument, list_instruments

__all__ = [
    "Band",
    "Instrument",
    "InstrumentError",
    "InvalidAnswers",
    "Item",
    "Option",
    "ReliableChange",
    "RouteThreshold",
    "ScoreResult",
    "UnknownInstrument",
    "configure_registry",
    "get_instrument",
    "list_instruments",
    "normalize_lang",
    "reliable_change",
]
