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
   cell and is dropped. This check runs in DuckDB over all (fact, unknown) terms at once
   (millions of them: a national cell involves every hidden member); only the facts that
   remain (a few hundred) go to Python. Dropping only implied facts leaves the feasible set,
   and so every cell's interval, exactly as with all facts.
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
    """CREATE OR REPLACE TEMP TABLE audit_src AS
        SELECT dataset, measure, region_code AS code, year, dims, unit, value, status,
            lower_bound, upper_bound FROM obs
        UNION ALL
        SELECT dataset, measure, code, year, dims, unit, value, status, lower_bound,
            upper_bound FROM audit_extra""",
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
            FROM base b
            JOIN term_val t ON t.indicator = b.indicator AND t.code = b.code
                AND t.year = b.year AND t.part = 'num'
            JOIN sel s ON s.indicator = t.indicator AND s.part = t.part AND s.term = t.term
                AND s.prio = t.prio
            JOIN obs o ON o.dataset = s.dataset AND o.measure = s.measure AND o.unit = s.unit
                AND o.dims = s.dims AND o.region_code = b.code AND o.year = b.year
            WHERE b.secondary AND o.status = 'ok'
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
    """CREATE OR REPLACE TEMP TABLE audit_base_coef AS
        SELECT t.indicator, t.part, t.code, t.year, v.var, count(*)::DOUBLE AS coef,
            coalesce(sum(o.value) FILTER (WHERE o.status = 'ok'), 0.0) AS known
        FROM term_val t
        JOIN sel s ON s.indicator = t.indicator AND s.part = t.part AND s.term = t.term
            AND s.prio = t.prio AND NOT s.is_count
        JOIN obs o ON o.dataset = s.dataset AND o.measure = s.measure AND o.unit = s.unit
            AND o.dims = s.dims AND o.region_code = t.code AND o.year = t.year
        JOIN audit_var v ON v.dataset = o.dataset AND v.measure = o.measure
            AND v.code = o.region_code AND v.year = o.year AND v.dims = o.dims
            AND v.unit = o.unit
        GROUP BY ALL""",
    """CREATE OR REPLACE TEMP TABLE audit_base_const AS
        SELECT b.indicator, p.part, b.code, b.year,
            CASE p.part WHEN 'num' THEN coalesce(b.num, 0.0) ELSE coalesce(b.den, 0.0) END
                - coalesce((SELECT sum(k.known) FROM audit_base_coef k
                    WHERE k.indicator = b.indicator AND k.code = b.code AND k.year = b.year
                    AND k.part = p.part), 0.0) AS const
        FROM base b, (SELECT 'num' AS part UNION ALL SELECT 'den') p""",
    # Published cells that contain an unknown, and the members they add up.
    """CREATE OR REPLACE TEMP TABLE audit_cell_coef AS
        WITH candidates AS (
            SELECT k.indicator, i.base_level AS level, k.code, k.year, k.part, k.var, k.coef
            FROM audit_base_coef k JOIN ind i USING (indicator)
            UNION ALL
            SELECT k.indicator, m.level, m.group_code, k.year, k.part, k.var, k.coef
            FROM audit_base_coef k
            JOIN ind i ON i.indicator = k.indicator AND i.aggregation = 'sum'
                AND i.base_level = 'kommune'
            JOIN base b ON b.indicator = k.indicator AND b.code = k.code AND b.year = k.year
                AND (b.status IN ('ok', 'suppressed') OR b.zero_den)
            JOIN membership m ON m.member = k.code AND m.level <> 'kommune'
        )
        SELECT k.indicator, k.level, k.code, k.year, k.part, k.var, sum(k.coef) AS coef
        FROM candidates k
        SEMI JOIN cells c ON c.indicator = k.indicator AND c.level = k.level
            AND c.code = k.code AND c.year = k.year
            AND c.status IN ('ok', 'intervall', 'suppressed')
        GROUP BY ALL""",
    """CREATE OR REPLACE TEMP TABLE audit_cell_const AS
        WITH involved AS (SELECT DISTINCT indicator, level, code, year FROM audit_cell_coef),
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

# Every published fact that involves an unknown, as rows lo ≤ Σ coef·x ≤ hi:
# (row key, var, coef) and (row key, lo, hi).
_ROWS_SQL = """
    WITH involved AS (
        SELECT DISTINCT indicator, level, code, year FROM audit_cell_coef
    ),
    facts AS (
        SELECT c.*, i.kind, i.multiplier,
            coalesce(n.const, 0.0) AS num_const, coalesce(d.const, 0.0) AS den_const
        FROM cells c
        SEMI JOIN involved v USING (indicator, level, code, year)
        JOIN ind i USING (indicator)
        LEFT JOIN audit_cell_const n ON n.indicator = c.indicator AND n.level = c.level
            AND n.code = c.code AND n.year = c.year AND n.part = 'num'
        LEFT JOIN audit_cell_const d ON d.indicator = c.indicator AND d.level = c.level
            AND d.code = c.code AND d.year = c.year AND d.part = 'den'
    ),
    coef AS (
        SELECT f.indicator, f.level, f.code, f.year, k.var,
            sum(k.coef) FILTER (WHERE k.part = 'num') AS a,
            sum(k.coef) FILTER (WHERE k.part = 'den') AS b
        FROM facts f JOIN audit_cell_coef k USING (indicator, level, code, year)
        GROUP BY ALL
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
        SELECT r.indicator, r.level, r.code, r.year, r.kind, c.var,
            CASE r.kind WHEN 'num' THEN c.a WHEN 'den' THEN c.b
                 WHEN 'count' THEN f.multiplier * c.a
                 WHEN 'rate_lo' THEN f.multiplier * coalesce(c.a, 0) - f.lower * coalesce(c.b, 0)
                 ELSE f.multiplier * coalesce(c.a, 0) - f.upper * coalesce(c.b, 0) END AS coef
        FROM row_defs r
        JOIN coef c USING (indicator, level, code, year)
        JOIN facts f USING (indicator, level, code, year)
    )
    SELECT r.indicator AS k1, r.level AS k2, r.code, r.year, r.kind, r.lo, r.hi, r.scale,
        k.var, k.coef
    FROM row_defs r JOIN row_coef k USING (indicator, level, code, year, kind)
    WHERE k.coef IS NOT NULL AND abs(k.coef) > 1e-12
"""

# The partitions of the catalogue at base level: Σ members' numerators = the total.
_PARTITION_SQL = """
    WITH pm AS (
        SELECT p.partition, b.indicator, b.code, b.year, b.status, b.zero_den
        FROM base b JOIN part_members p USING (indicator)
    ),
    sizes AS (SELECT partition, count(*) AS n FROM part_members GROUP BY ALL),
    involved AS (
        SELECT DISTINCT pm.partition, pm.code, pm.year
        FROM pm SEMI JOIN audit_base_coef k ON k.indicator = pm.indicator
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
        SELECT c.partition, c.code, c.year, k.var, k.coef AS coef
        FROM complete c JOIN pm ON pm.partition = c.partition AND pm.code = c.code
            AND pm.year = c.year
        JOIN audit_base_coef k ON k.indicator = pm.indicator AND k.code = c.code
            AND k.year = c.year AND k.part = 'num'
        UNION ALL
        SELECT c.partition, c.code, c.year, k.var, -k.coef
        FROM complete c JOIN audit_base_coef k ON k.indicator = c.one AND k.code = c.code
            AND k.year = c.year AND k.part = 'den'
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

# Which facts can narrow anything. A row's extremes over the boxes (lo ≤ x ≤ hi, hi NULL =
# unbounded) are Σ coef·lo or coef·hi by the sign of coef; a row whose published range
# contains both extremes (within rounding of the numbers it was computed from) is implied
# by the boxes and dropped. Computed here, in one pass over all (row, unknown) terms, so
# only the few binding rows reach Python and HiGHS.
_ROW_KEY = "k1, k2, code, year, kind"
_BINDING_SQL = f"""CREATE OR REPLACE TEMP TABLE audit_row AS
    SELECT {_ROW_KEY}, lo, hi, NOT (
        (lo IS NULL OR (NOT min_unbounded AND row_min >= lo - ({EPS} + 1e-9 * scale)))
        AND (hi IS NULL OR (NOT max_unbounded AND row_max <= hi + ({EPS} + 1e-9 * scale)))
    ) AS binding
    FROM (
        SELECT {_ROW_KEY}, any_value(t.lo) AS lo, any_value(t.hi) AS hi,
            coalesce(any_value(t.scale), 0.0) AS scale,
            bool_or(t.coef < 0 AND v.hi IS NULL) AS min_unbounded,
            bool_or(t.coef > 0 AND v.hi IS NULL) AS max_unbounded,
            coalesce(sum(CASE WHEN t.coef > 0 THEN t.coef * v.lo ELSE t.coef * v.hi END),
                0.0) AS row_min,
            coalesce(sum(CASE WHEN t.coef > 0 THEN t.coef * v.hi ELSE t.coef * v.lo END),
                0.0) AS row_max
        FROM audit_term t JOIN (SELECT var, lo, hi FROM audit_var) v USING (var)
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
        identities = [
            _IDENTITY_ROWS_SQL.format(parts=parts, slack=float(slack)) for
            _dataset, _measure, _unit, _total, parts, _group, slack in IDENTITIES]
        params = [p for dataset, measure, unit, total, *_ in IDENTITIES
                  for p in (total, dataset, measure, unit, total, dataset)]
        con.execute("CREATE OR REPLACE TEMP TABLE audit_term AS "
                    + " UNION ALL ".join(f"({q})" for q in
                                         [_ROWS_SQL, _PARTITION_SQL, *identities]), params)
        con.execute(_BINDING_SQL)
        constraints = int(con.execute("SELECT count(*) FROM audit_row").fetchone()[0])
        binding_rows = con.execute(
            f"SELECT {_ROW_KEY}, lo, hi FROM audit_row WHERE binding ORDER BY {_ROW_KEY}"
        ).fetchall()
        terms = con.execute(
            f"SELECT {_ROW_KEY}, var, coef FROM audit_term SEMI JOIN (SELECT {_ROW_KEY} "
            f"FROM audit_row WHERE binding) USING ({_ROW_KEY}) ORDER BY {_ROW_KEY}, var"
        ).fetchall()
        for name in ("audit_extra_src", "audit_secondary_src"):
            con.unregister(name)
        for table in ("audit_term", "audit_row"):
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
