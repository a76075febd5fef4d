"""Report charts as PNG: matplotlib's Figure API with the Agg canvas, never pyplot.

Pure: no Flask, no database. Every function takes figures that are already suppressed
(``None`` = hidden) and draws hidden figures as hatched grey, never as a value. Labels come
in already translated; ``wellness.charts.chart_font()`` sets up the CJK font once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from wellness.charts import chart_font, png_bytes

Series = Sequence[tuple[str, Sequence[float | int | None]]]

# Calm to alarming, for bands ordered mildest first.
SEVERITY = ("#9fd5b7", "#f4dc8a", "#f5b971", "#ec8a6b", "#c4473a", "#8f1f1a")
LEVEL_COLOURS = ("#b42318", "#e07a2f", "#e9c46a")  # critical, high, elevated
STATUS_COLOURS = ("#0b6e4f", "#b42318", "#98a2b3", "#8ecae6")  # attended, no-show, cancelled, open
PALETTE = (
    "#0b6e4f",
    "#2563eb",
    "#c2410c",
    "#7c3aed",
    "#0891b2",
    "#be185d",
    "#65a30d",
    "#a16207",
    "#475467",
)
HIDDEN_FACE = "#e4e7ec"
HIDDEN_EDGE = "#98a2b3"
INK = "#1d2433"
MUTED = "#5a6475"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    chart_font()
    return Figure(figsize=(width, height), dpi=120, layout="constrained")


def _png(fig) -> bytes:
    return png_bytes(fig, facecolor="white")


def _style(ax, title: str, y_label: str = "") -> None:
    ax.set_title(title, fontsize=11, color=INK, loc="left")
    if y_label:
        ax.set_ylabel(y_label, fontsize=9, color=MUTED)
    ax.tick_params(labelsize=8, colors=MUTED)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e4e7ec", linewidth=0.6)
    ax.set_axisbelow(True)


def _nan(values: Sequence[float | int | str | None]) -> list[float]:
    return [float(v) if isinstance(v, int | float) else math.nan for v in values]


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color=MUTED)
    ax.set_xticks([])
    ax.set_yticks([])


def stacked_columns(
    categories: Sequence[str],
    series: Series,
    hidden: Sequence[int | None],
    *,
    title: str,
    y_label: str,
    hidden_label: str,
    colours: Sequence[str] = SEVERITY,
    empty: str = "",
) -> bytes:
    """Stacked columns per category (months, levels...). The part of a column that is
    hidden (column total minus its visible parts) is one hatched segment on top; a column
    whose total is hidden is a hatched stub with no height of its own."""
    fig = _figure(7.2, 3.8)
    ax = fig.add_subplot()
    _style(ax, title, y_label)
    if not categories:
        _empty(ax, empty)
        return _png(fig)
    x = list(range(len(categories)))
    base = [0.0] * len(categories)
    any_value = False
    for index, (label, values) in enumerate(series):
        heights = [float(v) if isinstance(v, int | float) else 0.0 for v in values]
        any_value = any_value or any(heights)
        ax.bar(
            x,
            heights,
            bottom=base,
            color=colours[index % len(colours)],
            label=label,
            width=0.75,
            edgecolor="white",
            linewidth=0.4,
        )
        base = [b + h for b, h in zip(base, heights, strict=True)]
    rest = [float(h) if isinstance(h, int | float) else 0.0 for h in hidden]
    top = max([b + r for b, r in zip(base, rest, strict=True)] or [0]) or 1.0
    whole = [h is None for h in hidden]
    ax.bar(
        x,
        [r if not w else top * 0.04 for r, w in zip(rest, whole, strict=True)],
        bottom=base,
        color=HIDDEN_FACE,
        edgecolor=HIDDEN_EDGE,
        hatch="///",
        linewidth=0.4,
        width=0.75,
        label=hidden_label,
    )
    if not any_value and not any(rest):
        ax.set_yticks([])  # nothing visible: no scale to read
        message = hidden_label if any(whole) else empty
        if message:
            ax.text(
                0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color=MUTED
            )
    ax.set_xticks(
        x,
        categories,
        rotation=45 if len(categories) > 8 else 0,
        ha="right" if len(categories) > 8 else "center",
    )
    ax.legend(
        fontsize=7,
        frameon=False,
        ncols=min(4, len(series) + 1),
        loc="upper left",
        bbox_to_anchor=(0, -0.18 if len(categories) > 8 else -0.1),
    )
    return _png(fig)


def lines(
    categories: Sequence[str],
    series: Series,
    *,
    title: str,
    y_label: str,
    y_max: float | None = None,
    empty: str = "",
) -> bytes:
    """One line per series; hidden points are gaps."""
    fig = _figure(7.2, 3.6)
    ax = fig.add_subplot()
    _style(ax, title, y_label)
    x = list(range(len(categories)))
    drawn = False
    for index, (label, values) in enumerate(series):
        ys = _nan(values)
        if all(math.isnan(y) for y in ys):
            continue
        drawn = True
        ax.plot(
            x,
            ys,
            marker="o",
            markersize=3,
            linewidth=1.8,
            color=PALETTE[index % len(PALETTE)],
            label=label,
        )
    if not drawn:
        _empty(ax, empty)
        return _png(fig)
    if y_max is not None:
        ax.set_ylim(0, y_max)
    ax.set_xticks(
        x,
        categories,
        rotation=45 if len(categories) > 8 else 0,
        ha="right" if len(categories) > 8 else "center",
    )
    ax.legend(
        fontsize=7,
        frameon=False,
        ncols=min(5, len(series)),
        loc="upper left",
        bbox_to_anchor=(0, -0.18 if len(categories) > 8 else -0.1),
    )
    return _png(fig)


def small_multiples(
    categories: Sequence[str],
    panels: Sequence[tuple[str, Sequence[float | None], tuple[float, float]]],
    *,
    title: str,
    empty: str = "",
) -> bytes:
    """One small line chart per panel (label, values, y range): mean scores per
    questionnaire on each questionnaire's own scale."""
    count = max(1, len(panels))
    cols = 3 if count > 4 else 2 if count > 1 else 1
    rows = math.ceil(count / cols)
    fig = _figure(7.2, 1.9 * rows + 0.5)
    fig.suptitle(title, fontsize=11, color=INK, x=0.01, ha="left")
    if not panels:
        _empty(fig.add_subplot(), empty)
        return _png(fig)
    x = list(range(len(categories)))
    step = max(1, len(categories) // 4)
    for index, (label, values, (low, high)) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, index + 1)
        ax.plot(
            x,
            _nan(values),
            marker="o",
            markersize=2.5,
            linewidth=1.5,
            color=PALETTE[index % len(PALETTE)],
        )
        ax.set_ylim(low, high)
        ax.set_title(label, fontsize=9, color=INK, loc="left")
        ax.tick_params(labelsize=7, colors=MUTED)
        ax.set_xticks(x[::step], [categories[i] for i in x[::step]])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="y", color="#e4e7ec", linewidth=0.6)
    return _png(fig)


def share_bars(
    labels: Sequence[str],
    series: Series,
    totals: Sequence[int | None],
    *,
    title: str,
    x_label: str,
    hidden_label: str,
    colours: Sequence[str] = SEVERITY,
    empty: str = "",
) -> bytes:
    """Horizontal 100% bars, one per row (organisations): each series' share of the row's
    total. The hidden part of a row (its total minus its shown parts) is one hatched
    segment; a row whose total is hidden is one hatched bar."""
    height = max(2.4, 0.45 * len(labels) + 1.4)
    fig = _figure(7.2, height)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11, color=INK, loc="left")
    if not labels:
        _empty(ax, empty)
        return _png(fig)
    y = list(range(len(labels)))[::-1]
    left = [0.0] * len(labels)
    for index, (label, values) in enumerate(series):
        widths = []
        for row, value in enumerate(values):
            total = totals[row]
            if not total or not isinstance(value, int | float):
                widths.append(0.0)
            else:
                widths.append(100.0 * float(value) / total)
        ax.barh(
            y,
            widths,
            left=left,
            color=colours[index % len(colours)],
            label=label,
            height=0.6,
            edgecolor="white",
            linewidth=0.4,
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    rest = [
        100.0 if total is None else max(0.0, 100.0 - done) if total else 0.0
        for total, done in zip(totals, left, strict=True)
    ]
    ax.barh(
        y,
        rest,
        left=[0.0 if t is None else d for t, d in zip(totals, left, strict=True)],
        color=HIDDEN_FACE,
        edgecolor=HIDDEN_EDGE,
        hatch="///",
        height=0.6,
        linewidth=0.4,
        label=hidden_label,
    )
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(x_label, fontsize=9, color=MUTED)
    ax.tick_params(labelsize=8, colors=MUTED)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(
        fontsize=7,
        frameon=False,
        ncols=min(4, len(series) + 1),
        loc="upper left",
        bbox_to_anchor=(0, -0.18),
    )
    return _png(fig)


def heatmap(
    grid: Sequence[Sequence[int | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    hidden_label: str,
    value_label: str,
) -> bytes:
    """Calls per weekday and hour; hidden cells hatched grey."""
    import numpy as np
    from matplotlib.patches import Patch, Rectangle

    fig = _figure(7.6, 3.4)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11, color=INK, loc="left")
    data = np.array([[math.nan if v is None else float(v) for v in row] for row in grid])
    top = np.nanmax(data) if not np.all(np.isnan(data)) else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(data), cmap="Greens", vmin=0, vmax=max(top, 1.0), aspect="auto"
    )
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value is None:
                ax.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5),
                        1,
                        1,
                        facecolor=HIDDEN_FACE,
                        edgecolor=HIDDEN_EDGE,
                        hatch="///",
                        linewidth=0.3,
                    )
                )
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    ax.set_xticks(range(len(col_labels)), col_labels, fontsize=7)
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label(value_label, fontsize=8)
    colorbar.ax.tick_params(labelsize=7)
    ax.legend(
        handles=[
            Patch(facecolor=HIDDEN_FACE, edgecolor=HIDDEN_EDGE, hatch="///", label=hidden_label)
        ],
        fontsize=7,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0, -0.1),
    )
    return _png(fig)


def bars(
    labels: Sequence[str],
    values: Sequence[int | float | str | None],
    *,
    title: str,
    x_label: str,
    hidden_label: str,
    empty: str = "",
    percent: bool = False,
) -> bytes:
    """Horizontal bars (topics, room use); hidden values are hatched stubs."""
    height = max(2.2, 0.42 * len(labels) + 1.2)
    fig = _figure(7.2, height)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11, color=INK, loc="left")
    if not labels:
        _empty(ax, empty)
        return _png(fig)
    y = list(range(len(labels)))[::-1]
    numbers = [float(v) if isinstance(v, int | float) else 0.0 for v in values]
    top = max(numbers + [1.0])
    ax.barh(y, numbers, color=PALETTE[0], height=0.6)
    stubs = [top * 0.03 if v is None else 0.0 for v in values]
    ax.barh(
        y,
        stubs,
        color=HIDDEN_FACE,
        edgecolor=HIDDEN_EDGE,
        hatch="///",
        height=0.6,
        linewidth=0.4,
        label=hidden_label,
    )
    for yy, value in zip(y, values, strict=True):
        if isinstance(value, int | float):
            text = f"{value:.1f}%" if percent else f"{value:g}"
            ax.text(float(value) + top * 0.01, yy, text, va="center", fontsize=7, color=MUTED)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(x_label, fontsize=9, color=MUTED)
    ax.set_xlim(0, (100.0 if percent else top) * 1.12)
    ax.tick_params(labelsize=8, colors=MUTED)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if any(v is None for v in values):
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(fig)
