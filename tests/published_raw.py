"""Every published cell, recomputed from the raw files in ../shared/data with a parser and
a recomputation of its own — not the import code and not the engine.

What it does, step by step, the way a reader with the files and the documentation would:

1. read the raw files (IMDi's ``;``-separated ISO-8859-1 exports, the panel's xlsx, the
   Telemark county CSVs) into cells (code and name as published, year, dimensions, unit,
   value or suppressed/missing);
2. place them on the 2024 municipalities with the change table (``kommuneendringer.csv``,
   reference data) and name matching: merged municipalities are summed per year (a
   suppressed part gives the published parts + 0–4), split ones kept as their own units for
   county and national totals, the panel's placeholder rows for Haram in 2022–2023 (Haram
   was part of Ålesund) left out, GP figures moved to the year Helsedirektoratet states;
3. compute every catalogue indicator (``catalogue.yaml``, the definitions) at every level:
   the first source that has a region and year, numerator and denominator summed over the
   members, an interval where members are suppressed (published sum to published sum + 4
   each), a group missing when fewer than ``min_coverage`` of its municipalities have data.

``tests/test_published_cells.py`` compares the result with the API, cell by cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import openpyxl
import yaml

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COUNTS = {"personer", "antall", "kroner"}          # units a merged municipality sums
ADDITIVE = COUNTS | {"flagg"}                      # units whose hidden cells have bounds
LEVELS = ("kommune", "fylke", "sentralitet", "distrikt", "kostra", "nasjonal")
# Where the municipalities of an old county code went (for renumbered municipality codes).
PREFIX_COUNTIES = {
    "01": ("31",), "02": ("32",), "06": ("33",), "07": ("39",), "08": ("40",),
    "04": ("34",), "05": ("34",), "09": ("42",), "10": ("42",), "12": ("46",), "14": ("46",),
    "16": ("50",), "17": ("50",), "19": ("55",), "20": ("56",), "30": ("31", "32", "33"),
    "38": ("39", "40"), "54": ("55", "56"),
}


def fold(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def plain_name(name: str) -> str:
    """'Bø (Telemark)  (t.o.m. 2019)' → 'bo'; 'Tromsø - Romsa - Tromssa' → first form."""
    name = re.sub(r"\([^()]*\)", "", name)
    return fold(name.split(" - ")[0])


@dataclass
class Raw:
    dataset: str
    measure: str
    code: str
    name: str
    year: int
    dims: str
    unit: str
    value: float | None
    status: str             # ok | suppressed | missing


def dims_key(dims: dict[str, str]) -> str:
    return "|".join(f"{k}={dims[k]}" for k in sorted(dims))


def number(text: Any) -> tuple[float | None, str]:
    if text is None:
        return None, "missing"
    if isinstance(text, (int, float)):
        return float(text), "ok"
    t = str(text).strip()
    if t in ("", ".", "-", "..") or t.lower() == "ikke tilgjengelig":
        return None, "missing"
    if t in (":", "<5") or t.lower().startswith(("prikket", "anonym")):
        return None, "suppressed"
    try:
        return float(t.replace(",", ".")), "ok"
    except ValueError:
        return None, "missing"  # words where a number is not decided ('avventer vedtak')


# -- 1. readers ------------------------------------------------------------------------------
IMDI_FILES = {
    "innvandringsgrunn_kommuner_2006-2021.csv": ("imdi_innvandringsgrunn", "innvandrere"),
    "bosatt_anmodede_2014-2021_utvalg.csv": ("imdi_bosetting", "bosetting"),
    "flyktning_botid_sekundaerflytting_vestfold-telemark.csv": ("imdi_sekundaerflytting",
                                                                 "flyktninger"),
    "utdanningsniva_kommuner_2011-2020.csv": ("imdi_utdanningsniva", "befolkning"),
    "landbakgrunn_kommuner_2006-2022.csv": ("imdi_landbakgrunn", "innvandrere"),
}
DIM_KEYS = {"innvandringsgrunn": "innvandringsgrunn", "kjonn": "kjonn", "bosetting": "bosetting",
            "botid i norge": "botid", "sekundaerflytting": "sekundaerflytting",
            "bakgrunn": "bakgrunn", "utdanningsniva": "utdanningsniva",
            "landbakgrunn": "landbakgrunn"}


@cache
def read_imdi(name: str) -> list[Raw]:
    dataset, measure = IMDI_FILES[name]
    text = (DATA / "imdi" / name).read_bytes().decode("iso-8859-1")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = [r for r in rows if r and r[0] in ("Region", "")]
    header = [h for h in header if len(h) > 2 and any(": " in c for c in h[2:])]
    columns = {}  # what each column holds: (year, unit, dims)
    for col in range(2, max(len(h) for h in header)):
        labels = dict(h[col].split(": ", 1) for h in header if col < len(h) and ": " in h[col])
        year = int(labels.pop("År"))
        unit = labels.pop("Enhet").lower()
        columns[col] = (year, unit, dims_key({DIM_KEYS[fold(k)]: v for k, v in labels.items()}))
    out = []
    for r in rows:
        if not r or not r[0].startswith("K"):
            continue
        for col in range(2, len(r)):
            year, unit, dims = columns[col]
            value, status = number(r[col])
            out.append(Raw(dataset, measure, r[0][1:], r[1], year, dims, unit, value, status))
    return out


def read_sheet(path: Path) -> list[dict[str, Any]]:
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:] if any(v not in (None, "") for v in r)]


# The panel's columns as the data README describes them: column -> (measure, group, unit,
# the column whose text marks the value suppressed).
PANEL_COLUMNS: dict[str, tuple[str, str | None, str, str | None]] = {
    "pop": ("folkemengde", None, "personer", None),
    "innvandr": ("bosatte_flyktninger", None, "personer", None),
    "ukrainere": ("bosatte_flyktninger", "ukrainere", "personer", "ukr_prikket"),
    "ovrige": ("bosatte_flyktninger", "ovrige", "personer", "ovr_prikket"),
    "ema": ("enslige_mindreaarige_bosatt", None, "personer", "ema_prikket"),
    "legeliste_n": ("fastlege_venteliste", None, "personer", None),
    "legeliste_pct": ("fastlege_venteliste_andel", None, "prosent", None),
    "lege_reservekapasitet": ("fastlege_reservekapasitet", None, "prosent", None),
    "innvandr_anmodet": ("anmodning", None, "personer", None),
    "innvandr_vedtak": ("vedtak", None, "personer", None),
    "innvandr_bosatt": ("bosatt", None, "personer", None),
    "ema_anmodet_2024": ("ema_anmodning", None, "personer", None),
    "ema_vedtak_2024": ("ema_vedtak", None, "personer", None),
}
GP = {"fastlege_venteliste", "fastlege_venteliste_andel", "fastlege_reservekapasitet"}


def read_panel() -> tuple[list[Raw], list[dict[str, Any]], set[tuple[str, int]]]:
    """The panel as cells; its 2024 rows (the registry); its placeholder rows (population 0:
    a municipality that did not exist that year)."""
    rows = read_sheet(DATA / "panel" / "kommuner_bosetting_2022-2024.xlsx")
    placeholders = {(r["Kommunenummer"], r["year"]) for r in rows if r["pop"] == 0}
    stated = {}  # the year lege_category says the GP figures are from
    for r in rows:
        m = re.search(r"\bi (\d{4})\b", str(r["lege_category"] or ""))
        if m:
            stated.setdefault(r["year"], set()).add(int(m.group(1)))
    gp_year = {y: next(iter(s)) for y, s in stated.items() if len(s) == 1}
    have = {(r["Kommunenummer"], r["year"]) for r in rows}
    out = []
    for r in rows:
        code, year = r["Kommunenummer"], r["year"]
        placeholder = (code, year) in placeholders  # its figures are not data
        for col, (measure, group, unit, flag) in PANEL_COLUMNS.items():
            dims = {"gruppe": group} if group else {}
            value, status = number(r[col])
            if flag and value is None and str(r.get(flag) or "").lower().startswith("prikket"):
                status = "suppressed"
            if measure in GP and gp_year.get(year, year) != year and \
                    (code, gp_year[year]) in have:
                continue  # the same figures filed again under the next year
            y = gp_year.get(year, year) if measure in GP else year
            if measure in ("anmodning", "vedtak", "bosatt", "ema_anmodning", "ema_vedtak") and \
                    year != 2024:
                continue
            if placeholder:
                value, status = None, "missing"
            out.append(Raw("kommuner_bosetting", measure, code, r["Kommune"], y, dims_key(dims),
                           unit, value, status))
        out.append(Raw("kommuner_bosetting", "robek", code, r["Kommune"], year, "", "flagg",
                       None if placeholder else 1.0 if r["robek"] == "robek" else 0.0,
                       "missing" if placeholder else "ok"))
    registry = [r for r in rows if r["year"] == 2024]
    return out, registry, placeholders


def read_grants() -> list[Raw]:
    rows = read_sheet(DATA / "panel" / "imdi_tilskudd_kommuner_2022-2024.xlsx")
    out = []
    for r in rows:
        value, status = number(r["Antall"])
        if value is None and str(r["Kommentar"] or "").lower().startswith("anonym"):
            status = "suppressed"
        out.append(Raw("imdi_tilskudd", "tilskudd", r["Kommunenummer"], r["Kommune"], r["År"],
                       f"tilskuddstype={r['Tilskuddstype']}", "kroner", value, status))
    # IMDi publishes the total beside the types: where a type is anonymised, the atlas
    # hides the total too (else total − the other types gives the anonymised amount).
    hidden = {(g.code, g.year) for g in out if g.status == "suppressed"}
    for g in out:
        if g.dims == "tilskuddstype=Totalt" and (g.code, g.year) in hidden and g.status == "ok":
            g.value, g.status = None, "suppressed"
    return out


def read_telemark() -> list[Raw]:
    out = []
    with open(DATA / "telemark" / "innvandringsgrunn_telemark_long.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            value, status = number(r["Antall"])
            dims = {"innvandringsgrunn": r["Innvandringsgrunn"], "kjonn": r["Kjønn"]}
            out.append(Raw("telemark_innvandringsgrunn", "innvandrere", r["Kommunenummer"],
                           r["Kommune"], int(r["År"]), dims_key(dims), r["Enhet"].lower(), value,
                           status))
    with open(DATA / "telemark" / "sekundaerflytting_telemark_long.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            value, status = number(r["Antall"])
            dims = {"sekundaerflytting": r["Sekundærflytting"], "botid": r["Botid i Norge"]}
            out.append(Raw("telemark_sekundaerflytting", "flyktninger", r["Kommunenummer"],
                           r["Kommune"], int(r["År"][:4]), dims_key(dims), "personer", value,
                           status))
    return out


def read_county_tables(county_codes: dict[str, str]) -> list[Raw]:
    out = []
    with open(DATA / "telemark" / "bofasthet_fylker.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))
    for r in rows[1:]:
        for col, cell in zip(rows[0][1:], r[1:]):
            value, status = number(cell)
            out.append(Raw("bofasthet_fylker", "bofasthet", county_codes[fold(r[0])], r[0], 0,
                           f"status={col.strip()}", "prosent", value, status))
    with open(DATA / "telemark" / "sysselsatte_etter_landbakgrunn_telemark.csv",
              encoding="utf-8") as f:
        for r in csv.DictReader(f):
            for col, cell in r.items():
                if col != "År":
                    value, status = number(cell)
                    out.append(Raw("sysselsatte_landbakgrunn", "sysselsatte_andel", "40", "",
                                   int(r["År"]), f"landbakgrunn={col}", "prosent", value, status))
    with open(DATA / "telemark" / "sysselsatte_etter_botid_telemark.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    year = int(re.search(r"\((\d{4})\)", rows[0][0]).group(1))
    for r in rows[1:]:
        for col, cell in zip(rows[0][1:], r[1:]):
            value, status = number(cell)
            out.append(Raw("sysselsatte_botid", "sysselsatte_andel", "40", "", year,
                           dims_key({"botid": r[0], "landbakgrunn": col}), "prosent", value,
                           status))
    return out


# -- 2. placement on the 2024 municipalities --------------------------------------------------
@dataclass
class Municipality:
    code: str
    name: str
    county: str
    centrality: int
    kostra: str | None


class Places:
    def __init__(self, registry: list[dict[str, Any]]) -> None:
        self.munis = {r["Kommunenummer"]: Municipality(
            r["Kommunenummer"], r["Kommune"], r["Fylkenummer"], int(r["sentralitet"]),
            r["kostranr"] or None) for r in registry}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for m in self.munis.values():
            for form in m.name.split(" - "):
                self.by_name[plain_name(form)].append(m.code)
        text = resources.files("bliatlas.regions").joinpath(
            "data/kommuneendringer.csv").read_text(encoding="utf-8")
        self.changes = {r["old_code"]: r for r in csv.DictReader(
            line for line in text.splitlines() if line and not line.startswith("#"))}

    def named(self, name: str, counties: tuple[str, ...] | None = None) -> list[str]:
        return [c for c in self.by_name.get(plain_name(name), [])
                if counties is None or self.munis[c].county in counties]

    def successors(self, change: dict[str, str]) -> list[str]:
        return [c for part in change["successor"].split("+") for c in self.named(part)]

    def place(self, code: str, name: str) -> tuple[str, str]:
        """('to', 2024 code) | ('split', published code) | ('aside', '')."""
        change = self.changes.get(code)
        if change is not None:
            if change["kind"] == "split":
                return "split", code
            hits = self.named(change["successor"],
                              PREFIX_COUNTIES.get(change["successor_county"],
                                                  (change["successor_county"],)))
            assert len(hits) == 1, (code, name, hits)
            return "to", hits[0]
        if code in self.munis:
            return "to", code
        if code.startswith("99") or code[:2] in ("21", "22", "23"):
            return "aside", ""  # unknown municipality, Svalbard, Jan Mayen, the shelf
        if len(code) == 4 and code.isdigit():
            hits = self.named(name, PREFIX_COUNTIES.get(code[:2]))
            assert len(hits) == 1, (code, name, hits)
            return "to", hits[0]
        return "aside", ""


@dataclass
class Stored:
    status: str
    value: float | None
    lo: float | None = None
    hi: float | None = None


def place_all(raw: list[Raw], places: Places) -> tuple[dict[tuple, Stored], dict[tuple, Stored]]:
    """(stored cells on 2024 codes, split municipalities' cells) by
    (dataset, measure, code, year, dims, unit)."""
    groups: dict[tuple, list[Raw]] = defaultdict(list)
    splits: dict[tuple, Stored] = {}
    for r in raw:
        if len(r.code) == 2:  # county tables: already on 2024 counties here
            groups[(r.dataset, r.measure, r.code, r.year, r.dims, r.unit)].append(r)
            continue
        kind, target = places.place(r.code, r.name)
        if kind == "to":
            groups[(r.dataset, r.measure, target, r.year, r.dims, r.unit)].append(r)
        elif kind == "split":
            splits[(r.dataset, r.measure, "K" + target, r.year, r.dims, r.unit)] = \
                _one(r)
    stored = {}
    for key, parts in groups.items():
        unit = key[5]
        present = [p for p in parts if p.status != "missing"]
        if not present:
            stored[key] = Stored("missing", None)
        elif len(present) == 1:
            stored[key] = _one(present[0])
        elif unit not in COUNTS:
            stored[key] = Stored("missing", None)
        else:
            known = sum(p.value for p in present if p.status == "ok")
            hidden = [p for p in present if p.status == "suppressed"]
            if hidden:
                hi = None if unit == "kroner" else known + 4 * len(hidden)
                stored[key] = Stored("suppressed", None, known, hi)
            else:
                stored[key] = Stored("ok", known)
    return stored, splits


def _one(r: Raw) -> Stored:
    if r.status == "suppressed":
        return Stored("suppressed", None, 0.0, 4.0 if r.unit in ("personer", "antall") else None)
    return Stored(r.status, r.value)


# -- 3. the indicators -------------------------------------------------------------------------
@dataclass
class Out:
    status: str
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    n_suppressed: int = 0


@dataclass
class Base:
    status: str
    num: float | None
    num_lo: float
    num_hi: float | None
    den: float | None
    den_lo: float
    den_hi: float | None
    zero_den: bool = False


@dataclass
class Recomputed:
    cells: dict[tuple[str, str, str, int], Out] = field(default_factory=dict)
    catalogue: dict[str, dict[str, Any]] = field(default_factory=dict)


def _terms(side: Any) -> list[list[dict[str, Any]]]:
    if side is None:
        return []
    items = side if isinstance(side, list) else [side]
    return [it.get("any_of", [it]) for it in items]


def _dims_strings(dims: dict[str, Any]) -> list[str]:
    keys = sorted(dims)
    values = [dims[k] if isinstance(dims[k], list) else [dims[k]] for k in keys]
    return ["|".join(f"{k}={v}" for k, v in zip(keys, combo)) for combo in product(*values)]


def _rate(mult: float, lo: float, hi: float | None, den_lo: float, den_hi: float | None
          ) -> tuple[float | None, float | None]:
    lower = 0.0 if den_hi is None else (mult * lo / den_hi if den_hi > 0 else None)
    upper = None if hi is None or den_lo <= 0 else mult * hi / den_lo
    return lower, upper


def recompute() -> Recomputed:
    panel, registry, placeholders = read_panel()
    places = Places(registry)
    # county names as Kartverket gives them (the panel spells Finnmark "Finmark")
    geo = json.loads((DATA / "geo" / "fylker-2024-S.geojson").read_text(encoding="utf-8"))
    county_codes = {fold(f["properties"]["name"]): f["properties"]["fylkesnummer"]
                    for f in geo["features"]}
    catalogue = yaml.safe_load(resources.files("bliatlas.indicators").joinpath(
        "catalogue.yaml").read_text(encoding="utf-8"))
    used = {d for ind in catalogue["indicators"] for d in _datasets(ind)}
    raw = [*panel, *read_grants(), *read_telemark(), *read_county_tables(county_codes)]
    for name, (dataset, _) in IMDI_FILES.items():
        if dataset in used:
            raw.extend(read_imdi(name))
    stored, split_cells = place_all(raw, places)
    # the panel's placeholder rows: the municipality is included in another one that year
    included = {(code, year): "1508" for code, year in placeholders}
    for year in (2022, 2023):  # the grants file has no row for Haram; Ålesund's covers it
        included.setdefault(("1580", year), "1508")

    out = Recomputed(catalogue={i["id"]: i for i in catalogue["indicators"]})
    out_cat = out.catalogue

    def cells_of(side) -> set[tuple[str, str]]:
        return {(sel["dataset"], d) for alts in _terms(side) for sel in alts
                for d in _dims_strings(sel.get("dims", {}))}

    # A partition whose total is the sum of its members' own cells (IMDi's country groups
    # over all countries) never needs secondary suppression: a hidden member hides the
    # total too. The others do, where a member is hidden and the total is not.
    partition_members = {
        m for p in catalogue.get("partitions", []) for m in p["members"]
        if not all(cells_of(out_cat[i]["numerator"]) <= cells_of(out_cat[i].get("denominator"))
                   for i in p["members"])
        or set().union(*(cells_of(out_cat[i]["numerator"]) for i in p["members"]))
        != cells_of(out_cat[p["members"][0]].get("denominator"))}

    split_members: dict[str, dict[str, Any]] = {}
    for code, change in places.changes.items():
        if change["kind"] == "split":
            succ = places.successors(change)
            counties = {places.munis[s].county for s in succ}
            split_members["K" + code] = {"successors": set(succ),
                                         "county": next(iter(counties))
                                         if len(counties) == 1 else None}

    def term_value(alts, code, year, table):
        """The first alternative that has the region and year (a wholly missing one only
        if nothing better): (v, lo, hi, any_suppressed, any_missing)."""
        found = []
        for prio, sel in enumerate(alts):
            dims = _dims_strings(sel.get("dims", {}))
            cells = [table.get((sel["dataset"], sel["measure"], code, year, d, sel["unit"]))
                     for d in dims]
            have = [c for c in cells if c is not None]
            absent_zero = sel.get("absent_is_zero", False)
            if absent_zero:  # a part the source leaves empty ('.', '') is none
                have = [c for c in have if c.status != "missing"]
            if not have:
                continue
            count = sel.get("count", False)
            additive = sel["unit"] in ADDITIVE or count
            ok = [c for c in have if c.status == "ok"]
            hidden = [c for c in have if c.status == "suppressed"]
            v = (float(len(ok)) if count else sum(c.value for c in ok)) if ok else None
            lo = (v or 0.0) + sum(0.0 if count else (c.lo or 0.0) for c in hidden)
            unbounded = not additive or any(c.hi is None and not count for c in hidden)
            hi = None if unbounded else (v or 0.0) + sum(1.0 if count else c.hi for c in hidden)
            missing = any(c.status == "missing" for c in have) or (
                len(have) < len(dims) and not absent_zero)
            found.append(((missing and not hidden), prio, (v, lo, hi, bool(hidden), missing)))
        return min(found)[2] if found else None

    def base_cell(ind, code, year, table) -> Base | None:
        nums = [term_value(t, code, year, table) for t in _terms(ind["numerator"])]
        dens = [term_value(t, code, year, table) for t in _terms(ind.get("denominator"))]
        if not any(n is not None for n in nums):
            return None

        def side(values):
            have = [v for v in values if v is not None]
            total = sum(v[0] for v in have if v[0] is not None) if any(
                v[0] is not None for v in have) else None
            lo = sum(v[1] for v in have)
            hi = None if any(v[2] is None for v in have) else sum(v[2] for v in have)
            return (total, lo, hi, any(v[3] for v in have),
                    any(v[4] for v in have) or len(have) < len(values))

        num, num_lo, num_hi, num_supp, num_miss = side(nums)
        has_den = bool(dens)
        den, den_lo, den_hi, den_supp, den_miss = side(dens) if has_den else (None, 0.0, 0.0,
                                                                              False, False)
        if num_supp or den_supp:
            status = "suppressed"
        elif num is None or num_miss or (has_den and (den is None or den_miss)) or has_den and den == 0:
            status = "missing"
        else:
            status = "ok"
        zero = has_den and status == "missing" and not num_miss and not den_miss and \
            num is not None and den == 0
        return Base(status, num, num_lo, num_hi, den, den_lo, den_hi, zero)

    def value_of(ind, b: Base) -> Out:
        mult = float(ind.get("multiplier", 1.0))
        kind = ind["kind"]
        den_out = b.den if (b.den_lo == b.den_hi or (b.status == "missing" and b.den is not None)
                            ) and ind.get("denominator") else None
        if b.status == "ok":
            v = mult * b.num / b.den if kind == "ratio" else mult * b.num
            return Out("ok", v, v, v, b.num, den_out)
        if b.status == "suppressed":
            if kind == "ratio":
                lo, hi = _rate(mult, b.num_lo, b.num_hi, b.den_lo, b.den_hi)
            elif kind == "count":
                lo, hi = mult * b.num_lo, None if b.num_hi is None else mult * b.num_hi
            else:
                lo = hi = None
            return Out("suppressed", None, lo, hi, None, den_out, 1)
        return Out("missing", None, None, None, b.num if b.zero_den else None, den_out)

    levels_of = {}
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for m in places.munis.values():
        for level, key in (("fylke", m.county), ("sentralitet", str(m.centrality)),
                           ("distrikt", "distrikt" if m.centrality >= 5 else "ikke-distrikt"),
                           ("kostra", m.kostra), ("nasjonal", "NO")):
            if key is not None:
                groups[(level, key)].append(m.code)
                levels_of.setdefault(m.code, {})[level] = key
    split_groups = {code: [("nasjonal", "NO")] + ([("fylke", s["county"])] if s["county"]
                                                  else []) for code, s in split_members.items()}

    # Secondary suppression in partitions happens only where a member is suppressed; the real
    # data has none (if it ever does, this recomputation must learn the rule too).
    partition_datasets = {d for i in partition_members for d in _datasets(out.catalogue[i])}
    assert not any(c.status == "suppressed" for k, c in stored.items()
                   if k[0] in partition_datasets)
    inclusion_datasets = {"kommuner_bosetting", "imdi_tilskudd"}  # the panel's files
    for ind_id, ind in out.catalogue.items():
        base_level = ind.get("base_level", "kommune")
        datasets = _datasets(ind)
        years = sorted({k[3] for k in (*stored, *split_cells) if k[0] in datasets})
        inc = included if datasets & inclusion_datasets else {}
        for year in years:
            bases: dict[str, Base] = {}
            units = list(places.munis) if base_level == "kommune" else sorted(
                {m.county for m in places.munis.values()})
            for code in units:
                b = base_cell(ind, code, year, stored)
                if b is not None:
                    bases[code] = b
                    out.cells[(ind_id, base_level, code, year)] = value_of(ind, b)
            if ind.get("aggregation", "sum") != "sum" or base_level != "kommune":
                continue
            split_bases = {}
            for code in split_members:
                b = base_cell(ind, code, year, split_cells)
                if b is not None:
                    split_bases[code] = b
            for (level, key), members in groups.items():
                mem = [(m, bases[m]) for m in members if m in bases]
                mem += [(c, b) for c, b in split_bases.items() if (level, key) in split_groups[c]]
                if not mem:
                    continue
                cell = aggregate(ind, mem, len(members), year, key, level, bases, inc,
                                 levels_of, split_members)
                if cell is not None:
                    out.cells[(ind_id, level, key, year)] = cell
    for ind in catalogue["indicators"]:
        if ind["kind"] == "difference":
            _difference(out, ind)
    _drop_empty(out)
    return out


def _difference(out: Recomputed, ind: dict[str, Any]) -> None:
    """A − B (times the multiplier) wherever both are published: exact where both are,
    else the interval theirs give (A's lower − B's upper … A's upper − B's lower)."""
    a_id, b_id = ind["difference_of"]
    m = ind.get("multiplier", 1.0)
    for (i, level, code, year), a in list(out.cells.items()):
        b = out.cells.get((b_id, level, code, year))
        if i != a_id or b is None:
            continue
        statuses = {a.status, b.status}
        status = next(s for s in ("missing", "suppressed", "intervall", "ok") if s in statuses)
        if status == "missing":
            cell = Out("missing")
        else:
            lo = None if a.lower is None or b.upper is None else m * (a.lower - b.upper)
            hi = None if a.upper is None or b.lower is None else m * (a.upper - b.lower)
            cell = Out(status, lo if status == "ok" else None, lo, hi,
                       n_suppressed=max(a.n_suppressed, b.n_suppressed))
        out.cells[(ind["id"], level, code, year)] = cell


def aggregate(ind, mem, n_members, year, key, level, bases, included, levels_of,
              split_members) -> Out | None:
    """A group's cell (None: the group has no data at all and is not published)."""
    mult = float(ind.get("multiplier", 1.0))
    contributing = [(c, b) for c, b in mem if b.status in ("ok", "suppressed") or b.zero_den]
    real = [(c, b) for c, b in mem if not c.startswith("K")]
    n_ok = sum(1 for _, b in real if b.status == "ok")
    n_zero = sum(1 for _, b in real if b.zero_den)
    n_supp = sum(1 for _, b in mem if b.status == "suppressed")
    n_supp_real = sum(1 for _, b in real if b.status == "suppressed")
    # members without figures that another member in the group covers
    covered_by_other = set()
    for (code, y), host in included.items():
        if y == year and levels_of.get(code, {}).get(level) == key and \
                levels_of.get(host, {}).get(level) == key:
            covered_by_other.add(code)
    for c, _ in contributing:
        if c.startswith("K"):
            covered_by_other |= {s for s in split_members[c]["successors"]
                                 if levels_of.get(s, {}).get(level) == key}
    covered_by_other = {c for c in covered_by_other
                        if c not in bases or bases[c].status == "missing"}
    covered = n_ok + n_zero + len(covered_by_other) + n_supp_real
    num_exact = sum(b.num for _, b in contributing if b.status == "ok" or b.zero_den)
    num_lo = sum(b.num_lo for _, b in contributing)
    num_hi = None if any(b.num_hi is None for _, b in contributing) else sum(
        b.num_hi for _, b in contributing)
    den_lo = sum(b.den_lo for _, b in contributing)
    den_hi = None if any(b.den_hi is None for _, b in contributing) else sum(
        b.den_hi for _, b in contributing)
    if not contributing and not (n_zero or covered_by_other):
        return None
    if not contributing or covered < float(ind.get("min_coverage", 0.8)) * n_members:
        return Out("missing", n_suppressed=n_supp)
    if ind["kind"] == "ratio" and den_hi == 0:
        return Out("missing", n_suppressed=n_supp)
    if ind["kind"] == "ratio":
        lo, hi = _rate(mult, num_lo, num_hi, den_lo, den_hi)
    else:
        lo, hi = mult * num_lo, None if num_hi is None else mult * num_hi
    den = den_lo if den_lo == den_hi and ind.get("denominator") else None
    if n_supp:
        return Out("intervall", None, lo, hi, None, den, n_supp)
    return Out("ok", lo, lo, hi, num_exact, den, 0)


def _datasets(ind: dict[str, Any]) -> set[str]:
    return {sel["dataset"] for side in ("numerator", "denominator")
            for alts in _terms(ind.get(side)) for sel in alts}


def _drop_empty(out: Recomputed) -> None:
    """Years without any value for an indicator carry nothing; nor do empty aggregates."""
    shown = {(k[0], k[3]) for k, c in out.cells.items() if c.status != "missing"}
    for k in [k for k, c in out.cells.items() if c.status == "missing"]:
        if (k[0], k[3]) not in shown:
            del out.cells[k]
