"""What a municipality's own figures point to in the knowledge base.

Each knowledge need (``kunnskapsbehov``) names the indicators of the catalogue that speak
to it, and when: ``hoy`` if the need concerns municipalities whose value is among the
highest quarter of all municipalities, ``lav`` for the lowest quarter. For one
municipality, :func:`municipality_pointers` lists the needs its figures point to (each
with the figure, its position and why the indicator speaks to the need), followed by the
practices recommended for the indicators where it ranks lowest in its centrality class
(:func:`bliatlas.knowledge.recommend.practices_for_weaknesses`).

Positions come from the indicator engine's profile (rank and percentile among all
municipalities; suppressed or missing values point to nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bliatlas.knowledge.citations import plain
from bliatlas.knowledge.models import Entry, IndicatorLink
from bliatlas.knowledge.recommend import (
    PlaceFacts,
    WeaknessRecommendation,
    practices_for_weaknesses,
)
from bliatlas.knowledge.search import KnowledgeIndex

HIGH_QUARTER = 75.0
LOW_QUARTER = 25.0
MAX_NEEDS = 6


@dataclass
class Pointer:
    """One entry the municipality's figures point to, with the figure and the reason."""

    entry: Entry
    kind: str  # "kunnskapsbehov" or "praksis"
    indicator: str
    indicator_name: str
    year: int | None
    value_text: str
    reason: str
    strength: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "title": self.entry.title, "kind": self.kind,
                "indicator": self.indicator, "indicator_name": self.indicator_name,
                "year": self.year, "value_text": self.value_text, "reason": self.reason}


def _value_position(item: dict[str, Any]) -> float | None:
    """Percentile of the municipality's *value* among all municipalities (100 = highest),
    or ``None`` if the value is not published or not compared."""
    peer = (item.get("jevnforing") or {}).get("alle")
    if item.get("status") != "ok" or peer is None or peer.get("persentil") is None:
        return None
    pct = float(peer["persentil"])
    # The profile's percentile is "better is higher" where the direction is known.
    return 100.0 - pct if item.get("retning") == "lower_better" else pct


def _points(link: IndicatorLink, position: float) -> bool:
    return position >= HIGH_QUARTER if link.when == "hoy" else position <= LOW_QUARTER


def _value_rank(item: dict[str, Any]) -> tuple[int, int]:
    """(place counted from the highest value, number of municipalities compared)."""
    peer = item["jevnforing"]["alle"]
    rank, n = int(peer["rang"]), int(peer["antall"])
    return (n + 1 - rank if item.get("retning") == "lower_better" else rank), n


def municipality_pointers(index: KnowledgeIndex, cube: Any, facts: dict[str, PlaceFacts],
                          code: str, profile: dict[str, Any] | None = None,
                          weak: list[WeaknessRecommendation] | None = None) -> list[Pointer]:
    """Knowledge needs and practices the municipality's figures point to, needs first
    (most extreme position first), then practices for its weakest indicators.

    ``profile`` (the indicator profile of ``code``) and ``weak`` (its practices for
    weaknesses) may be passed by a caller that has them already; they are computed
    otherwise.
    """
    from bliatlas.indicators.profile import build_profile

    if profile is None:
        profile = build_profile(cube, code)
    items = {item["id"]: item for item in profile["indikatorer"]}
    name = facts[code].name if code in facts else code
    needs: list[Pointer] = []
    for entry in index.entries:
        if entry.type != "kunnskapsbehov" or not entry.indicators:
            continue
        best: Pointer | None = None
        for link in entry.indicators:
            item = items.get(link.id)
            position = _value_position(item) if item is not None else None
            if item is None or position is None or not _points(link, position):
                continue
            strength = abs(position - 50.0)
            if best is not None and strength <= best.strength:
                continue
            unit = item.get("enhet") or ""
            place, n = _value_rank(item)
            reason = (f"{name}: «{item['navn']}» er {item['verdi_tekst']} {unit} i {item['ar']}, "
                      f"{link.when_label} av alle kommuner (nr. {place} av {n} regnet fra "
                      f"høyeste verdi). {plain(link.why)}")
            best = Pointer(entry, "kunnskapsbehov", link.id, item["navn"], item["ar"],
                           item["verdi_tekst"], reason, strength)
        if best is not None:
            needs.append(best)
    needs.sort(key=lambda p: (-p.strength, p.entry.id))
    out = needs[:MAX_NEEDS]
    if weak is None:
        weak = practices_for_weaknesses(index, cube, facts, code) if code in facts else []
    if code in facts:
        for rec in weak:
            out.append(Pointer(rec.entry, "praksis", rec.weakness.indicator, rec.weakness.name,
                               rec.weakness.year, rec.weakness.value_text, rec.reason,
                               100.0 - rec.weakness.percentile))
    return out
