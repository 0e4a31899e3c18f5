"""Validate parsed sources, place them on the 2024 regions, and load them into the store.

``import_paths`` parses *every* file first — a bad file raises before anything is
written — then writes all of them in one transaction. Re-importing a file whose
content (sha256) is already in the store for the same dataset changes nothing; a new
version of a dataset replaces values key by key and moves the old ones to
``observation_history``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from bliatlas.errors import InputError
from bliatlas.format import fmt_num, join_nb
from bliatlas.privacy import apply_secondary_suppression, suppressed_bounds
from bliatlas.regions.continuity import (
    STOCK_SERIES,
    check_continuity,
    failures,
    series_from_observations,
)
from bliatlas.regions.crosswalk import Crosswalk, Resolution, clean_code
from bliatlas.regions.names import strip_markers
from bliatlas.regions.registry import Region, Registry
from bliatlas.sources.files import expand, parse_file
from bliatlas.sources.records import (
    COUNT_UNITS,
    MAX_ABS_VALUE,
    MISSING,
    OK,
    SHARE_TOLERANCE,
    STATUSES,
    SUPPRESSED,
    CellGrid,
    ParsedSource,
    dims_key,
    is_share,
    value_problem,
)
from bliatlas.store import Store

ADDITIVE_UNITS = {"personer", "kroner", "antall"}
REGISTRY_DATASET = "kommuner_bosetting"
_ORDER = {REGISTRY_DATASET: 0, "geo_kommune": 1, "geo_fylke": 1, "kostra_grupper": 2}


@dataclass
class ImportResult:
    source: str
    dataset: str
    status: str                 # 'importert' | 'uendret'
    n_values: int = 0
    n_new: int = 0
    n_changed: int = 0
    n_unassigned: int = 0
    warnings: list[str] = field(default_factory=list)
    import_id: int | None = None


@dataclass
class _Prepared:
    parsed: ParsedSource
    sha256: str
    source_path: str | None
    rows: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    unassigned: list[tuple] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inclusions: list[tuple] | None = None
    geometry_codes_only: bool = False   # a partial GeoJSON replaces only its own regions


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while millions of cells are read and placed.

    Readers and ``prepare`` allocate a few million small tuples and records, none of them
    part of a reference cycle; each allocation burst makes CPython's collector traverse
    the whole, growing heap again, which costs about half of ``prepare``. Collection
    resumes (as it was) when the block ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- registry ------------------------------------------------------------------------
def _registry_from_reference(parsed: ParsedSource, official: dict[str, str]) -> list[Region]:
    regions = []
    for r in parsed.reference["regions"]:
        # Municipal names give no sign of which form is the Norwegian one
        # ('Guovdageaidnu - Kautokeino', 'Trondheim - Tråante'), so both names are the
        # official one; the panel's spelling loses letters (Kárásjohka for Kárášjohka).
        name = official.get(r["code"]) or r["name"]
        regions.append(Region(
            code=r["code"], level="kommune", name=name,
            short_name=name, county_code=r["county_code"], centrality=r["centrality"],
            kostra_group=r["kostra_group"], robek=r["robek"],
        ))
    for c in parsed.reference["counties"]:
        name = official.get(c["code"]) or c["name"]
        # County names put the Norwegian form first ('Troms - Romsa - Tromssa').
        regions.append(Region(code=c["code"], level="fylke", name=name,
                              short_name=name.split(" - ")[0].strip()))
    return regions


def _official_names(store: Store, batch: list[ParsedSource]) -> dict[str, str]:
    names = {r["code"]: r["official_name"] for r in store.query(
        "SELECT code, official_name FROM region_geometry")}
    for p in batch:
        for g in p.reference.get("geometry", []):
            names[g["code"]] = g["official_name"]
    return names


# -- placing observations on 2024 regions ---------------------------------------------
def _bounds(value: float | None, status: str, unit: str) -> tuple[float | None, float | None]:
    """The interval a stored cell is known to lie in (exact cells need none)."""
    if status == SUPPRESSED:
        return suppressed_bounds(unit)
    return None, None


@functools.lru_cache(maxsize=65536)
def _place_name(code: str, name: str) -> str:
    shown = strip_markers(name) if name else ""
    return f"{shown} ({code})" if shown else code


def prepare(parsed: ParsedSource, crosswalk: Crosswalk, strict: bool = False,
            source_path: str | None = None) -> _Prepared:
    """Resolve regions, aggregate merged municipalities, flag conflicts and splits.

    Merged municipalities' counts are summed per year (a suppressed part gives an interval:
    the published parts plus 0–4 for each hidden one); the parts of a county union (Aust-
    and Vest-Agder) only when all of them are there. Split municipalities, old counties
    with other borders and regions outside the municipality structure are kept aside with
    the reason; the successors of a split carry a note for the years they do not cover
    it. The change table's continuity check runs on the stock series it knows.
    """
    path = source_path or parsed.source
    if parsed.grid is not None:
        if not _grid_has_duplicate_keys(parsed.grid):
            return _prepare_grid(parsed, crosswalk, path, source_path)
        # Two rows with one code or two columns with one key: the conflict rules below
        # work on single observations.
        parsed.observations = parsed.grid.observations()
        parsed.grid = None
    prep = _Prepared(parsed, "", source_path)
    by_source: dict[tuple, tuple] = {}
    conflicts: dict[tuple, list] = {}
    groups: dict[tuple, list] = defaultdict(list)
    split_years: dict[str, set[int]] = defaultdict(set)
    notes_for_split: dict[str, set[tuple[str, bool]]] = defaultdict(set)
    by_year = parsed.region_structure != "current"

    dims_cache: dict[int, str] = {}
    # Where each published (code, name, year) lands, and the box of a suppressed cell of
    # each unit: a few hundred distinct answers for ~1,5 million cells, looked up once.
    placed: dict[tuple, tuple[Resolution, str | None]] = {}
    boxes: dict[str, tuple[float | None, float | None]] = {}
    resolve = crosswalk.resolve
    for o in parsed.observations:
        dk = dims_cache.get(id(o.dims))
        if dk is None:
            dk = dims_cache[id(o.dims)] = dims_key(o.dims)
        code, status, measure, year, unit = o.region_code, o.status, o.measure, o.year, o.unit
        skey = (measure, code or o.region_name, year, dk, unit)
        prev = by_source.get(skey)
        if prev is not None:
            if (prev[0], prev[1]) != (o.value, status):
                if strict:
                    raise InputError(
                        path, f"dobbel nøkkel {code} {o.year} {o.measure} {o.dims} med "
                        f"ulike verdier (rad {prev[2]}: {_shown(prev[0], prev[1])}, rad {o.row}: "
                        f"{_shown(o.value, status)}); "
                        "forventet én verdi per nøkkel", row=o.row)
                conflicts.setdefault(skey, [prev]).append((o.value, status, o.row))
            continue
        by_source[skey] = (o.value, status, o.row)
        rkey = (code, o.region_name, year)
        hit = placed.get(rkey)
        if hit is None:
            res = resolve(code, o.region_name, year if by_year else None)
            hit = placed[rkey] = (res, res.targets[0] if res.assigned else None)
        res, target = hit
        if status == SUPPRESSED:
            box = boxes.get(unit)
            if box is None:
                box = boxes[unit] = _bounds(o.value, status, unit)
            lo, hi = box
        else:
            lo = hi = None
        if target is not None:
            gkey = (measure, target, year, dk, unit)
            contrib = (o.value, status, o.status_note, code, skey, lo, hi, o.region_name, res)
            group = groups.get(gkey)
            if group is None:
                groups[gkey] = [contrib]
            else:
                group.append(contrib)
        elif res.kept_aside:
            prep.unassigned.append((parsed.dataset, o.measure, code, o.region_name,
                                    o.year, dk, o.unit, o.value, status, res.reason, lo, hi))
            if res.kind == "split" and status != MISSING and all(
                    x in crosswalk.registry.municipalities for x in res.successors):
                change = crosswalk.changes.get(clean_code(code))
                old = _place_name(clean_code(code),
                                  change.old_name if change else o.region_name)
                one_county = len({crosswalk.registry.municipalities[x].county_code
                                  for x in res.successors}) == 1
                for succ in res.successors:
                    split_years[succ].add(o.year)
                    notes_for_split[succ].add((old, one_county))
        else:
            raise InputError(path, res.reason or f"ukjent region {code!r}", row=o.row,
                             column="region")

    for skey, entries in conflicts.items():
        rows = ", ".join(f"rad {r}: {_shown(v, s)}" for v, s, r in entries)
        prep.warnings.append(
            f"{path}: motstridende verdier for {skey[1]} {skey[2]} {skey[0]} {skey[3]} ({rows}); "
            "lagret som manglende")

    dataset = parsed.dataset
    placed_rows = []
    add = placed_rows.append
    for (measure, target, year, dk, unit), contribs in groups.items():
        first = contribs[0]
        lo = hi = None
        if conflicts and any(c[4] in conflicts for c in contribs):
            conflict_key = next(c[4] for c in contribs if c[4] in conflicts)
            value, status = None, MISSING
            note = "motstridende verdier i kilden (" + ", ".join(
                f"rad {r}" for _, _, r in conflicts[conflict_key]) + ")"
        elif len(contribs) == 1 and first[8].kind != "county-union":
            value, status, note, lo, hi = first[0], first[1], first[2], first[5], first[6]
        else:
            value, status, note, lo, hi = _combine(contribs, unit)
        if target in split_years and year in split_years[target]:
            splits = sorted(notes_for_split[target])
            where = ("fylkes- og landstallene" if all(one for _, one in splits)
                     else "landstallet")
            extra = ("tallet dekker ikke den delen av " + join_nb([n for n, _ in splits])
                     + f" som ble lagt til kommunen senere (den delen telles med i {where})")
            note = f"{note}; {extra}" if note else extra
        if status == OK:
            add((measure, target, year, dk, unit, value, status, note, None, None))
        elif status == SUPPRESSED:
            add((measure, target, year, dk, unit, None, status, note, lo, hi))
        else:
            add((measure, target, year, dk, unit, None, status, note, None, None))
    # Column-wise from here on (value checks with numpy, the write from Arrow).
    columns = ("measure", "region_code", "year", "dims", "unit", "value", "status",
               "status_note", "lower_bound", "upper_bound")
    if placed_rows:
        prep.rows["dataset"] = [dataset] * len(placed_rows)
        for name, column in zip(columns, zip(*placed_rows, strict=True), strict=True):
            prep.rows[name] = list(column)

    prep.inclusions = _inclusions(parsed, crosswalk, path)
    prep.warnings.extend(_continuity_warnings(parsed, crosswalk, path))
    return prep


def _combine_template(members: list[tuple[Resolution, int, int, int]], grid: CellGrid,
                      notes: list[str | None], box: tuple[float | None, float | None],
                      unit: str) -> tuple[int, str | None, float | None, float | None]:
    """What ``prepare`` makes of a group of cells on one 2024 region and column, apart from
    the sum of their published values: (status index, note, lower and upper bound less
    that sum). ``members``: (resolution, row, status index, note index) per cell."""
    contribs = []
    for res, r, status_i, note_i in members:
        status = STATUSES[status_i]
        lo, hi = box if status == SUPPRESSED else (None, None)
        contribs.append((0.0 if status == OK else None, status, notes[note_i], grid.codes[r],
                         None, lo, hi, grid.names[r], res))
    first = contribs[0]
    if len(contribs) == 1 and first[8].kind != "county-union":
        _, status, note, lo, hi = first[0], first[1], first[2], first[5], first[6]
    else:
        _, status, note, lo, hi = _combine(contribs, unit)
    return STATUSES.index(status), note, lo, hi


def _grid_has_duplicate_keys(grid: CellGrid) -> bool:
    """Whether two cells of a wide table could have one source key (same code, or same
    year, dims and unit in two columns)."""
    columns = {(y, dims_key(d), u) for y, d, u in zip(grid.years.tolist(), grid.dims,
                                                       grid.units, strict=True)}
    return len(set(grid.codes)) < len(grid.codes) or len(columns) < len(grid.units)


def _prepare_grid(parsed: ParsedSource, crosswalk: Crosswalk, path: str,
                  source_path: str | None) -> _Prepared:
    """``prepare`` for a wide table without duplicate keys, column-wise.

    The same rules as the cell-by-cell path: each (row, year) is resolved once; a cell
    whose 2024 region and year get no other cell is stored as it is (numpy, all at once);
    the cells of merged regions are combined as before (``_combine``), group by group; the
    rows a region is kept aside for go to ``observation_unassigned``; the notes for split
    municipalities are added to their successors' cells. Rows come out in the order the
    cell-by-cell path gives them (by each group's first cell)."""
    g = parsed.grid
    prep = _Prepared(parsed, "", source_path)
    dataset, measure = parsed.dataset, g.measure
    by_year = parsed.region_structure != "current"
    n_rows = len(g.codes)
    dks = [dims_key(d) for d in g.dims]
    years = np.unique(g.years)
    year_of_col = np.searchsorted(years, g.years)
    # Where each (row, year) lands.
    resolved: list[list[Resolution]] = []
    targets: dict[str, int] = {}
    target_of = np.full((n_rows, len(years)), -1, dtype=np.int64)
    aside_ok = np.zeros((n_rows, len(years)), dtype=bool)
    union = np.zeros((n_rows, len(years)), dtype=bool)
    for r, (code, name) in enumerate(zip(g.codes, g.names, strict=True)):
        line = []
        for yi, year in enumerate(years.tolist()):
            res = crosswalk.resolve(code, name, year if by_year else None)
            line.append(res)
            if res.assigned:
                target_of[r, yi] = targets.setdefault(res.targets[0], len(targets))
            aside_ok[r, yi] = res.kept_aside
            union[r, yi] = res.kind == "county-union"
        resolved.append(line)

    row, col = g.row, g.col
    ycell = year_of_col[col]
    tcell = target_of[row, ycell]
    unplaced = tcell < 0
    failing = np.flatnonzero(unplaced & ~aside_ok[row, ycell])
    if len(failing):
        p = int(failing[0])
        r = int(row[p])
        res = resolved[r][int(ycell[p])]
        raise InputError(path, res.reason or f"ukjent region {g.codes[r]!r}",
                         row=g.rownums[r], column="region")

    notes: list[str | None] = [*g.notes, None]          # index -1 → None
    suppressed = STATUSES.index(SUPPRESSED)
    missing = STATUSES.index(MISSING)
    boxes = {u: _bounds(None, SUPPRESSED, u) for u in set(g.units)}
    split_years: dict[str, set[int]] = defaultdict(set)
    notes_for_split: dict[str, set[tuple[str, bool]]] = defaultdict(set)
    municipalities = crosswalk.registry.municipalities
    for p in np.flatnonzero(unplaced).tolist():
        r, c = int(row[p]), int(col[p])
        res = resolved[r][int(ycell[p])]
        code, year, unit, status = g.codes[r], int(g.years[c]), g.units[c], int(g.status[p])
        value = None if status != 0 else float(g.value[p])
        lo, hi = boxes[unit] if status == suppressed else (None, None)
        prep.unassigned.append((dataset, measure, code, g.names[r], year, dks[c], unit, value,
                                STATUSES[status], res.reason, lo, hi))
        if res.kind == "split" and status != missing and all(
                x in municipalities for x in res.successors):
            change = crosswalk.changes.get(clean_code(code))
            old = _place_name(clean_code(code), change.old_name if change else g.names[r])
            one_county = len({municipalities[x].county_code for x in res.successors}) == 1
            for succ in res.successors:
                split_years[succ].add(year)
                notes_for_split[succ].add((old, one_county))

    # A (2024 region, year) several rows land on, or a county union: combined per group.
    counts = np.zeros((len(targets) + 1, len(years)), dtype=np.int64)
    np.add.at(counts, (target_of, np.broadcast_to(np.arange(len(years)), target_of.shape)), 1)
    placed = ~unplaced
    shared = placed & ((counts[tcell, ycell] > 1) | union[row, ycell])
    single = np.flatnonzero(placed & ~shared)

    # The cells of each (2024 region, column) group, in the source's order; a group's
    # status, note and bounds depend only on which rows it has with which statuses and
    # notes (the same few combinations in every column), its value on the sum of its
    # published values: ``_combine`` runs once per combination.
    cells = np.flatnonzero(shared)
    cells = cells[np.argsort(tcell[cells] * len(g.units) + col[cells], kind="stable")]
    gkey = tcell[cells] * len(g.units) + col[cells]
    starts = np.flatnonzero(np.r_[True, gkey[1:] != gkey[:-1]]) if len(cells) else \
        np.zeros(0, np.int64)
    n_comb = len(starts)
    first_cells = cells[starts]
    comb_t, comb_c = tcell[first_cells], col[first_cells]
    cell_status = g.status[cells]
    known = (np.add.reduceat(np.where(cell_status == 0, g.value[cells], 0.0), starts)
             if n_comb else np.zeros(0))
    rows_l, status_l, note_l = row[cells].tolist(), cell_status.tolist(), g.note[cells].tolist()
    bounds_l = np.r_[starts, len(cells)].tolist()
    comb_year, comb_c_l = ycell[first_cells].tolist(), comb_c.tolist()
    templates: dict[tuple, tuple[int, str | None, float | None, float | None]] = {}
    comb_status = np.zeros(n_comb, np.int64)
    comb_note = np.empty(n_comb, dtype=object)
    comb_lo = np.full(n_comb, np.nan)
    comb_hi = np.full(n_comb, np.nan)
    for k in range(n_comb):
        s0, s1 = bounds_l[k], bounds_l[k + 1]
        c, yi = comb_c_l[k], comb_year[k]
        sig = (yi, g.units[c], tuple(rows_l[s0:s1]), tuple(status_l[s0:s1]),
               tuple(note_l[s0:s1]))
        hit = templates.get(sig)
        if hit is None:
            hit = templates[sig] = _combine_template(
                [(resolved[r][yi], r, st, nt) for r, st, nt in zip(*sig[2:], strict=True)],
                g, notes, boxes[g.units[c]], g.units[c])
        comb_status[k], comb_note[k] = hit[0], hit[1]
        if hit[2] is not None:
            comb_lo[k] = hit[2]
        if hit[3] is not None:
            comb_hi[k] = hit[3]

    # Both kinds of rows together, in the order of their first cell.
    order = np.argsort(np.concatenate([single, first_cells]), kind="stable")
    out_t = np.concatenate([tcell[single], comb_t])[order]
    out_c = np.concatenate([col[single], comb_c])[order]
    status_idx = np.concatenate([g.status[single].astype(np.int64), comb_status])[order]
    value = np.concatenate([g.value[single], known])[order]
    note_obj = np.array(notes, dtype=object)
    note = np.concatenate([note_obj[g.note[single]], comb_note])[order]
    unit_bounds = np.array([[np.nan if b is None else b for b in boxes[u]] for u in g.units],
                           dtype=float).reshape(len(g.units), 2)
    lower = np.concatenate([unit_bounds[col[single], 0], known + comb_lo])[order]
    upper = np.concatenate([unit_bounds[col[single], 1], known + comb_hi])[order]
    is_ok = status_idx == 0
    value[~is_ok] = np.nan
    hidden = status_idx == suppressed
    lower[~hidden] = np.nan
    upper[~hidden] = np.nan

    out_years = g.years[out_c]
    if split_years:
        for target, in_years in split_years.items():
            if target not in targets:
                continue
            splits = sorted(notes_for_split[target])
            where = ("fylkes- og landstallene" if all(one for _, one in splits)
                     else "landstallet")
            extra = ("tallet dekker ikke den delen av " + join_nb([n for n, _ in splits])
                     + f" som ble lagt til kommunen senere (den delen telles med i {where})")
            hit = (out_t == targets[target]) & np.isin(out_years, list(in_years))
            for i in np.flatnonzero(hit).tolist():
                note[i] = f"{note[i]}; {extra}" if note[i] else extra

    n = len(order)
    if n:
        def decoded(index: np.ndarray, texts: list[str]) -> pa.Array:
            """``texts[index]`` as an Arrow dictionary (each distinct text once)."""
            distinct = list(dict.fromkeys(texts))
            where = {t: i for i, t in enumerate(distinct)}
            remap = np.array([where[t] for t in texts], dtype=np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(remap[index], pa.int32()),
                                                  pa.array(distinct, pa.string()))

        prep.rows.update({
            "dataset": decoded(np.zeros(n, np.int32), [dataset]),
            "measure": decoded(np.zeros(n, np.int32), [measure]),
            "region_code": decoded(out_t, list(targets)),
            "year": out_years,
            "dims": decoded(out_c, dks),
            "unit": decoded(out_c, g.units),
            "value": value,
            "status": decoded(status_idx, list(STATUSES)),
            "status_note": note,
            "lower_bound": lower,
            "upper_bound": upper,
        })
    prep.inclusions = _inclusions(parsed, crosswalk, path)
    prep.warnings.extend(_continuity_warnings(parsed, crosswalk, path))
    return prep


def _inclusions(parsed: ParsedSource, crosswalk: Crosswalk, path: str) -> list[tuple] | None:
    """Rows for ``region_inclusion`` (None: the source says nothing about it)."""
    if "included_in" not in parsed.reference:
        return None
    out = []
    for item in parsed.reference["included_in"]:
        code = item.get("code")
        if not code:
            hits = crosswalk.match_name(item.get("name") or "")
            if len(hits) != 1:
                raise InputError(path, f"finner ikke kommunen {item.get('name')!r} som "
                                 "kilden fører under en annen kommune")
            code = hits[0]
        out.append((parsed.dataset, code, int(item["year"]), item["host"], item["note"]))
    return out


def _continuity_warnings(parsed: ParsedSource, crosswalk: Crosswalk, path: str) -> list[str]:
    """The change table's continuity check on the stock series this source carries."""
    out = []
    for stock in STOCK_SERIES:
        if stock.dataset != parsed.dataset:
            continue
        series = (_grid_series(parsed.grid, stock) if parsed.grid is not None
                  else series_from_observations(parsed.observations, stock))
        for failed in failures(check_continuity(series, crosswalk, stock.tolerance,
                                                stock.label)):
            out.append(f"{path}: kontinuitetskontroll av kommuneendringene: {failed.message()}")
    return out
def _grid_series(grid: CellGrid, stock) -> dict:
    """``series_from_observations`` on a wide table's cells: the stock's columns only."""
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    if grid.measure != stock.measure:
        return out
    columns = np.array([u == stock.unit and d == stock.dims
                        for u, d in zip(grid.units, grid.dims, strict=True)], dtype=bool)
    cells = np.flatnonzero(columns[grid.col] & (grid.status == STATUSES.index(OK)))
    years = grid.years.tolist()
    for r, c, v in zip(grid.row[cells].tolist(), grid.col[cells].tolist(),
                       grid.value[cells].tolist(), strict=True):
        out[(grid.codes[r], grid.names[r])][years[c]] = v
    return out


def keep_aside(prep: _Prepared, parsed: ParsedSource) -> None:
    """Cells the reader placed outside the municipality structure (SSB grouping codes,
    KOSTRA groups) go to ``observation_unassigned`` with the reader's reason."""
    for o, reason in parsed.aside:
        prep.unassigned.append((parsed.dataset, o.measure, o.region_code, o.region_name,
                                o.year, dims_key(o.dims), o.unit,
                                o.value if o.status == OK else None, o.status, reason,
                                *_bounds(o.value, o.status, o.unit)))


def check_value_types(prep: _Prepared) -> None:
    """Refuse values that cannot belong to their measure (``records.value_problem``): a
    negative or fractional count, a share outside 0–100, a value beyond ±1e12. Checked on
    the placed rows at once; on a failure the first offending source cell is named."""
    rows = prep.rows
    if len(rows.get("value", ())) == 0:
        return
    values = np.asarray(rows["value"], dtype=float)
    counts = _member(rows["unit"], COUNT_UNITS)
    known = ~np.isnan(values)
    bad = known & (np.abs(values) > MAX_ABS_VALUE)
    bad |= known & counts & ((values < 0) | (values != np.floor(values)))
    pct = _member(rows["unit"], {"prosent"})
    if pct.any():
        dataset = prep.parsed.dataset
        pct_idx = np.flatnonzero(pct)
        pct_measures = _texts(rows["measure"], pct_idx)
        share_measures = [m for m in set(pct_measures) if is_share(dataset, m)]
        shares = np.isin(pct_measures, share_measures)
        pct_idx = pct_idx[shares]
        v = values[pct_idx]
        out = (v < -SHARE_TOLERANCE) | (v > 100 + SHARE_TOLERANCE)
        bad[pct_idx[out]] = True
    if not bad.any():
        return
    parsed = prep.parsed
    path = prep.source_path or parsed.source
    for o in parsed.cells():
        if o.status != OK:
            continue
        problem = value_problem(parsed.dataset, o.measure, o.unit, o.value)
        if problem:
            raise InputError(path, problem, row=o.row,
                             column=", ".join(f"{k}={v}" for k, v in o.dims.items()) or None)
    i = int(np.flatnonzero(bad)[0])        # only a sum of merged cells is out of range
    measure, unit = _texts(rows["measure"], [i])[0], _texts(rows["unit"], [i])[0]
    raise InputError(path, value_problem(parsed.dataset, measure, unit, float(values[i]))
                     or "ugyldig verdi")


def _member(column, texts: set[str]) -> np.ndarray:
    """Which entries of a placed text column (list, or Arrow dictionary) are in ``texts``."""
    if isinstance(column, pa.DictionaryArray):
        hit = np.array([t in texts for t in column.dictionary.to_pylist()], dtype=bool)
        return hit[column.indices.to_numpy(zero_copy_only=False)]
    return np.isin(np.array(column, dtype=object), list(texts))


def _texts(column, index) -> np.ndarray:
    """Entries ``index`` of a placed text column (list, or Arrow dictionary)."""
    if isinstance(column, pa.DictionaryArray):
        words = np.array(column.dictionary.to_pylist(), dtype=object)
        return words[column.indices.to_numpy(zero_copy_only=False)[index]]
    return np.array(column, dtype=object)[index]


def _shown(value: float | None, status: str) -> str:
    if status == SUPPRESSED:
        return "prikket"
    if value is None:
        return "tom"
    return fmt_num(value, 0 if float(value).is_integer() else 2)


@functools.lru_cache(maxsize=65536)
def _joined_places(places: tuple[tuple[str, str], ...], by_code: bool) -> str:
    """'Bø (1867) og Hadsel (1866)': the (code, name) pairs as text, sorted by code if asked
    (the same few combinations recur in every year and group of a file)."""
    if by_code:
        places = tuple(sorted(places, key=lambda p: p[0]))
    return join_nb([_place_name(code, name) for code, name in places])


def _combine(contribs: list[tuple], unit: str
             ) -> tuple[float | None, str, str | None, float | None, float | None]:
    """Several published codes on one 2024 code and year: (value, status, note, lower, upper)."""
    present = [c for c in contribs if c[1] != MISSING]
    parts = _joined_places(tuple((c[3], c[7]) for c in present or contribs), True)
    what = "ett fylke" if len(contribs[0][3].lstrip("FK")) == 2 else "én kommune"
    group = contribs[0][8].group
    if group and present:
        have = {clean_code(c[3]) for c in present}
        lacking = [g for g in group if g not in have]
        if lacking:
            return None, MISSING, (f"fylkene {' og '.join(group)} er til sammen dagens fylke, "
                                   f"men kilden mangler tall for {', '.join(lacking)}"), None, None
    if not present:
        return None, MISSING, None, None, None
    if len(present) == 1:
        c = present[0]
        return c[0], c[1], c[2], c[5], c[6]
    if unit not in ADDITIVE_UNITS:
        return None, MISSING, (f"andeler kan ikke legges sammen for sammenslåtte regioner "
                               f"({parts})"), None, None
    hidden = [c for c in present if c[1] == SUPPRESSED]
    known = sum(c[0] for c in present if c[1] == OK)
    if hidden:
        lo = None if any(c[5] is None for c in hidden) else known + sum(c[5] for c in hidden)
        hi = None if any(c[6] is None for c in hidden) else known + sum(c[6] for c in hidden)
        names = _joined_places(tuple((c[3], c[7]) for c in hidden), False)
        return None, SUPPRESSED, f"summen av {parts} ({names} er skjermet)", lo, hi
    return float(known), OK, f"summen av {parts}, som nå er {what}", None, None


# -- writing ---------------------------------------------------------------------------
def _next_import_id(store: Store) -> int:
    return int(store.query("SELECT coalesce(max(import_id), 0) + 1 AS n FROM import")[0]["n"])


_ROW_TYPES = {"dataset": pa.string(), "measure": pa.string(), "region_code": pa.string(),
              "year": pa.int32(), "dims": pa.string(), "unit": pa.string(),
              "value": pa.float64(), "status": pa.string(), "status_note": pa.string(),
              "lower_bound": pa.float64(), "upper_bound": pa.float64()}


def _arrow_column(column, kind: pa.DataType) -> pa.Array:
    """A placed column as Arrow: lists (None = NULL) and numpy arrays (NaN = NULL) from
    ``prepare``, Arrow arrays as they are."""
    if isinstance(column, pa.DictionaryArray) and column.type.value_type == kind:
        return column                   # DuckDB reads dictionaries as VARCHAR
    if isinstance(column, pa.Array):
        return column if column.type == kind else column.cast(kind)
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return pa.array(column, kind, mask=np.isnan(column))
    return pa.array(column, kind)


def _write(store: Store, prep: _Prepared, imported_at: datetime) -> ImportResult:
    parsed = prep.parsed
    import_id = _next_import_id(store)
    result = ImportResult(parsed.source, parsed.dataset, "importert", import_id=import_id,
                          warnings=list(prep.warnings))
    ref = parsed.reference
    if "regions" in ref:
        store.execute("DELETE FROM region")
        official = {r["code"]: r["official_name"] for r in store.query(
            "SELECT code, official_name FROM region_geometry")}
        rows = [(r.code, r.level, r.name, r.short_name, r.county_code, r.centrality,
                 r.kostra_group, r.robek, import_id)
                for r in _registry_from_reference(parsed, official)]
        store.insert_rows("region", rows)
    if "kostra_groups" in ref:
        store.execute("DELETE FROM kostra_group")
        store.insert_rows("kostra_group", [
            (g["code"], g["name"], g["population_band"], g["bound_costs"], g["free_income"],
             g["n_municipalities"], import_id) for g in ref["kostra_groups"]])
    if "geometry" in ref:
        level = ref["geometry"][0]["level"]
        if prep.geometry_codes_only:
            store.execute("DELETE FROM region_geometry WHERE level = ? AND code IN (SELECT "
                          "unnest(?::VARCHAR[]))", [level, [g["code"] for g in ref["geometry"]]])
        else:
            store.execute("DELETE FROM region_geometry WHERE level = ?", [level])
        store.insert_rows("region_geometry", [
            (g["code"], g["level"], g["official_name"], g["geojson"], import_id)
            for g in ref["geometry"]])
        store.execute(
            "UPDATE region SET name = g.official_name, short_name = CASE WHEN region.level = "
            "'fylke' THEN split_part(g.official_name, ' - ', 1) ELSE g.official_name END "
            "FROM region_geometry g "
            "WHERE region.code = g.code AND g.official_name <> ''")

    n_values = len(prep.rows.get("dataset", []))
    if n_values:
        table = pa.table({name: _arrow_column(prep.rows[name], kind)
                          for name, kind in _ROW_TYPES.items()})
        result.n_new, result.n_changed = store.upsert_observations(table, import_id)
    result.n_values = n_values
    if prep.unassigned:
        store.insert_rows("observation_unassigned",
                          [(*u[:10], import_id, *u[10:]) for u in prep.unassigned])
    if prep.inclusions is not None:
        store.execute("DELETE FROM region_inclusion WHERE dataset = ?", [parsed.dataset])
        store.insert_rows("region_inclusion",
                          [(*row, import_id) for row in dict.fromkeys(prep.inclusions)])
    result.n_unassigned = len(prep.unassigned)
    store.execute(
        "INSERT INTO import VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [import_id, parsed.publisher, parsed.dataset, parsed.source, prep.source_path,
         parsed.format, prep.sha256, parsed.licence, imported_at, n_values, result.n_new,
         result.n_changed, result.n_unassigned,
         "; ".join(parsed.notes + prep.warnings) or None])
    return result


def _already_imported(store: Store, dataset: str, digest: str) -> bool:
    return bool(store.query(
        "SELECT 1 FROM import WHERE dataset = ? AND content_sha256 = ? LIMIT 1", [dataset, digest]))


def check_geometry(prep: _Prepared, registry: Registry, partial_allowed: bool) -> None:
    """A boundary file must cover every region of its level in the registry (357
    municipalities, 15 counties), with no code the registry lacks; a partial set replaces
    only its own regions, and only when asked for (``bli import --partial-geometry``)."""
    geometry = prep.parsed.reference.get("geometry")
    if not geometry or not (registry.municipalities or registry.counties):
        return
    level = geometry[0]["level"]
    known = set(registry.municipalities if level == "kommune" else registry.counties)
    codes = {g["code"] for g in geometry}
    path = prep.source_path or prep.parsed.source
    unknown = sorted(codes - known)
    if unknown:
        raise InputError(path, f"{len(unknown)} regionnummer finnes ikke i 2024-registeret "
                         f"({', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''})",
                         column="properties")
    missing = known - codes
    if missing and not partial_allowed:
        what = "kommuner" if level == "kommune" else "fylker"
        raise InputError(
            path, f"filen har grenser for {len(codes)} av {len(known)} {what} (mangler "
            f"{', '.join(sorted(missing)[:5])}{' …' if len(missing) > 5 else ''}); et delvis "
            "kart ville erstattet hele kartet. Bruk --partial-geometry for å bytte ut bare "
            "disse regionene")
    prep.geometry_codes_only = bool(missing)


def load_parsed_batch(store: Store, batch: list[tuple[ParsedSource, str, str | None]],
                      strict: bool = False, partial_geometry: bool = False
                      ) -> list[ImportResult]:
    """Place and write several parsed sources in one transaction (all or nothing)."""
    with _bulk():
        return _load_parsed_batch(store, batch, strict, partial_geometry)


def _load_parsed_batch(store: Store, batch: list[tuple[ParsedSource, str, str | None]],
                       strict: bool, partial_geometry: bool) -> list[ImportResult]:
    batch = sorted(batch, key=lambda b: _ORDER.get(b[0].dataset, 9))
    results: list[ImportResult] = []
    todo = []
    for parsed, digest, source_path in batch:
        if _already_imported(store, parsed.dataset, digest):
            results.append(ImportResult(parsed.source, parsed.dataset, "uendret"))
        else:
            todo.append((parsed, digest, source_path))
    if not todo:
        return results

    parsed_all = [p for p, _, _ in batch]
    panel = next((p for p in parsed_all if "regions" in p.reference), None)
    if panel is not None:
        registry = Registry(_registry_from_reference(panel, _official_names(store, parsed_all)))
    else:
        registry = Registry.from_store(store)
    crosswalk = Crosswalk(registry)
    prepared = []
    for parsed, digest, source_path in todo:
        prep = prepare(parsed, crosswalk, strict=strict, source_path=source_path)
        prep.sha256 = digest
        keep_aside(prep, parsed)
        check_value_types(prep)
        check_geometry(prep, registry, partial_geometry)
        # The placed rows are all that is written; the reader's cells (the largest
        # structure of a big file, ~2 million objects for IMDi's country export) go now.
        parsed.observations = []
        parsed.aside = []
        parsed.grid = None
        prepared.append(prep)

    imported_at = datetime.now(UTC).replace(tzinfo=None)
    with store.transaction():
        for prep in prepared:
            results.append(_write(store, prep, imported_at))
        apply_secondary_suppression(store)
    return results


def load_parsed(store: Store, parsed: ParsedSource, content_sha256: str,
                source_path: str | None = None, strict: bool = False) -> ImportResult:
    """Load one parsed source (e.g. an SSB API response) in its own transaction."""
    return load_parsed_batch(store, [(parsed, content_sha256, source_path)], strict=strict)[0]


def import_paths(store: Store, paths: list[Path], strict: bool = False,
                 region: str | None = None, sub_annual: str = "error",
                 partial_geometry: bool = False) -> tuple[list[ImportResult], list[Path]]:
    """Import files and directories; returns the results and the files skipped as not data."""
    files, skipped = expand(paths)
    if not files:
        raise InputError(", ".join(map(str, paths)), "ingen datafiler (.csv, .xlsx, .json, "
                         ".geojson) å importere")
    batch = []
    with _bulk():
        for f in files:
            data = f.read_bytes()
            parsed = (parse_file(f, data, sub_annual=sub_annual) if region is None
                      else _parse_with_region(f, data, region, sub_annual))
            batch.append((parsed, sha256(data), str(f.resolve())))
    return load_parsed_batch(store, batch, strict=strict,
                             partial_geometry=partial_geometry), skipped


def _parse_with_region(path: Path, data: bytes, region: str,
                       sub_annual: str = "error") -> ParsedSource:
    from bliatlas.sources import tidy

    try:
        return parse_file(path, data, sub_annual=sub_annual)
    except InputError as exc:
        if "hvilket fylke" not in str(exc):
            raise
        return tidy.parse_tidy_csv(data, str(path), region=region)


@dataclass
class RefreshEntry:
    """One file or table of an import or sync run, for the ``refresh_log`` table."""
    source: str
    status: str
    publisher: str | None = None
    dataset: str | None = None
    new_years: list[int] = field(default_factory=list)
    n_new: int = 0
    n_changed: int = 0
    examples: list[str] = field(default_factory=list)
    message: str = ""
    import_id: int | None = None


def log_refresh(store: Store, command: str, entries: list[RefreshEntry]) -> None:
    """Record what a run did (``bli import``, ``bli sync standard``); one time per run.

    A missing publisher is taken from the dataset's latest import (an unchanged file)."""
    run_at = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for e in entries:
        publisher = e.publisher
        if publisher is None and e.dataset:
            found = store.query("SELECT publisher FROM import WHERE dataset = ? "
                                "ORDER BY import_id DESC LIMIT 1", [e.dataset])
            publisher = found[0]["publisher"] if found else None
        rows.append((run_at, command, e.source, publisher, e.dataset, e.status,
                     ", ".join(map(str, e.new_years)) or None, e.n_new, e.n_changed,
                     "; ".join(e.examples) or None, e.message or None, e.import_id))
    if rows:
        store.insert_rows("refresh_log", rows)
