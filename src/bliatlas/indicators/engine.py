"""The indicator engine: every indicator for every region, level and year, in one pass.

:func:`build_cube` reads the observations the catalogue needs from the store once and
computes the whole *cube* with a handful of set-based DuckDB statements in an in-memory
database:

1. **base cells** — for each indicator, region at its base level (municipality, or county
   for series published per county) and year: numerator, denominator, value, status and
   the reason when there is no value. A value built on a suppressed cell is suppressed.
2. **primary suppression within partitions** — where indicators split one total (the
   reasons for immigration), a lone suppressed member would be recoverable as total minus
   the others; the smallest other member is then suppressed as well (*secondary
   suppression*).
3. **aggregates** — county, centrality class (1–6), district (5–6) / non-district,
   KOSTRA group and national, recomputed from summed numerators and denominators. An
   aggregate whose members include a suppressed municipality (primary or secondary) is
   itself suppressed: its exact total is unknown, and any total that included the
   hidden cell could be differenced against the published members to reveal it. So
   every published aggregate equals the sum of published municipal cells.
4. **peers and trends** — per municipality and indicator, in the latest year the
   municipality has a value: rank (1 = best; for neutral indicators 1 = highest),
   percentile and median among municipalities with a published value in the same
   centrality class, KOSTRA group, county and nationally (counties among counties); and
   the change since the first year with a value. Suppressed values take no part.

Crossing groupings (centrality, KOSTRA, district) need no extra rule: every published
aggregate at every level is a sum of published municipal cells only, so no combination
of totals (county minus its municipalities, national minus counties, a centrality class
minus a KOSTRA group, ...) isolates a suppressed cell. Tests run this differencing attack.

The cube is immutable once built and is held in memory as DuckDB tables (``cells``,
``peers``, ``groups``) with cached lookups per region and per indicator slice.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from bliatlas.errors import NotFound
from bliatlas.indicators.catalogue import Catalogue, Indicator, load_catalogue
from bliatlas.store import Store

LEVELS: tuple[str, ...] = ("kommune", "fylke", "sentralitet", "distrikt", "kostra", "nasjonal")
LEVEL_NAMES_NB: dict[str, str] = {
    "kommune": "kommune",
    "fylke": "fylke",
    "sentralitet": "sentralitetsklasse",
    "distrikt": "distrikt / ikke distrikt",
    "kostra": "KOSTRA-gruppe",
    "nasjonal": "hele landet",
}
PEER_GROUPS: tuple[str, ...] = ("sentralitet", "kostra", "fylke", "alle")
PEER_GROUP_NAMES_NB: dict[str, str] = {
    "sentralitet": "samme sentralitetsklasse",
    "kostra": "samme KOSTRA-gruppe",
    "fylke": "samme fylke",
    "alle": "alle kommuner",
}
NATIONAL_CODE = "NO"
DISTRICT_CODE = "distrikt"
NON_DISTRICT_CODE = "ikke-distrikt"

CELL_COLUMNS = (
    "indicator", "level", "code", "year", "value", "numerator", "denominator", "status",
    "reason", "n_members", "n_ok", "n_suppressed", "coverage",
)
PEER_COLUMNS = (
    "indicator", "code", "year", "peer_group", "peer_code", "rank", "n", "percentile",
    "median", "first_year", "first_value", "change",
)


@dataclass
class Cube:
    """All indicator values, held in memory in DuckDB tables. Build with :func:`build_cube`.

    ``cells`` holds one row per indicator × level × region × year (``CELL_COLUMNS``);
    ``peers`` one row per indicator × region × year × peer group (``PEER_COLUMNS``);
    ``groups`` every region and aggregate group. Lookups are cached per key.
    """

    catalogue: Catalogue
    regions: dict[tuple[str, str], dict[str, Any]]  # (level, code) -> region/group row
    imports: dict[int, dict[str, Any]]
    years: dict[str, list[int]]  # indicator id -> years with at least one value
    indicator_imports: dict[str, list[int]]  # indicator id -> imports it reads
    build_seconds: float
    con: duckdb.DuckDBPyConnection = field(repr=False)
    _cache: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- lookups -----------------------------------------------------------------------
    def region(self, code: str) -> dict[str, Any]:
        """A municipality (4 digits) or county (2 digits) by its 2024 code."""
        for level in ("kommune", "fylke"):
            reg = self.regions.get((level, code))
            if reg is not None:
                return reg
        raise NotFound(
            f"ukjent region {code!r}: forventet et kommunenummer (4 siffer) eller "
            "fylkesnummer (2 siffer) fra 2024-inndelingen"
        )

    def group(self, level: str, code: str) -> dict[str, Any]:
        check_level(level)
        reg = self.regions.get((level, code))
        if reg is None:
            raise NotFound(f"ukjent kode {code!r} på nivå {level!r}")
        return reg

    def _cached(self, key: tuple[Any, ...], sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._cache.get(key)
            if rows is None:
                rows = self.rows(sql, params)
                self._cache[key] = rows
            return rows

    def preload(self) -> None:
        """Fill the per-region and per-municipality peer lookups for every region in two
        queries (for bulk work such as rendering all 357 reports)."""
        per_region: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in self.regions}
        for row in self.rows(f"SELECT {', '.join(CELL_COLUMNS)} FROM cells "
                             "ORDER BY level, code, indicator, year"):
            per_region.setdefault((row["level"], row["code"]), []).append(row)
        peers: dict[str, list[dict[str, Any]]] = {code: [] for (_, code) in self.regions}
        for row in self.rows(f"SELECT {', '.join(PEER_COLUMNS)} FROM peers "
                             "ORDER BY code, indicator, year, peer_group"):
            peers.setdefault(row["code"], []).append(row)
        with self._lock:
            for (level, code), rows in per_region.items():
                self._cache.setdefault(("region", level, code), rows)
            for code, rows in peers.items():
                self._cache.setdefault(("peers", code), rows)

    def imports_for(self, indicator: str, level: str, code: str) -> list[int]:
        """The imports whose values one region's series of an indicator is built from (a
        county: its own series and its municipalities')."""
        rows = self._cached(
            ("imports", indicator, level, code),
            "SELECT DISTINCT import_id FROM region_imports WHERE indicator = ? AND (code = ? "
            "OR (? = 'fylke' AND code IN (SELECT code FROM reg WHERE level = 'kommune' "
            "AND county_code = ?))) ORDER BY import_id",
            [indicator, code, level, code],
        )
        return [r["import_id"] for r in rows]

    def cells_for(self, level: str, code: str) -> list[dict[str, Any]]:
        """All cells of one region (every indicator and year), by indicator and year."""
        return self._cached(
            ("region", level, code),
            f"SELECT {', '.join(CELL_COLUMNS)} FROM cells WHERE level = ? AND code = ? "
            "ORDER BY indicator, year",
            [level, code],
        )

    def cell(self, indicator: str, level: str, code: str, year: int) -> dict[str, Any] | None:
        for cell in self.cells_for(level, code):
            if cell["indicator"] == indicator and cell["year"] == year:
                return cell
        return None

    def slice(self, indicator: str, level: str, year: int) -> list[dict[str, Any]]:
        """All cells of one indicator at one level and year, ordered by region code."""
        return self._cached(
            ("slice", indicator, level, year),
            f"SELECT {', '.join(CELL_COLUMNS)} FROM cells WHERE indicator = ? AND level = ? "
            "AND year = ? ORDER BY code",
            [indicator, level, year],
        )

    def peers_for(self, code: str) -> list[dict[str, Any]]:
        return self._cached(
            ("peers", code),
            f"SELECT {', '.join(PEER_COLUMNS)} FROM peers WHERE code = ? "
            "ORDER BY indicator, year, peer_group",
            [code],
        )

    def latest_year(self, indicator: str) -> int | None:
        years = self.years.get(indicator) or []
        return years[-1] if years else None

    def levels_for(self, indicator: Indicator) -> tuple[str, ...]:
        if indicator.aggregation == "none":
            return (indicator.base_level,)
        return LEVELS

    def rows(self, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run SQL against the cube tables (``cells``, ``peers``, ``groups``) as dicts."""
        with self._lock:
            return _fetch_dicts(self.con, query, params)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run SQL against the cube tables as tuples."""
        with self._lock:
            return self.con.execute(query, params or []).fetchall()


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise NotFound(f"ukjent nivå {level!r}: velg ett av {', '.join(LEVELS)}")
    return level


# -- building --------------------------------------------------------------------------------


def _selector_rows(catalogue: Catalogue) -> list[tuple[Any, ...]]:
    """One row per (indicator, part, term, priority, exact dims string)."""
    rows = []
    for ind in catalogue.indicators:
        for part, terms in (("num", ind.numerator), ("den", ind.denominator or [])):
            for t_idx, term in enumerate(terms):
                for prio, sel in enumerate(term.any_of):
                    dims_list = sel.dims_strings()
                    identity = json.dumps(sel.model_dump(), sort_keys=True, ensure_ascii=False)
                    for dims in dims_list:
                        rows.append(
                            (ind.id, part, t_idx, prio, sel.dataset, sel.measure, sel.unit, dims,
                             sel.count, len(dims_list), sel.describe(), identity,
                             sel.absent_is_zero)
                        )
    return rows


def _indicator_rows(catalogue: Catalogue) -> list[tuple[Any, ...]]:
    return [
        (ind.id, ind.kind, ind.multiplier, ind.aggregation, ind.base_level, ind.min_coverage,
         len(ind.numerator), len(ind.denominator or []))
        for ind in catalogue.indicators
    ]


def _columns(rows: list[tuple[Any, ...]], names: list[str]) -> dict[str, np.ndarray]:
    cols = list(zip(*rows)) if rows else [[] for _ in names]
    return {n: np.array(c, dtype=object) for n, c in zip(names, cols)}


def build_cube(store: Store, catalogue: Catalogue | None = None) -> Cube:
    """Compute the full cube from the store (read-only)."""
    started = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    sel_rows = _selector_rows(catalogue)
    keys = sorted({(r[4], r[5], r[6], r[7]) for r in sel_rows})
    wanted = [list(col) for col in zip(*keys)] if keys else [[], [], [], []]
    obs = store.query_arrow(
        "SELECT o.dataset, o.measure, o.region_code, o.year, o.dims, o.unit, o.value, o.status, "
        "o.import_id FROM observation o SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS dataset, "
        "unnest(?::VARCHAR[]) AS measure, unnest(?::VARCHAR[]) AS unit, "
        "unnest(?::VARCHAR[]) AS dims) w ON o.dataset = w.dataset AND o.measure = w.measure "
        "AND o.unit = w.unit AND o.dims = w.dims",
        wanted,
    )
    regions = store.query_arrays(
        "SELECT code, level, name, short_name, county_code, centrality, kostra_group, robek "
        "FROM region"
    )
    imports = {
        int(r["import_id"]): r
        for r in store.query(
            "SELECT import_id, publisher, dataset, source, content_sha256, licence, imported_at "
            "FROM import"
        )
    }

    con = duckdb.connect(":memory:")
    con.register("obs_src", obs)
    con.register("region_src", regions)
    sel_names = ["indicator", "part", "term", "prio", "dataset", "measure", "unit", "dims",
                 "is_count", "n_expected", "label", "identity", "absent_zero"]
    con.register("sel_src", _columns(sel_rows, sel_names))
    ind_names = ["indicator", "kind", "multiplier", "aggregation", "base_level", "min_coverage",
                 "n_num", "n_den"]
    con.register("ind_src", _columns(_indicator_rows(catalogue), ind_names))
    part_rows = [(p.id, m) for p in catalogue.partitions for m in p.members]
    con.register("partition_src", _columns(part_rows, ["partition", "indicator"]))
    con.register("direction_src", _columns(_direction_rows(catalogue), ["indicator", "direction"]))
    diff_rows = [(ind.id, *ind.difference_of, ind.multiplier)
                 for ind in catalogue.indicators if ind.kind == "difference"]
    con.register("diff_src", _columns(diff_rows, ["indicator", "a", "b", "multiplier"]))

    for statement in _BUILD_SQL:
        con.execute(statement)

    groups = _fetch_dicts(con, "SELECT * FROM groups")
    years: dict[str, list[int]] = {ind.id: [] for ind in catalogue.indicators}
    for ind_id, year in con.execute(
        "SELECT DISTINCT indicator, year FROM cells WHERE status = 'ok' ORDER BY 1, 2"
    ).fetchall():
        years[ind_id].append(int(year))
    indicator_imports: dict[str, list[int]] = {ind.id: [] for ind in catalogue.indicators}
    for ind_id, import_id in con.execute(
        "SELECT indicator, import_id FROM indicator_imports ORDER BY 1, 2"
    ).fetchall():
        indicator_imports[ind_id].append(int(import_id))
    return Cube(
        catalogue=catalogue,
        indicator_imports=indicator_imports,
        regions={(g["level"], g["code"]): g for g in groups},
        imports=imports,
        years=years,
        build_seconds=time.perf_counter() - started,
        con=con,
    )


def _fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


_BUILD_SQL: list[str] = [
    # Types normalised once.
    """CREATE TABLE sel AS SELECT indicator::VARCHAR AS indicator, part::VARCHAR AS part,
        term::INTEGER AS term, prio::INTEGER AS prio, dataset::VARCHAR AS dataset,
        measure::VARCHAR AS measure, unit::VARCHAR AS unit, dims::VARCHAR AS dims,
        is_count::BOOLEAN AS is_count, n_expected::INTEGER AS n_expected,
        label::VARCHAR AS label, identity::VARCHAR AS identity,
        absent_zero::BOOLEAN AS absent_zero FROM sel_src""",
    """CREATE TABLE ind AS SELECT indicator::VARCHAR AS indicator, kind::VARCHAR AS kind,
        multiplier::DOUBLE AS multiplier, aggregation::VARCHAR AS aggregation,
        base_level::VARCHAR AS base_level, min_coverage::DOUBLE AS min_coverage,
        n_num::INTEGER AS n_num, n_den::INTEGER AS n_den FROM ind_src""",
    """CREATE TABLE part_members AS SELECT partition::VARCHAR AS partition,
        indicator::VARCHAR AS indicator FROM partition_src""",
    """CREATE TABLE direction AS SELECT indicator::VARCHAR AS indicator,
        direction::VARCHAR AS direction FROM direction_src""",
    """CREATE TABLE diff AS SELECT indicator::VARCHAR AS indicator, a::VARCHAR AS a,
        b::VARCHAR AS b, multiplier::DOUBLE AS multiplier FROM diff_src""",
    # Python-object columns are converted once, not on every scan.
    """CREATE TABLE obs AS SELECT dataset::VARCHAR AS dataset, measure::VARCHAR AS measure,
        region_code::VARCHAR AS region_code, year::INTEGER AS year, dims::VARCHAR AS dims,
        unit::VARCHAR AS unit, value::DOUBLE AS value, status::VARCHAR AS status,
        import_id::INTEGER AS import_id FROM obs_src""",
    """CREATE TABLE reg AS SELECT code::VARCHAR AS code, level::VARCHAR AS level,
        name::VARCHAR AS name, short_name::VARCHAR AS short_name,
        county_code::VARCHAR AS county_code, centrality::INTEGER AS centrality,
        kostra_group::VARCHAR AS kostra_group, robek::BOOLEAN AS robek FROM region_src""",
    # Every published group: municipalities, counties and the crossing groupings.
    """CREATE TABLE membership AS
        SELECT code AS member, 'kommune' AS level, code AS group_code FROM reg
            WHERE level = 'kommune'
        UNION ALL SELECT code, 'fylke', county_code FROM reg WHERE level = 'kommune'
        UNION ALL SELECT code, 'sentralitet', centrality::VARCHAR FROM reg
            WHERE level = 'kommune' AND centrality IS NOT NULL
        UNION ALL SELECT code, 'distrikt',
            CASE WHEN centrality >= 5 THEN 'distrikt' ELSE 'ikke-distrikt' END FROM reg
            WHERE level = 'kommune' AND centrality IS NOT NULL
        UNION ALL SELECT code, 'kostra', kostra_group FROM reg
            WHERE level = 'kommune' AND kostra_group IS NOT NULL
        UNION ALL SELECT code, 'nasjonal', 'NO' FROM reg WHERE level = 'kommune'""",
    """CREATE TABLE groups AS
        SELECT m.level, m.group_code AS code,
            CASE m.level
                WHEN 'kommune' THEN any_value(r.name)
                WHEN 'fylke' THEN any_value(f.name)
                WHEN 'sentralitet' THEN 'Sentralitetsklasse ' || m.group_code
                WHEN 'distrikt' THEN CASE m.group_code WHEN 'distrikt'
                    THEN 'Distriktskommuner (sentralitet 5–6)'
                    ELSE 'Øvrige kommuner (sentralitet 1–4)' END
                WHEN 'kostra' THEN 'KOSTRA-gruppe ' || ltrim(substr(m.group_code, 4), '0')
                ELSE 'Hele landet' END AS name,
            CASE m.level
                WHEN 'kommune' THEN any_value(r.short_name)
                WHEN 'fylke' THEN any_value(f.short_name)
                WHEN 'sentralitet' THEN 'Sentralitet ' || m.group_code
                WHEN 'distrikt' THEN CASE m.group_code WHEN 'distrikt'
                    THEN 'Distriktskommuner' ELSE 'Øvrige kommuner' END
                WHEN 'kostra' THEN 'KOSTRA ' || ltrim(substr(m.group_code, 4), '0')
                ELSE 'Hele landet' END AS short_name,
            CASE WHEN m.level = 'kommune' THEN any_value(r.county_code) END AS county_code,
            CASE WHEN m.level = 'kommune' THEN any_value(r.centrality) END AS centrality,
            CASE WHEN m.level = 'kommune' THEN any_value(r.kostra_group) END AS kostra_group,
            CASE WHEN m.level = 'kommune' THEN any_value(r.robek) END AS robek,
            count(*)::INTEGER AS n_members
        FROM membership m
        JOIN reg r ON r.code = m.member
        LEFT JOIN reg f ON f.level = 'fylke' AND f.code = m.group_code AND m.level = 'fylke'
        GROUP BY m.level, m.group_code
        UNION ALL
        SELECT 'fylke', f.code, f.name, f.short_name, NULL, NULL, NULL, NULL, 0
        FROM reg f WHERE f.level = 'fylke'
            AND f.code NOT IN (SELECT county_code FROM reg WHERE level = 'kommune'
                               AND county_code IS NOT NULL)""",
    # 1. Observations matched to selectors, one row per source alternative.
    # Each distinct selector (the same list of cells often serves several indicators, e.g.
    # a total over 245 countries as numerator of one and denominator of others) is
    # matched against the observations once, then shared.
    """CREATE TABLE sel_key AS
        SELECT DISTINCT dataset, measure, unit, dims, is_count, n_expected, label, identity,
            absent_zero, dense_rank() OVER (ORDER BY identity) AS sk
        FROM sel""",
    """CREATE TABLE sel_term AS
        SELECT DISTINCT s.indicator, s.part, s.term, s.prio, k.sk
        FROM sel s JOIN sel_key k USING (identity, dims)""",
    """CREATE TABLE key_alt AS
        SELECT k.sk, o.region_code AS code, o.year::INTEGER AS year,
            sum(CASE WHEN o.status = 'ok'
                     THEN CASE WHEN k.is_count THEN 1.0 ELSE o.value END END) AS v,
            bool_or(o.status = 'suppressed') AS any_suppressed,
            bool_or(o.status = 'missing')
                OR (NOT any_value(k.absent_zero) AND count(*) < any_value(k.n_expected))
                AS any_missing,
            min(CASE WHEN o.status = 'suppressed' THEN k.label END) AS suppressed_label
        FROM sel_key k
        JOIN obs o ON o.dataset = k.dataset AND o.measure = k.measure
            AND o.unit = k.unit AND o.dims = k.dims
        GROUP BY ALL""",
    """CREATE TABLE term_alt AS
        SELECT t.indicator, t.part, t.term, t.prio, a.code, a.year, a.v, a.any_suppressed,
            a.any_missing, a.suppressed_label
        FROM sel_term t JOIN key_alt a USING (sk)""",
    # Which imports each indicator reads for each published region (provenance per region).
    """CREATE TABLE key_imports AS
        SELECT DISTINCT k.sk, o.region_code AS code, o.import_id::INTEGER AS import_id,
            o.status <> 'missing' AS has_value
        FROM (SELECT DISTINCT sk, dataset, measure, unit, dims FROM sel_key) k
        JOIN obs o ON o.dataset = k.dataset AND o.measure = k.measure
            AND o.unit = k.unit AND o.dims = k.dims""",
    """CREATE TABLE region_imports AS
        SELECT DISTINCT t.indicator, i.code, i.import_id
        FROM (SELECT DISTINCT indicator, sk FROM sel_term) t JOIN key_imports i USING (sk)
        WHERE i.has_value""",
    # Which imports each indicator reads (provenance).
    """CREATE TABLE indicator_imports AS
        SELECT DISTINCT t.indicator, i.import_id
        FROM (SELECT DISTINCT indicator, sk FROM sel_term) t
        JOIN (SELECT DISTINCT sk, import_id FROM key_imports) i USING (sk)""",
    # Per term: the first alternative that has the region and year (and is not wholly
    # missing); a suppressed alternative is kept, never skipped for a later source.
    """CREATE TABLE term_val AS
        SELECT indicator, part, term, code, year,
            arg_min(struct_pack(v, any_suppressed, any_missing, suppressed_label),
                    (any_missing AND NOT any_suppressed)::INTEGER * 1000 + prio) AS t
        FROM term_alt GROUP BY ALL""",
    # 2. Base cells (municipality, or county for county-published series).
    """CREATE TABLE base AS
        WITH parts AS (
            SELECT indicator, code, year,
                sum(t.v) FILTER (WHERE part = 'num') AS num,
                count(*) FILTER (WHERE part = 'num') AS num_terms,
                bool_or(t.any_suppressed) FILTER (WHERE part = 'num') AS num_supp,
                bool_or(t.any_missing) FILTER (WHERE part = 'num') AS num_miss,
                sum(t.v) FILTER (WHERE part = 'den') AS den,
                count(*) FILTER (WHERE part = 'den') AS den_terms,
                bool_or(t.any_suppressed) FILTER (WHERE part = 'den') AS den_supp,
                bool_or(t.any_missing) FILTER (WHERE part = 'den') AS den_miss,
                min(t.suppressed_label) AS suppressed_label
            FROM term_val GROUP BY ALL
        )
        SELECT p.indicator, i.base_level AS level, p.code, p.year, i.kind, i.multiplier,
            p.num, p.den,
            CASE
                WHEN coalesce(p.num_supp, false) OR coalesce(p.den_supp, false) THEN 'suppressed'
                WHEN p.num IS NULL OR p.num_miss OR p.num_terms < i.n_num THEN 'missing'
                WHEN i.n_den > 0 AND (p.den IS NULL OR p.den_miss OR p.den_terms < i.n_den)
                    THEN 'missing'
                WHEN i.n_den > 0 AND p.den = 0 THEN 'missing'
                ELSE 'ok' END AS status,
            CASE
                WHEN coalesce(p.num_supp, false) OR coalesce(p.den_supp, false)
                    THEN 'Skjermet: bygger på en celle kilden har skjermet (færre enn 5) i '
                        || p.suppressed_label
                WHEN p.num IS NULL OR p.num_miss OR p.num_terms < i.n_num
                    THEN 'Mangler: telleren finnes ikke for dette året'
                WHEN i.n_den > 0 AND (p.den IS NULL OR p.den_miss OR p.den_terms < i.n_den)
                    THEN 'Mangler: nevneren finnes ikke for dette året'
                WHEN i.n_den > 0 AND p.den = 0 THEN 'Ikke beregnet: nevneren er null'
                END AS reason
        FROM parts p
        JOIN ind i USING (indicator)
        JOIN reg r ON r.code = p.code AND r.level = i.base_level
        WHERE p.num_terms > 0""",
    # 3. Secondary suppression within partitions at the base level.
    """CREATE TABLE base_sec AS
        WITH pm AS (
            SELECT b.*, p.partition,
                count(*) FILTER (WHERE b.status = 'suppressed')
                    OVER (PARTITION BY p.partition, b.code, b.year) AS n_supp,
                count(*) FILTER (WHERE b.status = 'ok')
                    OVER (PARTITION BY p.partition, b.code, b.year) AS n_ok_members,
                row_number() OVER (PARTITION BY p.partition, b.code, b.year
                    ORDER BY (b.status <> 'ok'), b.num, b.indicator) AS ok_order,
                first(CASE WHEN b.status = 'suppressed' THEN b.indicator END IGNORE NULLS)
                    OVER (PARTITION BY p.partition, b.code, b.year
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                    AS hidden
            FROM base b JOIN part_members p USING (indicator)
        )
        SELECT indicator, code, year,
            'Sekundærskjermet: vises ikke fordi skjermet verdi for «' || hidden
                || '» ellers kunne regnes ut som total minus de andre' AS reason
        FROM pm WHERE n_supp = 1 AND n_ok_members >= 1 AND status = 'ok' AND ok_order = 1""",
    """UPDATE base SET status = 'suppressed', reason = s.reason
        FROM base_sec s WHERE base.indicator = s.indicator AND base.code = s.code
            AND base.year = s.year""",
    # 4. Aggregates from municipal numerators and denominators.
    """CREATE TABLE agg AS
        WITH member_cells AS (
            SELECT b.*, m.level AS agg_level, m.group_code
            FROM base b JOIN ind i USING (indicator)
            JOIN membership m ON m.member = b.code
            WHERE i.aggregation = 'sum' AND b.level = 'kommune' AND m.level <> 'kommune'
        )
        SELECT c.indicator, c.agg_level AS level, c.group_code AS code, c.year,
            any_value(c.kind) AS kind, any_value(c.multiplier) AS multiplier,
            sum(c.num) FILTER (WHERE c.status = 'ok') AS num,
            sum(c.den) FILTER (WHERE c.status = 'ok') AS den,
            count(*) FILTER (WHERE c.status = 'ok')::INTEGER AS n_ok,
            count(*) FILTER (WHERE c.status = 'suppressed')::INTEGER AS n_suppressed
        FROM member_cells c GROUP BY ALL""",
    """CREATE TABLE cells AS
        SELECT b.indicator, b.level, b.code, b.year,
            CASE WHEN b.status = 'ok' THEN
                CASE WHEN b.kind = 'ratio' THEN b.multiplier * b.num / b.den
                     ELSE b.multiplier * b.num END END AS value,
            CASE WHEN b.status = 'suppressed' THEN NULL ELSE b.num END AS numerator,
            b.den AS denominator, b.status, b.reason,
            1 AS n_members,
            (b.status = 'ok')::INTEGER AS n_ok,
            (b.status = 'suppressed')::INTEGER AS n_suppressed,
            (b.status = 'ok')::INTEGER::DOUBLE AS coverage
        FROM base b
        UNION ALL
        SELECT a.indicator, a.level, a.code, a.year,
            CASE WHEN st.status = 'ok' THEN
                CASE WHEN a.kind = 'ratio' THEN a.multiplier * a.num / a.den
                     ELSE a.multiplier * a.num END END,
            CASE WHEN st.status = 'ok' THEN a.num END,
            CASE WHEN st.status = 'ok' THEN a.den END,
            st.status, st.reason, g.n_members, a.n_ok, a.n_suppressed,
            a.n_ok / g.n_members
        FROM agg a
        JOIN ind i USING (indicator)
        JOIN groups g ON g.level = a.level AND g.code = a.code,
        LATERAL (SELECT
            CASE WHEN a.n_suppressed > 0 THEN 'suppressed'
                 WHEN a.n_ok = 0 OR a.n_ok < i.min_coverage * g.n_members THEN 'missing'
                 WHEN a.kind = 'ratio' AND a.den = 0 THEN 'missing'
                 ELSE 'ok' END AS status,
            CASE WHEN a.n_suppressed > 0 THEN 'Skjermet: omfatter ' || a.n_suppressed
                    || ' kommune(r) med skjermet verdi; summen kunne avsløre dem'
                 WHEN a.n_ok = 0 THEN 'Mangler: ingen kommuner har tall'
                 WHEN a.n_ok < i.min_coverage * g.n_members THEN 'Mangler: bare ' || a.n_ok
                    || ' av ' || g.n_members || ' kommuner har tall'
                 WHEN a.kind = 'ratio' AND a.den = 0 THEN 'Ikke beregnet: nevneren er null'
                 END AS reason) st""",
    # Secondary suppression again at aggregate levels (defensive: with member-based
    # aggregate suppression a lone suppressed partition member cannot arise, but the
    # rule is cheap and keeps the guarantee local).
    """CREATE TABLE agg_sec AS
        WITH pm AS (
            SELECT c.*, p.partition,
                count(*) FILTER (WHERE c.status = 'suppressed')
                    OVER (PARTITION BY p.partition, c.level, c.code, c.year) AS n_supp,
                row_number() OVER (PARTITION BY p.partition, c.level, c.code, c.year
                    ORDER BY (c.status <> 'ok'), c.numerator, c.indicator) AS ok_order
            FROM cells c JOIN part_members p USING (indicator) WHERE c.level <> 'kommune'
        )
        SELECT indicator, level, code, year FROM pm
        WHERE n_supp = 1 AND status = 'ok' AND ok_order = 1""",
    """UPDATE cells SET status = 'suppressed', value = NULL, numerator = NULL,
            reason = 'Sekundærskjermet: ellers kunne en skjermet verdi regnes ut som total '
                || 'minus de andre'
        FROM agg_sec s WHERE cells.indicator = s.indicator AND cells.level = s.level
            AND cells.code = s.code AND cells.year = s.year""",
    # Differences of two indicators (e.g. a gap in percentage points), wherever both
    # exist; suppressed where either is. Provenance is the components'.
    """INSERT INTO cells
        SELECT d.indicator, a.level, a.code, a.year,
            CASE WHEN a.status = 'ok' AND b.status = 'ok'
                 THEN d.multiplier * (a.value - b.value) END,
            NULL, NULL,
            CASE WHEN a.status = 'suppressed' OR b.status = 'suppressed' THEN 'suppressed'
                 WHEN a.status = 'ok' AND b.status = 'ok' THEN 'ok' ELSE 'missing' END,
            CASE WHEN a.status = 'ok' AND b.status = 'ok' THEN NULL
                 WHEN a.status = 'suppressed' THEN a.reason
                 WHEN b.status = 'suppressed' THEN b.reason
                 ELSE coalesce(a.reason, b.reason) END,
            a.n_members, least(a.n_ok, b.n_ok), greatest(a.n_suppressed, b.n_suppressed),
            least(a.coverage, b.coverage)
        FROM diff d
        JOIN cells a ON a.indicator = d.a
        JOIN cells b ON b.indicator = d.b AND b.level = a.level AND b.code = a.code
            AND b.year = a.year""",
    """INSERT INTO region_imports SELECT DISTINCT d.indicator, r.code, r.import_id
        FROM diff d JOIN region_imports r ON r.indicator IN (d.a, d.b)""",
    """INSERT INTO indicator_imports SELECT DISTINCT d.indicator, r.import_id
        FROM diff d JOIN indicator_imports r ON r.indicator IN (d.a, d.b)""",
    # Years in which an indicator has no value anywhere carry no information.
    """DELETE FROM cells WHERE status = 'missing' AND (indicator, year) NOT IN
        (SELECT DISTINCT indicator, year FROM cells WHERE status <> 'missing')""",
    """DELETE FROM cells WHERE level <> 'kommune' AND n_ok = 0
        AND n_suppressed = 0""",
    # 5. Peers and trends for municipalities (and counties among counties).
    """CREATE TABLE peer_base AS
        SELECT c.indicator, c.code, c.year, c.value, c.level,
            CASE WHEN d.direction = 'lower_better' THEN -c.value ELSE c.value END AS score,
            g.centrality::VARCHAR AS p_sentralitet, g.kostra_group AS p_kostra,
            g.county_code AS p_fylke, 'NO' AS p_alle
        FROM cells c
        JOIN groups g ON g.level = c.level AND g.code = c.code
        JOIN direction d USING (indicator)
        WHERE c.status = 'ok' AND c.level IN ('kommune', 'fylke')""",
    """CREATE TABLE peers AS
        WITH peer_years AS (
            SELECT DISTINCT indicator, level, max(year) AS year FROM peer_base
            GROUP BY indicator, level, code
        ),
        current AS (
            SELECT b.* FROM peer_base b SEMI JOIN peer_years y USING (indicator, level, year)
        ),
        long AS (
            SELECT indicator, code, year, value, score, level, 'alle' AS peer_group,
                p_alle AS peer_code FROM current
            UNION ALL SELECT indicator, code, year, value, score, level, 'sentralitet',
                p_sentralitet FROM current WHERE level = 'kommune' AND p_sentralitet IS NOT NULL
            UNION ALL SELECT indicator, code, year, value, score, level, 'kostra', p_kostra
                FROM current WHERE level = 'kommune' AND p_kostra IS NOT NULL
            UNION ALL SELECT indicator, code, year, value, score, level, 'fylke', p_fylke
                FROM current WHERE level = 'kommune' AND p_fylke IS NOT NULL
        ),
        ranked AS (
            SELECT *,
                rank() OVER w AS rank,
                count(*) OVER (PARTITION BY indicator, year, level, peer_group, peer_code) AS n,
                median(value) OVER (PARTITION BY indicator, year, level, peer_group, peer_code)
                    AS median
            FROM long
            WINDOW w AS (PARTITION BY indicator, year, level, peer_group, peer_code
                         ORDER BY score DESC)
        ),
        first AS (
            SELECT indicator, code, level, arg_min(year, year) AS first_year,
                arg_min(value, year) AS first_value
            FROM peer_base GROUP BY ALL
        )
        SELECT r.indicator, r.code, r.year, r.peer_group, r.peer_code, r.rank::INTEGER AS rank,
            r.n::INTEGER AS n,
            CASE WHEN r.n > 1 THEN round(100.0 * (r.n - r.rank) / (r.n - 1), 1) END
                AS percentile,
            r.median, f.first_year::INTEGER AS first_year, f.first_value,
            CASE WHEN r.year > f.first_year THEN r.value - f.first_value END AS change
        FROM ranked r JOIN first f USING (indicator, code, level)""",
]


def _direction_rows(catalogue: Catalogue) -> list[tuple[str, str]]:
    return [(ind.id, ind.direction) for ind in catalogue.indicators]


def all_cells(cube: Cube, indicators: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every cell (optionally of some indicators), for exports and checks."""
    sql = f"SELECT {', '.join(CELL_COLUMNS)} FROM cells"
    params: list[Any] = []
    if indicators is not None:
        wanted = list(indicators)
        sql += f" WHERE indicator IN ({','.join('?' for _ in wanted)})"
        params = wanted
    return cube.rows(sql + " ORDER BY indicator, level, code, year", params)
