"""The tidy form every source parser produces, before regions are harmonised.

A parser reads one file (or API response) and returns a :class:`ParsedSource` whose
``observations`` carry the region code *as published* (``K0104``, ``3801``, ``46``);
``ingest`` maps them onto the 2024 registry, so parsers know nothing of reforms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

OK = "ok"
SUPPRESSED = "suppressed"
MISSING = "missing"

# Cell texts publishers use for hidden small counts, and for "no value".
SUPPRESSED_MARKERS = {"<5", "prikket", "prikket (<5)", "anonymisert", ":", "..."}
MISSING_MARKERS = {"", ".", "-", "ikke tilgjengelig", ".."}

# A published number: ASCII digits, optional sign, decimal point or comma, exponent.
# (Python's float() also takes '1_000', '١٢٣', 'inf' and 'nan'; a publisher's cell never
# means any of those.)
_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
# No statistic of a Norwegian municipality is this large; beyond it a cell is an error
# (1.7e308 would overflow every sum and chart).
MAX_ABS_VALUE = 1e12
COUNT_UNITS = {"personer", "antall"}
# Shares in percent must lie in 0–100; published shares are rounded, so ±0.5 is allowed.
SHARE_TOLERANCE = 0.5
# Percent measures that are ratios to another quantity, not shares, and may pass 100:
# IMDi's settlement table (decision and settled in percent of the request), IMDi's
# kindergarten attendance (children attending in the municipality per child living
# there) and the panel's GP spare capacity. SSB tables (``ssb_*``) carry growth rates and ratios under
# the same unit and are only held to the magnitude limit.
PERCENT_RATIOS: dict[str, set[str] | None] = {
    "imdi_bosetting": None,                             # every measure
    "imdi_barnehagedeltakelse": None,
    "kommuner_bosetting": {"fastlege_reservekapasitet"},
}


@dataclass(slots=True)
class Observation:
    dataset: str
    measure: str
    region_code: str          # as published (may be pre-reform, may carry a 'K' prefix)
    region_name: str          # as published, e.g. 'Moss (t.o.m. 2019)'
    year: int
    dims: dict[str, str]
    unit: str                 # 'personer', 'prosent', 'kroner', 'flagg', ...
    value: float | None
    status: str               # OK, SUPPRESSED or MISSING
    status_note: str | None = None
    row: int | None = None    # 1-based row in the source file, for error messages


@dataclass
class ParsedSource:
    publisher: str
    dataset: str
    source: str               # file name or API table id
    format: str               # 'imdi-csv', 'panel-xlsx', 'tidy-csv', 'json-stat2', 'geojson'
    licence: str
    observations: list[Observation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Reference tables a source carries besides observations: 'regions' (registry rows),
    # 'kostra_groups', 'geometry' (code, level, official_name, geojson), 'included_in'
    # (code or name, year, host, note: a municipality the source files under another).
    reference: dict[str, list[dict]] = field(default_factory=dict)
    # 'published': codes of each value's own year (county codes are placed by year);
    # 'current': a series the publisher gives on today's structure for every year.
    region_structure: str = "published"
    # Cells the reader already knows lie outside the municipality structure (SSB's
    # grouping and residual codes, KOSTRA groups): (observation, reason). Ingest stores
    # them in observation_unassigned with the reason; they never fail an import.
    aside: list[tuple[Observation, str]] = field(default_factory=list)
    # A wide export's cells column-wise (IMDi's exports: millions of cells), instead of
    # ``observations``; ``cells()`` gives them as observations when one is needed.
    grid: CellGrid | None = None

    def cells(self) -> list[Observation]:
        """Every observation the reader found (from the grid if it gave one)."""
        if self.grid is not None:
            return self.grid.observations()
        return self.observations

    @property
    def n_cells(self) -> int:
        return len(self.grid) if self.grid is not None else len(self.observations)


# Status codes of CellGrid.status (index into this tuple).
STATUSES = (OK, SUPPRESSED, MISSING)


@dataclass
class CellGrid:
    """The stored cells of a wide table (one row per region, one column per year, unit and
    dimension values), column-wise: per row the published code, name and file row; per
    column the year, unit, dims and the column's name for messages; per cell (in row-major
    order, cells a reader does not store left out) its row and column, value (NaN unless
    OK), status (index into ``STATUSES``) and note (index into ``notes``, -1 for none)."""

    dataset: str
    measure: str
    codes: list[str]
    names: list[str]
    rownums: list[int]
    years: np.ndarray
    units: list[str]
    dims: list[dict[str, str]]
    colnames: list[str]
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray
    status: np.ndarray
    note: np.ndarray
    notes: list[str]

    def __len__(self) -> int:
        return len(self.row)

    def observations(self) -> list[Observation]:
        """The cells as observations, in the reader's order (row by row)."""
        notes = [*self.notes, None]             # index -1 → None
        values = [None if math.isnan(v) else v for v in self.value.tolist()]
        years = self.years.tolist()
        return [Observation(self.dataset, self.measure, self.codes[r], self.names[r],
                            years[c], self.dims[c], self.units[c], v, STATUSES[s], notes[n],
                            self.rownums[r])
                for r, c, v, s, n in zip(self.row.tolist(), self.col.tolist(), values,
                                         self.status.tolist(), self.note.tolist(), strict=True)]


def dims_key(dims: dict[str, str]) -> str:
    """Canonical text form of a dims mapping: sorted ``key=value`` joined by ``|``."""
    return "|".join(f"{k}={dims[k]}" for k in sorted(dims))


def parse_dims_key(key: str) -> dict[str, str]:
    if not key:
        return {}
    return dict(part.split("=", 1) for part in key.split("|"))


def classify_cell(text: object) -> tuple[float | None, str, str | None]:
    """Classify a published cell into (value, status, note).

    Returns ``(None, SUPPRESSED, original)`` for suppression markers and
    ``(None, MISSING, original)`` for empty/'.'; raises ``ValueError`` for text that is
    neither a number nor a known marker. Decimal commas are accepted.
    """
    if text is None:
        return None, MISSING, None
    if isinstance(text, bool):
        return float(text), OK, None
    if isinstance(text, (int, float)):
        return _checked(float(text), text), OK, None
    if _NUMBER.fullmatch(text) and "," not in text:  # fast path: a plain number
        return _checked(float(text), text), OK, None
    raw = str(text).replace("\xa0", " ").strip()
    low = raw.lower()
    if low in MISSING_MARKERS:
        return None, MISSING, raw or None
    if low in SUPPRESSED_MARKERS or low.startswith(("prikket", "<")):
        return None, SUPPRESSED, raw
    cleaned = raw.replace(" ", "")
    if _NUMBER.fullmatch(cleaned):              # decimal comma, thousands spaces
        return _checked(float(cleaned.replace(",", ".")), raw), OK, None
    raise ValueError(f"forventet et tall eller et prikkemerke (<5, :, .), fant {raw!r}")


def _checked(number: float, shown: object) -> float:
    if not math.isfinite(number):
        raise ValueError(f"forventet et endelig tall, fant {shown!r} (uendelig/NaN godtas ikke)")
    if abs(number) > MAX_ABS_VALUE:
        raise ValueError(f"tallet {shown!r} er urimelig stort (over {MAX_ABS_VALUE:.0e} i "
                         "absoluttverdi); forventet en statistikkverdi")
    return number


def value_problem(dataset: str, measure: str, unit: str, value: float | None) -> str | None:
    """Why ``value`` cannot be a value of this measure, or None.

    Counts (``personer``, ``antall``) are non-negative whole numbers; shares in percent lie
    in 0–100 (±``SHARE_TOLERANCE``) unless the measure is a ratio (``PERCENT_RATIOS``) or
    an SSB table's; every value is finite and within ``MAX_ABS_VALUE``.
    """
    if value is None:
        return None
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        return f"verdien {value!r} er ikke et endelig tall innenfor ±{MAX_ABS_VALUE:.0e}"
    if unit in COUNT_UNITS and (value < 0 or value != math.floor(value)):
        return (f"{measure} er et antall ({unit}); forventet et heltall ≥ 0, fant "
                + f"{value:g}".replace(".", ","))
    if (unit == "prosent" and is_share(dataset, measure)
            and not -SHARE_TOLERANCE <= value <= 100 + SHARE_TOLERANCE):
        tolerance = f"{SHARE_TOLERANCE:g}".replace(".", ",")
        return (f"{measure} er en andel i prosent; forventet 0–100 (±{tolerance}), fant "
                f"{value:g}".replace(".", ","))
    return None


def is_share(dataset: str, measure: str) -> bool:
    """True for percent measures that are shares of a whole (held to 0–100)."""
    if dataset.startswith("ssb_"):
        return False
    if dataset in PERCENT_RATIOS:
        measures = PERCENT_RATIOS[dataset]
        return measures is not None and measure not in measures
    return True
