"""Small inline SVG charts: a time series line and horizontal bars.

Each chart is an image with a title and a description (``role="img"``); the page puts the
numbers behind it in a table next to it, so nothing is only in the picture. Suppressed
points are drawn as open rings on the axis and named in the description. A value known
only as an interval (a total with suppressed members) is drawn as a vertical range, never
as a point; a bar with an interval is solid to the lower bound and light to the upper.
Where a series changes source, a dashed line marks the join; a gap stays a gap.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from markupsafe import Markup

from bliatlas.indicators.sentences import format_number

INK = "#1a1a1a"
GRID = "#767676"
LINE = "#1f5f99"
SECOND = "#a34a00"


RANGE = "#5b7fa3"


@dataclass(frozen=True)
class Point:
    year: int
    value: float | None
    status: str  # ok | intervall | suppressed | missing
    lower: float | None = None   # an interval's bounds (upper None: not bounded above)
    upper: float | None = None
    join: bool = False           # the source changes at this point
    text: str | None = None      # the value as shown, if not a plain number


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 10 ** -len(f"{raw:.10f}".split(".")[1]
                                                                    .rstrip("0"))
    step = raw
    for m in (1, 2, 2.5, 5, 10):
        if mag * m >= raw:
            step = mag * m
            break
    start = (lo // step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.001:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def line_chart(chart_id: str, title: str, unit: str, points: list[Point], decimals: int,
               width: int = 560, height: int = 220) -> Markup:
    """A line over the years with a value (zero-based axis for non-negative data)."""
    ok = [p for p in points if p.status == "ok" and p.value is not None]
    ranges = [p for p in points if p.status == "intervall" and p.lower is not None]
    years = [p.year for p in points]
    left, right, top, bottom = 64, 16, 14, 34
    pw, ph = width - left - right, height - top - bottom
    shown = [p.value for p in ok] + [p.lower for p in ranges] + [
        p.upper for p in ranges if p.upper is not None]
    if shown:
        lo = min(0.0, min(shown))
        hi = max(shown)
    else:
        lo, hi = 0.0, 1.0
    ticks = _ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    y0, y1 = min(years), max(years)

    def sx(year: int) -> float:
        return left + (pw * (year - y0) / (y1 - y0) if y1 > y0 else pw / 2)

    def sy(value: float) -> float:
        return top + ph - ph * (value - lo) / (hi - lo if hi > lo else 1)

    out = [
        (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'),
        f'<title id="{chart_id}-t">{html.escape(title)}</title>',
    ]
    desc = ", ".join(f"{p.year}: {_point_text(p, decimals)}" for p in points)
    out.append(f'<desc id="{chart_id}-d">{html.escape(unit)}. {html.escape(desc)}</desc>')
    for t in ticks:
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}" stroke-width="0.5"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'font-size="12" fill="{INK}">{format_number(t, _tick_decimals(ticks))}</text>')
    step = max(1, len(years) // 8)
    for i, year in enumerate(years):
        if i % step == 0 or i == len(years) - 1:
            out.append(f'<text x="{sx(year):.1f}" y="{height - 10}" text-anchor="middle" '
                       f'font-size="12" fill="{INK}">{year}</text>')
    # Lines only between consecutive years that both have values.
    segments: list[list[str]] = []
    segment: list[str] = []
    prev_year: int | None = None
    for p in points:
        if p.status != "ok" or p.value is None or (prev_year is not None
                                                   and p.year != prev_year + 1):
            if segment:
                segments.append(segment)
            segment = []
        if p.status == "ok" and p.value is not None:
            segment.append(f"{sx(p.year):.1f},{sy(p.value):.1f}")
        prev_year = p.year
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{LINE}" '
                       f'stroke-width="2.5"/>')
    for p in points:
        x = sx(p.year)
        if p.join:
            out.append(f'<line x1="{x - pw / max(len(years), 2) / 2:.1f}" '
                       f'x2="{x - pw / max(len(years), 2) / 2:.1f}" y1="{top}" '
                       f'y2="{top + ph}" stroke="{INK}" stroke-width="1" '
                       'stroke-dasharray="4 3"/>')
            out.append(f'<text x="{x - pw / max(len(years), 2) / 2 + 3:.1f}" y="{top + 10}" '
                       f'font-size="11" fill="{INK}">kilde skifter</text>')
        if p.status == "ok" and p.value is not None:
            out.append(f'<circle cx="{x:.1f}" cy="{sy(p.value):.1f}" r="3.5" '
                       f'fill="{LINE}"/>')
        elif p.status == "intervall" and p.lower is not None:
            y_hi = sy(p.upper) if p.upper is not None else top
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(p.lower):.1f}" '
                       f'y2="{y_hi:.1f}" stroke="{RANGE}" stroke-width="5" '
                       'stroke-linecap="round"/>')
        elif p.status == "suppressed":
            out.append(f'<circle cx="{x:.1f}" cy="{sy(lo):.1f}" r="4.5" fill="#fff" '
                       f'stroke="{SECOND}" stroke-width="2"/>')
    out.append("</svg>")
    return Markup("".join(out))


def _point_text(p: Point, decimals: int) -> str:
    if p.text is not None:
        text = p.text
    elif p.status == "ok" and p.value is not None:
        text = format_number(p.value, decimals)
    else:
        text = "skjermet" if p.status == "suppressed" else "mangler"
    return text + (" (kilde skifter)" if p.join else "")


def _tick_decimals(ticks: list[float]) -> int:
    for d in range(4):
        if all(abs(round(t, d) - t) < 1e-9 for t in ticks):
            return d
    return 3


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as shown (incl. "skjermet" or an interval)
    highlight: bool = False
    lower: float | None = None  # an interval: solid to lower, light to upper
    upper: float | None = None
    status: str = "ok"  # ok | intervall | suppressed | missing


def bar_chart(chart_id: str, title: str, bars: list[Bar], plot_width: int = 300) -> Markup:
    """Horizontal bars, one per label, the value written at the end of each bar.

    The label column is as wide as the longest label (about 7 units per character at
    12 px), so short labels give a narrow chart whose text stays large when scaled down.
    """
    longest = max((min(len(b.label), 34) for b in bars), default=10)
    row_h, label_w, value_w = 26, 16 + 7 * longest, 120
    width = label_w + plot_width + value_w
    height = row_h * len(bars) + 8
    plot_w = width - label_w - value_w
    values = [v for b in bars for v in (b.value, b.lower, b.upper) if v is not None]
    lo = min(0.0, min(values)) if values else 0.0
    hi = max(0.0, max(values)) if values else 1.0
    span = hi - lo if hi > lo else 1.0

    def sx(v: float) -> float:
        return label_w + plot_w * (v - lo) / span

    out = [
        (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'),
        f'<title id="{chart_id}-t">{html.escape(title)}</title>',
        f'<desc id="{chart_id}-d">'
        + html.escape("; ".join(f"{b.label}: {b.text}" for b in bars)) + "</desc>",
    ]
    for i, b in enumerate(bars):
        y = 4 + i * row_h
        label = b.label if len(b.label) <= 34 else b.label[:33] + "…"
        out.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
                   f'fill="{INK}">{html.escape(label)}</text>')
        if b.value is not None:
            x0, x1 = sorted((sx(0.0), sx(b.value)))
            colour = SECOND if b.highlight else LINE
            out.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{row_h - 8}" fill="{colour}"/>')
            tx = max(x1, sx(0.0)) + 6
        elif b.lower is not None:
            x0, x1 = sorted((sx(0.0), sx(b.lower)))
            out.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{row_h - 8}" fill="{LINE}"/>')
            top_x = sx(b.upper) if b.upper is not None else label_w + plot_w
            out.append(f'<rect x="{x1:.1f}" y="{y + 3}" width="{max(top_x - x1, 1):.1f}" '
                       f'height="{row_h - 8}" fill="#fff" stroke="{LINE}" stroke-width="1.5" '
                       'stroke-dasharray="3 2"/>')
            tx = top_x + 6
        else:
            tx = sx(0.0) + 6
        out.append(f'<text x="{tx:.1f}" y="{y + 17}" font-size="13" fill="{INK}">'
                   f'{html.escape(b.text)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
