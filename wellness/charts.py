"""Shared matplotlib set-up for server-side charts: the Figure API only, Agg, CJK fonts.

Nothing happens at import time; ``chart_font()`` configures fonts once per process. With no
CJK font installed, charts still render (the pages pass English labels) and one warning is
logged; ``png_bytes()`` keeps matplotlib's per-glyph warnings out of the logs and the tests.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
CJK_FAMILIES = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")

_lock = threading.Lock()


@lru_cache(maxsize=1)
def chart_font() -> str | None:
    """Register Debian's CJK fonts with matplotlib once; return the family, or None."""
    with _lock:
        import matplotlib
        from matplotlib import font_manager

        matplotlib.rcParams["axes.unicode_minus"] = False
        for path in CJK_FONT_FILES:
            if Path(path).exists():
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError):  # a broken font file must not break charts
                    log.warning("could not load font %s", path)
        available = {entry.name for entry in font_manager.fontManager.ttflist}
        for family in CJK_FAMILIES:
            if family in available:
                matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
                matplotlib.rcParams["font.family"] = "sans-serif"
                return family
        log.warning("no CJK font found (install fonts-noto-cjk); charts use English labels")
        return None


def has_cjk_font() -> bool:
    return chart_font() is not None


def png_bytes(fig, **savefig_kwargs) -> bytes:
    """Render a Figure to PNG. Missing-glyph warnings are silenced here, once for all charts:
    ``chart_font()`` has already logged the one useful line (install fonts-noto-cjk)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning
        )
        fig.savefig(buffer, format="png", **savefig_kwargs)
    return buffer.getvalue()
