"""Place a region code as published (any year's structure) on the 2024 registry.

Three steps, in order:

1. abolished codes from the 2017–2020 mergers (``kommuneendringer.csv``, from SSB's
   classification of municipalities) go to the municipality they became part of;
   codes whose territory was *split* between several successors (Tysfjord, Snillfjord,
   Halsa in 2020; the 2020–2023 Ålesund split again in 2024) are not assigned: the
   values are kept aside with the reason, and the successors' series are flagged as
   not covering that part of their territory;
2. codes that exist in the 2024 registry are themselves;
3. codes of the 2020–2023 counties that were split in 2024 (Viken 30xx, Vestfold og
   Telemark 38xx, Troms og Finnmark 54xx) and any other renumbered code are matched
   on the official name within the counties that inherited them.

Several published codes can land on one 2024 code (a merger): ``ingest`` sums their
counts for the years each was valid.

County codes are placed by year (``fylkesendringer.csv``): a code maps to a 2024 county
only for the years its territory *is* that county (Telemark 08 → 40 before 2020, Møre og
Romsdal 15 only from 2020, when Halsa left and Hornindal came); Aust-Agder and Vest-Agder
together are Agder, so their counts are summed when both are there; every other old code
(Østfold 01, Hordaland 12, Nordland 18 before 2020, Viken 30, ...) is kept aside with the
reason. A source that declares itself on today's structure (``ParsedSource.reference
["region_structure"] == "current"``) is placed without the year rule.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from bliatlas.format import join_nb
from bliatlas.regions.names import fold, name_forms, reform_years
from bliatlas.regions.registry import NATIONAL_CODE, Registry

# 2020–2023 counties → the 2024 counties that inherited their municipalities.
COUNTY_SUCCESSORS: dict[str, tuple[str, ...]] = {
    "30": ("31", "32", "33"),  # Viken
    "38": ("39", "40"),        # Vestfold og Telemark
    "54": ("55", "56"),        # Troms og Finnmark
    # pre-2020 counties
    "01": ("31",), "02": ("32",), "06": ("33",), "07": ("39",), "08": ("40",),
    "04": ("34",), "05": ("34",), "09": ("42",), "10": ("42",), "12": ("46",),
    "14": ("46",), "16": ("50",), "17": ("50",), "19": ("55",), "20": ("56",),
}
# COUNTY_SUCCESSORS says where a county's *municipalities* went (for renumbered municipality
# codes, matched by name within these counties); whether a county's *own* figures can be
# placed on a 2024 county is a question of borders, answered by fylkesendringer.csv.

# Regions outside the municipality structure (Svalbard, Jan Mayen, the continental shelf,
# persons with unknown/shared municipality). Their values are kept aside, not assigned.
OUTSIDE = {
    "21": "Svalbard", "22": "Jan Mayen", "21-22": "Svalbard og Jan Mayen",
    "23": "Kontinentalsokkelen", "2100": "Svalbard", "2111": "Longyearbyen arealplanområde",
    "2121": "Barentsburg", "2131": "Hopen", "2211": "Jan Mayen",
    "2311": "Sokkelen sør for 62 grader N", "REST": "Delte kommuner og uoppgitt",
    "9999": "Uoppgitt kommune", "99": "Uoppgitt",
}

# The Norwegian names of the 2024 counties (folded), for tables that name counties only.
COUNTY_NAMES = {
    "oslo": "03", "rogaland": "11", "more og romsdal": "15", "nordland": "18", "ostfold": "31",
    "akershus": "32", "buskerud": "33", "innlandet": "34", "vestfold": "39", "telemark": "40",
    "agder": "42", "vestland": "46", "trondelag": "50", "troms": "55", "finnmark": "56",
}

NATIONAL_ALIASES = {"0", "00", "0000", "eak", "hele landet", "norge", "landet"}


@dataclass(frozen=True)
class Resolution:
    """Where a published region lands: ``targets`` (one 2024 code) or none with ``reason``."""

    published_code: str
    published_name: str
    targets: tuple[str, ...]
    kind: str  # current | renumbered | merged | split | county | county-union | county-changed
    #            | outside | national | unknown
    valid_to: int | None = None
    reason: str | None = None
    successors: tuple[str, ...] = ()   # for splits: the 2024 codes that share the territory
    group: tuple[str, ...] = ()        # county-union: the published codes that make the county

    @property
    def assigned(self) -> bool:
        return len(self.targets) == 1

    @property
    def kept_aside(self) -> bool:
        """Values that belong to no single 2024 region but are kept with the reason."""
        return self.kind in ("split", "outside", "county-changed")


@dataclass(frozen=True)
class Change:
    old_code: str
    old_name: str
    last_year: int
    successor: str
    successor_county: str
    kind: str
    note: str


@dataclass(frozen=True)
class CountyPeriod:
    """What a published county code stood for in a run of years (``fylkesendringer.csv``)."""

    code: str
    name: str
    first_year: int | None
    last_year: int | None
    successors: tuple[str, ...]
    status: str          # same | union | changed | split
    group: tuple[str, ...]
    note: str

    def covers(self, year: int) -> bool:
        return ((self.first_year is None or year >= self.first_year)
                and (self.last_year is None or year <= self.last_year))


def _reference_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("bliatlas.regions").joinpath(f"data/{name}").read_text(
        encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


def load_county_periods() -> dict[str, list[CountyPeriod]]:
    """County code → its periods, from ``fylkesendringer.csv``."""
    out: dict[str, list[CountyPeriod]] = {}
    for row in _reference_rows("fylkesendringer.csv"):
        out.setdefault(row["code"], []).append(CountyPeriod(
            row["code"], row["name"],
            int(row["first_year"]) if row["first_year"] else None,
            int(row["last_year"]) if row["last_year"] else None,
            tuple(row["successors"].split("+")), row["status"],
            tuple(row["group"].split("+")) if row["group"] else (), row["note"],
        ))
    return out


def load_changes() -> dict[str, Change]:
    out = {}
    for row in _reference_rows("kommuneendringer.csv"):
        out[row["old_code"]] = Change(
            row["old_code"], row["old_name"], int(row["last_year"]), row["successor"],
            row["successor_county"], row["kind"], row["note"],
        )
    return out


def clean_code(code: str) -> str:
    """``'K0104'``, ``'K-0104'``, ``'0104'`` → ``'0104'``; ``'F46'`` → ``'46'``."""
    c = str(code).strip().upper()
    for prefix in ("K-", "F-", "K", "F"):
        if c.startswith(prefix) and c[len(prefix):].isdigit():
            c = c[len(prefix):]
            break
    if c.isdigit() and len(c) == 3:  # leading zero lost in a spreadsheet
        c = "0" + c
    if c.isdigit() and len(c) == 1 and c != "0":
        c = "0" + c
    return c


class Crosswalk:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.changes = load_changes()
        self.county_periods = load_county_periods()
        self._cache: dict[tuple[str, str, int | None], Resolution] = {}
        self._forms: list[tuple[str, str | None, set[str]]] | None = None

    def match_name(self, name: str, counties: tuple[str, ...] | None = None) -> list[str]:
        """2024 municipality codes whose name (any form) matches ``name``."""
        if self._forms is None:
            self._forms = [(m.code, m.county_code, {fold(f) for f in m.forms})
                           for m in self.registry.municipalities.values()]
        wanted = {fold(f) for f in name_forms(name)}
        return [code for code, county, forms in self._forms
                if (counties is None or county in counties) and wanted & forms]

    def resolve(self, code: str, name: str = "", year: int | None = None) -> Resolution:
        """Where a published code lands. ``year`` (the value's reference year) matters only
        for county codes, whose territory changed over the years; without it (or with
        year 0, no reference year) a county code is read on today's structure where it
        exists, else by its latest period."""
        key = (code, name, year if year and len(clean_code(code)) == 2 else None)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(code, name, key[2])
        return found

    def _resolve_county(self, published_code: str, code: str, name: str,
                        year: int | None) -> Resolution:
        periods = self.county_periods.get(code, [])
        if year is None:
            if code in self.registry.counties:
                return Resolution(published_code, name, (code,), "county")
            period = periods[-1] if periods else None
        else:
            period = next((p for p in periods if p.covers(year)), None)
            if period is None and code in self.registry.counties:
                # A 2024 code used for an earlier year: a series on today's borders.
                return Resolution(published_code, name, (code,), "county")
        if period is None and periods:
            return Resolution(published_code, name, (), "county-changed", periods[-1].last_year,
                              f"fylke {code} ({periods[-1].name}) fantes ikke i {year}")
        if period is None:
            return Resolution(published_code, name, (), "unknown", None,
                              f"ukjent fylkesnummer {code!r}" + (f" for {year}" if year else ""))
        label = f"fylke {code} ({period.name})"
        if period.status == "same":
            return Resolution(published_code, name, period.successors, "county")
        if period.status == "union":
            return Resolution(published_code, name, period.successors, "county-union",
                              period.last_year, group=period.group)
        when = f" i {year}" if year else ""
        if period.status == "split":
            return Resolution(
                published_code, name, (), "split", period.last_year,
                f"{label}{when} ble delt i {', '.join(period.successors)} i 2024; tallene kan "
                "ikke fordeles uten å gjette", period.successors)
        return Resolution(
            published_code, name, (), "county-changed", period.last_year,
            f"{label}{when} hadde andre grenser enn {period.successors[0]} i 2024-inndelingen "
            f"({period.note}); tallene kan ikke føres over på 2024-fylket")

    def _resolve(self, published_code: str, name: str, year: int | None = None) -> Resolution:
        code = clean_code(published_code)
        _, valid_to = reform_years(name)
        if code.lower() in NATIONAL_ALIASES or fold(name) in NATIONAL_ALIASES and not code:
            return Resolution(published_code, name, (NATIONAL_CODE,), "national")

        if code.upper() in OUTSIDE:
            return Resolution(
                published_code, name, (), "outside", None,
                f"{OUTSIDE[code.upper()]} ligger utenfor kommuneinndelingen og hører ikke til "
                "noen kommune eller noe fylke",
            )

        change = self.changes.get(code)
        if change is not None:
            if change.kind == "split":
                successors = tuple(
                    hit for part in change.successor.split("+")
                    for hit in self.match_name(part, None)
                )
                counties = {self.registry.municipalities[s].county_code for s in successors}
                where = ("fylkes- og landstallene" if len(counties) == 1 else "landstallet")
                return Resolution(
                    published_code, name, (), "split", change.last_year,
                    f"{change.old_name} ({code}) ble delt mellom "
                    f"{join_nb(change.successor.split('+'))} etter {change.last_year}; "
                    f"tallene kan ikke fordeles på kommunene uten å gjette, men telles med i "
                    f"{where}", successors,
                )
            counties = COUNTY_SUCCESSORS.get(change.successor_county, (change.successor_county,))
            hits = self.match_name(change.successor, counties)
            if len(hits) == 1:
                return Resolution(published_code, name, (hits[0],), "merged", change.last_year)
            return Resolution(
                published_code, name, (), "unknown", change.last_year,
                f"etterfølgeren {change.successor!r} finnes ikke entydig i 2024-registeret",
            )

        if len(code) == 2 and code.isdigit():
            return self._resolve_county(published_code, code, name, year)

        if code in self.registry.municipalities:
            return Resolution(published_code, name, (code,), "current", valid_to)

        if len(code) == 4 and code.isdigit():
            counties = COUNTY_SUCCESSORS.get(code[:2])
            if counties and name:
                hits = self.match_name(name, counties)
                if len(hits) == 1:
                    return Resolution(published_code, name, (hits[0],), "renumbered", valid_to)
            return Resolution(
                published_code, name, (), "unknown", valid_to,
                f"kommunenummer {code!r} ({name or 'uten navn'}) finnes ikke i 2024-registeret "
                "og er ikke en kjent sammenslåing",
            )
        if not code and name:
            # Files that give only a region name (county tables): match on the name.
            folded = {fold(f) for f in name_forms(name)}
            hits = sorted({c.code for c in self.registry.counties.values()
                           if folded & {fold(f) for f in c.forms}}
                          | {COUNTY_NAMES[f] for f in folded if f in COUNTY_NAMES})
            if len(hits) == 1:
                return Resolution(published_code, name, (hits[0],), "county")
            hits = self.match_name(name, None)
            if len(hits) == 1:
                return Resolution(published_code, name, (hits[0],), "current")
        return Resolution(published_code, name, (), "unknown", valid_to,
                          f"ukjent regionkode {published_code!r} ({name})")
