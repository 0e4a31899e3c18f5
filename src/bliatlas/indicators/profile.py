"""A region profile: every indicator for a municipality or county, with peers, trend and
sentences. The CLI (`bli profile`) and the API (`/api/profil/{code}`) both render this
one structure, so they cannot disagree."""

from __future__ import annotations

from typing import Any

from bliatlas.indicators.catalogue import Catalogue, Indicator
from bliatlas.indicators.engine import PEER_GROUP_NAMES_NB, PEER_GROUPS, Cube
from bliatlas.indicators.sentences import format_cell, format_signed, region_sentences
from bliatlas.sources.standard import fetch_hint


def indicator_datasets(catalogue: Catalogue, ind: Indicator) -> set[str]:
    """The stored datasets an indicator reads (a difference: its components')."""
    if ind.kind == "difference":
        return set().union(*(indicator_datasets(catalogue, catalogue.get(i))
                             for i in ind.difference_of or []))
    return {sel.dataset for terms in (ind.numerator, ind.denominator or [])
            for term in terms for sel in term.any_of}


def not_yet_fetched(cube: Cube, level: str) -> list[dict[str, Any]]:
    """Indicators with no value anywhere in the store whose data `bli sync standard`
    fetches, with the hint how to get them (profiles, pages and reports list them)."""
    out = []
    for ind in cube.catalogue.indicators:
        if cube.years.get(ind.id) or level not in cube.levels_for(ind):
            continue
        if cube.rows("SELECT 1 FROM cells WHERE indicator = ? LIMIT 1", [ind.id]):
            continue                      # there are cells, only suppressed or missing ones
        hint = fetch_hint(indicator_datasets(cube.catalogue, ind))
        if hint:
            out.append({"id": ind.id, "tema": ind.topic, "navn": ind.name_nb,
                        "kilder": ind.sources, "hvordan": hint})
    return out


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


def build_profile(cube: Cube, code: str) -> dict[str, Any]:
    """Profile for a municipality (4-digit code) or county (2-digit code)."""
    reg = cube.region(code)
    level = reg["level"]
    cells = cube.cells_for(level, code)
    by_ind: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        by_ind.setdefault(cell["indicator"], []).append(cell)
    peers: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for row in cube.peers_for(code):
        peers.setdefault((row["indicator"], row["year"]), {})[row["peer_group"]] = row

    import_ids: set[int] = set()
    items = []
    for ind in cube.catalogue.indicators:
        series = sorted(by_ind.get(ind.id, []), key=lambda c: c["year"])
        series = [c for c in series if c["status"] != "missing" or c["year"] in cube.years[ind.id]]
        if not series:
            continue
        shown = [c for c in series if c["status"] != "missing"]
        latest = shown[-1] if shown else series[-1]
        import_ids.update(cube.imports_for(ind.id, level, code))
        year = latest["year"]
        peer_rows = peers.get((ind.id, year), {})
        peer_out = {}
        for group in PEER_GROUPS:
            r = peer_rows.get(group)
            if r is None:
                continue
            peer_out[group] = {
                "beskrivelse": PEER_GROUP_NAMES_NB[group] if level == "kommune" else "alle fylker",
                "gruppe": r["peer_code"],
                "rang": r["rank"],
                "antall": r["n"],
                "persentil": r["percentile"],
                "median": r["median"],
            }
        trend = None
        any_peer = next(iter(peer_rows.values()), None)
        if any_peer is not None and any_peer["change"] is not None:
            trend = {
                "fra_ar": any_peer["first_year"],
                "fra_verdi": any_peer["first_value"],
                "endring": any_peer["change"],
                "endring_tekst": f"{format_signed(any_peer['change'], ind.decimals)} "
                f"{ind.change_unit_nb}",
            }
        items.append(
            {
                "id": ind.id,
                "tema": ind.topic,
                "navn": ind.name_nb,
                "enhet": ind.unit,
                "retning": ind.direction,
                "ar": year,
                "verdi": latest["value"],
                "verdi_tekst": format_cell(latest, ind),
                "status": latest["status"],
                "arsak": latest["reason"],
                "teller": latest["numerator"],
                "nevner": latest["denominator"],
                "jevnforing": peer_out,
                "utvikling": trend,
                "serie": [
                    {"ar": c["year"], "verdi": c["value"], "status": c["status"]} for c in series
                ],
                "kilder": ind.sources,
            }
        )
    return {
        "region": region_info(cube, level, code),
        "indikatorer": items,
        "setninger": region_sentences(cube, level, code),
        "proveniens": provenance(cube, import_ids),
        "ikke_hentet": not_yet_fetched(cube, level),
    }
