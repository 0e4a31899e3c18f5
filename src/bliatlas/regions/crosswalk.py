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
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

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
# County codes that map to exactly one 2024 county (mergers); the rest are splits.
COUNTY_MERGES = {k: v[0] for k, v in COUNTY_SUCCESSORS.items() if len(v) == 1}
# Viken split three ways, Vestfold og Telemark and Troms og Finnmark two ways; 01, 02, 06
# (Østfold, Akershus, Buskerud before 2020) and 07, 08, 19, 20 are one-to-one as listed.

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
    kind: str          # current | renumbered | merged | split | county | national | unknown
    valid_to: int | None = None
    reason: str | None = None
    successors: tuple[str, ...] = ()   # for splits: the 2024 codes that share the territory

    @property
    def assigned(self) -> bool:
        return len(self.targets) == 1


@dataclass(frozen=True)
class Change:
    old_code: str
    old_name: str
    last_year: int
    successor: str
    successor_county: str
    kind: str
    note: str


def load_changes() -> dict[str, Change]:
    text = resources.files("bliatlas.regions").joinpath("data/kommuneendringer.csv").read_text(
        encoding="utf-8"
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    out = {}
    for row in csv.DictReader(lines):
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
        self._cache: dict[tuple[str, str], Resolution] = {}

    def _match_name(self, name: str, counties: tuple[str, ...] | None) -> list[str]:
        wanted = {fold(f) for f in name_forms(name)}
        hits = []
        for m in self.registry.municipalities.values():
            if counties is not None and m.county_code not in counties:
                continue
            if wanted & {fold(f) for f in m.forms}:
                hits.append(m.code)
        return hits

    def resolve(self, code: str, name: str = "") -> Resolution:
        key = (code, name)
        if key not in self._cache:
            self._cache[key] = self._resolve(code, name)
        return self._cache[key]

    def _resolve(self, published_code: str, name: str) -> Resolution:
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
                    for hit in self._match_name(part, None)
                )
                return Resolution(
                    published_code, name, (), "split", change.last_year,
                    f"{change.old_name} ({code}) ble delt mellom "
                    f"{change.successor.replace('+', ', ')}; verdiene kan ikke fordeles "
                    f"uten å gjette ({change.note})", successors,
                )
            counties = COUNTY_SUCCESSORS.get(change.successor_county, (change.successor_county,))
            hits = self._match_name(change.successor, counties)
            if len(hits) == 1:
                return Resolution(published_code, name, (hits[0],), "merged", change.last_year)
            return Resolution(
                published_code, name, (), "unknown", change.last_year,
                f"etterfølgeren {change.successor!r} finnes ikke entydig i 2024-registeret",
            )

        if len(code) == 2 and code.isdigit():
            if code in self.registry.counties:
                return Resolution(published_code, name, (code,), "county")
            if code in COUNTY_MERGES:
                return Resolution(published_code, name, (COUNTY_MERGES[code],), "county")
            successors = COUNTY_SUCCESSORS.get(code)
            if successors:
                return Resolution(
                    published_code, name, (), "split", None,
                    f"fylke {code} ble delt i {', '.join(successors)} i 2024",
                )
            return Resolution(published_code, name, (), "unknown", None,
                              f"ukjent fylkesnummer {code!r}")

        if code in self.registry.municipalities:
            return Resolution(published_code, name, (code,), "current", valid_to)

        if len(code) == 4 and code.isdigit():
            counties = COUNTY_SUCCESSORS.get(code[:2])
            if counties and name:
                hits = self._match_name(name, counties)
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
            hits = self._match_name(name, None)
            if len(hits) == 1:
                return Resolution(published_code, name, (hits[0],), "current")
        return Resolution(published_code, name, (), "unknown", valid_to,
                          f"ukjent regionkode {published_code!r} ({name})")

    def split_notes(self) -> dict[str, list[str]]:
        """2024 code → notes on territory its older series do not cover (split predecessors)."""
        notes: dict[str, list[str]] = {}
        for change in self.changes.values():
            if change.kind != "split":
                continue
            for successor in change.successor.split("+"):
                hits = self._match_name(successor, None)
                if len(hits) == 1:
                    notes.setdefault(hits[0], []).append(
                        f"til og med {change.last_year} mangler tall for den delen av "
                        f"{change.old_name} ({change.old_code}) som nå ligger i kommunen"
                    )
        return notes
