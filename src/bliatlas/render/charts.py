"""Small inline SVG charts: a time series line (one or several places) and horizontal bars.

Each chart is an image with a title and a description (``role="img"``); the page puts the
numbers behind it in a table next to it, so nothing is only in the picture.

Readable on a phone: the viewBox is :data:`WIDTH` units wide and every text is
:data:`FONT` units, so text stays at least 12 CSS px when the chart is scaled down to a
350 px column (a 390 px screen less the page margins). Bar labels get their own line(s)
above the bar instead of a column beside it, wrapped rather than cut, so two long labels
never read the same; the full label is the bar's ``<title>``.

Axis ticks are "nice numbers" (d3's ``ticks``): a step of 1, 2 or 5 × 10^k, the axis
extended to whole steps, the labels written with the decimals the step needs.

Suppressed points are drawn as open rings on the axis, suppressed bars as a hatched
square, missing values as a dashed square or a gap in the line; each kind that occurs is
named in a legend inside the chart and in the description. A value known only as an
interval (a total with suppressed members) is drawn as a vertical range, never as a
point; a bar with an interval is solid to the lower bound and dashed to the upper. Where a
series changes source, a dashed line marks the join.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

from markupsafe import Markup

from bliatlas.format import fmt_num

INK = "#1a1a1a"
GRID = "#767676"
LINE = "#1f5f99"
SECOND = "#a34a00"
RANGE = "#5b7fa3"
# Further lines of a chart with several places (Okabe–Ito, colour-blind safe, ≥ 3:1 on white).
SERIES_COLOURS = (LINE, SECOND, "#007a5e", "#8a3f8f", "#5c5c5c", "#b3006b")
SERIES_DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")

WIDTH = 400        # viewBox width of every chart (user units)
FONT = 14          # font size of every text in a chart (user units)
CHAR = 0.56 * FONT  # width of an average character at FONT (for layout only)
LINE_H = FONT + 4

SUPPRESSED_TEXT = "Skjermet: færre enn 5 (eller kunne avsløre en skjermet verdi)"
MISSING_TEXT = "Mangler: ingen tall"
INTERVAL_TEXT = "Intervall: skjermede tall inngår, verdien ligger i det viste spennet"
GAP_TEXT = "Brudd i linjen: mangler tall for året"


@dataclass(frozen=True)
class Point:
    year: int
    value: float | None
    status: str  # ok | intervall | suppressed | missing
    lower: float | None = None   # an interval's bounds (upper None: not bounded above)
    upper: float | None = None
    join: bool = False           # the source changes at this point
    text: str | None = None      # the value as shown, if not a plain number


@dataclass(frozen=True)
class Series:
    """One place's line in a chart with several places."""

    label: str
    points: list[Point]


# -- nice numbers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """Tick values of a nice axis and the decimals its step needs."""

    ticks: list[float]
    decimals: int

    @property
    def lo(self) -> float:
        return self.ticks[0]

    @property
    def hi(self) -> float:
        return self.ticks[-1]

    def labels(self) -> list[str]:
        return [fmt_num(t, self.decimals) for t in self.ticks]


def _increment(lo: float, hi: float, count: int) -> tuple[int, int]:
    """d3's tick increment: the step ``factor × 10^power`` (factor 1, 2 or 5) that gives
    about ``count`` intervals over ``[lo, hi]``."""
    raw = (hi - lo) / count
    power = math.floor(math.log10(raw))
    error = raw / 10 ** power
    if error >= math.sqrt(50):
        return 1, power + 1
    if error >= math.sqrt(10):
        return 5, power
    if error >= math.sqrt(2):
        return 2, power
    return 1, power


def _multiple(i: int, factor: int, power: int) -> float:
    return round(i * factor * 10 ** power, max(0, -power))


def nice_axis(lo: float, hi: float, count: int = 4) -> Axis:
    """The domain extended to whole nice steps (d3's ``nice``), and its ticks (``ticks``)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        lo, hi = (lo, lo + 1) if lo >= 0 else (lo - 1, lo)
    factor, power = _increment(lo, hi, count)
    for _ in range(10):
        step = factor * 10.0 ** power
        n_lo = math.floor(lo / step + 1e-9)
        n_hi = math.ceil(hi / step - 1e-9)
        lo, hi = _multiple(n_lo, factor, power), _multiple(n_hi, factor, power)
        nxt = _increment(lo, hi, count)
        if nxt == (factor, power):
            break
        factor, power = nxt
    step = factor * 10.0 ** power
    first, last = round(lo / step), round(hi / step)
    ticks = [_multiple(i, factor, power) for i in range(first, last + 1)]
    return Axis(ticks=ticks, decimals=max(0, -power))


# -- shared pieces ---------------------------------------------------------------------------


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str | None = None,
          fill: str = INK) -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT}" '
            f'fill="{fill}"{c}>{html.escape(text)}</text>')


_DIGIT_GROUP = re.compile(r"(?<=\d) (?=\d{3}\b)")  # the space between digit groups


def wrap(text: str, width: float, max_lines: int | None = None) -> list[str]:
    """Words of ``text`` in lines of at most ``width`` units at :data:`FONT` (the last line
    ends in "…" when ``max_lines`` cuts it)."""
    per_line = max(8, int(width / CHAR))
    lines: list[str] = []
    line = ""
    # "1 000", "5 926": a number's digit groups stay on one line (a no-break space).
    for word in re.sub(r"[\t\n\r]", " ", _DIGIT_GROUP.sub("\u00a0", text)).split(" "):
        if not word:
            continue
        if line and len(line) + 1 + len(word) > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
        while len(line) > per_line:
            lines.append(line[:per_line - 1] + "-")
            line = line[per_line - 1:]
    if line:
        lines.append(line)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        lines[-1] = (last if len(last) < per_line else last[:per_line - 1].rstrip()) + "…"
    return lines or [""]


def _hatch(pattern_id: str) -> str:
    return (f'<defs><pattern id="{pattern_id}" width="6" height="6" '
            'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#fff"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{SECOND}" stroke-width="2.5"/>'
            '</pattern></defs>')


def _legend(y: float, entries: list[tuple[str, str]]) -> tuple[list[str], float]:
    """Legend rows from ``y``: a symbol (SVG drawn in a 18 × 14 box at x 0, y 0), then
    the text wrapped beside it; returns the rows and the new bottom."""
    out = []
    for symbol, text in entries:
        lines = wrap(text, WIDTH - 26)
        out.append(f'<g class="legend-key"><g transform="translate(0 {y + 3:.1f})">{symbol}</g>')
        for n, line in enumerate(lines):
            out.append(_text(24, y + FONT + n * LINE_H, line))
        out.append("</g>")
        y += LINE_H * len(lines) + 4
    return out, y


def _sym_line(colour: str, dash: str = "", width: float = 3) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="0" x2="18" y1="7" y2="7" stroke="{colour}" stroke-width="{width}"{d}/>'


SYM_RING = f'<circle cx="9" cy="7" r="5" fill="#fff" stroke="{SECOND}" stroke-width="2"/>'
SYM_RANGE = f'<line x1="9" x2="9" y1="1" y2="13" stroke="{RANGE}" stroke-width="5"/>'
SYM_GAP = (f'<line x1="0" x2="6" y1="7" y2="7" stroke="{LINE}" stroke-width="2.5"/>'
           f'<line x1="12" x2="18" y1="7" y2="7" stroke="{LINE}" stroke-width="2.5"/>')
SYM_JOIN = f'<line x1="9" x2="9" y1="0" y2="14" stroke="{INK}" stroke-dasharray="4 3"/>'
SYM_MISSING = (f'<rect x="2" y="0" width="14" height="14" fill="#fff" stroke="{GRID}" '
               'stroke-dasharray="3 2"/>')
SYM_INTERVAL_BAR = (f'<rect x="0" y="2" width="9" height="10" fill="{LINE}"/><rect x="9" '
                    f'y="2" width="9" height="10" fill="#fff" stroke="{LINE}" '
                    'stroke-dasharray="3 2"/>')


def _sym_hatch(pattern_id: str) -> str:
    return (f'<rect x="2" y="0" width="14" height="14" fill="url(#{pattern_id})" '
            f'stroke="{SECOND}"/>')


def _svg_open(chart_id: str, title: str, desc: str, height: float) -> list[str]:
    return [
        (f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {math.ceil(height)}" '
         f'width="{WIDTH}" height="{math.ceil(height)}" role="img" '
         f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg" '
         'font-family="system-ui, sans-serif">'),
        f'<title id="{chart_id}-t">{html.escape(title)}</title>',
        f'<desc id="{chart_id}-d">{html.escape(desc)}</desc>',
    ]


# -- line charts -----------------------------------------------------------------------------


def _point_text(p: Point, decimals: int) -> str:
    if p.text is not None:
        text = p.text
    elif p.status == "ok" and p.value is not None:
        text = fmt_num(p.value, decimals)
    else:
        text = "skjermet" if p.status == "suppressed" else "mangler"
    return text + (" (kilde skifter)" if p.join else "")


def line_chart(chart_id: str, title: str, unit: str, points: list[Point], decimals: int,
               ) -> Markup:
    """A line over the years with a value (zero-based axis for non-negative data)."""
    return multi_line_chart(chart_id, title, unit, [Series("", points)], decimals)


def multi_line_chart(chart_id: str, title: str, unit: str, series: list[Series],
                     decimals: int) -> Markup:
    """Lines over the years, one per place (several: each with its own colour and dash,
    named in the legend); a zero-based nice axis for non-negative data."""
    all_points = [p for s in series for p in s.points]
    years = sorted({p.year for p in all_points})
    shown = ([p.value for p in all_points if p.status == "ok" and p.value is not None]
             + [v for p in all_points if p.status == "intervall"
                for v in (p.lower, p.upper) if v is not None])
    lo = min([0.0, *shown])
    hi = max(shown) if shown else 1.0
    axis = nice_axis(lo, hi if hi > lo else lo + 1)
    labels = axis.labels()
    left = 10 + CHAR * max(len(t) for t in labels)
    right, top, plot_h = 12, 10, 150
    pw = WIDTH - left - right
    inset = CHAR * 2 + 2  # half a year label: the first and last stay inside the chart
    y0, y1 = (min(years), max(years)) if years else (0, 0)

    def sx(year: int) -> float:
        return left + inset + ((pw - 2 * inset) * (year - y0) / (y1 - y0) if y1 > y0
                               else pw / 2 - inset)

    def sy(value: float) -> float:
        return top + plot_h - plot_h * (value - axis.lo) / (axis.hi - axis.lo)

    several = len(series) > 1
    if several:
        desc = "; ".join(f"{s.label}: " + ", ".join(f"{p.year}: {_point_text(p, decimals)}"
                                                     for p in s.points) for s in series)
    else:
        desc = ", ".join(f"{p.year}: {_point_text(p, decimals)}" for p in all_points)
    body: list[str] = []
    for t, label in zip(axis.ticks, labels):
        y = sy(t)
        body.append(f'<line x1="{left:.1f}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="0.5"/>')
        body.append(_text(left - 6, y + FONT * 0.35, label, "end", "tick"))
    # Year labels: as many as fit (a label is about 4 characters wide), the last always.
    every = max(1, math.ceil(len(years) * (CHAR * 4 + 10) / pw))
    axis_y = top + plot_h + FONT + 6
    for i, year in enumerate(years):
        if (len(years) - 1 - i) % every == 0:
            body.append(_text(sx(year), axis_y, str(year), "middle", "year"))
    kinds: set[str] = set()
    for n, s in enumerate(series):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        dash = SERIES_DASHES[n % len(SERIES_DASHES)] if several else ""
        # Lines only between consecutive years that both have values.
        segments: list[list[str]] = []
        segment: list[str] = []
        prev_year: int | None = None
        for p in s.points:
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
        if len(segments) > 1:
            kinds.add("gap")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for seg in segments:
            if len(seg) > 1:
                body.append(f'<polyline points="{" ".join(seg)}" fill="none" '
                            f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        for p in s.points:
            x = sx(p.year)
            if p.join:
                jx = x - pw / max(len(years), 2) / 2
                body.append(f'<line x1="{jx:.1f}" x2="{jx:.1f}" y1="{top}" '
                            f'y2="{top + plot_h}" stroke="{INK}" stroke-width="1" '
                            'stroke-dasharray="4 3"/>')
                kinds.add("join")
            if p.status == "ok" and p.value is not None:
                body.append(f'<circle cx="{x:.1f}" cy="{sy(p.value):.1f}" r="3.5" '
                            f'fill="{colour}"/>')
            elif p.status == "intervall" and p.lower is not None:
                y_hi = sy(p.upper) if p.upper is not None else top
                body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(p.lower):.1f}" '
                            f'y2="{y_hi:.1f}" stroke="{RANGE}" stroke-width="5" '
                            'stroke-linecap="round"/>')
                kinds.add("interval")
            elif p.status == "suppressed":
                body.append(f'<circle cx="{x:.1f}" cy="{sy(axis.lo):.1f}" r="5" fill="#fff" '
                            f'stroke="{SECOND}" stroke-width="2"/>')
                kinds.add("suppressed")
            elif p.status == "missing":
                kinds.add("gap")
    entries: list[tuple[str, str]] = []
    if several:
        entries += [(_sym_line(SERIES_COLOURS[n % len(SERIES_COLOURS)],
                               SERIES_DASHES[n % len(SERIES_DASHES)]), s.label)
                    for n, s in enumerate(series)]
    if "suppressed" in kinds:
        entries.append((SYM_RING, "Ring på aksen: " + SUPPRESSED_TEXT.lower()))
    if "interval" in kinds:
        entries.append((SYM_RANGE, INTERVAL_TEXT))
    if "gap" in kinds:
        entries.append((SYM_GAP, GAP_TEXT))
    if "join" in kinds:
        entries.append((SYM_JOIN, "Stiplet loddrett linje: kilden skifter"))
    legend, bottom = _legend(axis_y + 14, entries)
    out = _svg_open(chart_id, title, f"{unit}. {desc}", bottom + 2)
    out += body + legend
    out.append("</svg>")
    return Markup("".join(out))


# -- bar charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as shown (incl. "skjermet" or an interval)
    highlight: bool = False
    lower: float | None = None  # an interval: solid to lower, light to upper
    upper: float | None = None
    status: str = "ok"  # ok | intervall | suppressed | missing


def distinct_labels(labels: list[str], width: float, max_lines: int = 2) -> list[list[str]]:
    """Each label wrapped into at most ``max_lines`` lines, more where two would read the
    same once cut."""
    out = [wrap(label, width, max_lines) for label in labels]
    for _ in range(4):
        seen: dict[tuple[str, ...], list[int]] = {}
        for i, lines in enumerate(out):
            seen.setdefault(tuple(lines), []).append(i)
        clashes = [i for idx in seen.values() if len(idx) > 1 for i in idx
                   if len({labels[j] for j in idx}) > 1]
        if not clashes:
            break
        for i in clashes:
            out[i] = wrap(labels[i], width, len(out[i]) + 1)
    return out


def bar_chart(chart_id: str, title: str, bars: list[Bar]) -> Markup:
    """Horizontal bars from zero, one per label, the value written at the end of each bar.

    The label sits on its own line(s) above its bar, so the bars keep the chart's whole
    width and long labels wrap instead of being cut. A suppressed value is a hatched
    square at zero, a missing one a dashed square; both are named in the legend.
    """
    value_w = 8 + CHAR * max((len(b.text) for b in bars), default=8)
    plot_w = WIDTH - value_w - 4
    values = [v for b in bars for v in (b.value, b.lower, b.upper) if v is not None]
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    span = hi - lo if hi > lo else 1.0

    def sx(v: float) -> float:
        return 2 + plot_w * (v - lo) / span

    hatch = f"{chart_id}-skjermet"
    labels = distinct_labels([b.label for b in bars], WIDTH - 4)
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    body: list[str] = []
    kinds: set[str] = set()
    y = 4.0
    bar_h = 16
    for b, lines in zip(bars, labels):
        body.append(f'<g class="bar"><title>{html.escape(b.label)}: {html.escape(b.text)}'
                    '</title>')
        for line in lines:
            y += LINE_H
            body.append(_text(2, y - 4, line, cls="label"))
        top = y + 1
        if b.value is not None:
            x0, x1 = sorted((sx(0.0), sx(b.value)))
            colour = SECOND if b.highlight else LINE
            body.append(f'<rect x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0, 1):.1f}" '
                        f'height="{bar_h}" fill="{colour}"/>')
            tx = max(x1, sx(0.0)) + 6
        elif b.lower is not None:
            kinds.add("interval")
            x0, x1 = sorted((sx(0.0), sx(b.lower)))
            body.append(f'<rect x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0, 1):.1f}" '
                        f'height="{bar_h}" fill="{LINE}"/>')
            top_x = sx(b.upper) if b.upper is not None else 2 + plot_w
            body.append(f'<rect x="{x1:.1f}" y="{top:.1f}" width="{max(top_x - x1, 1):.1f}" '
                        f'height="{bar_h}" fill="#fff" stroke="{LINE}" stroke-width="1.5" '
                        'stroke-dasharray="3 2"/>')
            tx = top_x + 6
        elif b.status == "suppressed":
            kinds.add("suppressed")
            body.append(f'<rect x="{sx(0.0):.1f}" y="{top:.1f}" width="{bar_h}" '
                        f'height="{bar_h}" fill="url(#{hatch})" stroke="{SECOND}"/>')
            tx = sx(0.0) + bar_h + 6
        else:
            kinds.add("missing")
            body.append(f'<rect x="{sx(0.0) + 0.5:.1f}" y="{top:.1f}" width="{bar_h - 1}" '
                        f'height="{bar_h - 1}" fill="#fff" stroke="{GRID}" '
                        'stroke-dasharray="3 2"/>')
            tx = sx(0.0) + bar_h + 6
        body.append(_text(min(tx, WIDTH - value_w + 2), top + bar_h - 3, b.text, cls="value"))
        body.append("</g>")
        y = top + bar_h + 8
    entries: list[tuple[str, str]] = []
    if "suppressed" in kinds:
        entries.append((_sym_hatch(hatch), SUPPRESSED_TEXT))
    if "interval" in kinds:
        entries.append((SYM_INTERVAL_BAR, "Heltrukket til nedre grense, stiplet til øvre: "
                        + INTERVAL_TEXT.lower()))
    if "missing" in kinds:
        entries.append((SYM_MISSING, MISSING_TEXT))
    legend, bottom = _legend(y + 2, entries) if entries else ([], y)
    out = _svg_open(chart_id, title, desc, bottom + 2)
    if "suppressed" in kinds:
        out.append(_hatch(hatch))
    out += body + legend
    out.append("</svg>")
    return Markup("".join(out))


def standalone(svg: str, title: str, source: str) -> str:
    """A chart as a file of its own: its title above it and its source below it, both
    visible (a downloaded chart must say what it shows and where the numbers are from)."""
    height = float(re.search(r'height="([\d.]+)"', svg).group(1))
    title_lines = wrap(title, WIDTH - 8, 3)
    source_lines = wrap(source, WIDTH - 8, 4)
    top = 8 + LINE_H * len(title_lines)
    total = math.ceil(top + 6 + height + 6 + LINE_H * len(source_lines) + 4)
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total}" '
            f'width="{WIDTH}" height="{total}" font-family="system-ui, sans-serif">'),
           f'<rect width="{WIDTH}" height="{total}" fill="#fff"/>',
           f'<title>{html.escape(title)}</title>']
    for n, line in enumerate(title_lines):
        out.append(f'<text x="4" y="{4 + FONT + n * LINE_H}" font-size="{FONT}" '
                   f'font-weight="bold" fill="{INK}">{html.escape(line)}</text>')
    out.append(f'<g transform="translate(0 {top + 6})">{svg}</g>')
    for n, line in enumerate(source_lines):
        out.append(_text(4, top + 6 + height + 6 + FONT + n * LINE_H, line))
    out.append("</svg>")
    return "".join(out)
