"""A region profile: every indicator for a municipality or county, with comparisons, trend,
series and sentences. The CLI (`bli profile`), the API (`/api/profil/{code}`), the web page
and the reports all render this one structure, so they cannot disagree.

The profile leads with what an adviser looks for first (:data:`PROFILE_LEAD`): the
population and its change, immigrants and Norwegian-born to immigrant parents (count, per
1 000 inhabitants, trend), and refugees settled with the settlement funnel (request →
decision → settled); then the rest of the catalogue.

Comparisons use :mod:`bliatlas.indicators.compare` (one definition each, named). Changes
are measured from one base year for the whole table: the first year every indicator with a
series has, or the year the caller asks for. Each series point carries its source, and a
point where the source changes is marked as a join.
"""

from __future__ import annotations

from typing import Any

from bliatlas.indicators.catalogue import Catalogue, Indicator
from bliatlas.indicators.compare import comparisons, rank_text
from bliatlas.indicators.engine import PEER_GROUP_NAMES_NB, PEER_GROUPS, Cube, RegionFacts
from bliatlas.indicators.peer_groups import PeerGroup, group_comparison
from bliatlas.indicators.sentences import (
    PEER_SENTENCE_INDICATOR,
    cell_dict,
    format_cell,
    format_signed,
    region_sentences,
)
from bliatlas.published import MISSING, Cell
from bliatlas.sources.standard import fetch_hint

# What a profile shows first, in this order (id, what it is).
PROFILE_LEAD: tuple[tuple[str, str], ...] = (
    ("folkemengde_1_januar", "Folkemengde 1. januar"),
    ("innvandrere", "Innvandrere"),
    ("innvandrere_per_1000", "Innvandrere per 1 000 innbyggere"),
    ("norskfodte_med_innvandrerforeldre", "Norskfødte med innvandrerforeldre"),
    ("norskfodte_med_innvandrerforeldre_per_1000",
     "Norskfødte med innvandrerforeldre per 1 000 innbyggere"),
    ("bosatte_flyktninger", "Bosatte flyktninger"),
    ("bosatte_per_1000", "Bosatte flyktninger per 1 000 innbyggere"),
    ("anmodning", "Anmodning om bosetting"),
    ("vedtak", "Vedtak om bosetting"),
    ("bosatt_etter_anmodning", "Bosatt mot anmodningen"),
)


def indicator_datasets(catalogue: Catalogue, ind: Indicator) -> set[str]:
    """The stored datasets an indicator reads (a difference: its components')."""
    if ind.kind == "difference":
        return set().union(*(indicator_datasets(catalogue, catalogue.get(i))
                             for i in ind.difference_of or []))
    return {sel.dataset for terms in (ind.numerator, ind.denominator or [])
            for term in terms for sel in term.any_of}


def fetch_hint_for(catalogue: Catalogue, ind: Indicator) -> str | None:
    """How to get an indicator's data when the store has none of it: the hint when its
    data, or one part of it that has no other source (e.g. the numerator of a rate over the
    population), comes with `bli sync standard`; else None."""
    if ind.kind == "difference":
        hints = (fetch_hint_for(catalogue, catalogue.get(i)) for i in ind.difference_of or [])
        return next((h for h in hints if h), None)
    for term in [*ind.numerator, *(ind.denominator or [])]:
        hint = fetch_hint({sel.dataset for sel in term.any_of})
        if hint:
            return hint
    return None


def not_yet_fetched(cube: Cube, level: str) -> list[dict[str, Any]]:
    """Indicators with no value anywhere in the store whose data `bli sync standard`
    fetches, with the hint how to get them (profiles, pages and reports list them).
    The same for every region of a level: cached on the cube (which a new import replaces)."""
    key = ("not_yet_fetched", level)
    cached = cube._cache.get(key)
    if cached is not None:
        return [dict(item) for item in cached]
    with_cells = {r[0] for r in cube.sql("SELECT DISTINCT indicator FROM cells")}
    out = []
    for ind in cube.catalogue.indicators:
        if cube.years.get(ind.id) or level not in cube.levels_for(ind):
            continue
        if ind.id in with_cells:
            continue                      # there are cells, only suppressed or missing ones
        hint = fetch_hint_for(cube.catalogue, ind)
        if hint:
            out.append({"id": ind.id, "tema": ind.topic, "navn": ind.name_nb,
                        "kilder": ind.sources, "hvordan": hint})
    cube._cache[key] = out
    return [dict(item) for item in out]


def region_info(cube: Cube, level: str, code: str) -> dict[str, Any]:
    reg = cube.group(level, code)
    info: dict[str, Any] = {
        "kode": code,
        "niva": level,
        "navn": reg["name"],
        "kortnavn": reg["short_name"],
    }
    if level == "kommune":
        county = cube.regions.get(("fylke", reg["county_code"]))
        info.update(
            fylke=reg["county_code"],
            fylkesnavn=county["short_name"] if county else None,
            sentralitet=reg["centrality"],
            distriktskommune=bool(reg["centrality"] and reg["centrality"] >= 5),
            kostragruppe=reg["kostra_group"],
            robek=reg["robek"],
        )
    else:
        info["antall_kommuner"] = reg["n_members"]
    return info


def provenance(cube: Cube, import_ids: set[int]) -> list[dict[str, Any]]:
    out = []
    for iid in sorted(import_ids):
        imp = cube.imports.get(iid)
        if imp is None:
            continue
        out.append(
            {
                "import_id": iid,
                "utgiver": imp["publisher"],
                "datasett": imp["dataset"],
                "kilde": imp["source"],
                "sha256": imp["content_sha256"],
                "lisens": imp["licence"],
                "importert": imp["imported_at"].isoformat()
                if hasattr(imp["imported_at"], "isoformat") else str(imp["imported_at"]),
            }
        )
    return out


def series_points(cube: Cube, series: list[Cell], indicator: Indicator) -> list[dict[str, Any]]:
    """A series as points with their source; ``skjot`` marks where the source changes."""
    out = []
    previous: str | None = None
    for c in series:
        point = {"ar": c.year, **cell_dict(c, indicator), "kilde": c.source,
                 "kilde_tekst": " og ".join(cube.source_label(s) for s in c.sources),
                 "skjot": False}
        if c.status != MISSING and c.source:
            point["skjot"] = previous is not None and c.source != previous
            previous = c.source
        out.append(point)
    return out


def base_year(series_by_indicator: dict[str, list[Cell]], wanted: int | None = None) -> int | None:
    """The table's one base year for changes: ``wanted``, else the first year that every
    indicator with a series (two or more exact values) has a value for."""
    if wanted is not None:
        return wanted
    firsts = []
    for cells in series_by_indicator.values():
        exact = [c.year for c in cells if c.ok and c.year]
        if len(exact) >= 2:
            firsts.append(min(exact))
    return max(firsts) if firsts else None


def _change(cells: list[Cell], latest: Cell, base: int | None, ind: Indicator
            ) -> dict[str, Any] | None:
    if base is None or not latest.ok or latest.year <= base:
        return None
    start = next((c for c in cells if c.year == base and c.ok), None)
    if start is None:
        return None
    change = latest.value - start.value
    return {"fra_ar": base, "fra_verdi": start.value, "endring": change,
            "endring_tekst": f"{format_signed(change, ind.decimals)} {ind.change_unit_nb}"}


def _peers_compat(cube: Cube, level: str, code: str, ind: Indicator, year: int
                  ) -> dict[str, dict[str, Any]]:
    """Rank and median per peer group (``jevnforing``), for the knowledge layer."""
    out = {}
    for row in cube.peers_for(code):
        if row["indicator"] != ind.id or row["year"] != year or row["peer_group"] not in PEER_GROUPS:
            continue
        out[row["peer_group"]] = {
            "beskrivelse": PEER_GROUP_NAMES_NB[row["peer_group"]] if level == "kommune"
            else "alle fylker",
            "gruppe": row["peer_code"],
            "rang": row["rank"],
            "antall": row["n"],
            "delt_med": row["n_tied"] - 1,
            "ikke_rangert": row["n_hidden"],
            "persentil": row["percentile"],
            "median": row["median"],
        }
    return out


def sentences_for(cube: Cube, facts: RegionFacts) -> list[str]:
    """The region's sentences (:func:`region_sentences`) from its facts, with the
    comparisons of its latest settled-per-1 000 figure for a municipality."""
    peer = None
    if facts.level == "kommune":
        ok = [c for c in facts.series(PEER_SENTENCE_INDICATOR) if c.ok]
        if ok:
            ind = cube.catalogue.get(PEER_SENTENCE_INDICATOR)
            peer = (ok[-1], comparisons(cube, facts.level, facts.code, ind, ok[-1].year))
    return region_sentences(facts, cube.catalogue, peer)


def build_profile(cube: Cube, code: str, from_year: int | None = None,
                  facts: RegionFacts | None = None, group: PeerGroup | None = None
                  ) -> dict[str, Any]:
    """Profile for a municipality (4-digit code) or county (2-digit code). ``from_year``
    sets the base year of the changes (default: the first year every series has).
    ``facts``: the region's cells when the caller already holds them (a page that also
    draws the funnel from them); fetched here otherwise. ``group``: a municipality's
    comparison group (:mod:`bliatlas.indicators.peer_groups`), whose median and rank are
    added to each indicator's comparisons as ``median_gruppe``."""
    reg = cube.region(code)
    level = reg["level"]
    if facts is None:
        facts = cube.facts(level, code)
    by_ind: dict[str, list[Cell]] = {}
    for cell in facts.cells:
        by_ind.setdefault(cell.indicator, []).append(cell)
    lead_ids = [i for i, _ in PROFILE_LEAD]
    order = {i: n for n, i in enumerate(lead_ids)}
    indicators = sorted(cube.catalogue.indicators,
                        key=lambda ind: (order.get(ind.id, len(order)), 0))
    shown_series: dict[str, list[Cell]] = {}
    for ind in indicators:
        series = sorted(by_ind.get(ind.id, []), key=lambda c: c.year)
        series = [c for c in series if c.status != MISSING or c.year in cube.years[ind.id]]
        if series:
            shown_series[ind.id] = series
    base = base_year(shown_series, from_year)

    import_ids: set[int] = set()
    items = []
    for ind in indicators:
        series = shown_series.get(ind.id)
        if not series:
            continue
        shown = [c for c in series if c.status != MISSING]
        latest = shown[-1] if shown else series[-1]
        import_ids.update(cube.imports_for(ind.id, level, code))
        comps = comparisons(cube, level, code, ind, latest.year) if latest.ok else []
        if group is not None and latest.ok:
            in_group = group_comparison(cube, group, ind, latest.year)
            comps += [in_group] if in_group is not None else []
        items.append(
            {
                "id": ind.id,
                "tema": ind.topic,
                "navn": ind.name_nb,
                "enhet": ind.unit,
                "retning": ind.direction,
                "ar": latest.year,
                **cell_dict(latest, ind),
                "teller": latest.numerator,
                "nevner": latest.denominator,
                "kilde": latest.source,
                "jevnforing": _peers_compat(cube, level, code, ind, latest.year),
                "sammenligning": [
                    {"nokkel": c.key, "type": c.kind, "etikett": c.label,
                     "overskrift": c.heading, "ar": c.year, "verdi": c.value,
                     "verdi_tekst": c.text, "rang": c.rank, "antall": c.n,
                     "delt_med": (c.n_tied - 1) if c.n_tied else None,
                     "ikke_rangert": c.n_hidden, "persentil": c.percentile,
                     "rang_tekst": rank_text(c) or None}
                    for c in comps
                ],
                "utvikling": _change(series, latest, base, ind),
                "serie": series_points(cube, series, ind),
                "kilder": ind.sources,
            }
        )
    by_id = {it["id"]: it for it in items}
    not_fetched = not_yet_fetched(cube, level)
    fetch_later = {m["id"]: m for m in not_fetched}
    lead = []
    for ind_id, label in PROFILE_LEAD:
        if ind_id in by_id and by_id[ind_id]["status"] != MISSING:
            # the trend of the figure's own series from its first year in the same source
            # (said with it; a change across a join of two sources is not a trend)
            ind = cube.catalogue.get(ind_id)
            series = shown_series[ind_id]
            latest = next(c for c in reversed(series) if c.status != MISSING)
            first = next((c.year for c in series
                          if c.ok and c.year and c.source == latest.source), None)
            lead.append({**by_id[ind_id], "utvikling": _change(series, latest, first, ind)})
        elif ind_id in fetch_later:
            lead.append({"id": ind_id, "navn": label, "status": MISSING,
                         "arsak": f"Ikke hentet ennå; {fetch_later[ind_id]['hvordan']}"})
        elif ind_id in cube.catalogue.ids:
            ind = cube.catalogue.get(ind_id)
            own = by_id.get(ind_id, {}).get("arsak")
            lead.append({"id": ind_id, "navn": ind.name_nb, "status": MISSING,
                         "arsak": f"Mangler for {reg['short_name']}"
                                  + (f": {own}" if own else "")
                                  + (f" ({ind.caveats[0]})" if ind.caveats and not own
                                     else "")})
    return {
        "region": region_info(cube, level, code),
        "hovedtall": lead,
        "indikatorer": items,
        "endring_fra_ar": base,
        "sammenligninger": _comparison_names(items),
        "setninger": sentences_for(cube, facts),
        "proveniens": provenance(cube, import_ids),
        "ikke_hentet": not_fetched,
    }


def _comparison_names(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The comparisons the profile uses, each once, with its definition."""
    seen: dict[str, dict[str, str]] = {}
    for it in items:
        for c in it["sammenligning"]:
            seen.setdefault(c["nokkel"], {"nokkel": c["nokkel"], "etikett": c["etikett"],
                                          "overskrift": c["overskrift"], "type": c["type"]})
    return list(seen.values())


def lead_text(item: dict[str, Any]) -> str:
    """One lead figure as a line for the terminal: name, year, value and change."""
    if item.get("status") == MISSING and "verdi_tekst" not in item:
        return f"{item['navn']}: {item['arsak']}"
    text = f"{item['navn']} {item['ar']}: {item['verdi_tekst']}"
    if item.get("status") == "ok":
        text += f" {item['enhet']}"
    if item.get("utvikling"):
        text += f" ({item['utvikling']['endring_tekst']} siden {item['utvikling']['fra_ar']})"
    return text


__all__ = [
    "PROFILE_LEAD",
    "base_year",
    "build_profile",
    "fetch_hint_for",
    "format_cell",
    "indicator_datasets",
    "lead_text",
    "not_yet_fetched",
    "provenance",
    "region_info",
    "series_points",
]
