"""The dashboard's chart as a PNG, drawn with matplotlib (the :class:`outreach.ports.ChartRenderer` port).

Three small panels side by side: the window's outcomes (sent, failed, bounced, replied, unsubscribed) as bars,
the reply rate per week, the reply rate per template (the most used few). The words come translated from the
caller (``labels``); Chinese glyphs come from WenQuanYi Micro Hei when it is installed (scripts/system-deps.sh),
after DejaVu Sans, per glyph (matplotlib's font fallback).

matplotlib is used through its object API on the Agg canvas only — no pyplot, so no global figure registry
and no GUI backend: each call draws its own figure, and calls on several threads do not share one.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from outreach.stats import Rate, Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FONTS = ["DejaVu Sans", "WenQuanYi Micro Hei"]
COLOURS = {
    "sent": "#2b6cb0",
    "failed": "#c53030",
    "bounced": "#dd6b20",
    "replied": "#2f855a",
    "unsubscribed": "#718096",
}
SHOWN_TEMPLATES = 5
WIDTH, HEIGHT, DPI = 9.0, 2.6, 100  # 900 × 260 pixels: Slack shows an image block at most ~ 360 px high


class MatplotlibCharts:
    def outcomes_png(self, report: Report, labels: Mapping[str, str]) -> bytes:
        """``labels``: the five outcomes' names (keys sent, failed, bounced, replied, unsubscribed) and the
        panels' titles (outcomes, per_week, per_template, no_template, nothing)."""
        # Imported here: matplotlib takes a few tenths of a second to import, which no other command should pay.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        left, middle, right = figure.subplots(1, 3, width_ratios=[1.1, 1.2, 1.2])
        o = report.outcomes
        keys = ["sent", "failed", "bounced", "replied", "unsubscribed"]
        values = [o.sent, o.failed, o.bounced, o.replied, o.unsubscribed]
        bars = left.barh(
            [labels[k] for k in keys][::-1], values[::-1], color=[COLOURS[k] for k in keys][::-1]
        )
        left.bar_label(bars, labels=[f"{v:,}" for v in values[::-1]], padding=2, fontsize=8)
        left.set_title(labels["outcomes"], fontsize=9, loc="left")
        left.set_xlim(0, max(*values, 1) * 1.25)
        left.set_xticks([])
        _rates(middle, report.by_week, labels, [r.label[5:] for r in report.by_week], labels["per_week"])
        shown = list(report.by_template[:SHOWN_TEMPLATES])
        names = [_short(r.label) if r.label else labels["no_template"] for r in shown]
        _rates(right, shown, labels, names, labels["per_template"], horizontal=True)
        for axes in (left, middle, right):
            axes.tick_params(labelsize=8)
            for side in ("top", "right"):
                axes.spines[side].set_visible(False)
            for text in (*axes.get_xticklabels(), *axes.get_yticklabels(), axes.title):
                text.set_fontfamily(FONTS)
        for text in left.texts + middle.texts + right.texts:
            text.set_fontfamily(FONTS)
        out = io.BytesIO()
        with warnings.catch_warnings():
            # Without a CJK font a Chinese label draws as boxes: a poorer chart, not a reason to show none.
            warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
            figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
        return out.getvalue()


def _rates(
    axes: Axes,
    rates: Sequence[Rate],
    labels: Mapping[str, str],
    names: Sequence[str],
    title: str,
    *,
    horizontal: bool = False,
) -> None:
    axes.set_title(title, fontsize=9, loc="left")
    if not any(r.sent for r in rates):
        axes.text(0.5, 0.5, labels["nothing"], ha="center", va="center", fontsize=9, transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        return
    pct = [100 * (r.rate or 0.0) for r in rates]
    notes = [f"{p:.0f}% ({r.replied}/{r.sent})" if r.sent else "" for p, r in zip(pct, rates, strict=True)]
    if horizontal:
        bars = axes.barh(list(names)[::-1], pct[::-1], color=COLOURS["replied"])
        axes.bar_label(bars, labels=notes[::-1], padding=2, fontsize=7)
        axes.set_xlim(0, max(*pct, 1.0) * 2.0)
        axes.set_xticks([])
    else:
        bars = axes.bar(list(names), pct, color=COLOURS["replied"])
        shown = [f"{p:.0f}%" if r.sent else "" for p, r in zip(pct, rates, strict=True)]
        axes.bar_label(bars, labels=shown, fontsize=7)
        axes.set_ylim(0, max(*pct, 1.0) * 1.3)
        axes.set_yticks([])


def _short(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
