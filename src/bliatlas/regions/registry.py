"""The region registry: the 357 municipalities and 15 counties of the 2024 structure.

It is read from the store's ``region`` table, which ``bli import`` fills from the
national panel (attributes) and Kartverket's boundaries (official names). Every layer
uses it: ingest to place published codes, indicators to aggregate, the web to search.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bliatlas.errors import NotFound, UserError
from bliatlas.regions.names import (
    LANGUAGE_NAMES,
    display_name,
    fold,
    language_forms,
    name_forms,
    name_sort_key,
    names_in_use,
)

DISTRICT_CLASSES = (5, 6)

# Aggregation levels, with the Norwegian label users see.
LEVELS: dict[str, str] = {
    "kommune": "Kommune",
    "fylke": "Fylke",
    "sentralitet": "Sentralitetsklasse",
    "distrikt": "Distriktskommuner / øvrige kommuner",
    "kostra": "KOSTRA-gruppe",
    "nasjonal": "Hele landet",
}
LEVEL_ALIASES = {
    "municipality": "kommune", "county": "fylke", "centrality": "sentralitet",
    "district": "distrikt", "national": "nasjonal", "land": "nasjonal",
}
NATIONAL_CODE = "0"
DISTRICT_KEY = "distrikt"
NON_DISTRICT_KEY = "ikke-distrikt"


def normalise_level(level: str) -> str:
    key = LEVEL_ALIASES.get(level.lower(), level.lower())
    if key not in LEVELS:
        raise UserError(
            f"ukjent nivå {level!r}; gyldige nivåer er {', '.join(LEVELS)}"
        )
    return key


@dataclass(frozen=True)
class Region:
    code: str
    level: str
    name: str
    short_name: str
    county_code: str | None = None
    centrality: int | None = None
    kostra_group: str | None = None
    robek: bool | None = None
    forms: tuple[str, ...] = field(default=(), compare=False)
    # Sami/Kven names in use that are not official (regions/data/navneformer_i_bruk.csv):
    # they find the region in search, pages show the official name.
    names_in_use: tuple[str, ...] = field(default=(), compare=False)

    @property
    def nb_name(self) -> str:
        """The Norwegian form of the name (``Hattfjelldal`` of ``Aarborte - Hattfjelldal``)."""
        return language_forms(self.name)[0][0]

    @property
    def other_forms(self) -> list[tuple[str, str, str]]:
        """The Sami/Kven forms: (form, BCP 47 language code, Norwegian language name)."""
        return [(f, lang, LANGUAGE_NAMES.get(lang, lang))
                for f, lang in language_forms(self.name)[1:]]

    @property
    def display_name(self) -> str:
        """The name lists show: ``Hattfjelldal (Aarborte)``, ``Kautokeino (Guovdageaidnu)``."""
        return display_name(self.name)

    @property
    def sort_key(self) -> tuple:
        """Norwegian alphabetical order by the Norwegian name (:mod:`bliatlas.collate`)."""
        return *name_sort_key(self.name), self.code

    @property
    def is_district(self) -> bool:
        """District municipality (distriktskommune): centrality class 5 or 6."""
        return self.centrality in DISTRICT_CLASSES


class Registry:
    """Municipalities and counties by code, with aggregation groups and name search."""

    def __init__(self, regions: Iterable[Region]) -> None:
        self.municipalities: dict[str, Region] = {}
        self.counties: dict[str, Region] = {}
        in_use = names_in_use()
        for r in regions:
            forms = tuple(dict.fromkeys(name_forms(r.name) + name_forms(r.short_name)))
            r = Region(**{**r.__dict__, "forms": forms,
                          "names_in_use": in_use.get(r.code, ()) if r.level == "kommune" else ()})
            (self.municipalities if r.level == "kommune" else self.counties)[r.code] = r
        self._search_keys: list[tuple[str, Region]] = []
        for r in [*self.counties.values(), *self.municipalities.values()]:
            keys = {fold(r.name), fold(r.short_name),
                    *(fold(f) for f in (*r.forms, *r.names_in_use))}
            self._search_keys.extend((k, r) for k in keys if k)

    @classmethod
    def from_store(cls, store) -> Registry:
        rows = store.query(
            "SELECT code, level, name, short_name, county_code, centrality, kostra_group, robek "
            "FROM region ORDER BY level DESC, code"
        )
        if not rows:
            raise UserError(
                "regionregisteret er tomt: importer panelet først "
                "(bli import ../shared/data/panel/kommuner_bosetting_2022-2024.xlsx)"
            )
        return cls(Region(**row) for row in rows)

    # -- lookup -------------------------------------------------------------------
    def get(self, code: str) -> Region:
        code = str(code).strip()
        region = self.municipalities.get(code) or self.counties.get(code)
        if region is None:
            raise NotFound(f"ukjent kommune- eller fylkesnummer {code!r}")
        return region

    def __contains__(self, code: object) -> bool:
        return code in self.municipalities or code in self.counties

    def county_of(self, code: str) -> Region:
        return self.counties[self.get(code).county_code]

    def municipalities_in(self, county_code: str) -> list[Region]:
        return [m for m in self.municipalities.values() if m.county_code == county_code]

    def by_name(self, level: str = "kommune") -> list[Region]:
        """Municipalities (or counties) in Norwegian alphabetical order of the Norwegian name."""
        regions = self.municipalities if level == "kommune" else self.counties
        return sorted(regions.values(), key=lambda r: r.sort_key)

    # -- aggregation ----------------------------------------------------------------
    def group_key(self, level: str, municipality: Region) -> str | None:
        """The group a municipality belongs to at an aggregation level."""
        if level == "kommune":
            return municipality.code
        if level == "fylke":
            return municipality.county_code
        if level == "sentralitet":
            return str(municipality.centrality) if municipality.centrality else None
        if level == "distrikt":
            return DISTRICT_KEY if municipality.is_district else NON_DISTRICT_KEY
        if level == "kostra":
            return municipality.kostra_group
        if level == "nasjonal":
            return NATIONAL_CODE
        raise UserError(f"ukjent nivå {level!r}")

    def groups(self, level: str) -> dict[str, list[str]]:
        """Group key → member municipality codes, for an aggregation level."""
        level = normalise_level(level)
        out: dict[str, list[str]] = {}
        for m in self.municipalities.values():
            key = self.group_key(level, m)
            if key is not None:
                out.setdefault(key, []).append(m.code)
        return dict(sorted(out.items()))

    def group_label(self, level: str, key: str) -> str:
        if level in ("kommune", "fylke"):
            return self.get(key).name
        if level == "sentralitet":
            return f"Sentralitetsklasse {key}"
        if level == "distrikt":
            return "Distriktskommuner (sentralitet 5–6)" if key == DISTRICT_KEY else (
                "Øvrige kommuner (sentralitet 1–4)")
        if level == "kostra":
            return f"KOSTRA-gruppe {int(key[3:])}" if key.startswith("EKG") else key
        return "Hele landet"

    # -- search ---------------------------------------------------------------------
    def search(self, query: str, limit: int = 10) -> list[Region]:
        """Find regions by any official name form, tolerant of missing æøå and typos."""
        q = fold(query)
        if not q:
            return []
        scored: dict[str, tuple[float, Region]] = {}

        def offer(score: float, region: Region) -> None:
            if region.code not in scored or scored[region.code][0] < score:
                scored[region.code] = (score, region)

        for key, region in self._search_keys:
            if key == q:
                offer(3.0, region)
            elif key.startswith(q):
                offer(2.0 + len(q) / max(len(key), 1) * 0.5, region)
            elif q in key.split() or f" {q}" in f" {key}":
                offer(1.5, region)
            else:
                ratio = difflib.SequenceMatcher(None, q, key).ratio()
                if ratio >= 0.8:
                    offer(ratio, region)
        ranked = sorted(scored.values(), key=lambda t: (-t[0], t[1].level != "kommune", t[1].code))
        return [r for _, r in ranked[:limit]]

    def find(self, text: str, level: str | None = None) -> Region:
        """A region from what a user typed or picked: a code, ``Hattfjelldal (Aarborte) (1826)``
        (a list entry), or any official name form (``Aarborte``, ``Guovdageaidnu``,
        ``Tromso``). A name two regions share (``Herøy``) is refused with both codes."""
        text = " ".join(str(text).split())
        code = re.search(r"\((\d{2}|\d{4})\)$", text)
        if text.isdigit() or code:
            return self.get(code.group(1) if code else text)
        name = re.sub(r"\s*\([^()]*\)$", "", text)
        wanted = fold(name)
        hits = [r for r in self.search(name, limit=20) if level is None or r.level == level]
        exact = [r for r in hits if wanted in {fold(f) for f in r.forms}]
        if len(exact) > 1:
            raise NotFound(f"flere steder heter «{name}»: " + ", ".join(
                f"{r.display_name} ({r.code}, {self.counties[r.county_code].short_name})"
                if r.county_code in self.counties else f"{r.display_name} ({r.code})"
                for r in exact) + "; velg ett av numrene")
        if exact or hits:
            return (exact or hits)[0]
        what = {"kommune": "kommune", "fylke": "fylke"}.get(level or "", "kommune eller fylke")
        raise NotFound(f"fant ingen {what} med navnet «{text}»")

    # -- summary (seed 003, Tabell 1) ------------------------------------------------
    def district_summary(self) -> list[dict]:
        rows = []
        for county in sorted(self.counties.values(), key=lambda c: c.code):
            members = self.municipalities_in(county.code)
            n_district = sum(m.is_district for m in members)
            rows.append({
                "code": county.code,
                "name": county.name,
                "municipalities": len(members),
                "district_municipalities": n_district,
                "district_share": n_district / len(members) if members else 0.0,
            })
        total = len(self.municipalities)
        total_district = sum(m.is_district for m in self.municipalities.values())
        rows.append({
            "code": NATIONAL_CODE,
            "name": "Hele landet",
            "municipalities": total,
            "district_municipalities": total_district,
            "district_share": total_district / total if total else 0.0,
        })
        return rows
