"""Charts drawn on the server as inline SVG: no script, nothing fetched, readable without
styles (each bar has a <title> a browser shows on hover, and the page prints the same
figures in a table).

Every text in them is escaped (markupsafe); the styles come from the web view's
stylesheet through the class names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from markupsafe import Markup

from bot.postmortem.stats import Spread
from bot.text.durations import format_elapsed

WIDTH = 720
_DURATION_STEPS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
)  # fmt: skip
MAX_TICKS = 5
MAX_WEEK_LABELS = 12


def _number(value: float) -> str:
    """Coordinates as SVG reads them, short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def count_step(top: int) -> int:
    """A step of 1, 2 or 5 times a power of ten that cuts 0…top into at most MAX_TICKS parts."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if math.ceil(top / step) <= MAX_TICKS:
                return step
        magnitude *= 10


def duration_step(top: float) -> int:
    """A step people read in durations (30 s, 15 min, 6 h, 1 d…) cutting 0…top in at
    most MAX_TICKS parts."""
    for step in _DURATION_STEPS:
        if math.ceil(top / step) <= MAX_TICKS:
            return step
    return count_step(math.ceil(top / 86400)) * 86400


def weekly_chart(weeks: Sequence[tuple[date, int]], *, chart_id: str) -> Markup:
    """Vertical bars: incidents declared in each week (labelled by its Monday)."""
    height, left, right, top, bottom = 240, 44, 12, 16, 44
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    highest = max((count for _, count in weeks), default=0)
    step = count_step(max(highest, 1))
    scale_top = max(step * math.ceil(max(highest, 1) / step), 1)
    ticks = [(value, str(value)) for value in range(0, scale_top + 1, step)]
    parts: list[Markup] = [
        _open(chart_id, height, "Incidents declared per week"),
        _y_axis(left, top, plot_w, plot_h, ticks, scale_top),
    ]
    slot = plot_w / max(len(weeks), 1)
    every = max(1, math.ceil(len(weeks) / MAX_WEEK_LABELS))
    for index, (monday, count) in enumerate(weeks):
        x = left + index * slot
        bar_h = plot_h * count / scale_top
        sunday = monday + timedelta(days=6)
        plural = "" if count == 1 else "s"
        tip = f"Week of {monday.isoformat()} to {sunday.isoformat()}: {count} incident{plural}"
        parts.append(
            Markup(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}" data-count="{}">'
                "<title>{}</title></rect>"
            ).format(
                _number(x + slot * 0.15),
                _number(top + plot_h - bar_h),
                _number(max(slot * 0.7, 1)),
                _number(bar_h),
                count,
                tip,
            )
        )
        if index % every == 0:
            parts.append(
                Markup('<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>').format(
                    _number(x + slot / 2), height - bottom + 16, monday.strftime("%b %d")
                )
            )
    parts.append(
        Markup('<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>').format(
            left + plot_w / 2, height - 6, "week (starting Monday, UTC)"
        )
    )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def durations_chart(rows: Sequence[tuple[str, Spread]], *, chart_id: str, title: str) -> Markup:
    """Horizontal bars, one per severity: the median, with the 90th percentile marked."""
    left, right, top, row_h = 64, 250, 12, 30
    height = top + row_h * max(len(rows), 1) + 40
    plot_w, plot_h = WIDTH - left - right, row_h * max(len(rows), 1)
    highest = max(
        (value for _, spread in rows for value in (spread.median, spread.p90) if value is not None),
        default=0.0,
    )
    step = duration_step(max(highest, 1.0))
    scale_top = step * max(math.ceil(max(highest, 1.0) / step), 1)
    ticks = [(v, _short(v)) for v in range(0, scale_top + 1, step)]
    parts: list[Markup] = [
        _open(chart_id, height, title),
        _x_axis(left, top, plot_w, plot_h, ticks, scale_top),
    ]
    for index, (severity, spread) in enumerate(rows):
        y = top + index * row_h
        parts.append(
            Markup('<text class="label" x="{}" y="{}" text-anchor="end">{}</text>').format(
                left - 8, _number(y + row_h / 2 + 4), severity
            )
        )
        if spread.median is None:
            parts.append(
                Markup('<text class="none" x="{}" y="{}">{}</text>').format(
                    left + 6, _number(y + row_h / 2 + 4), "no incidents to measure"
                )
            )
            continue
        width = plot_w * spread.median / scale_top
        p90 = spread.p90 if spread.p90 is not None else spread.median
        words = (
            f"median {_long(spread.median)} · p90 {_long(p90)} · "
            f"{spread.count} incident{'' if spread.count == 1 else 's'}"
        )
        parts.append(
            Markup(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}" data-seconds="{}">'
                "<title>{}: {}</title></rect>"
            ).format(
                left,
                _number(y + 6),
                _number(max(width, 1)),
                row_h - 12,
                _number(spread.median),
                severity,
                words,
            )
        )
        p90_x = left + plot_w * p90 / scale_top
        parts.append(
            Markup(
                '<line class="p90" x1="{0}" x2="{0}" y1="{1}" y2="{2}"><title>{3}</title></line>'
            ).format(_number(p90_x), _number(y + 3), _number(y + row_h - 3), f"p90 {_long(p90)}")
        )
        parts.append(
            Markup('<text class="value" x="{}" y="{}">{}</text>').format(
                left + plot_w + 8, _number(y + row_h / 2 + 4), words
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _open(chart_id: str, height: int, title: str) -> Markup:
    return Markup(
        '<svg class="chart" id="{0}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {1} {2}" '
        'width="{1}" height="{2}" role="img" aria-labelledby="{0}-title">'
        '<title id="{0}-title">{3}</title>'
    ).format(chart_id, WIDTH, height, title)


def _y_axis(
    left: int, top: int, plot_w: int, plot_h: int, ticks: list[tuple[int, str]], scale_top: int
) -> Markup:
    parts = []
    for value, label in ticks:
        y = top + plot_h - plot_h * value / scale_top
        parts.append(
            Markup(
                '<line class="grid" x1="{0}" x2="{1}" y1="{2}" y2="{2}"></line>'
                '<text class="tick" x="{3}" y="{4}" text-anchor="end">{5}</text>'
            ).format(left, left + plot_w, _number(y), left - 6, _number(y + 4), label)
        )
    return Markup("").join(parts)


def _x_axis(
    left: int, top: int, plot_w: int, plot_h: int, ticks: list[tuple[int, str]], scale_top: int
) -> Markup:
    parts = []
    for value, label in ticks:
        x = left + plot_w * value / scale_top
        parts.append(
            Markup(
                '<line class="grid" x1="{0}" x2="{0}" y1="{1}" y2="{2}"></line>'
                '<text class="tick" x="{0}" y="{3}" text-anchor="middle">{4}</text>'
            ).format(_number(x), top, top + plot_h, top + plot_h + 16, label)
        )
    return Markup("").join(parts)


def _long(seconds: float) -> str:
    return format_elapsed(timedelta(seconds=seconds))


def _short(seconds: int) -> str:
    """A tick's label: 0, 30 s, 15 min, 6 h, 2 d."""
    return "0" if seconds == 0 else format_elapsed(timedelta(seconds=seconds))
