"""One way to compare, named where it is shown.

A municipality is compared with four things, each with one definition and a label that
says which, the same on the page, in the PDF, in the sentences and in the CSV:

* ``median_sentralitet`` — *median blant kommunene i sentralitetsklasse 5*: the middle
  municipality of its centrality class (the district perspective), with its rank there;
* ``median_kostra`` — *median blant kommunene i KOSTRA-gruppe 4*;
* ``fylke_samlet`` — *Vestland samlet*: the county's own figure, summed numerators over
  summed denominators (never an average of rates);
* ``nasjonal_samlet`` — *hele landet samlet*: the national figure, the same way.

A county is compared with the median of the counties and with the country as a whole.
Medians and ranks are over exact values only; ties share a rank and the text says so
("nr. 1 av 98, delt med 97 andre"), and municipalities with a suppressed value are
counted as left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import Cube
from bliatlas.published import INTERVAL, OK, Cell

COMPARISON_KEYS: tuple[str, ...] = ("median_sentralitet", "median_kostra", "fylke_samlet",
                                    "nasjonal_samlet")
COUNTY_COMPARISON_KEYS: tuple[str, ...] = ("median_fylker", "nasjonal_samlet")


@dataclass(frozen=True)
class Comparison:
    """A region's value set beside one comparison, with the comparison's definition."""

    key: str
    kind: str            # 'median' | 'samlet'
    label: str           # 'median blant kommunene i sentralitetsklasse 5'
    heading: str         # column heading: 'Median, sentralitetsklasse 5'
    year: int
    value: float | None  # the median, or the pooled figure when exact
    text: str            # as shown (an interval for a pooled figure with suppressed members)
    cell: Cell | None = None   # the pooled figure
    rank: int | None = None
    n: int | None = None
    n_tied: int | None = None
    n_hidden: int | None = None
    percentile: float | None = None


def _peer_row(cube: Cube, code: str, indicator: str, year: int, group: str
              ) -> dict[str, Any] | None:
    for r in cube.peers_for(code):
        if r["indicator"] == indicator and r["year"] == year and r["peer_group"] == group:
            return r
    return None


def _kostra_label(code: str | None) -> str:
    return f"KOSTRA-gruppe {int(code[3:])}" if code and code.startswith("EKG") else "KOSTRA-gruppen"


def comparisons(cube: Cube, level: str, code: str, indicator: Indicator,
                year: int) -> list[Comparison]:
    """The region's comparisons for one indicator and year (empty where nothing exists)."""
    from bliatlas.indicators.sentences import format_cell, format_number

    reg = cube.group(level, code)
    out: list[Comparison] = []

    def median(key: str, group: str, label: str, heading: str) -> None:
        row = _peer_row(cube, code, indicator.id, year, group)
        if row is None or row["median"] is None:
            return
        out.append(Comparison(
            key, "median", label, heading, year, row["median"],
            format_number(row["median"], indicator.decimals), None, row["rank"], row["n"],
            row["n_tied"], row["n_hidden"], row["percentile"]))

    def pooled(key: str, glevel: str, gcode: str, label: str, heading: str) -> None:
        if glevel not in cube.levels_for(indicator):
            return
        cell = cube.cell(indicator.id, glevel, gcode, year)
        if cell is None or cell.status not in (OK, INTERVAL):
            return
        out.append(Comparison(key, "samlet", label, heading, year,
                              cell.value if cell.ok else None, format_cell(cell, indicator),
                              cell))

    if level == "kommune":
        cls = reg["centrality"]
        median("median_sentralitet", "sentralitet",
               f"median blant kommunene i sentralitetsklasse {cls}",
               f"Median, sentralitetsklasse {cls}")
        kostra = _kostra_label(reg["kostra_group"])
        median("median_kostra", "kostra", f"median blant kommunene i {kostra}",
               f"Median, {kostra}")
        county = cube.regions.get(("fylke", reg["county_code"]), {}).get("short_name", "fylket")
        pooled("fylke_samlet", "fylke", reg["county_code"], f"{county} samlet",
               f"{county} samlet")
    else:
        median("median_fylker", "alle", "median blant fylkene", "Median, fylkene")
    pooled("nasjonal_samlet", "nasjonal", "NO", "hele landet samlet", "Hele landet samlet")
    return out


def rank_text(comp: Comparison, level: str = "kommune") -> str:
    """``'nr. 3 av 24'``, ``'nr. 1 av 98, delt med 97 andre'`` (+ those left out: municipalities,
    or counties when ``level`` is ``'fylke'``)."""
    if comp.rank is None or comp.n is None:
        return ""
    text = f"nr. {comp.rank} av {comp.n}"
    if comp.n_tied and comp.n_tied > 1:
        others = comp.n_tied - 1
        text += f", delt med {others} {'annen' if others == 1 else 'andre'} med samme verdi"
    if comp.n_hidden:
        one, many = ("fylke", "fylker") if level == "fylke" else ("kommune", "kommuner")
        text += (f" ({comp.n_hidden} {one if comp.n_hidden == 1 else many} med "
                 "skjermet tall er ikke rangert)")
    return text
