"""Municipality features for settlement planning, read from the store with SQL.

One row per 2024 municipality (357, in registry order: by municipality number). A
value the publisher suppressed (``<5``, ``Prikket`` …) or did not publish stays
``nan`` and its status (``ok`` | ``suppressed`` | ``missing``) is kept in
:attr:`MunicipalityTable.status`; it is never replaced by 0 here. Code that needs a
number (the planner, the model) decides explicitly what to do with ``nan`` and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bliatlas.errors import NotFound, UserError

#: field name -> (measure, unit) in dataset ``kommuner_bosetting`` (docs/data-model.md).
MEASURES: dict[str, tuple[str, str]] = {
    "population": ("folkemengde", "personer"),
    "anmodning": ("anmodning", "personer"),
    "vedtak": ("vedtak", "personer"),
    "settled": ("bosatt", "personer"),
    "ema_anmodning": ("ema_anmodning", "personer"),
    "ema_vedtak": ("ema_vedtak", "personer"),
    "gp_spare_capacity": ("fastlege_reservekapasitet", "prosent"),
    "gp_waiting_list": ("fastlege_venteliste", "personer"),
}
#: Measures only published for 2024 in the panel: read for 2024 whatever ``year`` is.
ONLY_2024 = {"anmodning", "vedtak", "settled", "ema_anmodning", "ema_vedtak"}

#: Norwegian labels for the fields, used in tables and reasons.
LABELS: dict[str, str] = {
    "population": "folketall",
    "centrality": "sentralitet",
    "anmodning": "anmodning fra IMDi",
    "vedtak": "kommunens vedtak",
    "settled": "bosatt",
    "ema_anmodning": "anmodning enslige mindreårige",
    "ema_vedtak": "vedtak enslige mindreårige",
    "gp_spare_capacity": "fastlegenes reservekapasitet (%, over 100 = ledige plasser)",
    "gp_waiting_list": "på venteliste for fastlege",
    "robek": "ROBEK",
    "settled_refugees_mean": "bosatte flyktninger per år (snitt)",
    "county_retention": "bofasthet i fylket (%)",
}


#: Reservekapasitet at which the GP lists are exactly full (Helsedirektoratet: "over 100
#: betyr ledig kapasitet").
GP_FULL = 100.0


@dataclass
class MunicipalityTable:
    """Municipality features as parallel arrays (index j = municipality j)."""

    year: int
    codes: np.ndarray  # str, 4 digits
    names: np.ndarray  # short Norwegian name
    county: np.ndarray  # 2-digit county code
    centrality: np.ndarray  # float 1..6 (nan if unknown)
    population: np.ndarray
    anmodning: np.ndarray
    vedtak: np.ndarray
    settled: np.ndarray
    ema_anmodning: np.ndarray
    ema_vedtak: np.ndarray
    gp_spare_capacity: np.ndarray
    gp_waiting_list: np.ndarray
    robek: np.ndarray  # float 1/0/nan
    #: refugees settled per year (bosatte_flyktninger), mean over the years available
    #: in the store up to ``year`` (nan if every year is suppressed/missing)
    settled_refugees_mean: np.ndarray
    #: share (%) of refugees still living in the first municipality, for the county
    #: (bofasthet_fylker); nan where the county is not in the table
    county_retention: np.ndarray
    status: dict[str, np.ndarray] = field(default_factory=dict)  # field -> status per muni
    settled_refugees_by_year: dict[int, np.ndarray] = field(default_factory=dict)
    #: refugees settled per year by group (``ukrainere`` | ``ovrige``, IMDi's split of
    #: bosatte_flyktninger), mean over the years available up to ``year``; nan where every
    #: year is suppressed — the co-national network a newcomer meets
    settled_by_group: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def gp_has_spare(self) -> np.ndarray:
        """Where the GPs have free list places: Helsedirektoratet's *reservekapasitet* (the
        list length the GPs accepted, in % of the persons on their lists) is above 100.
        Unknown → False."""
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(self.gp_spare_capacity, nan=0.0) > GP_FULL

    def index(self, code: str) -> int:
        hits = np.flatnonzero(self.codes == code)
        if hits.size == 0:
            raise NotFound(f"ukjent kommunenummer {code!r}; forventet et 2024-kommunenummer")
        return int(hits[0])

    def subset(self, mask: np.ndarray) -> MunicipalityTable:
        """The municipalities where ``mask`` is true (or at the given indices)."""
        sel: Any = mask
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            val = getattr(self, name)
            if isinstance(val, np.ndarray):
                out[name] = val[sel]
            elif name in ("status", "settled_refugees_by_year", "settled_by_group"):
                out[name] = {k: v[sel] for k, v in val.items()}
            else:
                out[name] = val
        return MunicipalityTable(**out)

    def in_county(self, county: str) -> MunicipalityTable:
        mask = self.county == county
        if not mask.any():
            raise NotFound(
                f"ukjent fylkesnummer {county!r}; forventet et 2024-fylkesnummer "
                "(f.eks. 46 for Vestland)"
            )
        return self.subset(mask)


def _by_code(rows: list[dict[str, Any]], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = {c: i for i, c in enumerate(codes.tolist())}
    values = np.full(len(codes), np.nan)
    status = np.full(len(codes), "missing", dtype=object)
    for row in rows:
        i = pos.get(row["region_code"])
        if i is None:
            continue
        status[i] = row["status"]
        if row["value"] is not None and row["status"] == "ok":
            values[i] = float(row["value"])
    return values, status


def municipality_features(store: Any, year: int = 2024) -> MunicipalityTable:
    """The 2024 municipalities with the features the planner and the model use."""
    regions = store.query(
        "SELECT code, short_name, county_code, centrality, robek FROM region "
        "WHERE level = 'kommune' ORDER BY code"
    )
    if not regions:
        raise UserError("databasen har ingen kommuner; kjør `bli import ../shared/data` først")
    codes = np.array([r["code"] for r in regions], dtype=object)
    names = np.array([r["short_name"] for r in regions], dtype=object)
    county = np.array([r["county_code"] or "" for r in regions], dtype=object)
    centrality = np.array(
        [np.nan if r["centrality"] is None else float(r["centrality"]) for r in regions]
    )
    robek = np.array([np.nan if r["robek"] is None else float(bool(r["robek"])) for r in regions])
    status: dict[str, np.ndarray] = {
        "centrality": np.where(np.isnan(centrality), "missing", "ok").astype(object),
        "robek": np.where(np.isnan(robek), "missing", "ok").astype(object),
    }
    values: dict[str, np.ndarray] = {}
    for name, (measure, unit) in MEASURES.items():
        y = 2024 if name in ONLY_2024 else year
        # The latest figure for the year: GP figures are stored under the year
        # Helsedirektoratet states (2023 for the panel's 2024 rows).
        found = store.query(
            "SELECT max(year) AS y FROM observation WHERE measure = ? AND unit = ? "
            "AND year <= ? AND dims = '' AND dataset = 'kommuner_bosetting' AND status = 'ok'",
            [measure, unit, y])
        y = found[0]["y"] if found and found[0]["y"] is not None else y
        rows = store.query(
            "SELECT region_code, value, status FROM observation "
            "WHERE measure = ? AND unit = ? AND year = ? AND dims = '' "
            "AND dataset = 'kommuner_bosetting'",
            [measure, unit, y],
        )
        values[name], status[name] = _by_code(rows, codes)

    by_year: dict[int, np.ndarray] = {}
    year_rows = store.query(
        "SELECT DISTINCT year FROM observation WHERE measure = 'bosatte_flyktninger' "
        "AND dataset = 'kommuner_bosetting' AND dims = '' AND year <= ? ORDER BY year",
        [year],
    )
    for yr in (int(r["year"]) for r in year_rows):
        rows = store.query(
            "SELECT region_code, value, status FROM observation "
            "WHERE measure = 'bosatte_flyktninger' AND dataset = 'kommuner_bosetting' "
            "AND dims = '' AND unit = 'personer' AND year = ?",
            [yr],
        )
        by_year[yr], status[f"settled_refugees_{yr}"] = _by_code(rows, codes)
    if by_year:
        stack = np.vstack(list(by_year.values()))
        with np.errstate(all="ignore"):
            counts = (~np.isnan(stack)).sum(axis=0)
            mean = np.where(counts > 0, np.nansum(stack, axis=0) / np.maximum(counts, 1), np.nan)
    else:
        mean = np.full(len(codes), np.nan)
    status["settled_refugees_mean"] = np.where(np.isnan(mean), "suppressed", "ok").astype(object)
    by_group: dict[str, np.ndarray] = {}
    for group in ("ukrainere", "ovrige"):
        stack = []
        for yr in by_year:
            rows = store.query(
                "SELECT region_code, value, status FROM observation "
                "WHERE measure = 'bosatte_flyktninger' AND dataset = 'kommuner_bosetting' "
                "AND dims = ? AND unit = 'personer' AND year = ?",
                [f"gruppe={group}", yr],
            )
            if rows:
                stack.append(_by_code(rows, codes)[0])
        if stack:
            arr = np.vstack(stack)
            counts = (~np.isnan(arr)).sum(axis=0)
            with np.errstate(all="ignore"):
                by_group[group] = np.where(counts > 0,
                                           np.nansum(arr, axis=0) / np.maximum(counts, 1), np.nan)

    retention = np.full(len(codes), np.nan)
    ret_rows = store.query(
        "SELECT region_code, value, year FROM observation WHERE dataset = 'bofasthet_fylker' "
        "AND measure = 'bofasthet' AND status = 'ok' "
        "AND lower(dims) LIKE 'status=bosatt i f%rste bostedskommune' ORDER BY year"
    )
    county_ret = {r["region_code"]: float(r["value"]) for r in ret_rows}  # latest year wins
    for j, c in enumerate(county.tolist()):
        if c in county_ret:
            retention[j] = county_ret[c]
    status["county_retention"] = np.where(np.isnan(retention), "missing", "ok").astype(object)

    return MunicipalityTable(
        year=year,
        codes=codes,
        names=names,
        county=county,
        centrality=centrality,
        robek=robek,
        settled_refugees_mean=mean,
        county_retention=retention,
        status=status,
        settled_refugees_by_year=by_year,
        settled_by_group=by_group,
        **values,
    )
