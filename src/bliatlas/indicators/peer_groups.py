"""Comparison groups built from criteria (*sammenligningsgruppe*), as Kolada's "liknande
kommuner": for one municipality, the N most similar municipalities by a weighted distance
over standardised features, or an explicit list of codes.

Features (each from the latest year the municipality has an exact value):

* ``sentralitet`` — SSB's centrality class (1–6);
* ``folketall`` — log of ``folkemengde_1_januar``;
* ``innvandrerandel`` — immigrants per 1 000 inhabitants: ``innvandrere`` over
  ``folkemengde_1_januar`` × 1 000 in the latest year both are exact (the catalogue's
  ``innvandrere_per_1000`` covers only Telemark, whose source carries its own population).

Each feature is standardised (z-score over the municipalities that have it) and weighted
0–3; the distance is the square root of the weighted sum of squared differences. Hard
filters: same KOSTRA group, same county. A municipality lacking a feature with weight > 0
is excluded and the reason counted. Ties are broken by code.

Privacy: a user-chosen group is never pooled. Only the median and the rank over the
members' *exact* values are published; members with a suppressed value are counted as left
out (as :mod:`bliatlas.indicators.compare` does). A pooled sum or rate over a chosen group
would let two groups differing by one suppressed member reveal it by subtraction.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bliatlas.errors import UserError, int_param
from bliatlas.format import fmt_num
from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.compare import Comparison
from bliatlas.indicators.engine import Cube
from bliatlas.regions.names import display_name

FEATURES: dict[str, str] = {"sentralitet": "Sentralitetsklasse",
                            "folketall": "Folketall (log)",
                            "innvandrerandel": "Innvandrere per 1 000 innbyggere"}
FEATURE_NOUNS: dict[str, str] = {"sentralitet": "sentralitet", "folketall": "folketall",
                                 "innvandrerandel": "innvandrerandel"}
# the form's labels (bokmål)
FEATURES_NB: dict[str, str] = {"sentralitet": "Vekt for sentralitet",
                               "folketall": "Vekt for folketall",
                               "innvandrerandel": "Vekt for innvandrerandel"}
SIZE_RANGE = (3, 50)
# every URL parameter a group is built from (pages, CSV, reports)
GROUP_PARAMETERS: tuple[str, ...] = (
    "g_vekt_sentralitet", "g_vekt_folketall", "g_vekt_innvandrerandel", "g_antall",
    "g_samme_kostra", "g_samme_fylke", "g_kommuner")
DEFAULT_WEIGHTS: dict[str, int] = {"sentralitet": 1, "folketall": 1, "innvandrerandel": 1}
DEFAULT_SIZE = 10


@dataclass(frozen=True)
class Definition:
    """What the group is built from; ``params()`` gives the URL query that rebuilds it."""

    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    size: int = DEFAULT_SIZE
    same_kostra: bool = False
    same_county: bool = False
    codes: tuple[str, ...] = ()

    def params(self) -> dict[str, str]:
        if self.codes:
            return {"g_kommuner": ",".join(self.codes)}
        out = {f"g_vekt_{k}": str(v) for k, v in self.weights.items()}
        out["g_antall"] = str(self.size)
        if self.same_kostra:
            out["g_samme_kostra"] = "1"
        if self.same_county:
            out["g_samme_fylke"] = "1"
        return out

    def text(self) -> str:
        if self.codes:
            return f"valgte kommuner ({len(self.codes)})"
        parts = [f"{FEATURE_NOUNS[k]} (vekt {v})" for k, v in self.weights.items() if v]
        filters = [t for on, t in ((self.same_kostra, "samme KOSTRA-gruppe"),
                                   (self.same_county, "samme fylke")) if on]
        return (f"de {self.size} mest like kommunene etter " + ", ".join(parts)
                + ("; " + " og ".join(filters) if filters else ""))


def _flag(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw in (None, "", "0"):
        return False
    if raw == "1":
        return True
    raise UserError(f"ugyldig {name}={raw!r}: forventet 1 (på) eller 0 (av)")


def parse_definition(params: Mapping[str, str]) -> Definition:
    """A definition from URL query parameters (``g_…``); a Norwegian 400 naming the
    parameter on a bad value."""
    unknown = sorted(k for k in params if k.startswith("g_") and k not in GROUP_PARAMETERS)
    if unknown:
        raise UserError(f"ukjent parameter {', '.join(unknown)}: forventet "
                        f"{', '.join(GROUP_PARAMETERS)}")
    raw_codes = params.get("g_kommuner")
    if raw_codes:
        codes = tuple(dict.fromkeys(c.strip() for c in raw_codes.split(",") if c.strip()))
        bad = [c for c in codes if not (len(c) == 4 and c.isdigit())]
        if bad or not codes:
            raise UserError(f"ugyldig g_kommuner={raw_codes!r}: forventet kommunenumre med "
                            "4 siffer skilt med komma, f.eks. 4602,4640")
        if len(codes) > 50:
            raise UserError("ugyldig g_kommuner: forventet høyst 50 kommunenumre")
        return Definition(codes=codes)
    weights = {k: int_param(params, f"g_vekt_{k}", 0, 3, DEFAULT_WEIGHTS[k]) for k in FEATURES}
    if not any(weights.values()):
        raise UserError("ugyldige g_vekt_…: minst én vekt må være større enn 0")
    return Definition(weights, int_param(params, "g_antall", *SIZE_RANGE, DEFAULT_SIZE),
                      _flag(params, "g_samme_kostra"), _flag(params, "g_samme_fylke"))


@dataclass(frozen=True)
class Member:
    code: str
    name: str
    distance: float | None
    features: dict[str, float | None]


@dataclass(frozen=True)
class PeerGroup:
    code: str
    definition: Definition
    members: tuple[Member, ...]
    features: dict[str, float | None]  # the municipality's own
    excluded: dict[str, int]  # reason -> number of municipalities left out


def _latest_exact(cube: Cube, indicator: str) -> dict[str, float]:
    rows = cube.rows("SELECT code, arg_max(value, year) AS value FROM cells WHERE "
                     "indicator = ? AND level = 'kommune' AND status = 'ok' GROUP BY code",
                     [indicator])
    return {r["code"]: float(r["value"]) for r in rows if r["value"] is not None}


def _immigrants_per_1000(cube: Cube) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
    """Immigrants per 1 000 inhabitants: the latest exact ``innvandrere`` over the exact
    ``folkemengde_1_januar`` of the same year, else of the nearest year (the national
    immigrant series ends before the population series starts, 2021 and 2022), with the
    two years used."""
    rows = cube.rows(
        "WITH i AS (SELECT code, arg_max(value, year) AS value, max(year) AS year FROM cells "
        "WHERE indicator = 'innvandrere' AND level = 'kommune' AND status = 'ok' "
        "AND value IS NOT NULL GROUP BY code), "
        "p AS (SELECT code, year, value FROM cells WHERE indicator = 'folkemengde_1_januar' "
        "AND level = 'kommune' AND status = 'ok' AND value > 0) "
        "SELECT i.code, i.year AS i_year, arg_min(p.year, abs(p.year - i.year) * 2 "
        "- (p.year > i.year)::INT) AS p_year, arg_min(i.value / p.value * 1000, "
        "abs(p.year - i.year) * 2 - (p.year > i.year)::INT) AS value "
        "FROM i JOIN p USING (code) GROUP BY i.code, i.year")
    return ({r["code"]: float(r["value"]) for r in rows},
            {r["code"]: (int(r["i_year"]), int(r["p_year"])) for r in rows})


def feature_table(cube: Cube) -> dict[str, dict[str, float]]:
    """Feature -> municipality code -> raw feature value (population as its log); computed
    once per cube."""
    key = ("peer_features",)
    found = cube._cache.get(key)
    if found is not None:
        return found
    pop = _latest_exact(cube, "folkemengde_1_januar")
    immigrants, years = _immigrants_per_1000(cube)
    cube._cache[("peer_feature_years",)] = years
    table = {
        "sentralitet": {code: float(reg["centrality"])
                        for (lvl, code), reg in cube.regions.items()
                        if lvl == "kommune" and reg.get("centrality") is not None},
        "folketall": {c: math.log(v) for c, v in pop.items() if v > 0},
        "innvandrerandel": immigrants,
    }
    cube._cache[key] = found = table
    return found


def build_group(cube: Cube, code: str, definition: Definition) -> PeerGroup:
    reg = cube.group("kommune", code)
    table = feature_table(cube)
    own = {k: table[k].get(code) for k in FEATURES}

    def shown(c: str) -> dict[str, float | None]:
        out = {k: table[k].get(c) for k in FEATURES}
        if out["folketall"] is not None:
            out["folketall"] = round(math.exp(out["folketall"]))
        if out["innvandrerandel"] is not None:
            out["innvandrerandel"] = round(out["innvandrerandel"], 1)
        return out

    def name(c: str) -> str:
        return display_name(cube.group("kommune", c)["name"])

    excluded: dict[str, int] = {}
    if definition.codes:
        unknown = [c for c in definition.codes if ("kommune", c) not in cube.regions]
        if unknown:
            raise UserError(f"ugyldig g_kommuner: ukjent kommunenummer {', '.join(unknown)}; "
                            "forventet kommunenumre fra 2024-inndelingen")
        members = tuple(Member(c, name(c), None, shown(c))
                        for c in sorted(definition.codes) if c != code)
        return PeerGroup(code, definition, members, shown(code), excluded)
    used = [k for k, w in definition.weights.items() if w > 0]
    missing_own = [k for k in used if own[k] is None]
    if missing_own:
        raise UserError(f"kommunen {code} mangler tall for {', '.join(missing_own)}: sett "
                        "vekten til 0 (g_vekt_…) eller velg kommuner med g_kommuner")
    scale = {k: (statistics.fmean(table[k].values()), statistics.pstdev(table[k].values()))
             for k in used}
    scored: list[tuple[float, str]] = []
    for (lvl, c), other in sorted(cube.regions.items()):
        if lvl != "kommune" or c == code:
            continue
        if definition.same_kostra and other.get("kostra_group") != reg.get("kostra_group"):
            excluded["annen KOSTRA-gruppe"] = excluded.get("annen KOSTRA-gruppe", 0) + 1
            continue
        if definition.same_county and other.get("county_code") != reg.get("county_code"):
            excluded["annet fylke"] = excluded.get("annet fylke", 0) + 1
            continue
        lacking = [k for k in used if table[k].get(c) is None]
        if lacking:
            why = f"mangler {FEATURES[lacking[0]].lower()}"
            excluded[why] = excluded.get(why, 0) + 1
            continue
        d2 = sum(definition.weights[k] * ((table[k][c] - own[k]) / (scale[k][1] or 1)) ** 2
                 for k in used)
        scored.append((math.sqrt(d2), c))
    scored.sort()
    members = tuple(Member(c, name(c), round(d, 4), shown(c))
                    for d, c in scored[:definition.size])
    return PeerGroup(code, definition, members, shown(code), excluded)


def group_from_params(cube: Cube, code: str, params: Mapping[str, str]) -> PeerGroup | None:
    """The comparison group the ``g_…`` parameters ask for (as in a page's URL), or None
    without any; a county, an unknown code or a bad value is a Norwegian error naming what
    was wrong (404 for the unknown code, 400 otherwise)."""
    if not any(k.startswith("g_") for k in params):
        return None
    if cube.region(code)["level"] != "kommune":
        raise UserError(f"{code} er et fylke: en sammenligningsgruppe gjelder bare kommuner; "
                        "fjern g_…-parameterne")
    return build_group(cube, code, parse_definition(params))


def group_comparison(cube: Cube, group: PeerGroup, indicator: Indicator,
                     year: int) -> Comparison | None:
    """The median of the members' exact values and the municipality's rank among the
    members and itself (ties shared). Never a pooled figure (see the module docstring)."""
    cells = {c.code: c for c in cube.slice(indicator.id, "kommune", year)}
    own = cells.get(group.code)
    values = [cells[m.code].value for m in group.members
              if m.code in cells and cells[m.code].ok]
    hidden = len(group.members) - len(values)
    if not values:
        return None
    median = statistics.median(values)
    n = len(group.members) + 1
    label = f"median i sammenligningsgruppen ({len(group.members)} kommuner)"
    heading = f"Median i sammenligningsgruppen ({len(group.members)} kommuner)"
    rank = n_tied = None
    if own is not None and own.ok:
        sign = -1 if indicator.direction == "lower_better" else 1
        mine = sign * own.value
        rank = 1 + sum(1 for v in values if sign * v > mine)
        n_tied = 1 + sum(1 for v in values if sign * v == mine)
        n = len(values) + 1
    else:
        n = len(values)
    # the percentile by mid-rank, as the engine's peers (``percentile`` in ``peers``)
    percentile = (round(100.0 * (n - (rank + (n_tied - 1) / 2.0)) / (n - 1), 1)
                  if rank is not None and n > 1 else None)
    return Comparison("median_gruppe", "median", label, heading, year,
                      median, fmt_num(median, indicator.decimals), None, rank, n, n_tied,
                      hidden or None, percentile)


def feature_text(features: Mapping[str, float | None]) -> str:
    """Why a member is alike, in words: ``'sentralitetsklasse 5, 5 955 innbyggere,
    105,2 innvandrere per 1 000 innbyggere'`` (what is missing is said)."""
    c, p, i = (features.get(k) for k in FEATURES)
    nbsp = "\u00a0"  # numbers do not break across lines ("5 300", "per 1 000")
    return ", ".join((
        f"sentralitetsklasse {int(c)}" if c is not None else "sentralitetsklasse mangler",
        f"{fmt_num(p, 0, thousands=nbsp)} innbyggere" if p is not None
        else "folketall mangler",
        f"{fmt_num(i, 1, thousands=nbsp)} innvandrere per 1{nbsp}000 innbyggere"
        if i is not None else "innvandrerandel mangler"))


def feature_years(cube: Cube, code: str) -> tuple[int, int] | None:
    """The years of immigrants and population behind a municipality's immigrant share."""
    feature_table(cube)
    return cube._cache[("peer_feature_years",)].get(code)


def group_payload(cube: Cube, group: PeerGroup) -> dict[str, Any]:
    d = group.definition
    return {
        "kommune": group.code,
        "definisjon": {"tekst": d.text(), "parametere": d.params(),
                       "vekter": None if d.codes else d.weights,
                       "antall": None if d.codes else d.size,
                       "samme_kostra": d.same_kostra, "samme_fylke": d.same_county,
                       "kommuner": list(d.codes) or None},
        "egenskaper": group.features,
        "medlemmer": [{"kode": m.code, "navn": m.name, "avstand": m.distance,
                       "egenskaper": m.features, "hvorfor_lik": feature_text(m.features),
                       "innvandrerandel_ar": feature_years(cube, m.code)}
                      for m in group.members],
        "utelatt": group.excluded,
        "merknad": "Bare median og rangering over eksakte tall publiseres; ingen samlet "
                   "tall for en selvvalgt gruppe (det kunne avsløre skjermede tall).",
    }
