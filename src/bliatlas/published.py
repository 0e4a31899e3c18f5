"""One published figure: the value type every output uses, from the engine to the page.

A :class:`Cell` is what Bli-atlas publishes for one indicator, region (or group of
municipalities), level and year. Its ``status`` says how much is known:

* ``ok`` — the value is exact (``value``; ``lower == upper == value``);
* ``intervall`` — the value is not known exactly because members are suppressed, but it lies
  in ``[lower, upper]`` (``upper`` None: not bounded above, e.g. anonymised grant amounts);
  a county with four suppressed municipalities lies between the published sum and the
  published sum + 4 × 4;
* ``suppressed`` — the publisher hid the cell itself (a count under 5) or it is hidden so
  that a hidden cell cannot be recovered by subtraction; ``lower``/``upper`` are what
  everyone knows anyway (a count: 0–4);
* ``missing`` — no value (``reason`` says why).

``notes`` say what a figure covers where that is not the obvious (a sum of merged
municipalities, a part of a split municipality that is not included, a municipality the
source files under another). ``year`` is the reference year the source states; ``source``
names the dataset(s) the value was read from, so a series joined from two sources can be
marked at the join.
"""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
INTERVAL = "intervall"
SUPPRESSED = "suppressed"
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Cell:
    indicator: str
    level: str
    code: str
    year: int
    status: str
    value: float | None
    lower: float | None
    upper: float | None
    numerator: float | None = None
    denominator: float | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()
    source: str | None = None
    n_members: int = 1
    n_ok: int = 0
    n_suppressed: int = 0
    coverage: float = 0.0
    numerator_lower: float | None = None
    numerator_upper: float | None = None
    denominator_lower: float | None = None
    denominator_upper: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def interval(self) -> bool:
        return self.status == INTERVAL

    @property
    def has_value(self) -> bool:
        """Exact or bounded: something can be said about the number."""
        return self.status == OK or (self.status == INTERVAL and self.lower is not None)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.source.split(",")) if self.source else ()

    def note_text(self) -> str:
        """The reason and the coverage notes as one Norwegian text (``arsak`` in the API)."""
        parts = [p for p in (self.reason, *self.notes) if p]
        return "; ".join(dict.fromkeys(parts))

    def midpoint(self) -> float | None:
        """A point to place an interval on an axis (never shown as a value)."""
        if self.status == OK:
            return self.value
        if self.lower is not None and self.upper is not None:
            return (self.lower + self.upper) / 2
        return None
