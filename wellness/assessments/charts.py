"""A member's score history on one instrument, as PNG. Pure: no Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from wellness.charts import chart_font, png_bytes

BEIJING = ZoneInfo("Asia/Shanghai")
# Light fills from calm to alarming; bands are shaded in order of severity.
BAND_COLOURS = ("#e7f5ec", "#fdf6d8", "#fde8cf", "#fbd6c9", "#f6c4c4")


@dataclass(frozen=True)
class Point:
    at: datetime
    total: int
    reliable: str | None  # "worse" | "better" | None, compared with the previous point


@dataclass(frozen=True)
class BandSpan:
    low: int
    high: int
    label: str
    severity: int


def history_png(
    points: list[Point],
    bands: list[BandSpan],
    *,
    title: str,
    y_label: str,
    labels: dict[str, str],
    y_range: tuple[int, int],
) -> bytes:
    """Draw scores over time with bands shaded and reliable changes marked."""
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure

    chart_font()
    fig = Figure(figsize=(6.4, 3.6), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    for band in bands:
        colour = BAND_COLOURS[min(band.severity, len(BAND_COLOURS) - 1)]
        ax.axhspan(band.low - 0.5, band.high + 0.5, color=colour, zorder=0)
        ax.text(
            1.005,
            (band.low + band.high) / 2,
            band.label,
            transform=ax.get_yaxis_transform(),
            va="center",
            ha="left",
            fontsize=7,
            color="#475467",
        )
    if points:
        xs = [p.at.astimezone(BEIJING) for p in points]
        ys = [p.total for p in points]
        ax.plot(xs, ys, color="#0b6e4f", marker="o", linewidth=2, zorder=3)
        worse = [(x, y) for x, y, p in zip(xs, ys, points, strict=True) if p.reliable == "worse"]
        better = [(x, y) for x, y, p in zip(xs, ys, points, strict=True) if p.reliable == "better"]
        if worse:
            ax.scatter(
                *zip(*worse, strict=True),
                s=120,
                facecolors="none",
                edgecolors="#b42318",
                linewidths=2,
                zorder=4,
                label=labels["worse"],
            )
        if better:
            ax.scatter(
                *zip(*better, strict=True),
                s=120,
                marker="s",
                facecolors="none",
                edgecolors="#166534",
                linewidths=2,
                zorder=4,
                label=labels["better"],
            )
        if worse or better:
            ax.legend(loc="upper left", fontsize=7, frameon=False)
        span = xs[-1] - xs[0]
        pad = max(timedelta(days=3), span * 0.06)
        ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7, tz=BEIJING))
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d", tz=BEIJING))
        fig.autofmt_xdate(rotation=30)
    ax.set_ylim(y_range[0] - 0.5, y_range[1] + 0.5)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#d0d5dd", linewidth=0.5)
    return png_bytes(fig)
