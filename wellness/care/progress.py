"""Progress on one measure across an episode: first score, latest score, and whether the
change is reliable (the instrument's own threshold, e.g. PHQ-9 >= 6, GAD-7 >= 4 points).
Pure: no Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wellness.assessments.instruments import Instrument, reliable_change


@dataclass(frozen=True)
class Score:
    at: datetime
    total: int


@dataclass(frozen=True)
class Progress:
    instrument: str
    scores: tuple[Score, ...]
    first: int | None
    latest: int | None
    change: int | None  # latest - first
    reliable: str | None  # "better" | "worse" | None (no reliable change, or < 2 scores)
    threshold: int | None  # the instrument's reliable-change value, in its own unit


def progress_of(inst: Instrument, scores: list[Score]) -> Progress:
    ordered = tuple(sorted(scores, key=lambda s: s.at))
    threshold = inst.reliable_change.value if inst.reliable_change else None
    if not ordered:
        return Progress(inst.code, ordered, None, None, None, None, threshold)
    first, latest = ordered[0].total, ordered[-1].total
    reliable = reliable_change(inst, first, latest) if len(ordered) > 1 else None
    return Progress(inst.code, ordered, first, latest, latest - first, reliable, threshold)
