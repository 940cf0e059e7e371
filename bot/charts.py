"""PNG charts for /stats, drawn with matplotlib's object API on the Agg canvas: no pyplot, so no
global figure state and no display is needed (safe in threads and on servers)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.i18n import Gettext
from storage.stats import CONSENT_TARGET, Daily, Funnel

_SIZE = (8, 4.5)
_DPI = 100
_BLUE, _GREEN, _ORANGE, _GREY = "#2b6cb0", "#2f855a", "#dd6b20", "#718096"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def funnel_chart(funnel: Funnel, t: Gettext) -> bytes:
    figure = Figure(figsize=_SIZE)
    axes = figure.add_subplot()
    labels = [t._("eligible"), t._("offered"), t._("phone given"), t._("consented")]
    values = [funnel.eligible, funnel.offered, funnel.phone, funnel.consented]
    bars = axes.bar(labels, values, color=[_GREY, _BLUE, _BLUE, _GREEN])
    axes.bar_label(bars)
    if funnel.offered:
        label = t._("target: {share} of offered", share=f"{CONSENT_TARGET:.0%}")
        axes.axhline(CONSENT_TARGET * funnel.offered, color=_ORANGE, linestyle="--", label=label)
        axes.legend(loc="upper right")
    axes.set_title(t._("Coaching consent funnel"))
    axes.set_ylabel(t._("students"))
    return _png(figure)


def _day_labels(days: Sequence[object]) -> list[str]:
    return [getattr(d, "strftime", str)("%m-%d") for d in days]


def nudges_chart(daily: Daily, t: Gettext) -> bytes:
    figure = Figure(figsize=_SIZE)
    axes = figure.add_subplot()
    x = list(range(len(daily.days)))
    axes.bar(x, daily.sent, color=_GREY, label=t._("sent"))
    axes.bar(x, daily.engaged, color=_BLUE, label=t._("engaged"))
    axes.bar(x, daily.converted, color=_GREEN, label=t._("converted"))
    _days_axis(axes, daily.days)
    axes.set_title(t._("Nudges by day and outcome"))
    axes.legend(loc="upper left")
    return _png(figure)


def escalations_chart(daily: Daily, t: Gettext) -> bytes:
    figure = Figure(figsize=_SIZE)
    axes = figure.add_subplot()
    axes.bar(list(range(len(daily.days))), daily.escalations, color=_ORANGE)
    _days_axis(axes, daily.days)
    axes.set_title(t._("Requests to mentors by day"))
    return _png(figure)


def _days_axis(axes: object, days: Sequence[object]) -> None:
    step = max(1, len(days) // 10)
    ticks = list(range(0, len(days), step))
    labels = _day_labels(days)
    axes.set_xticks(ticks, [labels[i] for i in ticks], rotation=45)  # type: ignore[attr-defined]
    axes.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[attr-defined]
