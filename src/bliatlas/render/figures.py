"""The figures both a municipality page and a report show, computed once: the settlement
funnel (request → decision → settled) and IMDi grants by type; and the small helpers that
turn published cells into chart bars and points.

The page formats the cells as text, the report as traceable numbers
(:mod:`bliatlas.reports.values`); which year, which cells and which rows is decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import Cube
from bliatlas.indicators.sentences import format_cell
from bliatlas.published import INTERVAL, MISSING, OK, Cell
from bliatlas.render.charts import Bar, Point
from bliatlas.store import Store

FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("anmodning", "Anmodning fra IMDi"),
    ("vedtak", "Vedtak i kommunen"),
    ("bosatt_etter_anmodning", "Bosatt mot anmodningen"),
)
FUNNEL_RATES: tuple[str, ...] = (
    "vedtak_andel_av_anmodning", "bosatt_andel_av_vedtak", "bosatt_andel_av_anmodning",
)


def with_unit(cell: Cell | None, ind: Indicator) -> str:
    """A cell's text with its unit (a suppressed or missing cell without one)."""
    text = format_cell(cell, ind)
    return f"{text} {ind.unit}" if cell is not None and cell.status in (OK, INTERVAL) else text


def bar_for(label: str, cell: Cell | None, ind: Indicator, highlight: bool = False) -> Bar:
    """A bar of a chart for one cell (solid to the lower bound of an interval)."""
    return Bar(label=label, value=cell.value if cell is not None and cell.ok else None,
               text=format_cell(cell, ind), highlight=highlight,
               lower=cell.lower if cell is not None and cell.status == INTERVAL else None,
               upper=cell.upper if cell is not None and cell.status == INTERVAL else None,
               status=cell.status if cell is not None else MISSING)


def point_for(year: int, cell: Cell | None, ind: Indicator) -> Point:
    """A chart point for one cell (an interval as a range; the text as the page shows it)."""
    return Point(year=year, value=cell.value if cell is not None and cell.ok else None,
                 status=cell.status if cell is not None else MISSING,
                 lower=cell.lower if cell is not None and cell.status == INTERVAL else None,
                 upper=cell.upper if cell is not None and cell.status == INTERVAL else None,
                 text=format_cell(cell, ind))


def series_points(series: list[dict[str, Any]]) -> list[Point]:
    """Chart points from a profile series (intervals as ranges, joins marked)."""
    return [Point(year=s["ar"], value=s["verdi"], status=s["status"], lower=s["nedre"],
                  upper=s["ovre"], join=s["skjot"], text=s["verdi_tekst"]) for s in series]


# -- the settlement funnel -----------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    indicator: Indicator
    label: str
    cell: Cell | None


@dataclass(frozen=True)
class Funnel:
    year: int
    steps: list[FunnelStep]
    rates: list[tuple[Indicator, Cell | None]]

    def bars(self) -> list[Bar]:
        return [bar_for(s.label, s.cell, s.indicator) for s in self.steps]


def settlement_funnel(cube: Cube, level: str, code: str,
                      lookup: Callable[[str, str, str, int], Cell | None] | None = None
                      ) -> Funnel | None:
    """Request → decision → settled for the latest year where all three indicators exist
    and the region has at least one of them (``lookup`` defaults to ``cube.cell``)."""
    cell = lookup or cube.cell
    years = set(cube.years.get(FUNNEL_STEPS[0][0], []))
    for ind_id, _ in FUNNEL_STEPS[1:]:
        years &= set(cube.years.get(ind_id, []))
    for year in sorted(years, reverse=True):
        cells = [cell(i, level, code, year) for i, _ in FUNNEL_STEPS]
        if all(c is None for c in cells):
            continue
        steps = [FunnelStep(cube.catalogue.get(i), label, c)
                 for (i, label), c in zip(FUNNEL_STEPS, cells)]
        rates = [(cube.catalogue.get(i), cell(i, level, code, year)) for i in FUNNEL_RATES]
        return Funnel(year=year, steps=steps, rates=rates)
    return None


# -- IMDi grants by type -------------------------------------------------------------------

GRANT_TOTAL = "Totalt"


@dataclass(frozen=True)
class GrantRow:
    type: str
    value: float | None
    status: str
    dims: str
    note: str | None


@dataclass(frozen=True)
class Grants:
    year: int
    total: GrantRow | None
    items: list[GrantRow]  # largest first; suppressed ones after the published ones


def grant_rows(store: Store, code: str | None = None) -> list[dict[str, Any]]:
    """The stored (non-missing) IMDi grant values by type, of one municipality or of all."""
    where = "AND region_code = ? " if code is not None else ""
    return store.query(
        "SELECT region_code, year, dims, value, status, status_note FROM observation "
        "WHERE dataset = 'imdi_tilskudd' AND measure = 'tilskudd' AND unit = 'kroner' "
        f"AND status <> 'missing' {where}ORDER BY region_code, year, dims",
        [code] if code is not None else None,
    )


def grants_by_type(rows: Iterable[dict[str, Any]]) -> Grants | None:
    """Grants by type in the latest year of ``rows`` (one municipality's grant rows)."""
    rows = list(rows)
    if not rows:
        return None
    year = max(r["year"] for r in rows)
    total = None
    items = []
    for r in rows:
        if r["year"] != year:
            continue
        kind = r["dims"].split("=", 1)[1] if "=" in r["dims"] else r["dims"]
        row = GrantRow(type=kind, value=r["value"] if r["status"] == OK else None,
                       status=r["status"], dims=r["dims"], note=r["status_note"])
        if kind == GRANT_TOTAL:
            total = row
        else:
            items.append(row)
    items.sort(key=lambda i: (i.value is None, -(i.value or 0), i.type))
    return Grants(year=year, total=total, items=items)
