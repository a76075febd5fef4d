"""The instrument registry and its pure scoring (no app, no database).

Expected bands and routing are written out here from DESIGN.md section 5, not read from the
data files, so a wrong file fails a test.
"""

from __future__ import annotations

import ast
import copy
import enum
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from wellness.assessments.instruments import (
    InstrumentError,
    InvalidAnswers,
    UnknownInstrument,
    configure_registry,
    get_instrument,
    list_instruments,
    reliable_change,
)

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "wellness" / "assessments" / "instruments"

CODES = ["phq9", "gad7", "phq15", "who5", "k10", "audit", "pcl5", "phq2", "gad2"]

BANDS = {
    "phq9": [
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("moderately_severe", 15, 19),
        ("severe", 20, 27),
    ],
    "gad7": [("minimal", 0, 4), ("mild", 5, 9), ("moderate", 10, 14), ("severe", 15, 21)],
    "phq15": [("minimal", 0, 4), ("low", 5, 9), ("medium", 10, 14), ("high", 15, 30)],
    "who5": [("likely_depression", 0, 7), ("poor_wellbeing", 8, 12), ("adequate", 13, 25)],
    "k10": [("low", 10, 15), ("moderate", 16, 21), ("high", 22, 29), ("very_high", 30, 50)],
    "audit": [
        ("low_risk", 0, 7),
        ("hazardous", 8, 15),
        ("harmful", 16, 19),
        ("possible_dependence", 20, 40),
    ],
    "pcl5": [("below_threshold", 0, 32), ("probable_ptsd", 33, 80)],
    "phq2": [("negative", 0, 2), ("positive", 3, 6)],
    "gad2": [("negative", 0, 2), ("positive", 3, 6)],
}

# code -> (comparison, threshold, level when the threshold fires at the cut)
ROUTES = {
    "phq9": (">=", 10, "elevated"),
    "gad7": (">=", 10, "elevated"),
    "phq15": (">=", 15, "high"),
    "who5": ("<=", 7, "high"),
    "k10": (">=", 30, "high"),
    "audit": (">=", 20, "high"),
    "pcl5": (">=", 33, "high"),
}

ITEM_COUNTS = {
    "phq9": 9,
    "gad7": 7,
    "phq15": 15,
    "who5": 5,
    "k10": 10,
    "audit": 10,
    "pcl5": 20,
    "phq2": 2,
    "gad2": 2,
}


def answers_for(code: str, total: int, *, fixed: dict[int, int] | None = None) -> list[int]:
    """Valid answers whose plain sum is ``total``; ``fixed`` pins item numbers to values."""
    inst = get_instrument(code)
    fixed = fixed or {}
    allowed = [
        sorted({fixed[item.number]} if item.number in fixed else item.allowed_values)
        for item in inst.items
    ]
    # reachable[i] = the sums the items i.. can make
    reachable: list[set[int]] = [set() for _ in range(len(allowed) + 1)]
    reachable[-1] = {0}
    for i in range(len(allowed) - 1, -1, -1):
        reachable[i] = {v + rest for v in allowed[i] for rest in reachable[i + 1]}
    if total not in reachable[0]:
        raise AssertionError(f"{code}: total {total} is not reachable")
    answers, remaining = [], total
    for i, values in enumerate(allowed):
        value = max(v for v in values if remaining - v in reachable[i + 1])
        answers.append(value)
        remaining -= value
    return answers


@pytest.fixture
def registry_restored():
    yield
    configure_registry(extra_dirs=[])


# -- the registry ---------------------------------------------------------------------------


def test_list_instruments_has_every_shipped_code_in_display_order():
    codes = [inst.code for inst in list_instruments()]
    assert codes == ["phq9", "gad7", "who5", "phq15", "k10", "audit", "pcl5", "phq2", "gad2"]


def test_unknown_code_raises_keyerror_subclass():
    with pytest.raises(UnknownInstrument) as info:
        get_instrument("isi")
    assert isinstance(info.value, KeyError)
    assert "isi" in str(info.value)
    with pytest.raises(KeyError):
        get_instrument(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", CODES)
def test_every_instrument_is_bilingual_and_complete(code):
    inst = get_instrument(code)
    assert inst.item_count == ITEM_COUNTS[code]
    assert inst.minutes >= 1 and inst.version and inst.licence
    for lang in ("zh", "en"):
        for texts in (inst.name, inst.description, inst.instructions):
            assert texts[lang].strip()
        for item in inst.items:
            assert item.text[lang].strip()
            assert all(option.label[lang].strip() for option in item.options)
        for band in inst.bands:
            assert band.label[lang].strip() and band.explanation[lang].strip()
        assert inst.sources["translations"][lang]["citation"].strip()
    assert inst.sources["scoring"].strip()
    # plain-language explanations are non-diagnostic
    assert all("not a diagnosis" in band.explanation["en"] for band in inst.bands)
    assert all("不是诊断" in band.explanation["zh"] for band in inst.bands)


@pytest.mark.parametrize("code", CODES)
def test_bands_match_design_table(code):
    inst = get_instrument(code)
    assert [(b.code, b.min, b.max) for b in inst.bands] == BANDS[code]
    assert inst.total_range == (BANDS[code][0][1], BANDS[code][-1][2])


def test_routing_configuration_is_explicit():
    assert get_instrument("phq9").critical_items == {9: 1}
    assert get_instrument("phq9").route_threshold.as_dict() == {"total_gte": 10}
    assert get_instrument("who5").route_threshold.as_dict() == {"total_lte": 7}
    assert get_instrument("phq2").route_threshold is None
    assert get_instrument("gad2").route_threshold is None
    for code in ("gad7", "phq15", "who5", "k10", "audit", "pcl5", "phq2", "gad2"):
        assert dict(get_instrument(code).critical_items) == {}


def test_loinc_codes_where_they_exist():
    phq9 = get_instrument("phq9")
    assert (phq9.loinc["panel"], phq9.loinc["total"]) == ("44249-1", "44261-6")
    assert phq9.items[8].loinc == "44260-8"
    assert get_instrument("gad7").loinc["total"] == "70274-6"
    assert get_instrument("phq2").loinc["panel"] == "55757-9"
    assert get_instrument("audit").loinc["panel"] == "72110-0"
    assert get_instrument("who5").loinc["panel"] is None


def test_translation_status_is_recorded_honestly():
    for code in ("phq9", "gad7", "who5", "phq2", "gad2"):
        assert get_instrument(code).translation_verified("zh")
    for code in ("k10", "pcl5", "phq15", "audit"):
        inst = get_instrument(code)
        assert not inst.translation_verified("zh")
        assert inst.sources["translations"]["zh"]["note"]
    assert all(inst.translation_verified("en") for inst in list_instruments())


# -- bands: every cut from both sides, min and max ----------------------------------------

BAND_EDGES = [
    (code, band, total)
    for code, bands in BANDS.items()
    for band, low, high in bands
    for total in sorted({low, high})
]


@pytest.mark.parametrize(("code", "band", "total"), BAND_EDGES)
def test_band_boundaries(code, band, total):
    result = get_instrument(code).score(answers_for(code, total))
    assert result.total == total
    assert result.band == band


# -- routing: both sides of every threshold ------------------------------------------------


def _routing_answers(code: str, total: int) -> list[int]:
    # keep PHQ-9 item 9 at 0 so only the total can route
    return answers_for(code, total, fixed={9: 0} if code == "phq9" else None)


@pytest.mark.parametrize("code", sorted(ROUTES))
def test_routes_at_the_threshold(code):
    op, threshold, level = ROUTES[code]
    result = get_instrument(code).score(_routing_answers(code, threshold))
    assert result.risk is True
    assert result.level == level
    assert result.rule == f"threshold:total{op}{threshold}"
    assert result.critical_items == ()


@pytest.mark.parametrize("code", sorted(ROUTES))
def test_does_not_route_just_past_the_threshold(code):
    op, threshold, _ = ROUTES[code]
    total = threshold - 1 if op == ">=" else threshold + 1
    result = get_instrument(code).score(_routing_answers(code, total))
    assert (result.risk, result.level, result.rule, result.critical_items) == (False, None, "", ())


@pytest.mark.parametrize("code", sorted(ROUTES))
def test_extremes_route_on_the_severe_side_only(code):
    op, _, _ = ROUTES[code]
    inst = get_instrument(code)
    low, high = inst.total_range
    severe, mild = (high, low) if op == ">=" else (low, high)
    assert inst.score(answers_for(code, severe)).risk is True
    assert inst.score(_routing_answers(code, mild)).risk is False


@pytest.mark.parametrize("code", ["phq2", "gad2"])
@pytest.mark.parametrize("total", range(7))
def test_short_screens_never_route_and_suggest_the_full_scale(code, total):
    result = get_instrument(code).score(answers_for(code, total))
    assert (result.risk, result.level, result.rule) == (False, None, "")
    expected = {"phq2": "phq9", "gad2": "gad7"}[code] if total >= 3 else None
    assert result.suggests == expected
    assert get_instrument(code).suggests == {"phq2": "phq9", "gad2": "gad7"}[code]


# -- levels --------------------------------------------------------------------------------


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_is_critical_even_with_a_low_total(item9):
    result = get_instrument("phq9").score([0] * 8 + [item9])
    assert result.total == item9
    assert result.band == "minimal"
    assert (result.risk, result.level) == (True, "critical")
    assert result.critical_items == (9,)
    assert result.rule == "critical_item:9"


def test_phq9_critical_wins_over_threshold_and_top_band():
    result = get_instrument("phq9").score([3] * 9)
    assert (result.total, result.band, result.level, result.rule) == (
        27,
        "severe",
        "critical",
        "critical_item:9",
    )


def test_phq9_item9_zero_is_not_critical():
    result = get_instrument("phq9").score([3] * 8 + [0])
    assert result.critical_items == ()
    assert (result.total, result.band, result.level) == (24, "severe", "high")


@pytest.mark.parametrize(
    ("code", "total", "level"),
    [
        ("phq9", 14, "elevated"),
        ("phq9", 15, "elevated"),
        ("phq9", 19, "elevated"),
        ("phq9", 20, "high"),
        ("gad7", 14, "elevated"),
        ("gad7", 15, "high"),
        ("gad7", 21, "high"),
        ("phq15", 30, "high"),
        ("k10", 50, "high"),
        ("audit", 40, "high"),
        ("pcl5", 80, "high"),
        ("who5", 0, "high"),
    ],
)
def test_level_is_high_only_in_the_top_band(code, total, level):
    result = get_instrument(code).score(_routing_answers(code, total))
    assert result.level == level
    inst = get_instrument(code)
    assert (result.band == inst.top_band.code) == (level == "high")


# -- WHO-5: percent and direction ----------------------------------------------------------


def test_who5_percent_and_direction():
    who5 = get_instrument("who5")
    assert who5.higher_is_better is True
    assert who5.top_band.code == "likely_depression"
    best = who5.score([5, 5, 5, 5, 5])
    assert (best.total, best.percent, best.band, best.risk) == (25, 100, "adequate", False)
    low = who5.score([1, 1, 1, 2, 2])
    assert (low.total, low.percent, low.band, low.risk, low.rule) == (
        7,
        28,
        "likely_depression",
        True,
        "threshold:total<=7",
    )
    just_above = who5.score([2, 2, 2, 1, 1])
    assert (just_above.total, just_above.percent, just_above.risk) == (8, 32, False)
    assert who5.score([0] * 5).percent == 0


def test_who5_suggests_phq9_when_low_or_any_item_is_0_or_1():
    who5 = get_instrument("who5")
    assert who5.score([3, 3, 2, 2, 2]).suggests == "phq9"  # raw 12, poor well-being
    assert who5.score([5, 5, 5, 5, 1]).suggests == "phq9"  # adequate but one item is 1
    assert who5.score([3, 3, 3, 2, 2]).suggests is None  # raw 13, every item >= 2


@pytest.mark.parametrize("code", [c for c in CODES if c != "who5"])
def test_percent_is_none_for_other_instruments(code):
    inst = get_instrument(code)
    assert inst.score(answers_for(code, inst.total_range[0])).percent is None


# -- item value sets -----------------------------------------------------------------------


@pytest.mark.parametrize("item", [9, 10])
@pytest.mark.parametrize("value", [1, 3, 5, -2])
def test_audit_items_9_and_10_reject_odd_values(item, value):
    answers = [0] * 10
    answers[item - 1] = value
    with pytest.raises(InvalidAnswers) as info:
        get_instrument("audit").score(answers)
    assert info.value.item == item
    assert info.value.reason == "out_of_range"
    assert info.value.expected == [0, 2, 4]


@pytest.mark.parametrize("value", [0, 2, 4])
def test_audit_items_9_and_10_accept_0_2_4(value):
    result = get_instrument("audit").score([4] * 8 + [value, value])
    assert result.total == 32 + 2 * value


def test_audit_items_1_to_8_take_0_to_4():
    audit = get_instrument("audit")
    assert audit.score([4] * 8 + [4, 4]).total == 40
    with pytest.raises(InvalidAnswers) as info:
        audit.score([5] + [0] * 9)
    assert info.value.item == 1


@pytest.mark.parametrize("value", [0, 6, -1])
def test_k10_rejects_values_outside_1_to_5(value):
    with pytest.raises(InvalidAnswers) as info:
        get_instrument("k10").score([1, 1, value] + [1] * 7)
    assert info.value.item == 3


def test_k10_range_is_10_to_50():
    k10 = get_instrument("k10")
    assert k10.score([1] * 10).total == 10
    assert k10.score([5] * 10).total == 50


@pytest.mark.parametrize(
    ("code", "bad"),
    [
        ("phq15", 3),
        ("who5", 6),
        ("pcl5", 5),
        ("phq9", 4),
        ("gad7", -1),
        ("phq2", 4),
        ("gad2", 7),
    ],
)
def test_values_above_or_below_the_item_range_are_rejected(code, bad):
    answers = answers_for(code, get_instrument(code).total_range[0])
    answers[-1] = bad
    with pytest.raises(InvalidAnswers) as info:
        get_instrument(code).score(answers)
    assert info.value.item == len(answers)
    assert info.value.reason == "out_of_range"


# -- answer types and counts ---------------------------------------------------------------


class Small(enum.IntEnum):
    ONE = 1


class MyInt(int):
    pass


@pytest.mark.parametrize(
    "bad",
    [
        True,
        False,
        1.0,
        0.0,
        "1",
        "１",
        "١",
        "一",
        Decimal("1"),
        Fraction(1),
        None,
        [1],
        (1,),
        {"value": 1},
        Small.ONE,
        MyInt(1),
        b"1",
        1 + 0j,
    ],
    ids=repr,
)
@pytest.mark.parametrize("position", [0, 8])
def test_non_int_answers_are_rejected(bad, position):
    answers = [0] * 9
    answers[position] = bad
    with pytest.raises(InvalidAnswers) as info:
        get_instrument("phq9").score(answers)
    assert isinstance(info.value, ValueError)
    assert info.value.reason == "not_an_integer"
    assert info.value.item == position + 1
    assert f"item {position + 1}" in str(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "000000000",
        b"\x00" * 9,
        0,
        {i: 0 for i in range(9)},
        set(range(9)),
        iter([0] * 9),
        range(9),
    ],
    ids=lambda v: type(v).__name__,
)
def test_answers_must_be_a_list_or_tuple(bad):
    with pytest.raises(InvalidAnswers) as info:
        get_instrument("phq9").score(bad)
    assert info.value.reason == "not_a_sequence"


@pytest.mark.parametrize("count", [0, 1, 8, 10, 18])
def test_wrong_number_of_answers(count):
    with pytest.raises(InvalidAnswers) as info:
        get_instrument("phq9").score([0] * count)
    assert info.value.reason == "wrong_count"
    assert (info.value.value, info.value.expected) == (count, 9)
    assert "expected 9 answers" in str(info.value)


def test_invalid_pair_from_the_design_contract():
    with pytest.raises(InvalidAnswers):
        get_instrument("phq9").score([9, 9])


def test_tuple_answers_are_accepted_and_recorded():
    result = get_instrument("gad7").score((1, 1, 1, 1, 1, 1, 1))
    assert (result.total, result.answers, result.instrument) == (7, (1,) * 7, "gad7")


# -- reliable change -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (10, 15, "worse"),
        (10, 14, None),
        (15, 10, "better"),
        (15, 11, None),
        (0, 27, "worse"),
        (12, 12, None),
    ],
)
def test_reliable_change_phq9_five_points(previous, current, expected):
    assert reliable_change(get_instrument("phq9"), previous, current) == expected


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (5, 9, "worse"),
        (5, 8, None),
        (9, 5, "better"),
        (9, 6, None),
    ],
)
def test_reliable_change_gad7_four_points(previous, current, expected):
    assert reliable_change(get_instrument("gad7"), previous, current) == expected


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        # raw totals; compared as percent (raw x 4) with a 10-point threshold; higher is better
        (15, 12, "worse"),  # 60 % -> 48 %: -12
        (15, 13, None),  # -8
        (12, 15, "better"),  # +12
        (13, 15, None),  # +8
        (25, 0, "worse"),
    ],
)
def test_reliable_change_who5_ten_percent_reversed(previous, current, expected):
    who5 = get_instrument("who5")
    assert who5.reliable_change.unit == "percent" and who5.reliable_change.value == 10
    assert reliable_change(who5, previous, current) == expected


def test_reliable_change_is_none_without_a_threshold():
    assert reliable_change(get_instrument("k10"), 10, 50) is None


@pytest.mark.parametrize(("previous", "current"), [(True, 5), (5, 5.0), (-1, 5), (5, 28)])
def test_reliable_change_rejects_bad_totals(previous, current):
    with pytest.raises(ValueError, match="phq9"):
        reliable_change(get_instrument("phq9"), previous, current)


# -- texts ---------------------------------------------------------------------------------


def test_localized_and_language_fallback():
    phq9 = get_instrument("phq9")
    zh = phq9.localized("zh")
    assert zh["items"][0]["text"] == "做事时提不起劲或没有兴趣"
    assert zh["options"][0] == {"value": 0, "label": "完全不会"}
    en = phq9.localized("en-GB")
    assert en["lang"] == "en"
    assert en["items"][8]["text"].startswith("Thoughts that you would be better off dead")
    assert phq9.localized("fr")["lang"] == "zh"
    assert phq9.localized(None)["name"] == zh["name"]
    assert phq9.text("name", "en") == "Patient Health Questionnaire (PHQ-9)"
    assert phq9.text("instructions", "xx") == phq9.instructions["zh"]
    assert en["route_threshold"] == {"total_gte": 10}
    assert en["critical_items"] == {"9": 1}
    assert json.loads(json.dumps(en)) == en


def test_who5_official_chinese_items():
    who5 = get_instrument("who5")
    assert [item.text["zh"] for item in who5.items] == [
        "我感觉快乐、心情舒畅",
        "我感觉宁静和放松",
        "我感觉充满活力、精力充沛",
        "我睡醒时感到清新、得到了足够休息",
        "我每天生活充满了有趣的事情",
    ]


# -- purity --------------------------------------------------------------------------------


def test_package_imports_only_the_standard_library():
    forbidden = {
        "flask",
        "sqlalchemy",
        "flask_sqlalchemy",
        "wellness.extensions",
        "wellness.database",
    }
    for path in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden and name not in forbidden, (
                    f"{path.name} imports {name}"
                )


# -- loader validation and extra folders ---------------------------------------------------


def licensed_doc() -> dict:
    """A small licensed-style instrument with reverse items and a multiplier."""

    def texts(zh: str, en: str) -> dict:
        return {"zh": zh, "en": en}

    return {
        "schema": 1,
        "code": "calm4",
        "version": "2024.1",
        "short_name": "CALM-4",
        "display_order": 55,
        "name": texts("平静量表", "Calm scale"),
        "description": texts("四道题。", "Four questions."),
        "instructions": texts("请选择。", "Please choose."),
        "minutes": 1,
        "options": [{"value": v, "label": texts(f"选项{v}", f"Option {v}")} for v in (1, 2, 3, 4)],
        "items": [{"number": n, "text": texts(f"第{n}题", f"Item {n}")} for n in (1, 2, 3, 4)],
        "scoring": {"method": "sum", "reverse_items": [2, 4], "multiplier": 2},
        "bands": [
            {
                "code": "low",
                "min": 8,
                "max": 19,
                "label": texts("低", "Low"),
                "explanation": texts("说明", "Explanation"),
            },
            {
                "code": "high",
                "min": 20,
                "max": 32,
                "label": texts("高", "High"),
                "explanation": texts("说明", "Explanation"),
            },
        ],
        "critical_items": {"3": 4},
        "route_threshold": {"total_gte": 24},
        "reliable_change": {"value": 6, "unit": "points", "source": "Vendor manual"},
        "higher_is_better": False,
        "loinc": {"panel": None, "total": None},
        "licence": "© Example Licensor. Used under licence no. 42.",
        "sources": {
            "scoring": "Vendor manual",
            "translations": {
                "zh": {"citation": "Vendor Chinese version", "verified": True},
                "en": {"citation": "Vendor English version", "verified": True},
            },
        },
        "x_vendor": {"anything": True},
    }


def write_doc(folder: Path, doc: dict, name: str | None = None) -> Path:
    path = folder / (name or f"{doc['code']}.json")
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_extra_folder_instrument_loads_and_scores(tmp_path, registry_restored):
    write_doc(tmp_path, licensed_doc())
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    configure_registry(extra_dirs=[tmp_path])

    calm = get_instrument("calm4")
    assert calm.total_range == (8, 32)
    assert [inst.code for inst in list_instruments()][4:7] == ["k10", "calm4", "audit"]
    # items 2 and 4 reversed (1..4 -> 4..1), then x2
    low = calm.score([1, 4, 1, 4])
    assert (low.total, low.band, low.risk) == (8, "low", False)
    plain = calm.score([1, 1, 1, 1])
    assert (plain.total, plain.band, plain.risk) == (20, "high", False)
    routed = calm.score([4, 1, 1, 1])
    assert (routed.total, routed.risk, routed.level, routed.rule) == (
        26,
        True,
        "high",
        "threshold:total>=24",
    )
    critical = calm.score([1, 4, 4, 4])
    assert (critical.total, critical.level, critical.critical_items) == (14, "critical", (3,))
    assert reliable_change(calm, 8, 14) == "worse"
    with pytest.raises(InvalidAnswers):
        calm.score([0, 1, 1, 1])
    # the shipped instruments are still there
    assert get_instrument("phq9").score([0] * 9).band == "minimal"


def test_fractional_multiplier_truncates_exactly(tmp_path, registry_restored):
    doc = licensed_doc()
    doc["scoring"] = {"method": "sum", "reverse_items": [], "multiplier": [5, 4]}
    # raw 4..16 -> floor(raw * 5 / 4): 5..20
    doc["bands"][0].update(min=5, max=12)
    doc["bands"][1].update(min=13, max=20)
    doc["critical_items"] = {}
    doc["route_threshold"] = {"total_gte": 13}
    write_doc(tmp_path, doc)
    configure_registry(extra_dirs=[str(tmp_path)])
    calm = get_instrument("calm4")
    assert calm.score([2, 2, 2, 3]).total == 11  # 9 * 1.25 = 11.25
    assert calm.score([3, 3, 2, 2]).total == 12  # 10 * 1.25 = 12.5 -> 12
    assert calm.score([4, 4, 4, 4]).total == 20


def test_configure_without_extra_dirs_removes_extra_instruments(tmp_path, registry_restored):
    write_doc(tmp_path, licensed_doc())
    configure_registry(extra_dirs=[tmp_path])
    assert get_instrument("calm4")
    configure_registry(extra_dirs=[])
    with pytest.raises(UnknownInstrument):
        get_instrument("calm4")


def _break(mutate):
    doc = licensed_doc()
    mutate(doc)
    return doc


BROKEN = {
    "gap_in_bands": (lambda d: d["bands"][1].update(min=21), "gap between bands"),
    "overlapping_bands": (lambda d: d["bands"][1].update(min=19), "overlap"),
    "bands_short_of_max": (lambda d: d["bands"][1].update(max=31), "highest total 32"),
    "bands_above_min": (lambda d: d["bands"][0].update(min=9), "lowest total 8"),
    "duplicate_band_code": (lambda d: d["bands"][1].update(code="low"), "used twice"),
    "missing_zh_item_text": (lambda d: d["items"][2]["text"].pop("zh"), "item 3 text"),
    "empty_en_name": (lambda d: d["name"].update(en=" "), "name.en"),
    "missing_zh_band_explanation": (
        lambda d: d["bands"][0]["explanation"].pop("zh"),
        "explanation",
    ),
    "critical_item_out_of_range": (
        lambda d: d["critical_items"].update({"5": 2}),
        "critical item 5 does not exist",
    ),
    "critical_value_not_an_option": (
        lambda d: d["critical_items"].update({"3": 9}),
        "critical item 3 minimum",
    ),
    "threshold_above_range": (
        lambda d: d.update(route_threshold={"total_gte": 33}),
        "outside the total range",
    ),
    "threshold_both_directions": (
        lambda d: d.update(route_threshold={"total_gte": 20, "total_lte": 9}),
        "route_threshold",
    ),
    "duplicate_option_value": (lambda d: d["options"][1].update(value=1), "repeats the value 1"),
    "float_option_value": (lambda d: d["options"][0].update(value=1.0), "must be an integer"),
    "items_out_of_order": (lambda d: d["items"][1].update(number=3), "items[1].number"),
    "unknown_key": (lambda d: d.update(scoreing={}), "unknown keys"),
    "missing_key": (lambda d: d.pop("bands"), "missing keys"),
    "bad_code": (lambda d: d.update(code="Calm 4"), "code must match"),
    "reverse_item_out_of_range": (
        lambda d: d["scoring"].update(reverse_items=[7]),
        "item 7 does not exist",
    ),
    "zero_multiplier": (lambda d: d["scoring"].update(multiplier=0), "multiplier"),
    "percent_change_without_percent": (
        lambda d: d["reliable_change"].update(unit="percent"),
        "percent_multiplier",
    ),
    "suggests_unknown_band": (
        lambda d: d.update(suggests={"code": "phq9", "when_bands": ["nope"]}),
        "unknown band",
    ),
    "suggests_unknown_instrument": (
        lambda d: d.update(suggests={"code": "zzz", "when_bands": ["high"]}),
        "suggests unknown instrument",
    ),
    "unverified_without_note": (
        lambda d: d["sources"]["translations"]["zh"].update(verified=False),
        "needs a note",
    ),
    "wrong_schema": (lambda d: d.update(schema=2), "schema must be 1"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_invalid_files_raise_instrument_error_naming_the_file(case, tmp_path, registry_restored):
    mutate, message = BROKEN[case]
    path = write_doc(tmp_path, _break(mutate), name="licensed.json")
    with pytest.raises(InstrumentError) as info:
        configure_registry(extra_dirs=[tmp_path])
    assert info.value.path == str(path)
    assert "licensed.json" in str(info.value)
    assert message in info.value.problem


def test_duplicate_code_names_both_files(tmp_path, registry_restored):
    doc = licensed_doc()
    doc["code"] = "phq9"
    path = write_doc(tmp_path, doc, name="my_phq9.json")
    with pytest.raises(InstrumentError) as info:
        configure_registry(extra_dirs=[tmp_path])
    assert info.value.path == str(path)
    assert "duplicate instrument code 'phq9'" in info.value.problem
    assert "phq9.json" in info.value.problem


def test_duplicate_code_between_two_extra_files(tmp_path, registry_restored):
    write_doc(tmp_path, licensed_doc(), name="a.json")
    write_doc(tmp_path, licensed_doc(), name="b.json")
    with pytest.raises(InstrumentError) as info:
        configure_registry(extra_dirs=[tmp_path])
    assert info.value.path.endswith("b.json") and "a.json" in info.value.problem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"code": "a", "code": "b"}', "duplicate key 'code'"),
        ("[1, 2]", "must be an object"),
        ('{"x": NaN}', "NaN is not allowed"),
    ],
)
def test_unparseable_files(text, message, tmp_path, registry_restored):
    (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    with pytest.raises(InstrumentError) as info:
        configure_registry(extra_dirs=[tmp_path])
    assert info.value.path.endswith("bad.json")
    assert message in info.value.problem


def test_missing_extra_folder_is_an_error(tmp_path, registry_restored):
    missing = tmp_path / "nope"
    with pytest.raises(InstrumentError) as info:
        configure_registry(extra_dirs=[missing])
    assert info.value.path == str(missing)


def test_a_failed_configure_keeps_the_previous_registry(tmp_path, registry_restored):
    good = tmp_path / "good"
    good.mkdir()
    write_doc(good, licensed_doc())
    configure_registry(extra_dirs=[good])
    bad = tmp_path / "bad"
    bad.mkdir()
    doc = copy.deepcopy(licensed_doc())
    doc["code"] = "other"
    doc["bands"][1]["min"] = 22
    write_doc(bad, doc)
    with pytest.raises(InstrumentError):
        configure_registry(extra_dirs=[bad])
    assert get_instrument("calm4").code == "calm4"
    with pytest.raises(UnknownInstrument):
        get_instrument("other")


def test_shipped_files_are_the_nine_instruments():
    files = sorted(p.stem for p in (PACKAGE_DIR / "data").glob("*.json"))
    assert files == sorted(CODES)
