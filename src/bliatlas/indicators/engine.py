"""The indicator engine: every indicator for every region, level and year, in one pass.

:func:`build_cube` reads the observations the catalogue needs from the store once and
computes the whole *cube* with a handful of set-based DuckDB statements in an in-memory
database. Every cell is a :class:`bliatlas.published.Cell`.

1. **base cells** — for each indicator, region at its base level (municipality, or county
   for series published per county) and year: numerator, denominator, value, status, the
   reason when there is no exact value, and the notes on what the figure covers (a sum of
   merged municipalities, a part of a split one it lacks). A value built on a suppressed
   cell is suppressed, with the interval everyone knows it lies in (a count: 0–4).
2. **secondary suppression within partitions** — where indicators split one published
   total (the reasons for immigration), the hidden members' sum would be total minus the
   others: one more member is hidden (the smallest with at least 4), so that every hidden
   count can still be anything from 0 to 4. The hidden members' intervals follow from the
   total.
3. **aggregates** — county, centrality class (1–6), district (5–6) / non-district, KOSTRA
   group and national, from summed numerators and denominators. A member that is
   suppressed enters with its interval, so an aggregate with suppressed members is an
   *interval* (``intervall``): between the published sum and the published sum + 4 for
   each hidden count; a rate has the bounds of numerator and denominator. Split
   municipalities (Tysfjord, Snillfjord, the 2020–2023 Ålesund) count in the county when
   all their successors lie in it, and always in the national total. A municipality a
   source files under another (Haram under Ålesund 2022–2023) is covered where both are in
   the group. A share whose denominator is a true 0 (nobody settled) is a member with data,
   not missing coverage.
4. **peers** — per municipality and indicator, in the latest year the municipality has an
   exact value: rank (1 = best; for neutral indicators 1 = highest; ties share a rank and
   the number tied is kept), percentile by mid-rank, and median among municipalities with
   an exact value in the same centrality class, KOSTRA group, county and nationally
   (counties among counties), with the number left out because suppressed.

No published figure narrows a suppressed cell: ``bliatlas.indicators.audit`` checks this
with linear programming over everything the cube publishes.

The cube is immutable once built and is held in memory as DuckDB tables (``cells``,
``peers``, ``groups``; ``term_val`` and ``base`` for the audit) with cached lookups.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import duckdb
import numpy as np

from bliatlas.errors import InvalidParameter, NotFound
from bliatlas.format import join_nb
from bliatlas.indicators.catalogue import Catalogue, Indicator, load_catalogue
from bliatlas.privacy import AMOUNT_UNITS, COUNT_UNITS, SUPPRESSION_THRESHOLD
from bliatlas.published import Cell
from bliatlas.regions.crosswalk import Crosswalk, clean_code
from bliatlas.regions.registry import Registry
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
# Units whose cells add up (a suppressed one has bounds); the rest are published rates.
ADDITIVE_UNITS = COUNT_UNITS | AMOUNT_UNITS | {"flagg"}
# Cell texts that only say "hidden" or "empty": the engine words that itself.
_MARKER = re.compile(r"^(:|\.{1,3}|-|<5|Inf|nan|[Pp]rikket.*|Anonymisert)$")
NOTE_SEP = "\x1e"  # between notes inside the cube's tables

CELL_COLUMNS = (
    "indicator", "level", "code", "year", "status", "value", "lower", "upper", "numerator",
    "denominator", "reason", "notes", "source", "n_members", "n_ok", "n_suppressed",
    "coverage", "numerator_lower", "numerator_upper", "denominator_lower",
    "denominator_upper",
)
PEER_COLUMNS = (
    "indicator", "code", "year", "peer_group", "peer_code", "rank", "n", "n_tied",
    "n_hidden", "percentile", "median",
)
_CELL_SELECT = ", ".join(CELL_COLUMNS)


def _notes(joined: str | None, reason: str | None) -> tuple[str, ...]:
    """The notes of a cell: the stored notes without the cell markers (':', 'Prikket (<5)'),
    which the engine words itself, and without the reason (said once)."""
    parts = (p for n in (joined or "").split(NOTE_SEP) for p in n.split("; "))
    return tuple(p for p in dict.fromkeys(parts) if p and p != reason and not _MARKER.match(p))


# Cell's fields are CELL_COLUMNS, in order: _cell builds cells positionally.
assert tuple(f.name for f in fields(Cell)) == CELL_COLUMNS
_NOTES = CELL_COLUMNS.index("notes")
_REASON = CELL_COLUMNS.index("reason")


def _cell(row: tuple) -> Cell:
    """A cube row (``CELL_COLUMNS`` order) as a Cell; most rows have no notes (built 157 000
    times when all reports are rendered, so positional and without a dict)."""
    joined = row[_NOTES]
    notes = _notes(joined, row[_REASON]) if joined else ()
    return Cell(*row[:_NOTES], notes, *row[_NOTES + 1:])


@dataclass(frozen=True)
class RegionFacts:
    """Every published cell of one region (all indicators and years), fetched once per page
    or report section and handed down: the profile, the sentences and the funnel read
    their cells from here instead of asking the cube again (:meth:`Cube.facts`)."""

    level: str
    code: str
    region: dict[str, Any]  # the region's row in ``groups`` (names, centrality, county)
    cells: tuple[Cell, ...]  # by indicator and year
    by_key: dict[tuple[str, int], Cell] = field(repr=False)

    @property
    def name(self) -> str:
        return self.region["short_name"]

    def cell(self, indicator: str, year: int | None) -> Cell | None:
        return None if year is None else self.by_key.get((indicator, year))

    def series(self, indicator: str) -> list[Cell]:
        """One indicator's cells, by year."""
        return [c for c in self.cells if c.indicator == indicator]

    def lookup(self, indicator: str, level: str, code: str, year: int | None) -> Cell | None:
        """:meth:`Cube.cell`'s signature, for code that takes a lookup (the funnel)."""
        if (level, code) != (self.level, self.code):
            raise ValueError(f"RegionFacts for {self.level} {self.code}, not {level} {code}")
        return self.cell(indicator, year)


def years_text(years: list[int]) -> str:
    """``[2006, 2007, 2008, 2024]`` → ``'2006–2008, 2024'``."""
    if not years:
        return "ingen"
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    parts = []
    for run in runs:
        if run == [0]:
            parts.append("uten år")
        elif len(run) > 2:
            parts.append(f"{run[0]}–{run[-1]}")
        else:
            parts.extend(str(y) for y in run)
    return ", ".join(parts)


@dataclass
class Cube:
    """All indicator values, held in memory in DuckDB tables. Build with :func:`build_cube`.

    ``cells`` holds one row per indicator × level × region × year (``CELL_COLUMNS``);
    ``peers`` one row per indicator × region × year × peer group (``PEER_COLUMNS``);
    ``groups`` every region and aggregate group. Lookups return :class:`Cell` and are
    cached per key.
    """

    catalogue: Catalogue
    regions: dict[tuple[str, str], dict[str, Any]]  # (level, code) -> region/group row
    imports: dict[int, dict[str, Any]]
    years: dict[str, list[int]]  # indicator id -> years with at least one value
    indicator_imports: dict[str, list[int]]  # indicator id -> imports it reads
    build_seconds: float
    con: duckdb.DuckDBPyConnection = field(repr=False)
    split_members: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
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

    def _cells(self, key: tuple[Any, ...], sql: str, params: list[Any]) -> list[Cell]:
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = [_cell(r) for r in self.con.execute(sql, params).fetchall()]
                self._cache[key] = found
            return found

    def _dicts(self, key: tuple[Any, ...], sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = self.rows(sql, params)
                self._cache[key] = found
            return found

    def preload(self, regions: Collection[tuple[str, str]] | None = None) -> None:
        """Fill the per-region cell and peer lookups in two queries: for ``regions``
        (``(level, code)`` pairs, e.g. a county and its municipalities, which a report's
        map reads together), or for every region (bulk work such as rendering all 357
        reports; once per cube). Regions already cached are kept."""
        if self._cache.get(("preloaded",)):
            return
        where, params = "", []
        if regions is not None:
            wanted = sorted({r for r in regions if ("region", *r) not in self._cache})
            if not wanted:
                return
            where = "WHERE (level, code) IN (SELECT * FROM (VALUES " + ", ".join(
                ["(?, ?)"] * len(wanted)) + "))"
            params = [x for pair in wanted for x in pair]
        per_region: dict[tuple[str, str], list[Cell]] = (
            {k: [] for k in self.regions} if regions is None else {k: [] for k in wanted})
        for row in self.sql(f"SELECT {_CELL_SELECT} FROM cells {where} ORDER BY level, code, "
                            "indicator, year", params):
            cell = _cell(row)
            per_region.setdefault((cell.level, cell.code), []).append(cell)
        codes = sorted({code for (_, code) in per_region})
        peer_where = ("" if regions is None else "WHERE code IN (" + ", ".join(
            ["?"] * len(codes)) + ")")
        peers: dict[str, list[dict[str, Any]]] = {code: [] for code in codes}
        for row in self.rows(f"SELECT {', '.join(PEER_COLUMNS)} FROM peers {peer_where} "
                             "ORDER BY code, indicator, year, peer_group",
                             None if regions is None else codes):
            peers.setdefault(row["code"], []).append(row)
        with self._lock:
            for (level, code), cells in per_region.items():
                self._cache.setdefault(("region", level, code), cells)
            for code, rows in peers.items():
                self._cache.setdefault(("peers", code), rows)
            if regions is None:
                self._cache[("preloaded",)] = True

    def imports_for(self, indicator: str, level: str, code: str) -> list[int]:
        """The imports whose values one region's series of an indicator is built from (a
        county: its own series and its municipalities')."""
        key = ("imports", level, code)
        with self._lock:
            by_indicator = self._cache.get(key)
            if by_indicator is None:
                # every indicator of the region in one query (a profile asks for all ~100)
                by_indicator = {}
                for ind, import_id in self.sql(
                        "SELECT DISTINCT indicator, import_id FROM region_imports WHERE "
                        "code = ? OR (? = 'fylke' AND code IN (SELECT member FROM membership "
                        "WHERE level = 'fylke' AND group_code = ?)) ORDER BY indicator, "
                        "import_id", [code, level, code]):
                    by_indicator.setdefault(ind, []).append(import_id)
                self._cache[key] = by_indicator
        return list(by_indicator.get(indicator, ()))

    def cells_for(self, level: str, code: str) -> list[Cell]:
        """All cells of one region (every indicator and year), by indicator and year."""
        return self._cells(
            ("region", level, code),
            f"SELECT {_CELL_SELECT} FROM cells WHERE level = ? AND code = ? "
            "ORDER BY indicator, year",
            [level, code],
        )

    def facts(self, level: str, code: str) -> RegionFacts:
        """One region's cells in one value to hand down (:class:`RegionFacts`)."""
        key = ("facts", level, code)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                cells = tuple(self.cells_for(level, code))
                found = RegionFacts(level, code, self.group(level, code), cells,
                                    {(c.indicator, c.year): c for c in cells})
                self._cache[key] = found
            return found

    def cell(self, indicator: str, level: str, code: str, year: int | None) -> Cell | None:
        if year is None:
            return None
        for cell in self.cells_for(level, code):
            if cell.indicator == indicator and cell.year == year:
                return cell
        return None

    def series(self, indicator: str, level: str, code: str) -> list[Cell]:
        """One region's cells of one indicator, by year."""
        return [c for c in self.cells_for(level, code) if c.indicator == indicator]

    def slice(self, indicator: str, level: str, year: int) -> list[Cell]:
        """All cells of one indicator at one level and year, ordered by region code."""
        return self._cells(
            ("slice", indicator, level, year),
            f"SELECT {_CELL_SELECT} FROM cells WHERE indicator = ? AND level = ? "
            "AND year = ? ORDER BY code",
            [indicator, level, year],
        )

    def peers_for(self, code: str) -> list[dict[str, Any]]:
        return self._dicts(
            ("peers", code),
            f"SELECT {', '.join(PEER_COLUMNS)} FROM peers WHERE code = ? "
            "ORDER BY indicator, year, peer_group",
            [code],
        )

    def latest_year(self, indicator: str) -> int | None:
        years = self.years.get(indicator) or []
        return years[-1] if years else None

    def year_of(self, indicator: Indicator, text: str | int | None) -> int:
        """The year a user asked for (``?ar=`` on pages and the API, ``--year`` on the CLI),
        or the latest year with values when none is given. One rule everywhere: not a
        number is :class:`InvalidParameter` (422, exit 2); a year without values, or an
        indicator without any, is :class:`NotFound` naming the years that have values."""
        years = self.years.get(indicator.id) or []
        if not years:
            raise NotFound(f"indikatoren {indicator.id!r} har ingen verdier i databasen")
        if text is None or text == "":
            return years[-1]
        try:
            year = int(text)
        except ValueError:
            raise InvalidParameter(
                f"ugyldig år {text!r}: forventet et årstall, f.eks. {years[-1]}") from None
        if year not in years:
            raise NotFound(f"ingen tall for {indicator.name_nb.lower()} i {year}; "
                           f"år med tall: {years_text(years)}")
        return year

    def levels_for(self, indicator: Indicator) -> tuple[str, ...]:
        if indicator.aggregation == "none":
            return (indicator.base_level,)
        return LEVELS

    def source_label(self, dataset: str) -> str:
        """A dataset as users know it: publisher and file (``IMDi (bosatt_anmodede_…csv)``)."""
        key = ("source_label", dataset)
        found = self._cache.get(key)
        if found is None:
            found = next((f"{imp['publisher']} ({imp['source']})"
                          for imp in self.imports.values() if imp["dataset"] == dataset),
                         dataset)
            self._cache[key] = found
        return found

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
    # The same series, and the same list of alternatives, read by several indicators are
    # computed once (sel_id, term_key).
    ids: dict[tuple[Any, ...], int] = {}
    term_keys: dict[tuple[int, ...], int] = {}
    for ind in catalogue.indicators:
        for part, terms in (("num", ind.numerator), ("den", ind.denominator or [])):
            for t_idx, term in enumerate(terms):
                sel_ids = [ids.setdefault((sel.dataset, sel.measure, sel.unit, sel.count,
                                           sel.absent_is_zero, tuple(sel.dims_strings())),
                                          len(ids))
                           for sel in term.any_of]
                term_key = term_keys.setdefault(tuple(sel_ids), len(term_keys))
                for prio, (sel, sel_id) in enumerate(zip(term.any_of, sel_ids)):
                    dims_list = sel.dims_strings()
                    for dims in dims_list:
                        rows.append(
                            (ind.id, part, t_idx, prio, sel.dataset, sel.measure, sel.unit, dims,
                             sel.count, len(dims_list), sel.describe(),
                             sel.unit in ADDITIVE_UNITS or sel.count, sel_id, term_key,
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


def _split_members(store: Store, registry: Registry, keys: list[str]
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Split municipalities in the selected series (kept aside by ingest) as members of
    the county all their successors lie in (if one) and of the nation."""
    placeholders = ",".join("?" for _ in keys)
    found = store.query(
        "SELECT DISTINCT source_region_code AS code, source_region_name AS name "
        "FROM observation_unassigned WHERE dataset || chr(31) || measure || chr(31) || unit "
        f"|| chr(31) || dims IN ({placeholders})", keys)
    crosswalk = Crosswalk(registry)
    members: dict[str, dict[str, Any]] = {}
    for row in found:
        res = crosswalk.resolve(row["code"], row["name"])
        if res.kind != "split" or not res.successors or not all(
                s in registry.municipalities for s in res.successors):
            continue
        counties = {registry.municipalities[s].county_code for s in res.successors}
        change = crosswalk.changes.get(clean_code(row["code"]))
        name = change.old_name if change else row["name"]
        members[row["code"]] = {
            "code": row["code"], "name": f"{name} ({clean_code(row['code'])})",
            "county_code": next(iter(counties)) if len(counties) == 1 else None,
            "successors": join_nb([registry.municipalities[s].name for s in res.successors]),
            "last_year": res.valid_to, "successor_codes": ",".join(res.successors),
        }
    names = ["code", "name", "county_code", "successors", "last_year", "successor_codes"]
    cols = _columns([tuple(m[n] for n in names) for m in members.values()], names)
    return members, cols


def build_cube(store: Store, catalogue: Catalogue | None = None) -> Cube:
    """Compute the full cube from the store (read-only)."""
    started = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    sel_rows = _selector_rows(catalogue)
    wanted_keys = sorted({(r[4], r[5], r[6], r[7]) for r in sel_rows})
    keys = ["\x1f".join(k) for k in wanted_keys]
    wanted = [list(col) for col in zip(*wanted_keys)] if wanted_keys else [[], [], [], []]
    obs = store.query_arrow(
        "SELECT o.dataset, o.measure, o.region_code, o.year, o.dims, o.unit, o.value, o.status, "
        "o.status_note, o.import_id, o.lower_bound, o.upper_bound FROM observation o "
        "SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS dataset, "
        "unnest(?::VARCHAR[]) AS measure, unnest(?::VARCHAR[]) AS unit, "
        "unnest(?::VARCHAR[]) AS dims) w ON o.dataset = w.dataset AND o.measure = w.measure "
        "AND o.unit = w.unit AND o.dims = w.dims",
        wanted,
    )
    registry = Registry.from_store(store)
    split_members, split_cols = _split_members(store, registry, keys)
    split_obs = store.query_arrays(
        "SELECT dataset, measure, source_region_code AS region_code, year, dims, unit, "
        "arg_max(value, import_id) AS value, arg_max(status, import_id) AS status, "
        "NULL::VARCHAR AS status_note, max(import_id) AS import_id, "
        "arg_max(lower_bound, import_id) AS lower_bound, "
        "arg_max(upper_bound, import_id) AS upper_bound FROM observation_unassigned "
        f"WHERE source_region_code IN ({','.join('?' for _ in split_members) or 'NULL'}) "
        f"AND dataset || chr(31) || measure || chr(31) || unit || chr(31) || dims IN "
        f"({','.join('?' for _ in keys)}) GROUP BY ALL",
        [*split_members, *keys],
    )
    inclusion = store.query_arrays(
        "SELECT dataset, region_code, year, host_code, note FROM region_inclusion")
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
    con.register("split_obs_src", split_obs)
    con.register("split_src", split_cols)
    con.register("inclusion_src", inclusion)
    con.register("region_src", regions)
    sel_names = ["indicator", "part", "term", "prio", "dataset", "measure", "unit", "dims",
                 "is_count", "n_expected", "label", "additive", "sel_id", "term_key",
                 "absent_zero"]
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
        con.execute(statement.replace("{SEP}", NOTE_SEP).replace("{MARKER}", _MARKER.pattern)
                    .replace("{HIDE_AT_LEAST}", str(SUPPRESSION_THRESHOLD - 1)))

    groups = _fetch_dicts(con, "SELECT * FROM groups")
    years: dict[str, list[int]] = {ind.id: [] for ind in catalogue.indicators}
    for ind_id, year in con.execute(
        "SELECT DISTINCT indicator, year FROM cells WHERE status IN ('ok', 'intervall') "
        "ORDER BY 1, 2"
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
        split_members=split_members,
    )


def _fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# Interval arithmetic in SQL: an upper bound NULL means "not bounded above".
_RATE_LO = ("CASE WHEN {den_hi} IS NULL THEN 0.0 WHEN {den_hi} > 0 "
            "THEN {mult} * {num_lo} / {den_hi} END")
_RATE_HI = ("CASE WHEN {num_hi} IS NULL OR {den_lo} IS NULL OR {den_lo} <= 0 THEN NULL "
            "ELSE {mult} * {num_hi} / {den_lo} END")


def _base_bound(side: str) -> str:
    """``lower = …`` or ``upper = …`` of a base cell: its value if exact, else the bound that
    follows from the bounds of numerator and denominator."""
    rate = (_RATE_LO.format(mult="multiplier", num_lo="num_lo", den_hi="den_hi")
            if side == "lower" else
            _RATE_HI.format(mult="multiplier", num_hi="num_hi", den_lo="den_lo"))
    num = "num_lo" if side == "lower" else "num_hi"
    return (f"{side} = CASE WHEN status = 'ok' THEN CASE WHEN kind = 'ratio' "
            "THEN multiplier * num / den ELSE multiplier * num END "
            f"WHEN status = 'suppressed' AND kind = 'ratio' THEN {rate} "
            f"WHEN status = 'suppressed' AND kind = 'count' THEN multiplier * {num} END")



def _part_sums(part: str) -> str:
    """The aggregates of one side of a fraction (``num`` or ``den``) over its terms: the
    exact sum, its bounds when terms are hidden, and whether any term is hidden or
    missing. One definition for both sides of every indicator's base cell."""
    return f"""sum(v) FILTER (WHERE part = '{part}') AS {part},
                sum(coalesce(v, 0) + hid_lo) FILTER (WHERE part = '{part}') AS {part}_lo,
                CASE WHEN bool_or(hid_unbounded OR NOT additive) FILTER (WHERE part = '{part}')
                     THEN NULL ELSE sum(coalesce(v, 0) + coalesce(hid_hi, 0))
                     FILTER (WHERE part = '{part}') END AS {part}_hi,
                count(*) FILTER (WHERE part = '{part}') AS {part}_terms,
                bool_or(any_suppressed) FILTER (WHERE part = '{part}') AS {part}_supp,
                bool_or(any_missing) FILTER (WHERE part = '{part}') AS {part}_miss,"""

_BUILD_SQL: list[str] = [
    # Types normalised once.
    """CREATE TABLE sel AS SELECT indicator::VARCHAR AS indicator, part::VARCHAR AS part,
        term::INTEGER AS term, prio::INTEGER AS prio, dataset::VARCHAR AS dataset,
        measure::VARCHAR AS measure, unit::VARCHAR AS unit, dims::VARCHAR AS dims,
        is_count::BOOLEAN AS is_count, n_expected::INTEGER AS n_expected,
        label::VARCHAR AS label, additive::BOOLEAN AS additive, sel_id::INTEGER AS sel_id,
        term_key::INTEGER AS term_key, absent_zero::BOOLEAN AS absent_zero FROM sel_src""",
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
    # Python-object columns are converted once, not on every scan. Split municipalities'
    # rows come in as their own (unpublished) units.
    """CREATE TABLE obs AS
        SELECT dataset::VARCHAR AS dataset, measure::VARCHAR AS measure,
            region_code::VARCHAR AS region_code, year::INTEGER AS year, dims::VARCHAR AS dims,
            unit::VARCHAR AS unit, value::DOUBLE AS value, status::VARCHAR AS status,
            status_note::VARCHAR AS note, import_id::INTEGER AS import_id,
            lower_bound::DOUBLE AS lower_bound, upper_bound::DOUBLE AS upper_bound
        FROM obs_src
        UNION ALL
        SELECT dataset::VARCHAR, measure::VARCHAR, region_code::VARCHAR, year::INTEGER,
            dims::VARCHAR, unit::VARCHAR, value::DOUBLE, status::VARCHAR, NULL,
            import_id::INTEGER, lower_bound::DOUBLE, upper_bound::DOUBLE
        FROM split_obs_src""",
    """CREATE TABLE reg AS SELECT code::VARCHAR AS code, level::VARCHAR AS level,
        name::VARCHAR AS name, short_name::VARCHAR AS short_name,
        county_code::VARCHAR AS county_code, centrality::INTEGER AS centrality,
        kostra_group::VARCHAR AS kostra_group, robek::BOOLEAN AS robek FROM region_src""",
    """CREATE TABLE split_member AS SELECT code::VARCHAR AS code, name::VARCHAR AS name,
        county_code::VARCHAR AS county_code, successors::VARCHAR AS successors,
        last_year::INTEGER AS last_year, successor_codes::VARCHAR AS successor_codes
        FROM split_src""",
    """CREATE TABLE split_successor AS SELECT code, unnest(string_split(successor_codes, ','))
        AS successor FROM split_member""",
    # Units cells are computed for: the registry, and split municipalities (never shown).
    """CREATE TABLE units AS
        SELECT code, level, false AS split FROM reg
        UNION ALL SELECT code, 'kommune', true FROM split_member""",
    # Every published group: municipalities, counties and the crossing groupings; split
    # municipalities belong to their county (when all successors lie in one) and the nation.
    """CREATE TABLE membership AS
        SELECT code AS member, 'kommune' AS level, code AS group_code, false AS split FROM reg
            WHERE level = 'kommune'
        UNION ALL SELECT code, 'fylke', county_code, false FROM reg WHERE level = 'kommune'
        UNION ALL SELECT code, 'sentralitet', centrality::VARCHAR, false FROM reg
            WHERE level = 'kommune' AND centrality IS NOT NULL
        UNION ALL SELECT code, 'distrikt',
            CASE WHEN centrality >= 5 THEN 'distrikt' ELSE 'ikke-distrikt' END, false FROM reg
            WHERE level = 'kommune' AND centrality IS NOT NULL
        UNION ALL SELECT code, 'kostra', kostra_group, false FROM reg
            WHERE level = 'kommune' AND kostra_group IS NOT NULL
        UNION ALL SELECT code, 'nasjonal', 'NO', false FROM reg WHERE level = 'kommune'
        UNION ALL SELECT code, 'fylke', county_code, true FROM split_member
            WHERE county_code IS NOT NULL
        UNION ALL SELECT code, 'nasjonal', 'NO', true FROM split_member""",
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
        WHERE NOT m.split
        GROUP BY m.level, m.group_code
        UNION ALL
        SELECT 'fylke', f.code, f.name, f.short_name, NULL, NULL, NULL, NULL, 0
        FROM reg f WHERE f.level = 'fylke'
            AND f.code NOT IN (SELECT county_code FROM reg WHERE level = 'kommune'
                               AND county_code IS NOT NULL)""",
    # Municipalities a source files under another in some years (Haram under Ålesund),
    # per indicator that reads that source.
    """CREATE TABLE inclusion AS
        SELECT DISTINCT s.indicator, i.region_code::VARCHAR AS code, i.year::INTEGER AS year,
            i.host_code::VARCHAR AS host, i.note::VARCHAR AS note
        FROM inclusion_src i JOIN sel s ON s.dataset = i.dataset::VARCHAR""",
    # 1. Observations matched to selectors: per series (read once, however many indicators
    # use it) and region and year, the sum of the exact cells and the interval the hidden
    # ones add; then one row per indicator's source alternative.
    """CREATE TABLE sel_val AS
        SELECT c.sel_id, o.region_code AS code, o.year,
            sum(CASE WHEN o.status = 'ok'
                     THEN CASE WHEN c.is_count THEN 1.0 ELSE o.value END END) AS v,
            coalesce(sum(CASE WHEN o.status = 'suppressed' THEN CASE WHEN c.is_count THEN 0.0
                         ELSE coalesce(o.lower_bound, 0.0) END END), 0.0) AS hid_lo,
            sum(CASE WHEN o.status = 'suppressed' THEN CASE WHEN c.is_count THEN 1.0
                ELSE o.upper_bound END END) AS hid_hi,
            bool_or(o.status = 'suppressed' AND NOT c.is_count AND o.upper_bound IS NULL)
                AS hid_unbounded,
            bool_or(o.status = 'suppressed') AS any_suppressed,
            bool_or(o.status = 'missing') AS any_missing_cell,
            count(*) AS n_cells
        FROM (SELECT DISTINCT sel_id, dataset, measure, unit, dims, is_count FROM sel) c
        JOIN obs o ON o.dataset = c.dataset AND o.measure = c.measure
            AND o.unit = c.unit AND o.dims = c.dims
        GROUP BY ALL""",
    # Per list of alternatives, region and year: the first alternative that has the region
    # and year (and is not wholly missing); a suppressed alternative is kept, never skipped
    # for a later source.
    """CREATE TABLE key_val AS
        SELECT * FROM (
            SELECT a.term_key, a.prio, a.sel_id, v.code, v.year, v.v, v.hid_lo, v.hid_hi,
                v.hid_unbounded, v.any_suppressed,
                v.any_missing_cell OR (NOT a.absent_zero AND v.n_cells < a.n_expected)
                    AS any_missing,
                CASE WHEN v.any_suppressed THEN a.label END AS suppressed_label,
                a.dataset, a.additive
            FROM (SELECT DISTINCT term_key, prio, sel_id, n_expected, label, dataset, additive,
                      absent_zero
                  FROM sel) a
            JOIN sel_val v USING (sel_id))
        QUALIFY row_number() OVER (PARTITION BY term_key, code, year
            ORDER BY (any_missing AND NOT any_suppressed), prio) = 1""",
    # Which imports each indicator reads for each published region (provenance per region),
    # per series first (read once), then per indicator.
    """CREATE TABLE key_imports AS
        SELECT DISTINCT c.sel_id, o.region_code AS code, o.import_id::INTEGER AS import_id,
            o.status <> 'missing' AS has_value
        FROM (SELECT DISTINCT sel_id, dataset, measure, unit, dims FROM sel) c
        JOIN obs o ON o.dataset = c.dataset AND o.measure = c.measure
            AND o.unit = c.unit AND o.dims = c.dims""",
    """CREATE TABLE region_imports AS
        SELECT DISTINCT t.indicator, i.code, i.import_id
        FROM (SELECT DISTINCT indicator, sel_id FROM sel) t JOIN key_imports i USING (sel_id)
        WHERE i.has_value""",
    # Which imports each indicator reads (provenance).
    """CREATE TABLE indicator_imports AS
        SELECT DISTINCT t.indicator, i.import_id
        FROM (SELECT DISTINCT indicator, sel_id FROM sel) t
        JOIN (SELECT DISTINCT sel_id, import_id FROM key_imports) i USING (sel_id)""",
    """CREATE TABLE term_val AS
        SELECT t.indicator, t.part, t.term, k.* EXCLUDE (term_key)
        FROM (SELECT DISTINCT indicator, part, term, term_key FROM sel) t
        JOIN key_val k USING (term_key)""",
    # The notes of the cells each chosen alternative reads: per series first (cell markers
    # such as ':' are worded by the engine itself and left out), then per indicator.
    """CREATE TABLE sel_notes AS
        SELECT c.sel_id, o.region_code AS code, o.year,
            string_agg(DISTINCT o.note, '{SEP}' ORDER BY o.note) AS notes
        FROM (SELECT * FROM obs WHERE note IS NOT NULL
              AND NOT regexp_full_match(note, '{MARKER}')) o
        JOIN (SELECT DISTINCT sel_id, dataset, measure, unit, dims FROM sel) c
            ON o.dataset = c.dataset AND o.measure = c.measure AND o.unit = c.unit
            AND o.dims = c.dims
        GROUP BY ALL""",
    """CREATE TABLE term_notes AS
        SELECT t.indicator, t.code, t.year,
            string_agg(DISTINCT n.notes, '{SEP}' ORDER BY n.notes) AS notes
        FROM term_val t JOIN sel_notes n ON n.sel_id = t.sel_id AND n.code = t.code
            AND n.year = t.year
        GROUP BY ALL""",
    # 2. Base cells (municipality, or county for county-published series), with bounds.
    """CREATE TABLE base AS
        WITH parts AS (
            SELECT indicator, code, year,
""" + _part_sums("num") + """
                bool_or(NOT additive) FILTER (WHERE part = 'num') AS num_rate,
                """ + _part_sums("den") + """
                min(suppressed_label) AS suppressed_label,
                min(dataset) FILTER (WHERE part = 'num') AS source_a,
                max(dataset) FILTER (WHERE part = 'num') AS source_b
            FROM term_val GROUP BY ALL
        ),
        judged AS (
            SELECT p.* EXCLUDE (source_a, source_b),
                CASE WHEN p.source_a = p.source_b THEN p.source_a
                     ELSE p.source_a || ',' || p.source_b END AS source,
                tn.notes,
                i.kind, i.multiplier, i.base_level AS level, i.n_num, i.n_den, u.split,
                CASE
                    -- a municipality's rate over a denominator the sources do not have
                    -- for the year (no row at all) says nothing, hidden numerator or not
                    -- (a split municipality's numerator still counts in its groups)
                    WHEN i.n_den > 0 AND p.den_terms = 0 AND NOT u.split THEN 'missing'
                    WHEN coalesce(p.num_supp, false) OR coalesce(p.den_supp, false)
                        THEN 'suppressed'
                    WHEN p.num IS NULL OR p.num_miss OR p.num_terms < i.n_num THEN 'missing'
                    WHEN i.n_den > 0 AND (p.den IS NULL OR p.den_miss OR p.den_terms < i.n_den)
                        THEN 'missing'
                    WHEN i.n_den > 0 AND p.den = 0 THEN 'missing'
                    ELSE 'ok' END AS status,
                coalesce(i.n_den > 0 AND NOT coalesce(p.num_supp, false)
                    AND NOT coalesce(p.den_supp, false) AND NOT coalesce(p.num_miss, false)
                    AND NOT coalesce(p.den_miss, false) AND p.num IS NOT NULL
                    AND p.den = 0, false) AS zero_den,
                inc.host AS included_in, inc.note AS inclusion_note
            FROM parts p
            JOIN ind i USING (indicator)
            JOIN units u ON u.code = p.code AND u.level = i.base_level
            LEFT JOIN inclusion inc ON inc.indicator = p.indicator AND inc.code = p.code
                AND inc.year = p.year
            LEFT JOIN term_notes tn ON tn.indicator = p.indicator AND tn.code = p.code
                AND tn.year = p.year
            WHERE p.num_terms > 0
        )
        SELECT j.*,
            CASE
                WHEN j.status = 'suppressed'
                    THEN 'Skjermet: bygger på en celle kilden har skjermet (færre enn 5) i '
                        || j.suppressed_label
                WHEN j.status = 'missing' AND j.inclusion_note IS NOT NULL THEN j.inclusion_note
                WHEN j.status = 'missing' AND j.zero_den
                    THEN 'Ikke beregnet: nevneren er null'
                WHEN j.status = 'missing' AND j.n_den > 0 AND j.den_terms = 0
                    THEN 'Mangler: nevneren finnes ikke for dette året'
                WHEN j.status = 'missing' AND (j.num IS NULL OR j.num_miss
                    OR j.num_terms < j.n_num)
                    THEN 'Mangler: telleren finnes ikke for dette året'
                WHEN j.status = 'missing' THEN 'Mangler: nevneren finnes ikke for dette året'
                END AS reason,
            false AS secondary
        FROM judged j""",
    # 3. Secondary suppression within partitions: where the total is published and a
    # member is hidden, hide one more (the smallest with at least 4, else the smallest ones
    # until they add up to 4), so the hidden members' sum always leaves every hidden count
    # free between 0 and 4.
    """CREATE TABLE base_sec AS
        WITH pm AS (
            SELECT b.indicator, b.code, b.year, b.status, b.num, p.partition,
                count(*) FILTER (WHERE b.status = 'suppressed')
                    OVER (PARTITION BY p.partition, b.code, b.year) AS n_supp,
                bool_and(b.den IS NOT NULL AND NOT coalesce(b.den_supp, false))
                    OVER (PARTITION BY p.partition, b.code, b.year) AS total_known,
                first(CASE WHEN b.status = 'suppressed' THEN b.indicator END IGNORE NULLS)
                    OVER (PARTITION BY p.partition, b.code, b.year
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS hidden
            FROM base b JOIN part_members p USING (indicator)
        ),
        ok_members AS (
            SELECT *,
                row_number() OVER (PARTITION BY partition, code, year
                    ORDER BY (num < {HIDE_AT_LEAST}), num, indicator) AS big_order,
                max(num) OVER (PARTITION BY partition, code, year) AS max_num,
                coalesce(sum(num) OVER (PARTITION BY partition, code, year ORDER BY num,
                    indicator ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
            FROM pm WHERE status = 'ok' AND n_supp >= 1 AND total_known
        )
        SELECT indicator, code, year, partition,
            'Sekundærskjermet: vises ikke fordi skjermet verdi for «' || hidden
                || '» ellers kunne regnes ut av totalen og de andre' AS reason
        FROM ok_members
        WHERE (max_num >= {HIDE_AT_LEAST} AND big_order = 1)
           OR (max_num < {HIDE_AT_LEAST} AND before < {HIDE_AT_LEAST})""",
    """UPDATE base SET status = 'suppressed', reason = s.reason, secondary = true,
            num_lo = 0.0, num_hi = NULL
        FROM base_sec s WHERE base.indicator = s.indicator AND base.code = s.code
            AND base.year = s.year""",
    # The hidden members' numerators given the published total: R = total − published
    # members; each hidden one lies in [R − Σ others' upper, R − Σ others' lower].
    """CREATE TABLE part_bounds AS
        WITH pm AS (
            SELECT b.indicator, b.code, b.year, p.partition, b.status, b.num, b.num_lo, b.num_hi,
                b.den, b.den_supp
            FROM base b JOIN part_members p USING (indicator)
        ),
        totals AS (
            SELECT partition, code, year, any_value(den) AS den,
                bool_and(den IS NOT NULL AND NOT coalesce(den_supp, false)) AS total_known,
                sum(num) FILTER (WHERE status = 'ok') AS shown,
                sum(num_lo) FILTER (WHERE status = 'suppressed') AS hid_lo,
                sum(num_hi) FILTER (WHERE status = 'suppressed') AS hid_hi,
                count(*) FILTER (WHERE status = 'suppressed' AND num_hi IS NULL) AS n_unbounded,
                count(*) FILTER (WHERE status = 'missing') AS n_missing
            FROM pm GROUP BY ALL
        )
        SELECT m.indicator, m.code, m.year,
            greatest(m.num_lo, CASE WHEN t.n_unbounded - (m.num_hi IS NULL)::INTEGER = 0
                THEN t.den - coalesce(t.shown, 0) - (coalesce(t.hid_hi, 0)
                     - coalesce(m.num_hi, 0)) END) AS lo,
            least(m.num_hi, t.den - coalesce(t.shown, 0) - (t.hid_lo - m.num_lo)) AS hi
        FROM pm m JOIN totals t USING (partition, code, year)
        WHERE m.status = 'suppressed' AND t.total_known AND t.n_missing = 0""",
    """UPDATE base SET num_lo = pb.lo, num_hi = pb.hi
        FROM part_bounds pb WHERE base.indicator = pb.indicator AND base.code = pb.code
            AND base.year = pb.year""",
    # Value bounds of base cells.
    """ALTER TABLE base ADD COLUMN lower DOUBLE""",
    """ALTER TABLE base ADD COLUMN upper DOUBLE""",
    f"UPDATE base SET {_base_bound('lower')}, {_base_bound('upper')}",
    # 4. Aggregates from municipal numerators and denominators, with intervals: an exact
    # member adds its value, a suppressed one its interval.
    """CREATE TABLE agg AS
        WITH member_cells AS (
            SELECT b.* REPLACE (
                    -- a split municipality with no denominator row: its territory's
                    -- denominator is in its successors' rows
                    CASE WHEN b.split AND b.den_terms = 0 THEN 0.0 ELSE b.den_lo END AS den_lo,
                    CASE WHEN b.split AND b.den_terms = 0 THEN 0.0 ELSE b.den_hi END AS den_hi),
                m.level AS agg_level, m.group_code,
                b.status = 'ok' OR b.zero_den AS exact_data,
                b.status = 'ok' OR b.zero_den OR b.status = 'suppressed' AS contributes
            FROM base b JOIN ind i USING (indicator)
            JOIN membership m ON m.member = b.code
            WHERE i.aggregation = 'sum' AND b.level = 'kommune' AND m.level <> 'kommune'
        )
        SELECT c.indicator, c.agg_level AS level, c.group_code AS code, c.year,
            any_value(c.kind) AS kind, any_value(c.multiplier) AS multiplier,
            sum(c.num) FILTER (WHERE c.exact_data) AS num_exact,
            sum(c.den) FILTER (WHERE c.exact_data) AS den_exact,
            sum(c.num_lo) FILTER (WHERE c.contributes) AS num_lo,
            CASE WHEN bool_or(c.num_hi IS NULL) FILTER (WHERE c.contributes) THEN NULL
                 ELSE sum(c.num_hi) FILTER (WHERE c.contributes) END AS num_hi,
            sum(c.den_lo) FILTER (WHERE c.contributes) AS den_lo,
            CASE WHEN bool_or(c.den_hi IS NULL) FILTER (WHERE c.contributes) THEN NULL
                 ELSE sum(c.den_hi) FILTER (WHERE c.contributes) END AS den_hi,
            count(*) FILTER (WHERE c.status = 'ok' AND NOT c.split)::INTEGER AS n_ok,
            count(*) FILTER (WHERE c.zero_den AND NOT c.split)::INTEGER AS n_zero,
            count(*) FILTER (WHERE c.status = 'suppressed')::INTEGER AS n_suppressed,
            count(*) FILTER (WHERE c.status = 'suppressed' AND NOT c.split)::INTEGER
                AS n_suppressed_members,
            count(*) FILTER (WHERE c.contributes)::INTEGER AS n_data,
            min(c.source) AS source_a, max(c.source) AS source_b
        FROM member_cells c GROUP BY ALL""",
    # Split municipalities counted in a group (few: read from them, not the whole join).
    """CREATE TABLE agg_splits AS
        SELECT b.indicator, m.level, m.group_code AS code, b.year, b.code AS split_code
        FROM base b JOIN membership m ON m.member = b.code
        WHERE b.split AND (b.status IN ('ok', 'suppressed') OR b.zero_den)""",
    # Members without figures whose territory another member covers: a municipality a
    # source files under another in the same group (Haram under Ålesund), or the
    # successor of a split municipality counted in the group (Ålesund and Haram 2020–2021,
    # when the sources give the 2020–2023 Ålesund).
    """CREATE TABLE covered_by_other AS
        SELECT a.indicator, a.level, a.code, a.year, count(DISTINCT cov.member)::INTEGER AS n
        FROM agg a
        JOIN (
            SELECT inc.indicator, inc.year, m.level, m.group_code, inc.code AS member
            FROM inclusion inc
            JOIN membership m ON m.member = inc.code AND m.level <> 'kommune'
            JOIN membership h ON h.member = inc.host AND h.level = m.level
                AND h.group_code = m.group_code
            UNION ALL
            SELECT sc.indicator, sc.year, m.level, m.group_code, ss.successor
            FROM agg_splits sc
            JOIN split_successor ss ON ss.code = sc.split_code
            JOIN membership m ON m.member = ss.successor AND m.level = sc.level
                AND m.group_code = sc.code
        ) cov ON cov.indicator = a.indicator AND cov.level = a.level
            AND cov.group_code = a.code AND cov.year = a.year
        LEFT JOIN base b ON b.indicator = a.indicator AND b.code = cov.member
            AND b.year = a.year
        WHERE b.code IS NULL OR b.status = 'missing'
        GROUP BY ALL""",
    # Notes on what an aggregate covers: split municipalities counted in it, and a
    # municipality a source files under another one in a different group.
    """CREATE TABLE agg_notes AS
        WITH splits AS (
            SELECT a.indicator, a.level, a.code, a.year,
                'Omfatter tallene for ' || s.name || ', som ble delt mellom ' || s.successors
                    || ' etter ' || s.last_year AS note
            FROM agg_splits a JOIN split_member s ON s.code = a.split_code
        ),
        -- a municipality filed under another that is in a different group: the group
        -- without it, and the host's group with it, say so
        roles AS (
            SELECT indicator, year, code, host, code AS member, host AS other, true AS away
            FROM inclusion
            UNION ALL
            SELECT indicator, year, code, host, host, code, false FROM inclusion
        ),
        moved AS (
            SELECT r.indicator, m.level, m.group_code AS code, r.year,
                CASE WHEN r.away
                     THEN 'Uten ' || inc.name || ' (' || r.code || '): kilden fører tallene '
                          || 'under ' || h.name || ', som hører til en annen gruppe'
                     ELSE 'Omfatter også ' || inc.name || ' (' || r.code || '), som kilden '
                          || 'fører under ' || h.name END AS note
            FROM roles r
            JOIN membership m ON m.member = r.member AND m.level <> 'kommune'
            JOIN reg inc ON inc.code = r.code JOIN reg h ON h.code = r.host
            WHERE NOT EXISTS (SELECT 1 FROM membership x WHERE x.member = r.other
                AND x.level = m.level AND x.group_code = m.group_code)
        )
        SELECT indicator, level, code, year, string_agg(DISTINCT note, '{SEP}' ORDER BY note) AS notes
        FROM (SELECT * FROM splits UNION ALL SELECT * FROM moved)
        GROUP BY ALL""",
    """CREATE TABLE agg_cells AS
        WITH bounded AS (
            SELECT a.*, g.n_members, i.min_coverage, coalesce(cb.n, 0) AS n_included,
                a.n_ok + a.n_zero + coalesce(cb.n, 0) + a.n_suppressed_members AS covered,
                CASE WHEN a.kind = 'count' THEN a.multiplier * a.num_lo
                     ELSE """ + _RATE_LO.format(mult="a.multiplier", num_lo="a.num_lo",
                                               den_hi="a.den_hi") + """ END AS v_lo,
                CASE WHEN a.kind = 'count' THEN a.multiplier * a.num_hi
                     ELSE """ + _RATE_HI.format(mult="a.multiplier", num_hi="a.num_hi",
                                               den_lo="a.den_lo") + """ END AS v_hi
            FROM agg a
            JOIN ind i USING (indicator)
            JOIN groups g ON g.level = a.level AND g.code = a.code
            LEFT JOIN covered_by_other cb ON cb.indicator = a.indicator AND cb.level = a.level
                AND cb.code = a.code AND cb.year = a.year
        ),
        judged AS (
            SELECT *,
                CASE WHEN n_data = 0 THEN 'missing'
                     WHEN covered < min_coverage * n_members THEN 'missing'
                     WHEN kind = 'ratio' AND den_hi = 0 THEN 'missing'
                     WHEN n_suppressed > 0 THEN 'intervall'
                     ELSE 'ok' END AS status,
                CASE WHEN n_data = 0 THEN 'Mangler: ingen kommuner har tall'
                     WHEN covered < min_coverage * n_members THEN 'Mangler: bare '
                        || covered || ' av ' || n_members || ' kommuner har tall'
                     WHEN kind = 'ratio' AND den_hi = 0 THEN 'Ikke beregnet: nevneren er null'
                     WHEN n_suppressed > 0 THEN 'Intervall: ' || n_suppressed
                        || CASE WHEN n_suppressed = 1 THEN ' kommune er skjermet'
                                ELSE ' kommuner er skjermet' END
                     END AS reason,
                CASE WHEN n_data > 0 AND covered < n_members
                          AND covered >= min_coverage * n_members
                     THEN 'bare ' || covered || ' av ' || n_members || ' kommuner har tall'
                     END AS coverage_note
            FROM bounded
        )
        SELECT j.indicator, j.level, j.code, j.year, j.status,
            CASE WHEN j.status = 'ok' THEN j.v_lo END AS value,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.v_lo END AS lower,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.v_hi END AS upper,
            CASE WHEN j.status = 'ok' THEN j.num_exact END AS numerator,
            CASE WHEN j.status IN ('ok', 'intervall') AND j.den_lo = j.den_hi THEN j.den_lo
                 END AS denominator,
            j.reason,
            concat_ws('{SEP}', n.notes, j.coverage_note) AS notes,
            CASE WHEN j.source_a = j.source_b THEN j.source_a
                 ELSE j.source_a || ',' || j.source_b END AS source,
            j.n_members, j.n_ok, j.n_suppressed,
            least(1.0, (j.n_ok + j.n_zero + j.n_included)::DOUBLE / j.n_members) AS coverage,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.num_lo END AS numerator_lower,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.num_hi END AS numerator_upper,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.den_lo END AS denominator_lower,
            CASE WHEN j.status IN ('ok', 'intervall') THEN j.den_hi END AS denominator_upper
        FROM judged j
        LEFT JOIN agg_notes n ON n.indicator = j.indicator AND n.level = j.level
            AND n.code = j.code AND n.year = j.year""",
    # 4b. Where the publisher publishes the aggregate itself — a county's or the country's
    # own figure in the same series — and no member is suppressed, its figure is used (an
    # exact total beside suppressed members would reveal their sum, so there the interval
    # stays).
    """CREATE TABLE published_agg AS
        WITH parts AS (
            SELECT t.indicator, t.code, t.year,
                sum(t.v) FILTER (WHERE t.part = 'num') AS num,
                count(*) FILTER (WHERE t.part = 'num') AS num_terms,
                bool_or(t.any_suppressed OR t.any_missing) FILTER (WHERE t.part = 'num')
                    AS num_bad,
                sum(t.v) FILTER (WHERE t.part = 'den') AS den,
                count(*) FILTER (WHERE t.part = 'den') AS den_terms,
                bool_or(t.any_suppressed OR t.any_missing) FILTER (WHERE t.part = 'den')
                    AS den_bad,
                min(t.dataset) AS source
            FROM term_val t JOIN ind i USING (indicator)
            WHERE i.base_level = 'kommune' AND i.aggregation = 'sum'
                AND (t.code = '0' OR t.code IN (SELECT code FROM reg WHERE level = 'fylke'))
            GROUP BY ALL
        )
        SELECT p.indicator, CASE WHEN p.code = '0' THEN 'nasjonal' ELSE 'fylke' END AS level,
            CASE WHEN p.code = '0' THEN 'NO' ELSE p.code END AS code, p.year, p.num, p.den,
            CASE WHEN i.kind = 'ratio' THEN i.multiplier * p.num / p.den
                 ELSE i.multiplier * p.num END AS value, p.source
        FROM parts p JOIN ind i USING (indicator)
        WHERE NOT coalesce(p.num_bad, false) AND p.num IS NOT NULL AND p.num_terms = i.n_num
            AND (i.n_den = 0 OR (NOT coalesce(p.den_bad, false) AND p.den IS NOT NULL
                                 AND p.den_terms = i.n_den AND p.den > 0))""",
    """UPDATE agg_cells SET status = 'ok', value = p.value, lower = p.value, upper = p.value,
            numerator = p.num, denominator = p.den, reason = NULL,
            notes = concat_ws('{SEP}', 'Tallet slik kilden publiserer det for '
                || CASE p.level WHEN 'nasjonal' THEN 'hele landet' ELSE 'fylket' END,
                CASE WHEN agg_cells.status = 'ok' THEN agg_cells.notes END),
            numerator_lower = p.num, numerator_upper = p.num, denominator_lower = p.den,
            denominator_upper = p.den, source = p.source
        FROM published_agg p WHERE agg_cells.indicator = p.indicator
            AND agg_cells.level = p.level AND agg_cells.code = p.code
            AND agg_cells.year = p.year AND agg_cells.n_suppressed = 0""",
    """INSERT INTO agg_cells BY NAME
        SELECT p.indicator, p.level, p.code, p.year, 'ok' AS status, p.value,
            p.value AS lower, p.value AS upper, p.num AS numerator, p.den AS denominator,
            'Tallet slik kilden publiserer det for '
                || CASE p.level WHEN 'nasjonal' THEN 'hele landet' ELSE 'fylket' END
                AS notes,
            p.source, g.n_members, 0 AS n_ok, 0 AS n_suppressed, 0.0 AS coverage,
            p.num AS numerator_lower, p.num AS numerator_upper, p.den AS denominator_lower,
            p.den AS denominator_upper
        FROM published_agg p JOIN groups g ON g.level = p.level AND g.code = p.code
        ANTI JOIN agg_cells a ON a.indicator = p.indicator AND a.level = p.level
            AND a.code = p.code AND a.year = p.year""",
    """CREATE TABLE cells AS
        SELECT b.indicator, b.level, b.code, b.year, b.status,
            CASE WHEN b.status = 'ok' THEN b.lower END AS value,
            b.lower, b.upper,
            CASE WHEN b.status = 'ok' OR b.zero_den THEN b.num END AS numerator,
            CASE WHEN b.den_lo = b.den_hi OR (b.status = 'missing' AND b.den IS NOT NULL)
                 THEN b.den END AS denominator,
            b.reason, b.notes, b.source,
            1 AS n_members,
            (b.status = 'ok')::INTEGER AS n_ok,
            (b.status = 'suppressed')::INTEGER AS n_suppressed,
            (b.status = 'ok' OR b.zero_den)::INTEGER::DOUBLE AS coverage,
            CASE WHEN b.status <> 'missing' OR b.zero_den THEN b.num_lo END AS numerator_lower,
            CASE WHEN b.status <> 'missing' OR b.zero_den THEN b.num_hi END AS numerator_upper,
            CASE WHEN b.status <> 'missing' OR b.zero_den THEN b.den_lo END
                AS denominator_lower,
            CASE WHEN b.status <> 'missing' OR b.zero_den THEN b.den_hi END
                AS denominator_upper
        FROM base b WHERE NOT b.split
        UNION ALL BY NAME
        SELECT * FROM agg_cells""",
    # 4c. Differences of two indicators (e.g. a gap in percentage points), wherever both
    # exist. Exact where both are; where one is an interval or suppressed, the difference
    # has the interval that follows from theirs (A.lower − B.upper … A.upper − B.lower) and
    # the weaker status (suppressed before intervall), so it says nothing the components
    # do not. Provenance is the components'.
    """INSERT INTO cells BY NAME
        WITH pair AS (
            SELECT d.indicator, d.multiplier AS m, a.level, a.code, a.year,
                CASE WHEN a.status = 'missing' OR b.status = 'missing' THEN 'missing'
                     WHEN a.status = 'suppressed' OR b.status = 'suppressed' THEN 'suppressed'
                     WHEN a.status = 'intervall' OR b.status = 'intervall' THEN 'intervall'
                     ELSE 'ok' END AS status,
                a.lower - b.upper AS d_lo, a.upper - b.lower AS d_hi,
                a.status AS a_status, b.status AS b_status, a.reason AS a_reason,
                b.reason AS b_reason, a.notes AS a_notes, b.notes AS b_notes,
                a.source AS a_source, b.source AS b_source, a.n_members,
                least(a.n_ok, b.n_ok) AS n_ok, greatest(a.n_suppressed, b.n_suppressed)
                    AS n_suppressed, least(a.coverage, b.coverage) AS coverage
            FROM diff d
            JOIN cells a ON a.indicator = d.a
            JOIN cells b ON b.indicator = d.b AND b.level = a.level AND b.code = a.code
                AND b.year = a.year
        )
        SELECT indicator, level, code, year, status,
            CASE WHEN status = 'ok' THEN m * d_lo END AS value,
            CASE WHEN status = 'missing' THEN NULL WHEN m >= 0 THEN m * d_lo ELSE m * d_hi END
                AS lower,
            CASE WHEN status = 'missing' THEN NULL WHEN m >= 0 THEN m * d_hi ELSE m * d_lo END
                AS upper,
            CASE WHEN status = 'ok' THEN NULL
                 WHEN a_status = status THEN a_reason WHEN b_status = status THEN b_reason
                 ELSE coalesce(a_reason, b_reason) END AS reason,
            concat_ws('{SEP}', a_notes, b_notes) AS notes,
            CASE WHEN a_source = b_source OR b_source IS NULL THEN a_source
                 WHEN a_source IS NULL THEN b_source
                 ELSE a_source || ',' || b_source END AS source,
            n_members, n_ok, n_suppressed, coverage
        FROM pair""",
    """INSERT INTO region_imports SELECT DISTINCT d.indicator, r.code, r.import_id
        FROM diff d JOIN region_imports r ON r.indicator IN (d.a, d.b)""",
    """INSERT INTO indicator_imports SELECT DISTINCT d.indicator, r.import_id
        FROM diff d JOIN indicator_imports r ON r.indicator IN (d.a, d.b)""",
    # Years in which an indicator has no value anywhere carry no information.
    """DELETE FROM cells WHERE status = 'missing' AND (indicator, year) NOT IN
        (SELECT DISTINCT indicator, year FROM cells WHERE status <> 'missing')""",
    """DELETE FROM cells WHERE level <> 'kommune' AND n_ok = 0 AND n_suppressed = 0
        AND coverage = 0 AND status = 'missing'""",
    # 5. Peers for municipalities (and counties among counties): exact values only; ties
    # share a rank, the percentile is by mid-rank; the hidden ones are counted.
    """CREATE TABLE peer_base AS
        SELECT c.indicator, c.code, c.year, c.value, c.level, c.status,
            CASE WHEN d.direction = 'lower_better' THEN -c.value ELSE c.value END AS score,
            g.centrality::VARCHAR AS p_sentralitet, g.kostra_group AS p_kostra,
            g.county_code AS p_fylke, 'NO' AS p_alle
        FROM cells c
        JOIN groups g ON g.level = c.level AND g.code = c.code
        JOIN direction d USING (indicator)
        WHERE c.status IN ('ok', 'suppressed', 'intervall') AND c.level IN ('kommune', 'fylke')""",
    """CREATE TABLE peers AS
        WITH peer_years AS (
            SELECT DISTINCT indicator, level, max(year) AS year FROM peer_base
            WHERE status = 'ok' GROUP BY indicator, level, code
        ),
        current AS (
            SELECT b.* FROM peer_base b SEMI JOIN peer_years y USING (indicator, level, year)
        ),
        long AS (
            SELECT indicator, code, year, value, score, status, level, 'alle' AS peer_group,
                p_alle AS peer_code FROM current
            UNION ALL SELECT indicator, code, year, value, score, status, level, 'sentralitet',
                p_sentralitet FROM current WHERE level = 'kommune' AND p_sentralitet IS NOT NULL
            UNION ALL SELECT indicator, code, year, value, score, status, level, 'kostra',
                p_kostra FROM current WHERE level = 'kommune' AND p_kostra IS NOT NULL
            UNION ALL SELECT indicator, code, year, value, score, status, level, 'fylke',
                p_fylke FROM current WHERE level = 'kommune' AND p_fylke IS NOT NULL
        ),
        ranked AS (
            SELECT *,
                rank() OVER w AS rank,
                count(*) FILTER (WHERE status = 'ok') OVER g AS n,
                count(*) FILTER (WHERE status <> 'ok') OVER g AS n_hidden,
                count(*) OVER (PARTITION BY indicator, year, level, peer_group, peer_code,
                               status, score) AS n_tied,
                median(value) FILTER (WHERE status = 'ok') OVER g AS median
            FROM long
            WINDOW g AS (PARTITION BY indicator, year, level, peer_group, peer_code),
                   w AS (PARTITION BY indicator, year, level, peer_group, peer_code
                         ORDER BY status <> 'ok', score DESC)
        )
        SELECT r.indicator, r.code, r.year, r.peer_group, r.peer_code, r.rank::INTEGER AS rank,
            r.n::INTEGER AS n, r.n_tied::INTEGER AS n_tied, r.n_hidden::INTEGER AS n_hidden,
            CASE WHEN r.n > 1 THEN round(100.0 * (r.n - (r.rank + (r.n_tied - 1) / 2.0))
                                         / (r.n - 1), 1) END AS percentile,
            r.median
        FROM ranked r WHERE r.status = 'ok'""",
]


def _direction_rows(catalogue: Catalogue) -> list[tuple[str, str]]:
    return [(ind.id, ind.direction) for ind in catalogue.indicators]


def all_cells(cube: Cube, indicators: Iterable[str] | None = None) -> list[Cell]:
    """Every cell (optionally of some indicators), for exports and checks."""
    sql = f"SELECT {_CELL_SELECT} FROM cells"
    params: list[Any] = []
    if indicators is not None:
        wanted = list(indicators)
        sql += f" WHERE indicator IN ({','.join('?' for _ in wanted)})"
        params = wanted
    return [_cell(r) for r in cube.sql(sql + " ORDER BY indicator, level, code, year", params)]


__all__ = ["Cell", "Cube", "all_cells", "build_cube", "check_level"]
