"""Practices for a municipality: from places like it, and for where it stands weakest
against its peers, each with a one-line Norwegian reason built from stored values.

"Like it" is measured on stored values only: the centrality class (sentralitet 1–6) from
the region registry and the latest population (``folkemengde``, 1 January) from the
store. A practice counts with the best-matching Norwegian municipality among its places;
practices tied only to a county or to a place abroad are not compared.

similarity = 1 / (1 + |centrality difference|) + 1 / (1 + |ln(population ratio)|)

so the same class and the same size give 2, the same class and twice the size 1.59, one
class apart and the same size 1.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bliatlas.errors import InputError, NotFound, UserError
from bliatlas.format import fmt_int
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.knowledge.vocab import THEMES


@dataclass(frozen=True)
class PlaceFacts:
    """A municipality's stored facts used for comparison."""

    code: str
    name: str
    county_code: str | None
    centrality: int | None
    population: float | None
    population_year: int | None

    def describe(self) -> str:
        parts = []
        if self.centrality is not None:
            parts.append(f"sentralitet {self.centrality}")
        if self.population is not None:
            parts.append(f"{fmt_int(self.population)} innbyggere {self.population_year}")
        return f"{self.name} ({', '.join(parts)})" if parts else self.name

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Recommendation:
    entry: Entry
    place: PlaceFacts
    score: float
    reason: str
    basis: str  # "egen kommune" or "lignende kommune"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "summary": self.entry.summary,
            "themes": self.entry.themes,
            "place": self.place.to_dict(),
            "basis": self.basis,
            "similarity": round(self.score, 3),
            "reason": self.reason,
        }


def read_place_facts(store: Any) -> dict[str, PlaceFacts]:
    """Municipalities with centrality and their latest stored population (value, year)."""
    rows = store.query(
        """
        WITH pop AS (
            SELECT region_code, year, value,
                   row_number() OVER (PARTITION BY region_code ORDER BY year DESC) AS rn
            FROM observation
            WHERE measure = 'folkemengde' AND dims = '' AND status = 'ok'
              AND dataset = 'kommuner_bosetting'
        )
        SELECT r.code, r.short_name, r.county_code, r.centrality, p.value, p.year
        FROM region r LEFT JOIN pop p ON p.region_code = r.code AND p.rn = 1
        WHERE r.level = 'kommune'
        ORDER BY r.code
        """
    )
    return {
        r["code"]: PlaceFacts(
            code=r["code"], name=r["short_name"], county_code=r["county_code"],
            centrality=None if r["centrality"] is None else int(r["centrality"]),
            population=r["value"], population_year=r["year"],
        )
        for r in rows
    }


def similarity(a: PlaceFacts, b: PlaceFacts) -> float:
    score = 0.0
    if a.centrality is not None and b.centrality is not None:
        score += 1 / (1 + abs(a.centrality - b.centrality))
    if a.population and b.population:
        score += 1 / (1 + abs(math.log(a.population / b.population)))
    return score


def _genitive(name: str) -> str:
    """Norwegian genitive: "Frøyas", but "Os'" for names ending in s, x or z."""
    return name + ("'" if name[-1:].lower() in "sxz" else "s")


def _likeness(target: PlaceFacts, place: PlaceFacts) -> str:
    """Norwegian phrase saying how ``place`` is like ``target``, from the stored values."""
    parts: list[str] = []
    if target.centrality is not None and place.centrality is not None:
        if target.centrality == place.centrality:
            parts.append(f"samme sentralitetsklasse som {target.name} ({target.centrality})")
        else:
            parts.append(f"sentralitet {place.centrality} mot {_genitive(target.name)} "
                         f"{target.centrality}")
    if target.population and place.population:
        ratio = place.population / target.population
        if 1 / 1.5 <= ratio <= 1.5:
            parts.append(f"om lag like mange innbyggere ({fmt_int(place.population)} mot "
                         f"{fmt_int(target.population)})")
        else:
            parts.append(f"{fmt_int(place.population)} mot {fmt_int(target.population)} "
                         "innbyggere")
    return ", ".join(parts)


def _what_happened(entry: Entry) -> str:
    """One result from the practice (our own words in the content), else its first sentence."""
    text = entry.results[0] if entry.results else entry.summary
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 160 else first[:157].rstrip() + "…"


def similar_place_practices(index: KnowledgeIndex, facts: dict[str, PlaceFacts], code: str,
                            limit: int = 5) -> list[Recommendation]:
    """Practices from ``code`` itself and from the municipalities most like it."""
    if not code.isdigit() or len(code) != 4:
        raise InputError("kommunenummer", f"forventet et firesifret kommunenummer, fant {code!r}")
    if not facts:
        raise UserError("anbefalinger krever databasen med regionregister og folkemengde; "
                        "kjør `bli import` og oppgi den med --database")
    target = facts.get(code)
    if target is None:
        raise NotFound(f"kommunenummer {code!r} finnes ikke i regionregisteret for 2024")
    out: list[Recommendation] = []
    for entry in index.entries:
        if entry.type != "praksis":
            continue
        best: tuple[float, PlaceFacts] | None = None
        for place_code in entry.municipality_codes:
            place = facts.get(place_code)
            if place is None:
                continue
            score = math.inf if place_code == code else similarity(target, place)
            if best is None or score > best[0]:
                best = (score, place)
        if best is None:
            continue
        score, place = best
        if place.code == code:
            reason = f"Fra {target.describe()} selv: {_what_happened(entry)}."
            out.append(Recommendation(entry, place, 3.0, reason, "egen kommune"))
        else:
            reason = (f"{place.describe()} – {_likeness(target, place)}: "
                      f"{_what_happened(entry)}.")
            out.append(Recommendation(entry, place, score, reason, "lignende kommune"))
    out.sort(key=lambda r: (-r.score, r.entry.id))
    return out[:limit]


# -- where the municipality stands weakest against its peers --------------------------------

# Knowledge themes that address each indicator (by id, else by topic). Indicators without
# an entry here (counts, shares by reason for immigration, grants, GP capacity, ROBEK) are
# descriptive or outside what the knowledge base covers, and are not used for advice.
INDICATOR_THEMES: dict[str, tuple[str, ...]] = {
    "sysselsetting": ("arbeid", "kvalifisering", "sprak", "mentor", "rekruttering"),
    "bofasthet": ("velkomst", "bolig", "frivillighet", "arbeid"),
    "vedtak_andel_av_anmodning": ("bosetting", "bolig", "planlegging"),
    "bosatt_andel_av_vedtak": ("bosetting", "bolig"),
    "bosatt_andel_av_anmodning": ("bosetting", "bolig", "planlegging"),
    "enslige_mindreaarige_vedtak_andel": ("bosetting", "barn_unge"),
}
WEAK_PERCENTILE = 50.0  # below the middle of the centrality class


@dataclass
class Weakness:
    """An indicator where the municipality ranks in the lower half of its centrality class."""

    indicator: str
    name: str
    year: int
    value_text: str
    rank: int
    n: int
    percentile: float
    median_text: str
    themes: tuple[str, ...]

    def describe(self, centrality: int | None) -> str:
        group = f"sentralitetsklasse {centrality}" if centrality is not None else "klassen"
        return (f"«{self.name}» {self.value_text} i {self.year}, rang {self.rank} av {self.n} "
                f"i {group} (median {self.median_text})")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def weaknesses(cube: Any, code: str, limit: int = 3) -> list[Weakness]:
    """The municipality's weakest indicators against its centrality class, weakest first.

    Uses the indicator engine's profile (values with direction, rank and percentile among
    peers); only indicators with a better/worse direction, a published value (suppressed
    cells stay out) and knowledge themes mapped in :data:`INDICATOR_THEMES`.
    """
    from bliatlas.indicators.profile import build_profile
    from bliatlas.indicators.sentences import format_number

    decimals = {ind.id: ind.decimals for ind in cube.catalogue.indicators}
    topics = {ind.id: ind.topic for ind in cube.catalogue.indicators}
    found: list[Weakness] = []
    for item in build_profile(cube, code)["indikatorer"]:
        themes = INDICATOR_THEMES.get(item["id"]) or INDICATOR_THEMES.get(topics[item["id"]])
        peer = item.get("jevnforing", {}).get("sentralitet")
        if (not themes or item["retning"] == "neutral" or item["status"] != "ok"
                or peer is None or peer["persentil"] is None):
            continue
        if peer["persentil"] >= WEAK_PERCENTILE:
            continue
        found.append(Weakness(
            indicator=item["id"], name=item["navn"], year=item["ar"],
            value_text=item["verdi_tekst"], rank=peer["rang"], n=peer["antall"],
            percentile=peer["persentil"],
            median_text=format_number(peer["median"], decimals[item["id"]]), themes=themes,
        ))
    found.sort(key=lambda w: (w.percentile, w.indicator))
    return found[:limit]


@dataclass
class WeaknessRecommendation:
    weakness: Weakness
    entry: Entry
    place: PlaceFacts | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "themes": self.entry.themes,
            "weakness": self.weakness.to_dict(),
            "place": self.place.to_dict() if self.place else None,
            "reason": self.reason,
        }


def practices_for_weaknesses(index: KnowledgeIndex, cube: Any, facts: dict[str, PlaceFacts],
                             code: str, per_weakness: int = 2,
                             ) -> list[WeaknessRecommendation]:
    """For each weak indicator, the practices sharing most of its themes, places like the
    municipality first; one practice is recommended once."""
    if code not in facts:
        raise NotFound(f"kommunenummer {code!r} finnes ikke i regionregisteret for 2024")
    target = facts[code]
    out: list[WeaknessRecommendation] = []
    used: set[str] = set()
    for weak in weaknesses(cube, code):
        ranked: list[tuple[int, float, str, Entry, PlaceFacts | None]] = []
        for entry in index.entries:
            if entry.type != "praksis" or entry.id in used:
                continue
            overlap = len(set(entry.themes) & set(weak.themes))
            if not overlap:
                continue
            places = [facts[c] for c in entry.municipality_codes if c in facts and c != code]
            best = max(places, key=lambda p: similarity(target, p), default=None)
            sim = similarity(target, best) if best else 0.0
            ranked.append((overlap, sim, entry.id, entry, best))
        ranked.sort(key=lambda r: (-r[0], -r[1], r[2]))
        for overlap, _, _, entry, place in ranked[:per_weakness]:
            used.add(entry.id)
            where = f" fra {place.describe()}" if place else ""
            shared = ", ".join(THEMES[t].lower() for t in entry.themes if t in weak.themes)
            reason = (f"{target.name} ligger lavt på {weak.describe(target.centrality)}; "
                      f"praksisen{where} handler om {shared}: {_what_happened(entry)}.")
            out.append(WeaknessRecommendation(weak, entry, place, reason))
    return out
