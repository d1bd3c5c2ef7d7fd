"""A trend as a PNG chart, readable on a phone: matplotlib (Agg), imported only to draw.

1200×800 pixels, dark text on white, one line per entity with its total in the legend,
the legend beside the plot (never over the data), Chinese names drawn with a CJK font when
one is installed (Debian's fonts-wqy-microhei or fonts-noto-cjk: `make fonts`).
"""

from __future__ import annotations

import io

from bot.render.i18n import EN, Tr
from bot.render.trends import Trend

WIDTH, HEIGHT, DPI = 1200, 800, 100
# Fonts with Chinese glyphs, best first; DejaVu Sans (matplotlib's own) for Latin text.
CJK_FONTS = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Source Han Sans SC")
# Colours that stay apart for most colour-blind readers (Okabe-Ito), then matplotlib's.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")


def cjk_font() -> str | None:
    """The first installed font family of CJK_FONTS, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def draw_trend(trend: Trend, title: str, tr: Tr = EN) -> bytes:
    """The chart of a trend as PNG bytes (WIDTH×HEIGHT), labelled in the reader's language."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    families = [f for f in (cjk_font(), "DejaVu Sans") if f]
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": families,
                         "font.size": 15, "axes.titlesize": 19, "axes.edgecolor": "#333333",
                         "text.color": "#111111", "axes.labelcolor": "#111111",
                         "xtick.color": "#111111", "ytick.color": "#111111"}):
        fig, ax = plt.subplots(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        try:
            fig.patch.set_facecolor("white")
            x = list(trend.buckets)
            for n, series in enumerate(trend.series):
                ax.plot(x, series.counts, marker="o", linewidth=2.5, markersize=5,
                        color=COLOURS[n % len(COLOURS)],
                        label=f"{_short(series.name)} ({series.total}, {series.change:+d})")
            ax.set_title(title, loc="left", pad=12)
            ax.set_ylabel(tr._("stories per day") if trend.bucket_days == 1
                          else tr._("stories per week"))
            ax.set_ylim(bottom=0)
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.grid(axis="y", color="#dddddd")
            ax.spines[["top", "right"]].set_visible(False)
            from matplotlib.dates import DateFormatter

            ax.xaxis.set_major_formatter(DateFormatter("%m/%d" if tr.lang == "zh" else "%d %b"))
            fig.autofmt_xdate(rotation=0, ha="center")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                      fontsize=13, title=tr._("stories, vs before"), title_fontsize=13)
            fig.subplots_adjust(left=0.07, right=0.64, top=0.9, bottom=0.1)
            out = io.BytesIO()
            fig.savefig(out, format="png", dpi=DPI, facecolor="white")
            return out.getvalue()
        finally:
            plt.close(fig)


def _short(name: str, limit: int = 24) -> str:
    """A legend name that leaves the figures inside the picture ("Cyberspace Administrati…")."""
    return name if not name or len(name) <= limit else name[: limit - 1].rstrip() + "…"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
