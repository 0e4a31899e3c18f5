"""The privacy audit: can anything Bli-atlas publishes narrow a suppressed cell?

Every hidden source cell is an unknown with the interval everyone knows it lies in (a
count the publisher suppressed: 0–4; an anonymised amount: 0 and up; a cell Bli-atlas hides
itself so that another cannot be recovered: 0 and up). Everything the atlas publishes is a
linear constraint on the unknowns:

* every cube cell at every level (the API, the CSV exports, pages and reports show these):
  an exact numerator or denominator is an equation, an interval ``[nedre, ovre]`` two
  inequalities — for a rate, ``nedre × denominator ≤ multiplier × numerator ≤ ovre ×
  denominator``;
* the identities that hold between published series: the reasons for immigration add up
  to all immigrants, the grant types add up to IMDi's total (the municipality page shows
  every type), Ukrainians and others add up to all refugees settled.

How it is solved (fast enough for the test suite, without weakening anything):

1. *Interval propagation proves most facts harmless.* For each fact lo ≤ Σ cᵢ·xᵢ ≤ hi the
   extremes of Σ cᵢ·xᵢ over the boxes are Σ cᵢ·loᵢ or cᵢ·hiᵢ by the sign of cᵢ (unbounded
   when a box is). A fact whose published range contains both extremes (an interval the
   engine computed from the boxes, within the rounding of the numbers it came from) is
   implied by the boxes: it removes no point of the box product, so it cannot narrow any
   cell and is dropped. Dropping only implied facts leaves the feasible set, and so every
   cell's interval, exactly as with all facts.

   The extremes are computed without listing every (fact, unknown) term (a national cell
   involves every hidden member: 5–8 million terms in all). An unknown's coefficient in a
   cell's rows depends only on how often the cell reads it in the numerator (a) and in the
   denominator (b) — ``m·a`` in a count, ``m·a − lower·b`` in a rate interval — so all
   unknowns of a base cell with the same (a, b) get the same coefficient in every fact
   built on that cell. They are summed once per base cell into a class (Σ lo, Σ hi, any
   box unbounded), the classes are carried up through the groups the cell counts in, and
   each fact's extremes are Σ over classes of c·Σlo or c·Σhi: the same sums as over the
   unknowns one by one, in another order (a rounding difference of the size DuckDB's
   parallel sums already have between runs, far inside the tolerance), with the same
   terms left out (|c| ≤ 1e-12) and the same facts counted. Nothing is relaxed: a fact is
   dropped on exactly the condition it was before. Only for the facts that remain (a few
   hundred) are the (fact, unknown) terms listed, from the members of those facts alone,
   and handed to Python. Partitions and identities have few terms and are checked term by
   term.
2. *Independent blocks.* The remaining facts fall apart into blocks of unknowns linked by
   a shared fact (union-find); each block is one small LP, built once.
3. *Min and max per cell on one model.* In each block every hidden cell is minimised and
   maximised with HiGHS by changing the objective of the kept model (warm start)
   (:func:`bliatlas.privacy.feasible_ranges`).

A cell the publisher suppressed is protected when its feasible interval is still its whole
box (a count: 0 to 4).

``bli``'s test suite runs :func:`audit` on the real data; it replaces the differencing
attack as the privacy check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bliatlas.indicators.engine import Cube
from bliatlas.privacy import LinearSystem, feasible_ranges
from bliatlas.store import Store

EPS = 1e-6
AMOUNT_SLACK = 1.0  # kroner: IMDi's total and the sum of its types differ by rounding

# Identities between published series: (dataset, measure, unit, total dims, SQL condition on
# the dims of the parts, SQL expression giving the group within a region and year).
IDENTITIES: tuple[tuple[str, str, str, str, str, str, float], ...] = (
    ("imdi_tilskudd", "tilskudd", "kroner", "tilskuddstype=Totalt",
     "a.dims <> 'tilskuddstype=Totalt'", "''", AMOUNT_SLACK),
    ("kommuner_bosetting", "bosatte_flyktninger", "personer", "",
     "a.dims IN ('gruppe=ukrainere', 'gruppe=ovrige')", "''", 0.0),
)


@dataclass
class Narrowed:
    """A suppressed cell that the published figures pin down more than its box allows."""

    dataset: str
    measure: str
    code: str
    year: int
    dims: str
    box: tuple[float, float | None]
    feasible: tuple[float, float | None]

    def message(self) -> str:
        def shown(v: float | None) -> str:
            return "∞" if v is None else f"{v:g}"
        return (f"{self.dataset}/{self.measure} {self.code} {self.year} {self.dims}: kan bare "
                f"være {shown(self.feasible[0])}–{shown(self.feasible[1])}, ikke hele "
                f"{shown(self.box[0])}–{shown(self.box[1])}")


@dataclass
class AuditReport:
    hidden_cells: int                 # unknowns in the model
    protected_cells: int              # of which suppressed by the publisher
    constraints: int                  # published facts that involve an unknown
    binding_constraints: int          # of which not implied by the boxes
    blocks: int
    solves: int
    seconds: float
    narrowed: list[Narrowed] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.narrowed

    def as_dict(self) -> dict[str, Any]:
        return {
            "skjulte_celler": self.hidden_cells, "prikket_av_utgiver": self.protected_cells,
            "betingelser": self.constraints, "bindende_betingelser": self.binding_constraints,
            "blokker": self.blocks, "lp_losninger": self.solves,
            "sekunder": round(self.seconds, 3), "innsnevret": [n.message() for n in self.narrowed],
        }


_SETUP_SQL = [
    # The unknowns: every cell the outputs do not show exactly (store view), and the cells
    # behind a base cell the engine hides itself (secondary suppression in a partition).
    """CREATE OR REPLACE TEMP VIEW audit_src AS
        SELECT dataset, measure, region_code AS code, year, dims, unit, value, status,
            lower_bound, upper_bound FROM obs
        UNION ALL
        SELECT dataset, measure, code, year, dims, unit, value, status, lower_bound,
            upper_bound FROM audit_extra""",
    # The (few) numerator terms of the base cells the engine hides, as a table of its own:
    # DuckDB then knows how few they are and does not join every series to obs first.
    """CREATE OR REPLACE TEMP TABLE audit_secondary_term AS
        SELECT t.indicator, t.part, t.term, t.prio, t.code, t.year
        FROM base b JOIN term_val t ON t.indicator = b.indicator AND t.code = b.code
            AND t.year = b.year AND t.part = 'num'
        WHERE b.secondary""",
    """CREATE OR REPLACE TEMP TABLE audit_var AS
        WITH hidden AS (
            SELECT a.dataset, a.measure, a.code, a.year, a.dims, a.unit,
                coalesce(a.lower_bound, 0.0) AS lo, a.upper_bound AS hi,
                NOT EXISTS (SELECT 1 FROM audit_secondary s WHERE s.dataset = a.dataset
                    AND s.measure = a.measure AND s.code = a.code AND s.year = a.year
                    AND s.dims = a.dims AND s.unit = a.unit) AS protected
            FROM audit_src a WHERE a.status = 'suppressed'
            UNION ALL
            SELECT DISTINCT o.dataset, o.measure, o.region_code, o.year, o.dims, o.unit,
                0.0, NULL::DOUBLE, false
            FROM audit_secondary_term t
            JOIN sel s ON s.indicator = t.indicator AND s.part = t.part AND s.term = t.term
                AND s.prio = t.prio
            JOIN obs o ON o.dataset = s.dataset AND o.measure = s.measure AND o.unit = s.unit
                AND o.dims = s.dims AND o.region_code = t.code AND o.year = t.year
            WHERE o.status = 'ok'
        )
        SELECT (row_number() OVER (ORDER BY dataset, measure, code, year, dims, unit) - 1)
                ::INTEGER AS var, *
        FROM (SELECT dataset, measure, code, year, dims, unit, min(lo) AS lo,
                  CASE WHEN bool_or(hi IS NULL) THEN NULL ELSE max(hi) END AS hi,
                  bool_and(protected) AS protected
              FROM hidden GROUP BY ALL)""",
    # Base cells as expressions: a constant (the exact cells) plus the unknowns. The engine's
    # base numerator is the sum of the exact cells, so the constant is that minus the
    # cells the engine hides itself (known to it, unknown to a reader).
    #
    # The series the cube reads (an integer id), each unknown's series, how many obs rows
    # carry it (n) and the value the engine knows of it (a cell it hides itself).
    """CREATE OR REPLACE TEMP TABLE audit_series AS
        SELECT row_number() OVER ()::INTEGER AS sid, *
        FROM (SELECT DISTINCT dataset, measure, unit, dims FROM sel)""",
    """CREATE OR REPLACE TEMP TABLE audit_var_obs AS
        SELECT any_value(r.sid) AS sid, v.var, any_value(v.code) AS code,
            any_value(v.year) AS year, any_value(v.lo) AS lo, any_value(v.hi) AS hi,
            count(*)::DOUBLE AS n,
            coalesce(sum(o.value) FILTER (WHERE o.status = 'ok'), 0.0) AS known
        FROM audit_var v
        JOIN audit_series r ON r.dataset = v.dataset AND r.measure = v.measure
            AND r.unit = v.unit AND r.dims = v.dims
        JOIN obs o ON o.dataset = v.dataset AND o.measure = v.measure
            AND o.region_code = v.code AND o.year = v.year AND o.dims = v.dims
            AND o.unit = v.unit
        GROUP BY v.var""",
    # The terms of the catalogue (indicator, part, term, alternative) as integers, and the
    # series each reads (k: how many of its selectors name the series).
    """CREATE OR REPLACE TEMP TABLE audit_term_id AS
        SELECT row_number() OVER ()::INTEGER AS tid,
            dense_rank() OVER (ORDER BY indicator)::INTEGER AS iid, *
        FROM (SELECT DISTINCT indicator, part, term, prio FROM sel WHERE NOT is_count)""",
    """CREATE OR REPLACE TEMP TABLE audit_term_series AS
        SELECT t.tid, r.sid, count(*)::DOUBLE AS k
        FROM sel s
        JOIN audit_term_id t ON t.indicator = s.indicator AND t.part = s.part
            AND t.term = s.term AND t.prio = s.prio
        JOIN audit_series r ON r.dataset = s.dataset AND r.measure = s.measure
            AND r.unit = s.unit AND r.dims = s.dims
        WHERE NOT s.is_count
        GROUP BY ALL""",
    # One row per base cell and unknown: a = its coefficient in the numerator, b in the
    # denominator (how many times the cell's terms read it; NULL = not in that part),
    # known_a and known_b what the engine knows of it; an unknown's code and year are its
    # cell's.
    """CREATE OR REPLACE TEMP TABLE audit_base_coef AS
        WITH unknown_terms AS (
            SELECT v.var, v.code, v.year, v.n, v.known, v.lo, v.hi, s.tid, s.k
            FROM audit_var_obs v JOIN audit_term_series s USING (sid)
        ),
        cell_terms AS (
            SELECT i.tid, i.iid, i.indicator, i.part, t.code, t.year
            FROM term_val t JOIN audit_term_id i ON i.indicator = t.indicator
                AND i.part = t.part AND i.term = t.term AND i.prio = t.prio
        )
        SELECT any_value(c.indicator) AS indicator, any_value(u.code) AS code,
            any_value(u.year) AS year, u.var,
            sum(u.k * u.n) FILTER (WHERE c.part = 'num') AS a,
            sum(u.k * u.n) FILTER (WHERE c.part = 'den') AS b,
            sum(u.k * u.known) FILTER (WHERE c.part = 'num') AS known_a,
            sum(u.k * u.known) FILTER (WHERE c.part = 'den') AS known_b,
            any_value(u.lo) AS lo, any_value(u.hi) AS hi
        FROM unknown_terms u
        JOIN cell_terms c ON c.tid = u.tid AND c.code = u.code AND c.year = u.year
        GROUP BY c.iid, u.var""",
    # The unknowns of each base cell grouped by their coefficients (a, b), with the sums of
    # their boxes: every published fact gives all unknowns of one class the same
    # coefficient, so its extremes over the boxes follow from these sums alone (see
    # _BINDING_SQL).
    """CREATE OR REPLACE TEMP TABLE audit_base_class AS
        SELECT indicator, code, year, a, b, count(*) AS n, sum(lo) AS s_lo, sum(hi) AS s_hi,
            bool_or(hi IS NULL) AS unbounded, sum(known_a) AS known_a,
            sum(known_b) AS known_b
        FROM audit_base_coef
        GROUP BY indicator, code, year, a, b""",
    """CREATE OR REPLACE TEMP TABLE audit_base_const AS
        WITH known AS (
            SELECT indicator, code, year, sum(known_a) AS known_a, sum(known_b) AS known_b
            FROM audit_base_class GROUP BY ALL
        )
        SELECT b.indicator, p.part, b.code, b.year,
            CASE p.part WHEN 'num' THEN coalesce(b.num, 0.0) - coalesce(k.known_a, 0.0)
                 ELSE coalesce(b.den, 0.0) - coalesce(k.known_b, 0.0) END AS const
        FROM base b LEFT JOIN known k USING (indicator, code, year),
            (SELECT 'num' AS part UNION ALL SELECT 'den') p""",
    # The same per published cell that contains an unknown: the base cell itself, and every
    # group it counts in (a member listed twice in a group counts twice).
    """CREATE OR REPLACE TEMP TABLE audit_fact_class AS
        WITH candidates AS (
            SELECT k.indicator, i.base_level AS level, k.code, k.year, k.a, k.b, k.n,
                k.s_lo, k.s_hi, k.unbounded
            FROM audit_base_class k JOIN ind i USING (indicator)
            UNION ALL
            SELECT k.indicator, m.level, m.group_code, k.year, m.mult * k.a, m.mult * k.b,
                k.n, k.s_lo, k.s_hi, k.unbounded
            FROM audit_base_class k
            JOIN ind i ON i.indicator = k.indicator AND i.aggregation = 'sum'
                AND i.base_level = 'kommune'
            JOIN base b ON b.indicator = k.indicator AND b.code = k.code AND b.year = k.year
                AND (b.status IN ('ok', 'suppressed') OR b.zero_den)
            JOIN (SELECT member, level, group_code, count(*)::DOUBLE AS mult FROM membership
                  WHERE level <> 'kommune' GROUP BY ALL) m ON m.member = k.code
        )
        SELECT k.indicator, k.level, k.code, k.year, k.a, k.b, sum(k.n) AS n,
            sum(k.s_lo) AS s_lo, sum(k.s_hi) AS s_hi, bool_or(k.unbounded) AS unbounded
        FROM candidates k
        SEMI JOIN cells c ON c.indicator = k.indicator AND c.level = k.level
            AND c.code = k.code AND c.year = k.year
            AND c.status IN ('ok', 'intervall', 'suppressed')
        GROUP BY ALL""",
    """CREATE OR REPLACE TEMP TABLE audit_cell_const AS
        WITH involved AS (SELECT DISTINCT indicator, level, code, year FROM audit_fact_class),
        members AS (
            SELECT v.indicator, v.level, v.code, v.year, v.code AS member
            FROM involved v JOIN ind i USING (indicator) WHERE v.level = i.base_level
            UNION ALL
            SELECT v.indicator, v.level, v.code, v.year, m.member
            FROM involved v
            JOIN ind i USING (indicator)
            JOIN membership m ON m.level = v.level AND m.group_code = v.code
            JOIN base b ON b.indicator = v.indicator AND b.code = m.member AND b.year = v.year
            WHERE v.level <> i.base_level AND (b.status IN ('ok', 'suppressed') OR b.zero_den)
        )
        SELECT m.indicator, m.level, m.code, m.year, k.part, sum(k.const) AS const
        FROM members m JOIN audit_base_const k ON k.indicator = m.indicator
            AND k.code = m.member AND k.year = m.year
        GROUP BY ALL""",
]

# Every published cell that involves an unknown, as rows lo ≤ Σ coef·x ≤ hi. ``{involved}``
# is the set of cells, ``{classes}`` their unknowns: (cell, a, b, ``{columns}``) with a and b
# the coefficients in numerator and denominator (one row per unknown, or per class of
# unknowns with the sums of their boxes). Gives (row key, lo, hi, scale, coef, columns).
_CELL_ROWS_SQL = """
    WITH facts AS (
        SELECT c.*, i.kind, i.multiplier,
            coalesce(n.const, 0.0) AS num_const, coalesce(d.const, 0.0) AS den_const
        FROM cells c
        SEMI JOIN (SELECT DISTINCT indicator, level, code, year FROM {involved}) v
            USING (indicator, level, code, year)
        JOIN ind i USING (indicator)
        LEFT JOIN audit_cell_const n ON n.indicator = c.indicator AND n.level = c.level
            AND n.code = c.code AND n.year = c.year AND n.part = 'num'
        LEFT JOIN audit_cell_const d ON d.indicator = c.indicator AND d.level = c.level
            AND d.code = c.code AND d.year = c.year AND d.part = 'den'
    ),
    row_defs AS (
        -- an exact numerator or denominator
        SELECT indicator, level, code, year, 'num' AS kind, numerator - num_const AS lo,
            numerator - num_const AS hi, abs(numerator) AS scale
        FROM facts WHERE numerator IS NOT NULL
        UNION ALL
        SELECT indicator, level, code, year, 'den', denominator - den_const,
            denominator - den_const, abs(denominator) FROM facts WHERE denominator IS NOT NULL
        UNION ALL
        -- an interval on a count: lower ≤ m·(const + Σx) ≤ upper
        SELECT indicator, level, code, year, 'count', lower - multiplier * num_const,
            upper - multiplier * num_const, abs(lower) + abs(coalesce(upper, 0))
        FROM facts WHERE kind = 'count' AND status <> 'ok' AND lower IS NOT NULL
        UNION ALL
        -- an interval on a rate: m·num − lower·den ≥ 0 and m·num − upper·den ≤ 0
        SELECT indicator, level, code, year, 'rate_lo',
            lower * den_const - multiplier * num_const, NULL,
            abs(lower * den_const) + abs(multiplier * num_const)
        FROM facts WHERE kind = 'ratio' AND status <> 'ok' AND lower IS NOT NULL
        UNION ALL
        SELECT indicator, level, code, year, 'rate_hi', NULL,
            upper * den_const - multiplier * num_const,
            abs(upper * den_const) + abs(multiplier * num_const)
        FROM facts WHERE kind = 'ratio' AND status <> 'ok' AND upper IS NOT NULL
    ),
    row_coef AS (
        SELECT r.indicator AS k1, r.level AS k2, r.code, r.year, r.kind, r.lo, r.hi, r.scale,
            CASE r.kind WHEN 'num' THEN c.a WHEN 'den' THEN c.b
                 WHEN 'count' THEN f.multiplier * c.a
                 WHEN 'rate_lo' THEN f.multiplier * coalesce(c.a, 0) - f.lower * coalesce(c.b, 0)
                 ELSE f.multiplier * coalesce(c.a, 0) - f.upper * coalesce(c.b, 0) END AS coef,
            c.* EXCLUDE (indicator, level, code, year, a, b)
        FROM row_defs r
        JOIN {classes} c USING (indicator, level, code, year)
        JOIN facts f USING (indicator, level, code, year)
    )
    SELECT * FROM row_coef WHERE coef IS NOT NULL AND abs(coef) > 1e-12
"""

# The unknowns of the cells that can narrow something, one row per (cell, unknown): the
# cells' own members only (the base cell, or the members of the group).
_BINDING_CELL_TERMS_SQL = """CREATE OR REPLACE TEMP TABLE audit_cell_term AS
    WITH wanted AS (
        SELECT DISTINCT k1 AS indicator, k2 AS level, code, year
        FROM audit_cell_row WHERE binding
    ),
    members AS (
        SELECT w.indicator, w.level, w.code, w.year, w.code AS member
        FROM wanted w JOIN ind i ON i.indicator = w.indicator AND i.base_level = w.level
        UNION ALL
        SELECT w.indicator, w.level, w.code, w.year, m.member
        FROM wanted w
        JOIN ind i ON i.indicator = w.indicator AND i.aggregation = 'sum'
            AND i.base_level = 'kommune'
        JOIN membership m ON m.level = w.level AND m.group_code = w.code
            AND m.level <> 'kommune'
        JOIN base b ON b.indicator = w.indicator AND b.code = m.member AND b.year = w.year
            AND (b.status IN ('ok', 'suppressed') OR b.zero_den)
    )
    SELECT m.indicator, m.level, m.code, m.year, k.var, sum(k.a) AS a, sum(k.b) AS b
    FROM members m JOIN audit_base_coef k ON k.indicator = m.indicator
        AND k.code = m.member AND k.year = m.year
    GROUP BY ALL"""

# The partitions of the catalogue at base level: Σ members' numerators = the total.
_PARTITION_SQL = """    WITH pm AS (
        SELECT p.partition, b.indicator, b.code, b.year, b.status, b.zero_den
        FROM base b JOIN part_members p USING (indicator)
    ),
    sizes AS (SELECT partition, count(*) AS n FROM part_members GROUP BY ALL),
    involved AS (
        SELECT DISTINCT pm.partition, pm.code, pm.year
        FROM pm SEMI JOIN audit_base_class k ON k.indicator = pm.indicator
            AND k.code = pm.code AND k.year = pm.year
    ),
    complete AS (
        SELECT pm.partition, pm.code, pm.year, any_value(pm.indicator) AS one
        FROM pm SEMI JOIN involved USING (partition, code, year)
        JOIN sizes USING (partition)
        GROUP BY ALL
        HAVING count(*) = any_value(sizes.n) AND bool_and(status <> 'missing' OR zero_den)
    ),
    sides AS (
        SELECT c.partition, c.code, c.year, k.var, k.a AS coef
        FROM complete c JOIN pm ON pm.partition = c.partition AND pm.code = c.code
            AND pm.year = c.year
        JOIN audit_base_coef k ON k.indicator = pm.indicator AND k.code = c.code
            AND k.year = c.year AND k.a IS NOT NULL
        UNION ALL
        SELECT c.partition, c.code, c.year, k.var, -k.b
        FROM complete c JOIN audit_base_coef k ON k.indicator = c.one AND k.code = c.code
            AND k.year = c.year AND k.b IS NOT NULL
    ),
    member_const AS (
        SELECT pm.partition, pm.code, pm.year, sum(k.const) AS const
        FROM pm JOIN audit_base_const k ON k.indicator = pm.indicator AND k.code = pm.code
            AND k.year = pm.year AND k.part = 'num'
        GROUP BY ALL
    ),
    consts AS (
        SELECT c.partition, c.code, c.year,
            coalesce(m.const, 0.0) - coalesce(d.const, 0.0) AS const
        FROM complete c
        LEFT JOIN member_const m USING (partition, code, year)
        LEFT JOIN audit_base_const d ON d.indicator = c.one AND d.code = c.code
            AND d.year = c.year AND d.part = 'den'
    )
    SELECT s.partition AS k1, '' AS k2, s.code, s.year, 'partition' AS kind, -c.const AS lo, -c.const AS hi, abs(c.const) AS scale, s.var, sum(s.coef) AS coef
    FROM sides s JOIN consts c USING (partition, code, year)
    GROUP BY ALL HAVING abs(sum(s.coef)) > 1e-12
"""

_IDENTITY_ROWS_SQL = """
    WITH id_cells AS (
        SELECT a.code, a.year, a.dims = ? AS is_total, a.value, a.status, v.var
        FROM audit_src a
        LEFT JOIN audit_var v ON v.dataset = a.dataset AND v.measure = a.measure
            AND v.code = a.code AND v.year = a.year AND v.dims = a.dims AND v.unit = a.unit
        WHERE a.dataset = ? AND a.measure = ? AND a.unit = ? AND (a.dims = ? OR {parts})
    ),
    complete AS (
        SELECT code, year FROM id_cells GROUP BY ALL
        HAVING bool_or(is_total) AND bool_and(status <> 'missing') AND bool_or(var IS NOT NULL)
    ),
    terms AS (
        SELECT c.code, c.year,
            coalesce(sum(CASE WHEN var IS NULL THEN CASE WHEN is_total THEN value
                ELSE -value END END) OVER (PARTITION BY c.code, c.year), 0.0) AS k, var,
            CASE WHEN is_total THEN -1.0 ELSE 1.0 END AS coef
        FROM id_cells c SEMI JOIN complete USING (code, year)
    )
    -- Σ parts − total = 0 → Σ coef·x = known total − known parts (± slack)
    SELECT ? AS k1, '' AS k2, code, year, 'identitet' AS kind, any_value(k) - {slack} AS lo,
        any_value(k) + {slack} AS hi, abs(any_value(k)) AS scale, var, sum(coef) AS coef
    FROM terms WHERE var IS NOT NULL GROUP BY code, year, var
"""

_TEMP_TABLES = ("audit_extra", "audit_secondary", "audit_secondary_term", "audit_var",
                "audit_series", "audit_var_obs", "audit_term_id", "audit_term_series",
                "audit_base_coef", "audit_base_class",
                "audit_base_const", "audit_fact_class", "audit_cell_const", "audit_cell_row",
                "audit_cell_term", "audit_other_term", "audit_other_row")

# Which facts can narrow anything. A row's extremes over the boxes (lo ≤ x ≤ hi, hi NULL =
# unbounded) are Σ coef·lo or coef·hi by the sign of coef; a row whose published range
# contains both extremes (within rounding of the numbers it was computed from) is implied
# by the boxes and dropped. ``{terms}`` gives (row key, lo, hi, scale, coef, s_lo, s_hi,
# unbounded): one unknown (s_lo = its lo, s_hi = its hi) or a class of unknowns with the
# same coefficient in the row (s_lo = Σ lo, s_hi = Σ hi, unbounded = some hi is NULL), for
# which coef·s_lo = Σ coef·lo exactly as the sum over the class's unknowns.
_ROW_KEY = "k1, k2, code, year, kind"
_BINDING_SQL = f"""
    SELECT {_ROW_KEY}, lo, hi, NOT (
        (lo IS NULL OR (NOT min_unbounded AND row_min >= lo - ({EPS} + 1e-9 * scale)))
        AND (hi IS NULL OR (NOT max_unbounded AND row_max <= hi + ({EPS} + 1e-9 * scale)))
    ) AS binding
    FROM (
        SELECT {_ROW_KEY}, any_value(lo) AS lo, any_value(hi) AS hi,
            coalesce(any_value(scale), 0.0) AS scale,
            bool_or(coef < 0 AND unbounded) AS min_unbounded,
            bool_or(coef > 0 AND unbounded) AS max_unbounded,
            coalesce(sum(CASE WHEN coef > 0 THEN coef * s_lo ELSE coef * s_hi END), 0.0)
                AS row_min,
            coalesce(sum(CASE WHEN coef > 0 THEN coef * s_hi ELSE coef * s_lo END), 0.0)
                AS row_max
        FROM ({{terms}})
        GROUP BY {_ROW_KEY}
    )"""


def _extra_series(store: Store) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Series shown besides the cube (every grant type on the municipality page and in the
    reports) and the cells the store hides itself (secondary suppression)."""
    wanted = sorted({(d, m, u) for d, m, u, *_ in IDENTITIES})
    cond = " OR ".join("(dataset = ? AND measure = ? AND unit = ?)" for _ in wanted)
    params = [x for w in wanted for x in w]
    extra = store.query_arrays(
        "SELECT dataset, measure, region_code AS code, year, dims, unit, value, status, "
        f"lower_bound, upper_bound FROM observation WHERE {cond}", params)
    secondary = store.query_arrays(
        "SELECT dataset, measure, region_code AS code, year, dims, unit "
        "FROM observation_secondary")
    return extra, secondary


def audit(store: Store, cube: Cube) -> AuditReport:
    """Minimise and maximise every hidden cell subject to everything the cube publishes."""
    started = time.perf_counter()
    extra, secondary = _extra_series(store)
    con = cube.con
    with cube._lock:
        con.register("audit_extra_src", extra)
        con.register("audit_secondary_src", secondary)
        con.execute("""CREATE OR REPLACE TEMP TABLE audit_extra AS SELECT
            dataset::VARCHAR AS dataset, measure::VARCHAR AS measure, code::VARCHAR AS code,
            year::INTEGER AS year, dims::VARCHAR AS dims, unit::VARCHAR AS unit,
            value::DOUBLE AS value, status::VARCHAR AS status,
            lower_bound::DOUBLE AS lower_bound, upper_bound::DOUBLE AS upper_bound
            FROM audit_extra_src""")
        con.execute("""CREATE OR REPLACE TEMP TABLE audit_secondary AS SELECT
            dataset::VARCHAR AS dataset, measure::VARCHAR AS measure, code::VARCHAR AS code,
            year::INTEGER AS year, dims::VARCHAR AS dims, unit::VARCHAR AS unit
            FROM audit_secondary_src""")
        for statement in _SETUP_SQL:
            con.execute(statement)
        variables = con.execute(
            "SELECT var, dataset, measure, code, year, dims, lo, hi, protected FROM audit_var "
            "ORDER BY var").fetchall()
        # Published cells: decided per class of unknowns, then the (cell, unknown) terms of
        # the binding ones only.
        con.execute("CREATE OR REPLACE TEMP TABLE audit_cell_row AS " + _BINDING_SQL.format(
            terms=_CELL_ROWS_SQL.format(involved="audit_fact_class", classes="audit_fact_class",
                                        columns="c.s_lo, c.s_hi, c.unbounded")))
        con.execute(_BINDING_CELL_TERMS_SQL)
        cell_terms = _CELL_ROWS_SQL.format(involved="audit_cell_term", classes="audit_cell_term",
                                           columns="c.var")
        # Partitions and identities: few terms, decided per unknown.
        identities = [
            _IDENTITY_ROWS_SQL.format(parts=parts, slack=float(slack)) for
            _dataset, _measure, _unit, _total, parts, _group, slack in IDENTITIES]
        params = [p for dataset, measure, unit, total, *_ in IDENTITIES
                  for p in (total, dataset, measure, unit, total, dataset)]
        con.execute("CREATE OR REPLACE TEMP TABLE audit_other_term AS "
                    + " UNION ALL ".join(f"({q})" for q in [_PARTITION_SQL, *identities]),
                    params)
        con.execute("CREATE OR REPLACE TEMP TABLE audit_other_row AS " + _BINDING_SQL.format(
            terms="SELECT t.*, v.lo AS s_lo, v.hi AS s_hi, v.hi IS NULL AS unbounded "
                  "FROM audit_other_term t JOIN audit_var v USING (var)"))
        constraints = int(con.execute(
            "SELECT (SELECT count(*) FROM audit_cell_row) + (SELECT count(*) FROM "
            "audit_other_row)").fetchone()[0])
        binding_rows = con.execute(
            f"SELECT {_ROW_KEY}, lo, hi FROM audit_cell_row WHERE binding UNION ALL "
            f"SELECT {_ROW_KEY}, lo, hi FROM audit_other_row WHERE binding ORDER BY {_ROW_KEY}"
        ).fetchall()
        terms = con.execute(
            f"SELECT {_ROW_KEY}, var, coef FROM ({cell_terms}) SEMI JOIN (SELECT {_ROW_KEY} "
            f"FROM audit_cell_row WHERE binding) USING ({_ROW_KEY}) UNION ALL "
            f"SELECT {_ROW_KEY}, var, coef FROM audit_other_term SEMI JOIN (SELECT {_ROW_KEY} "
            f"FROM audit_other_row WHERE binding) USING ({_ROW_KEY}) ORDER BY {_ROW_KEY}, var"
        ).fetchall()
        for name in ("audit_extra_src", "audit_secondary_src"):
            con.unregister(name)
        con.execute("DROP VIEW IF EXISTS audit_src")
        for table in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")

    lower = np.array([v[6] for v in variables], dtype=float)
    upper = np.array([np.inf if v[7] is None else v[7] for v in variables], dtype=float)
    coefs_of: dict[tuple, dict[int, float]] = {}
    for *key, var, coef in terms:
        coefs_of.setdefault(tuple(key), {})[int(var)] = float(coef)
    system = LinearSystem()
    index: dict[int, int] = {}
    for *key, lo, hi in binding_rows:
        local = {}
        for var, coef in coefs_of[tuple(key)].items():
            if var not in index:
                index[var] = system.add_unknown(float(lower[var]),
                                                None if np.isinf(upper[var]) else
                                                float(upper[var]))
            local[index[var]] = coef
        system.add_row(local, lo, hi)
    binding = len(binding_rows)
    ranges = feasible_ranges(system, {k for var, k in index.items() if variables[var][8]})
    narrowed = []
    for var, k in index.items():
        v = variables[var]
        if not v[8]:
            continue  # hidden by the atlas itself, not a publisher's suppressed cell
        lo_ok = ranges.low[k] <= lower[var] + EPS * max(1.0, abs(lower[var]))
        hi_ok = (ranges.high[k] == np.inf if np.isinf(upper[var])
                 else ranges.high[k] >= upper[var] - EPS * max(1.0, abs(upper[var])))
        if not (lo_ok and hi_ok):
            narrowed.append(Narrowed(
                v[1], v[2], v[3], int(v[4]), v[5], (float(lower[var]), v[7]),
                (float(ranges.low[k]), None if np.isinf(ranges.high[k])
                 else float(ranges.high[k]))))
    return AuditReport(
        hidden_cells=len(variables), protected_cells=sum(1 for v in variables if v[8]),
        constraints=constraints, binding_constraints=binding, blocks=ranges.blocks,
        solves=ranges.solves, seconds=time.perf_counter() - started, narrowed=narrowed)
