"""The quantified suicide-risk rating and its levels."""

from __future__ import annotations

import pytest

from wellness.hotline.rating import InvalidRating, Rating, final_level, level_of


def r(i=0, p=0, m=0, a=0, h=0, x=False) -> Rating:
    return Rating(ideation=i, plan=p, means=m, attempts=a, hopelessness=h, in_progress=x)


@pytest.mark.parametrize(
    ("rating", "level"),
    [
        (r(), "none"),
        (r(h=1), "none"),
        (r(h=2), "elevated"),
        (r(i=1), "elevated"),
        (r(a=1), "elevated"),
        (r(i=2), "elevated"),
        (r(i=2, p=1), "high"),
        (r(i=2, m=1), "high"),
        (r(i=2, a=1), "high"),
        (r(i=2, h=3), "high"),
        (r(i=1, a=2), "high"),
        (r(i=3), "high"),
        (r(i=3, p=2), "critical"),
        (r(i=3, m=1), "critical"),
        (r(p=2, m=2), "critical"),
        (r(x=True), "critical"),
    ],
)
def test_levels(rating, level):
    assert level_of(rating) == level


def test_score_and_summary():
    rating = r(i=2, p=1, m=0, a=0, h=3)
    assert rating.score == 6
    assert rating.summary == "I2P1M0A0H3"
    assert r(i=3, p=2, m=2, a=2, h=3, x=True).summary == "I3P2M2A2H3X"
    assert r(i=3, p=2, m=2, a=2, h=3).score == 12


@pytest.mark.parametrize(
    "kwargs",
    [{"ideation": 4}, {"plan": -1}, {"means": 3}, {"attempts": "1"}, {"hopelessness": True}],
)
def test_out_of_range_items_are_refused(kwargs):
    values = {"ideation": 0, "plan": 0, "means": 0, "attempts": 0, "hopelessness": 0, **kwargs}
    with pytest.raises(InvalidRating) as caught:
        Rating(**values)
    assert caught.value.item == next(iter(kwargs))


def test_judgment_raises_never_lowers():
    assert final_level("elevated", "critical") == "critical"
    assert final_level("critical", "elevated") == "critical"
    assert final_level("none", "high") == "high"
    assert final_level("high", None) == "high"
    with pytest.raises(ValueError):
        final_level("high", "extreme")
