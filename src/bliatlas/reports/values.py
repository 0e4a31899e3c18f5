"""Numbers in a report, each carrying where it came from.

Every number a report shows is a :class:`Num`: its text (formatted the Norwegian way by the
indicator engine's formatter, or worded as suppressed/missing) plus the ids a reader or a
test needs to trace it back: the indicator (or the stored dataset/measure), the region,
the level, the year and the imports (``import`` table rows) the value was computed from.
In HTML it is a ``<span class="num">`` with ``data-indicator``, ``data-region``,
``data-level``, ``data-year``, ``data-import-id`` and ``data-status`` attributes; a
suppressed value never carries a number, only its reason. An interval (a total with
suppressed members) carries ``data-lower`` and ``data-upper`` (empty: not bounded above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import Cube
from bliatlas.indicators.sentences import format_cell, format_number
from bliatlas.published import INTERVAL, MISSING, Cell
from bliatlas.store import Store

SUPPRESSED_COUNT_TEXT = "skjermet (<5)"


@dataclass(frozen=True)
class Num:
    """One traceable number (or a suppressed/missing placeholder) in a report."""

    text: str
    region: str
    level: str
    year: int | None
    status: str  # ok | suppressed | missing
    imports: tuple[int, ...]
    indicator: str | None = None  # catalogue id
    source: str | None = None  # dataset/measure (dims) for values read from the store
    value: float | None = None
    reason: str | None = None
    lower: float | None = None
    upper: float | None = None

    def __html__(self) -> Markup:
        # Ids, levels and statuses are plain ASCII from the registry and catalogue; the
        # free texts (text, source, reason) are escaped.
        parts = ['<span class="', "num" if self.status == "ok" else "num " + self.status, '"']
        if self.indicator:
            parts += [' data-indicator="', self.indicator, '"']
        if self.source:
            parts += [' data-source="', escape(self.source), '"']
        parts += [' data-region="', self.region, '" data-level="', self.level, '"']
        if self.year is not None:
            parts += [' data-year="', str(self.year), '"']
        parts += [' data-import-id="', " ".join(map(str, self.imports)), '" data-status="',
                  self.status, '"']
        if self.status == "ok" and self.value is not None:
            parts += [' data-value="', repr(self.value), '"']
        if self.status == INTERVAL and self.lower is not None:
            parts += [' data-lower="', repr(self.lower), '" data-upper="',
                      "" if self.upper is None else repr(self.upper), '"']
        if self.reason:
            parts += [' title="', escape(self.reason), '"']
        parts += [">", escape(self.text), "</span>"]
        return Markup("".join(parts))

    def __str__(self) -> str:  # plain text (e.g. in SVG descriptions)
        return self.text

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Provenance:
    """Which imports hold the stored values behind a cell: (dataset, measure, region, year),
    and the cube's cells indexed for fast lookup.

    Read from ``observation`` once per context; aggregates take the union over their
    member municipalities. A region's cells are indexed when first asked for (one cube
    query per region, cached by the cube); bulk work calls ``cube.preload()`` first, which
    reads all cells and peer rows in one query each.
    """

    def __init__(self, store: Store, cube: Cube) -> None:
        self._cube = cube
        self._cells: dict[tuple[str, str], dict[tuple[str, int], Cell]] = {}
        rows = store.query(
            "SELECT dataset, measure, region_code, year, list(DISTINCT import_id) AS ids "
            "FROM observation GROUP BY ALL"
        )
        self._by_key: dict[tuple[str, str, str, int], tuple[int, ...]] = {
            (r["dataset"], r["measure"], r["region_code"], int(r["year"])): tuple(sorted(r["ids"]))
            for r in rows
        }
        # Member municipalities of every aggregate group, as the engine aggregates them.
        self._members: dict[tuple[str, str], list[str]] = {}
        for (level, code), reg in cube.regions.items():
            if level != "kommune":
                continue
            cent = reg["centrality"]
            keys = [("fylke", reg["county_code"]), ("kostra", reg["kostra_group"]),
                    ("nasjonal", "NO")]
            if cent is not None:
                keys += [("sentralitet", str(cent)),
                         ("distrikt", "distrikt" if cent >= 5 else "ikke-distrikt")]
            for key in keys:
                self._members.setdefault(key, []).append(code)
        self._selectors: dict[str, list[tuple[str, str]]] = {}
        catalogue = cube.catalogue
        for ind in catalogue.indicators:
            pairs: list[tuple[str, str]] = []
            # a difference reads what its two components read
            parts = ([catalogue.get(i) for i in ind.difference_of or []]
                     if ind.kind == "difference" else [ind])
            for part in parts:
                for term in [*part.numerator, *(part.denominator or [])]:
                    for sel in term.any_of:
                        if (sel.dataset, sel.measure) not in pairs:
                            pairs.append((sel.dataset, sel.measure))
            self._selectors[ind.id] = pairs
        self._cache: dict[tuple[str, str, str, int], tuple[int, ...]] = {}

    def _region(self, level: str, code: str) -> dict[tuple[str, int], Cell]:
        """One region's cells by (indicator, year), read from the cube when first asked.
        A municipality or county brings its whole county in one query (a report's map
        reads the county's municipalities together), so a county report reads ~45 regions,
        not all 450 (:meth:`~bliatlas.indicators.engine.Cube.preload` reads all)."""
        key = (level, code)
        found = self._cells.get(key)
        if found is None:
            county = (self._cube.regions.get(key, {}).get("county_code") if level == "kommune"
                      else code if level == "fylke" else None)
            if county is not None:
                self._cube.preload([("fylke", county), *(
                    ("kommune", m) for m in self._members.get(("fylke", county), []))])
            found = {(c.indicator, c.year): c for c in self._cube.cells_for(level, code)}
            self._cells[key] = found
        return found

    def cell(self, indicator: str, level: str, code: str, year: int) -> Cell | None:
        """The cube cell (the same as ``Cube.cell``), from the index."""
        return self._region(level, code).get((indicator, year))

    def region_cells(self, level: str, code: str) -> list[Cell]:
        return list(self._region(level, code).values())

    def codes(self, level: str, code: str) -> list[str]:
        if level == "kommune":
            return [code]
        members = self._members.get((level, code), [])
        return [code, *members] if level == "fylke" else members

    def stored(self, dataset: str, measure: str, level: str, code: str, year: int) -> tuple[int, ...]:
        ids: set[int] = set()
        for c in self.codes(level, code):
            ids.update(self._by_key.get((dataset, measure, c, year), ()))
        return tuple(sorted(ids))

    def indicator(self, indicator: str, level: str, code: str, year: int) -> tuple[int, ...]:
        key = (indicator, level, code, year)
        found = self._cache.get(key)
        if found is None:
            ids: set[int] = set()
            for dataset, measure in self._selectors.get(indicator, []):
                ids.update(self.stored(dataset, measure, level, code, year))
            found = self._cache[key] = tuple(sorted(ids))
        return found


def cell_num(cube: Cube, prov: Provenance, indicator: Indicator, level: str, code: str,
             year: int | None, cell: Cell | None = None) -> Num:
    """A cube cell as a traceable number (looked up unless ``cell`` is given)."""
    if cell is None and year is not None:
        cell = prov.cell(indicator.id, level, code, year)
    status = cell.status if cell is not None else MISSING
    text = format_cell(cell, indicator)
    if text == "færre enn 5 (skjermet)":
        text = SUPPRESSED_COUNT_TEXT
    reason = cell.note_text() if cell is not None else "Mangler: ingen tall for dette året"
    return Num(
        text=text,
        indicator=indicator.id,
        region=code,
        level=level,
        year=year,
        status=status,
        imports=prov.indicator(indicator.id, level, code, year) if year is not None else (),
        value=float(cell.value) if status == "ok" and cell.value is not None else None,
        reason=reason or None,
        lower=cell.lower if status == INTERVAL else None,
        upper=cell.upper if status == INTERVAL else None,
    )


def stored_num(prov: Provenance, dataset: str, measure: str, level: str, code: str, year: int,
               value: float | None, status: str, decimals: int = 0, dims: str = "",
               note: str | None = None) -> Num:
    """A value read from the store (not an indicator), e.g. population or a grant type."""
    if status == "ok" and value is not None:
        text = format_number(value, decimals)
    elif status == "suppressed":
        text = SUPPRESSED_COUNT_TEXT
    else:
        text = "mangler"
    source = f"{dataset}/{measure}" + (f" ({dims})" if dims else "")
    return Num(
        text=text,
        source=source,
        region=code,
        level=level,
        year=year,
        status=status if value is not None or status != "ok" else "missing",
        imports=prov.stored(dataset, measure, level, code, year),
        value=float(value) if status == "ok" and value is not None else None,
        reason=note if status != "ok" else None,
    )


def count_num(text_value: int, region: str, level: str, source: str) -> Num:
    """A count computed by the report from the registry (e.g. municipalities in a county)."""
    return Num(text=format_number(text_value), source=source, region=region, level=level,
               year=None, status="ok", imports=(), value=float(text_value))


def markup_join(parts: list[Any], sep: str = ", ") -> Markup:
    return Markup(escape(sep)).join(parts)
