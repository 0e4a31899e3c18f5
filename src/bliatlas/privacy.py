"""Suppression that outlives every output: secondary suppression of published tables, and
the linear-programming check that no published figure narrows a suppressed one.

Publishers hide small counts (primary suppression). A hidden cell can still be recovered
when a published total and its other parts are both shown: total − parts = hidden cell.
IMDi's own grant file does exactly that (``Totalt`` beside the anonymised grant types).
This module finds such cells after every import and lists them in
``observation_secondary``; the store's ``observation`` view (what every layer reads)
shows them as suppressed, value NULL, with the reason. The raw values stay in
``observation_source`` and are never read by an output.

Rules (each a *partition*: parts that add up to a total in the same region and year):

* ``grants`` — IMDi grants by type add up to ``Totalt``. If any type is suppressed, the
  total is suppressed too (with one or more hidden types, total minus the published types
  reveals the hidden amount).
* ``complement`` — the refugees settled split into Ukrainians and others
  (``kommuner_bosetting``), and by sex × age within each group
  (``kommuner_bosetting_kjonn_alder``, whose group totals are in ``kommuner_bosetting``).
  If exactly one part is suppressed while the total is published, the smallest other
  published part is suppressed as well, so no part can be recovered alone.

Aggregates across regions (county, centrality class, national) are handled by the
indicator engine: a suppressed member makes the aggregate an interval (published sum to
published sum + 4 per hidden count), never an exact total.

The guarantee is checked the way a statistics office audits a release
(:func:`feasible_ranges`, used by :mod:`bliatlas.indicators.audit`): every hidden cell is an
unknown with the interval everyone knows (a count: 0–4); everything published is a linear
constraint on the unknowns; each hidden cell is minimised and maximised with HiGHS. A cell
is protected when its feasible interval is still its whole box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from bliatlas.store import Store

# What users are told about small counts (pages, API, CLI, reports): the publishers
# hide some (not all) counts under 5.
SUPPRESSION_NOTE = (
    "Tall som IMDi eller SSB har skjermet (prikket, under 5), vises ikke; en sum med "
    "skjermede tall vises som et intervall (fra summen av de publiserte tallene til summen "
    "med 4 for hvert skjermede). Utgiverne publiserer selv en del tall mellom 1 og 4; de "
    "vises som de er."
)


# Publishers suppress counts under 5 (`<5`, `Prikket`, `:`): a hidden count is one of 0–4,
# and nobody outside the publisher knows which. Amounts (kroner) anonymised for few persons
# have no published upper limit.
SUPPRESSION_THRESHOLD = 5
COUNT_UNITS = frozenset({"personer", "antall"})
AMOUNT_UNITS = frozenset({"kroner"})


def suppressed_bounds(unit: str) -> tuple[float | None, float | None]:
    """What everyone knows about one suppressed published cell: (lower, upper); ``None`` =
    not bounded (percentages have no bounds that could be added up)."""
    if unit in COUNT_UNITS:
        return 0.0, float(SUPPRESSION_THRESHOLD - 1)
    if unit in AMOUNT_UNITS:
        return 0.0, None
    return None, None

GRANT_REASON = ("sekundærskjermet: totalen ville avslørt skjermede tilskuddstyper ved "
                "subtraksjon")
COMPLEMENT_REASON = ("sekundærskjermet: ville ellers avslørt et skjermet tall ved subtraksjon "
                     "fra totalen")

_KEYS = "dataset, measure, region_code, year, dims, unit"


def _grants(store: Store) -> None:
    store.execute(f"""
        INSERT INTO observation_secondary ({_KEYS}, reason)
        SELECT t.dataset, t.measure, t.region_code, t.year, t.dims, t.unit, ?
        FROM observation_source t
        WHERE t.dataset = 'imdi_tilskudd' AND t.measure = 'tilskudd'
          AND t.dims = 'tilskuddstype=Totalt' AND t.status = 'ok'
          AND EXISTS (
            SELECT 1 FROM observation_source p
            WHERE p.dataset = t.dataset AND p.measure = t.measure
              AND p.region_code = t.region_code AND p.year = t.year AND p.unit = t.unit
              AND p.dims <> t.dims AND p.status = 'suppressed')
        ON CONFLICT DO NOTHING""", [GRANT_REASON])


# (parts dataset, parts measure, SQL expression giving the group key of a part's dims,
#  total dataset, total measure, SQL expression giving the total's dims from the group key)
COMPLEMENT_PARTITIONS = [
    ("kommuner_bosetting", "bosatte_flyktninger",
     "CASE WHEN dims IN ('gruppe=ukrainere', 'gruppe=ovrige') THEN '' END",
     "kommuner_bosetting", "bosatte_flyktninger", "grp"),
    ("kommuner_bosetting_kjonn_alder", "bosatte_flyktninger",
     "regexp_extract(dims, '(?:^|\\|)(gruppe=[^|]+)', 1)",
     "kommuner_bosetting", "bosatte_flyktninger", "grp"),
]


def _complement(store: Store) -> None:
    for p_ds, p_measure, group_expr, t_ds, t_measure, total_dims in COMPLEMENT_PARTITIONS:
        store.execute(f"""
            INSERT INTO observation_secondary ({_KEYS}, reason)
            WITH parts AS (
                SELECT *, {group_expr} AS grp FROM observation_source
                WHERE dataset = ? AND measure = ?
            ),
            candidates AS (
                SELECT p.*, count(*) FILTER (WHERE p.status = 'suppressed')
                         OVER (PARTITION BY p.region_code, p.year, p.unit, p.grp) AS n_sup,
                       row_number() OVER (PARTITION BY p.region_code, p.year, p.unit, p.grp
                                          ORDER BY p.status <> 'ok', p.value, p.dims) AS rn
                FROM parts p
                WHERE p.grp IS NOT NULL
            )
            SELECT c.dataset, c.measure, c.region_code, c.year, c.dims, c.unit, ?
            FROM candidates c
            JOIN observation_source t
              ON t.dataset = ? AND t.measure = ? AND t.region_code = c.region_code
             AND t.year = c.year AND t.unit = c.unit AND t.dims = {total_dims.replace('grp',
                                                                                      'c.grp')}
            WHERE c.n_sup = 1 AND c.rn = 1 AND c.status = 'ok' AND t.status = 'ok'
            ON CONFLICT DO NOTHING""", [p_ds, p_measure, COMPLEMENT_REASON, t_ds, t_measure])


def apply_secondary_suppression(store: Store) -> int:
    """Recompute ``observation_secondary`` from the raw values; returns the number of cells."""
    store.execute("DELETE FROM observation_secondary")
    _grants(store)
    _complement(store)
    return int(store.query("SELECT count(*) AS n FROM observation_secondary")[0]["n"])


# -- the audit's linear programs -----------------------------------------------------------

INF = highspy.kHighsInf


@dataclass
class LinearSystem:
    """Unknowns ``x`` with boxes ``lower ≤ x ≤ upper`` (``None`` = unbounded above) and rows
    ``lo ≤ Σ coef·x ≤ hi`` (``None`` = open side)."""

    lower: list[float] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    rows: list[tuple[dict[int, float], float | None, float | None]] = field(default_factory=list)

    def add_unknown(self, lower: float, upper: float | None) -> int:
        self.lower.append(lower)
        self.upper.append(upper)
        return len(self.lower) - 1

    def add_row(self, coefs: dict[int, float], lo: float | None, hi: float | None) -> None:
        if coefs:
            self.rows.append((coefs, lo, hi))


@dataclass
class Ranges:
    """The feasible interval of every unknown, and what it took to find it."""

    low: np.ndarray
    high: np.ndarray    # inf where unbounded
    blocks: int = 0
    solves: int = 0


def _blocks(n: int, rows: Sequence[tuple[dict[int, float], float | None, float | None]]
            ) -> dict[int, list[int]]:
    """Independent blocks: unknowns connected by a shared row (union-find); root → rows."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coefs, _, _ in rows:
        it = iter(coefs)
        first = find(next(it))
        for j in it:
            root = find(j)
            if root != first:
                parent[root] = first
    out: dict[int, list[int]] = {}
    for r, (coefs, _, _) in enumerate(rows):
        out.setdefault(find(next(iter(coefs))), []).append(r)
    return out


def feasible_ranges(system: LinearSystem, wanted: set[int] | None = None) -> Ranges:
    """Minimise and maximise every unknown (or those in ``wanted``) that appears in a row,
    block by block (HiGHS); an unknown in no row keeps its box."""
    n = len(system.lower)
    low = np.asarray(system.lower, dtype=float)
    high = np.asarray([INF if u is None else u for u in system.upper], dtype=float)
    result = Ranges(low.copy(), high.copy())
    for row_ids in _blocks(n, system.rows).values():
        cols = sorted({j for r in row_ids for j in system.rows[r][0]})
        pos = {j: k for k, j in enumerate(cols)}
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.addVars(len(cols), low[cols], high[cols])
        for r in row_ids:
            coefs, lo, hi = system.rows[r]
            idx = np.array([pos[j] for j in coefs], dtype=np.int32)
            h.addRow(-INF if lo is None else lo, INF if hi is None else hi, len(idx), idx,
                     np.array(list(coefs.values()), dtype=float))
        result.blocks += 1
        zero = np.zeros(len(cols))
        for k, j in enumerate(cols):
            if wanted is not None and j not in wanted:
                continue
            for sense, target in ((highspy.ObjSense.kMinimize, result.low),
                                  (highspy.ObjSense.kMaximize, result.high)):
                cost = zero.copy()
                cost[k] = 1.0
                h.changeColsCost(len(cols), np.arange(len(cols), dtype=np.int32), cost)
                h.changeObjectiveSense(sense)
                h.run()
                result.solves += 1
                status = h.getModelStatus()
                if status == highspy.HighsModelStatus.kOptimal:
                    target[j] = h.getInfo().objective_function_value
                elif status == highspy.HighsModelStatus.kUnbounded:
                    target[j] = -INF if sense == highspy.ObjSense.kMinimize else INF
                else:
                    raise RuntimeError(
                        f"the audit's linear program has no solution ({h.modelStatusToString(status)}"
                        "): the published figures contradict each other")
    return result
