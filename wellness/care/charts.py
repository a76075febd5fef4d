"""A care plan's measures over time, one line per questionnaire, reliable change marked.
Pure: no Flask, no database."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from wellness.care.progress import Progress
from wellness.charts import chart_font, png_bytes

BEIJING = ZoneInfo("Asia/Shanghai")
COLOURS = ("#0b6e4f", "#1d4ed8", "#b45309", "#7c3aed")


def progress_png(
    series: list[Progress], *, title: str, names: dict[str, str], y_label: str
) -> bytes:
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure

    chart_font()
    fig = Figure(figsize=(6.4, 3.4), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    for index, progress in enumerate(series):
        if not progress.scores:
            continue
        colour = COLOURS[index % len(COLOURS)]
        xs = [s.at.astimezone(BEIJING) for s in progress.scores]
        ys = [s.total for s in progress.scores]
        ax.plot(
            xs,
            ys,
            marker="o",
            linewidth=2,
            color=colour,
            label=names.get(progress.instrument, progress.instrument),
        )
        if progress.reliable:
            ax.scatter(
                [xs[-1]],
                [ys[-1]],
                s=160,
                facecolors="none",
                linewidths=2,
                edgecolors="#b42318" if progress.reliable == "worse" else "#027a48",
                zorder=4,
            )
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(y_label, fontsize=8)
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#e4e7ec")
    if any(p.scores for p in series):
        ax.legend(fontsize=8, loc="upper right")
    return png_bytes(fig)
