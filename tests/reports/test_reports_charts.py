"""Report charts: PNG from the Figure API, hidden figures drawn as hidden, never as values."""

from __future__ import annotations

import sys

from wellness.reports import charts


def test_each_chart_draws_a_png_without_pyplot():
    months = ["2026-09", "2026-10", "2026-11"]
    pngs = [
        charts.stacked_columns(
            months,
            [("轻度", [10, None, 12]), ("重度", [3, None, 0])],
            [0, None, 4],
            title="PHQ-9 每月筛查人数",
            y_label="人数",
            hidden_label="已隐藏",
        ),
        charts.lines(months, [("PHQ-9", [10.5, None, 12.0])], title="中度及以上", y_label="%"),
        charts.small_multiples(months, [("PHQ-9", [5.0, None, 6.1], (0, 27))], title="平均分"),
        charts.share_bars(
            ["甲厂", "乙厂"],
            [("轻度", [3, None]), ("重度", [1, None])],
            [False, True],
            title="按单位",
            x_label="%",
            hidden_label="已隐藏",
        ),
        charts.heatmap(
            [[1, None], [0, 4]],
            ["周一", "周二"],
            ["00", "01"],
            title="来电",
            hidden_label="已隐藏",
            value_label="次",
        ),
        charts.bars(
            ["工作压力", "婚姻家庭"], [12, None], title="话题", x_label="次", hidden_label="已隐藏"
        ),
        charts.lines(months, [], title="空", y_label="", empty="暂无数据"),
    ]
    for png in pngs:
        assert png.startswith(b"\x89PNG") and len(png) > 3000
    assert "matplotlib.pyplot" not in sys.modules
