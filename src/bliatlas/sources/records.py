"""The tidy form every source parser produces, before regions are harmonised.

A parser reads one file (or API response) and returns a :class:`ParsedSource` whose
``observations`` carry the region code *as published* (``K0104``, ``3801``, ``46``);
``ingest`` maps them onto the 2024 registry, so parsers know nothing of reforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

OK = "ok"
SUPPRESSED = "suppressed"
MISSING = "missing"

# Cell texts publishers use for hidden small counts, and for "no value".
SUPPRESSED_MARKERS = {"<5", "prikket", "prikket (<5)", "anonymisert", ":", "..."}
MISSING_MARKERS = {"", ".", "-", "ikke tilgjengelig", "..", "nan"}


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
        if math.isnan(text):
            return None, MISSING, None
        return float(text), OK, None
    try:  # fast path: a plain number with a decimal point
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number, OK, None
        return None, MISSING, str(text).strip()
    raw = str(text).replace("\xa0", " ").strip()
    low = raw.lower()
    if low in MISSING_MARKERS:
        return None, MISSING, raw or None
    if low in SUPPRESSED_MARKERS or low.startswith(("prikket", "<")):
        return None, SUPPRESSED, raw
    cleaned = raw.replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned), OK, None
    except ValueError:
        raise ValueError(f"forventet et tall eller et prikkemerke (<5, :, .), fant {raw!r}") from None
