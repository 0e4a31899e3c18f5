"""Class breaks and colours for choropleth maps.

Quantile breaks (each class holds about as many regions) over the values rounded to the
indicator's decimals, as the table and the tooltips show them: each class runs from its
smallest to its largest shown value, so neighbouring classes never share a label at the
break ("0,0–3,2", "3,3–4,7"). When the
values cross zero (a change), a diverging palette centred on zero is used; otherwise a
sequential one. Both palettes are ColorBrewer schemes marked colour-blind safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bliatlas.indicators.sentences import format_number

# ColorBrewer YlGnBu (sequential) and PuOr (diverging), colour-blind safe.
SEQUENTIAL = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]
DIVERGING_NEG = ["#b35806", "#f1a340", "#fee0b6"]
DIVERGING_POS = ["#d8daeb", "#998ec3", "#542788"]
MISSING_COLOUR = "#a6a6a6"
MAX_CLASSES = 5


@dataclass(frozen=True)
class ColourClass:
    lower: float
    upper: float
    colour: str
    label: str
    count: int


@dataclass(frozen=True)
class Classification:
    classes: list[ColourClass]
    diverging: bool
    decimals: int = 0

    def colour_index(self, value: float) -> int:
        """The class of a value as shown (rounded to the indicator's decimals)."""
        value = round(float(value), self.decimals)
        for i, c in enumerate(self.classes):
            if value <= c.upper or i == len(self.classes) - 1:
                return i
        return len(self.classes) - 1  # pragma: no cover


def _labels(bounds: list[tuple[float, float]], decimals: int) -> list[str]:
    out = []
    for lo, hi in bounds:
        if format_number(lo, decimals) == format_number(hi, decimals):
            out.append(format_number(lo, decimals))
        else:
            out.append(f"{format_number(lo, decimals)}–{format_number(hi, decimals)}")
    return out


def _quantile_bounds(values: np.ndarray, k: int, decimals: int) -> list[tuple[float, float]]:
    """Up to ``k`` classes by quantiles; each (lower, upper) inclusive on the upper side."""
    uniq = np.unique(np.round(values, decimals))
    if len(uniq) <= k:
        return [(float(u), float(u)) for u in uniq]
    qs = np.quantile(values, np.linspace(0, 1, k + 1))
    cuts = sorted({float(np.round(q, decimals)) for q in qs[1:-1]})
    edges = [float(values.min())] + cuts + [float(values.max())]
    bounds = []
    lower = edges[0]
    for upper in edges[1:]:
        if upper < lower:
            continue
        members = values[(values >= lower) & (values <= upper)]
        if len(members) == 0:
            continue
        bounds.append((float(members.min()), upper))
        above = values[values > upper]
        if len(above) == 0:
            break
        lower = float(above.min())
    return bounds


def classify(values: list[float], decimals: int) -> Classification:
    """Breaks and colours for the values that are shown (suppressed/missing excluded)."""
    arr = np.asarray([round(float(v), decimals) for v in values if v is not None],
                     dtype=float)
    if len(arr) == 0:
        return Classification(classes=[], diverging=False, decimals=decimals)
    if arr.min() < 0 < arr.max():
        neg = _quantile_bounds(arr[arr < 0], 3, decimals)
        pos = _quantile_bounds(arr[arr >= 0], 3, decimals)
        colours = DIVERGING_NEG[3 - len(neg):] + DIVERGING_POS[:len(pos)]
        bounds = neg + pos
        diverging = True
    else:
        bounds = _quantile_bounds(arr, MAX_CLASSES, decimals)
        n = len(bounds)
        # Spread few classes over the palette so neighbours stay distinguishable.
        idx = np.round(np.linspace(0, len(SEQUENTIAL) - 1, n)).astype(int) if n > 1 else [2]
        colours = [SEQUENTIAL[i] for i in idx]
        diverging = False
    labels = _labels(bounds, decimals)
    classes = []
    for (lo, hi), colour, label in zip(bounds, colours, labels):
        count = int(((arr >= lo) & (arr <= hi)).sum())
        classes.append(ColourClass(lower=lo, upper=hi, colour=colour, label=label, count=count))
    return Classification(classes=classes, diverging=diverging, decimals=decimals)
