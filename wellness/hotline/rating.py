"""Quantified suicide-risk rating for crisis calls (pure; no Flask, no database).

The 2021 NHC hotline guideline asks for a *quantified* rating of suicidal intent and
hopelessness on every risk call; the Joint Commission NPSG 15.01.01 names the elements an
assessment covers (ideation, plan, intent, behaviours such as past attempts, risk factors).
The counsellor rates five items on short anchored scales and may tick "attempt in progress /
immediate danger"; the level follows from the rules below. Counsellor judgment can raise the
level, never lower it (NIMH ASQ: clinical judgment may override a screen upwards).

This is a proposal for the clinical lead to approve; the thresholds live here only.

=============  ===  ============================================================
item           max  anchors
=============  ===  ============================================================
ideation       3    0 none, 1 passive wish to be dead, 2 active thoughts of suicide,
                    3 thoughts with intent to act
plan           2    0 none, 1 vague (a method considered), 2 specific (method, time or place)
means          2    0 no access, 1 access to means, 2 means at hand or prepared
attempts       2    0 none, 1 an attempt more than a year ago, 2 an attempt in the past year
hopelessness   3    0 none, 1 mild, 2 moderate, 3 severe (sees no way out)
=============  ===  ============================================================

Levels: ``critical`` (attempt in progress; intent with a specific plan or means; a specific
plan with means at hand), ``high`` (active ideation plus a plan, means, a past attempt or severe
hopelessness; any intent; an attempt in the past year with any ideation), ``elevated`` (any
ideation, any past attempt, or moderate-to-severe hopelessness), otherwise ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass

ITEMS: dict[str, int] = {
    "ideation": 3,
    "plan": 2,
    "means": 2,
    "attempts": 2,
    "hopelessness": 3,
}
LEVELS = ("none", "elevated", "high", "critical")


class InvalidRating(ValueError):
    def __init__(self, item: str) -> None:
        super().__init__(f"rating item {item} missing or out of range")
        self.item = item


@dataclass(frozen=True)
class Rating:
    ideation: int
    plan: int
    means: int
    attempts: int
    hopelessness: int
    in_progress: bool = False

    def __post_init__(self) -> None:
        for item, top in ITEMS.items():
            value = getattr(self, item)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise InvalidRating(item)

    @property
    def score(self) -> int:
        return sum(getattr(self, item) for item in ITEMS)

    @property
    def summary(self) -> str:
        """A compact code for the risk queue: I2P1M0A0H3 (+X when in progress)."""
        code = f"I{self.ideation}P{self.plan}M{self.means}A{self.attempts}H{self.hopelessness}"
        return code + ("X" if self.in_progress else "")


def level_of(rating: Rating) -> str:
    r = rating
    if (
        r.in_progress
        or (r.ideation == 3 and (r.plan == 2 or r.means >= 1))
        or (r.plan == 2 and r.means == 2)
    ):
        return "critical"
    if (
        (r.ideation >= 2 and (r.plan >= 1 or r.means >= 1 or r.attempts >= 1))
        or (r.ideation >= 2 and r.hopelessness == 3)
        or r.ideation == 3
        or (r.attempts == 2 and r.ideation >= 1)
    ):
        return "high"
    if r.ideation >= 1 or r.attempts >= 1 or r.hopelessness >= 2:
        return "elevated"
    return "none"


def final_level(computed: str, judged: str | None) -> str:
    """The higher of the computed level and the counsellor's judgment."""
    if judged is None or judged == "":
        return computed
    if judged not in LEVELS or computed not in LEVELS:
        raise ValueError("unknown level")
    return max(computed, judged, key=LEVELS.index)
