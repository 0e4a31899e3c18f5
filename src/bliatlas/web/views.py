"""Page data: what each page shows, computed from the cube, registry, store and knowledge.

Pure functions of an :class:`AtlasContext` and the request parameters, returning plain
dicts for the templates (and for the CSV export), so the numbers on a page come from the
same engine values as the API's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bliatlas.errors import InputError, InvalidParameter, NotFound, UserError
from bliatlas.format import fmt_num
from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import RegionFacts
from bliatlas.indicators.peer_groups import (
    FEATURES,
    FEATURES_NB,
    SIZE_RANGE,
    Definition,
    PeerGroup,
    feature_text,
    group_from_params,
)
from bliatlas.indicators.profile import build_profile
from bliatlas.indicators.sentences import format_cell, format_number
from bliatlas.knowledge import recommend
from bliatlas.knowledge.pointers import municipality_pointers
from bliatlas.knowledge.search import fold
from bliatlas.published import INTERVAL, MISSING, OK, SUPPRESSED, Cell
from bliatlas.render.charts import (
    Bar,
    Series,
    bar_chart,
    line_chart,
    multi_line_chart,
    standalone,
)
from bliatlas.render.context import AtlasContext
from bliatlas.render.figures import (
    GrantRow,
    bar_for,
    grant_rows,
    grants_by_type,
    point_for,
    series_points,
    settlement_funnel,
    with_unit,
)
from bliatlas.render.map import choropleth, map_svg

DEFAULT_INDICATOR = "bosatte_per_1000"
TOPICS_NB: dict[str, str] = {
    "befolkning": "Befolkning",
    "bosetting": "Bosetting av flyktninger",
    "kapasitet": "Kapasitet i kommunen",
    "tilskudd": "Tilskudd fra IMDi",
    "innvandringsgrunn": "Innvandrerbefolkningen",
    "bofasthet": "Bofasthet og flytting",
    "sysselsetting": "Sysselsetting",
    "utdanning": "Utdanning",
    "innvandrerbefolkningen": "Innvandrerbefolkningen etter landbakgrunn",
    "introduksjonsprogrammet": "Introduksjonsprogrammet",
    "inntekt": "Inntekt",
    "barnehage": "Barnehage",
}
# Indicators shown in the county table and as time series on the municipality page.
MAIN_INDICATORS: tuple[str, ...] = (
    "bosatte_per_1000", "ukrainere_andel", "innvandrere_flukt_andel",
    "vedtak_andel_av_anmodning", "fastlege_venteliste_per_1000", "tilskudd_per_innbygger",
)
SERIES_INDICATORS: tuple[str, ...] = (
    "folkemengde_1_januar", "innvandrere", "bosatte_per_1000", "anmodning", "ukrainere_andel",
    "innvandrere_per_1000", "innvandrere_arbeid_andel",
    "innvandrere_flukt_andel", "vedtak_andel_av_anmodning", "bosatt_forste_kommune_andel",
    "fastlege_venteliste_per_1000", "tilskudd_per_innbygger",
    "hoyere_utdanning_innvandrere_andel", "hoyere_utdanning_forskjell",
)
# Knowledge search words for an indicator topic (when a municipality is weak on it).
TOPIC_QUERY: dict[str, str] = {
    "bosetting": "bosetting flyktninger",
    "kapasitet": "samarbeid kommune tjenester",
    "tilskudd": "tilskudd finansiering",
    "innvandringsgrunn": "arbeidsinnvandrere inkludering",
    "bofasthet": "bli boende tilflytting",
    "sysselsetting": "arbeid sysselsetting",
    "utdanning": "utdanning kvalifisering",
    "introduksjonsprogrammet": "introduksjonsprogram",
    "inntekt": "lavinntekt levekår",
    "barnehage": "barnehage språk",
}
DIRECTION_NB = {
    "higher_better": "høyere er bedre",
    "lower_better": "lavere er bedre",
    "neutral": "verken høyere eller lavere er bedre i seg selv",
}
LEVEL_CHOICES = {"kommune": "Kommuner", "fylke": "Fylker"}
def parse_from_year(fra: str | None) -> int | None:
    """The base year of the change column (``?fra=2022``)."""
    if fra in (None, ""):
        return None
    if not fra.isdigit() or len(fra) != 4:
        raise InputError("fra", f"forventet et årstall, fikk {fra!r}")
    return int(fra)


def value_text(cell: Cell | None, ind: Indicator) -> str:
    return format_cell(cell, ind)


def coverage_note(cell: Cell | None) -> str:
    """Why an aggregate is not exact, and what it covers (splits, mergers, coverage)."""
    return cell.note_text() if cell is not None else ""


def aggregate_text(cell: Cell | None, ind: Indicator) -> str:
    """An aggregate's value with its unit, and its notes in brackets."""
    text = with_unit(cell, ind)
    note = coverage_note(cell)
    if note and cell is not None and cell.status in (OK, INTERVAL):
        return f"{text} ({note})"
    return f"{note[0].upper()}{note[1:]}" if note else text


def latest_year_with_values(ctx: AtlasContext, ind: Indicator, level: str,
                            codes: list[str]) -> int | None:
    """The latest year where at least one of the regions has a value or a suppressed cell."""
    for year in reversed(usable_years(ctx, ind)):
        for code in codes:
            cell = ctx.cube.cell(ind.id, level, code, year)
            if cell is not None and cell.status != MISSING:
                return year
    return ctx.cube.latest_year(ind.id)


# -- map ---------------------------------------------------------------------------------


@dataclass
class MapFilters:
    indicator: str
    year: int
    level: str
    county: str | None
    district_only: bool
    centrality: int | None


def parse_map_filters(ctx: AtlasContext, i: str | None, ar: str | None, niva: str | None,
                      fylke: str | None, distrikt: str | None,
                      sentralitet: str | None) -> tuple[MapFilters, Indicator, list[str]]:
    notes: list[str] = []
    ind = ctx.catalogue.get(i or DEFAULT_INDICATOR)
    years = usable_years(ctx, ind)
    if ar not in (None, "") and ar.isdigit() and years and int(ar) not in years:
        # The form keeps the year when the indicator changes; show the nearest year instead.
        nearest = min(years, key=lambda y: (abs(y - int(ar)), -y))
        notes.append(f"{ind.name_nb} har ikke tall for {ar}; kartet viser {nearest}.")
        ar = str(nearest)
    year = ctx.cube.year_of(ind, ar)
    level = niva or "kommune"
    if level not in LEVEL_CHOICES:
        raise InvalidParameter(f"niva: forventet «kommune» eller «fylke», fikk {level!r}")
    if ind.base_level == "fylke" and level == "kommune":
        level = "fylke"
        notes.append(f"«{ind.name_nb}» finnes bare per fylke, så kartet viser fylker.")
    county = fylke or None
    if county is not None and county not in ctx.registry.counties:
        raise NotFound(f"ukjent fylkesnummer {county!r}")
    cent = None
    if sentralitet not in (None, ""):
        if sentralitet not in {"1", "2", "3", "4", "5", "6"}:
            raise InvalidParameter(f"sentralitet: forventet 1–6, fikk {sentralitet!r}")
        cent = int(sentralitet)
    district_only = distrikt in ("1", "on", "ja", "true")
    if level == "fylke" and (district_only or cent):
        notes.append("Filtrene for distriktskommuner og sentralitet gjelder bare kommunekartet.")
    return MapFilters(ind.id, year, level, county, district_only, cent), ind, notes


def _selected_municipalities(ctx: AtlasContext, f: MapFilters) -> list[str]:
    out = []
    for m in ctx.registry.municipalities.values():
        if f.county and m.county_code != f.county:
            continue
        if f.district_only and not m.is_district:
            continue
        if f.centrality and m.centrality != f.centrality:
            continue
        out.append(m.code)
    return sorted(out)


def map_page(ctx: AtlasContext, f: MapFilters, ind: Indicator) -> dict[str, Any]:
    if f.level == "kommune":
        codes = _selected_municipalities(ctx, f)
        all_codes = sorted(ctx.geometry.municipalities())
        if f.county:
            county_codes = [m.code for m in ctx.registry.municipalities_in(f.county)]
            fit, draw, key = county_codes, sorted(county_codes), f"fylke-{f.county}"
        else:
            fit, draw, key = all_codes, all_codes, "norge-kommuner"
    else:
        codes = [f.county] if f.county else sorted(ctx.registry.counties)
        all_counties = sorted(ctx.geometry.counties())
        fit, draw, key = all_counties, all_counties, "norge-fylker"
    data = choropleth(ctx, ind, f.year, f.level, codes, key, fit, draw)
    national = ctx.cube.cell(ind.id, "nasjonal", "NO", f.year)
    return {"map": data, "national": national, "national_text": aggregate_text(national, ind)}


def map_figures(ctx: AtlasContext, f: MapFilters, ind: Indicator) -> dict[str, Figure]:
    """The map of ``/kart`` (same filters) as a download: one SVG with its legend, and the
    numbers behind it, one row per region (suppressed regions keep no number)."""
    data = map_page(ctx, f, ind)["map"]
    where = "kommunene" if f.level == "kommune" else "fylkene"
    if f.county:
        where += f" i {ctx.registry.get(f.county).name}"
    name = ind.name_nb if ind.unit in ind.name_nb else f"{ind.name_nb} ({ind.unit})"
    title = f"{name}, {where}, {f.year}"
    rows = [[title, r["name"], r["value"], r["lower"], r["upper"], r["status"], r["text"],
             ind.unit] for r in data["rows"]]
    note = ("Klassegrenser etter kvantiler (omtrent like mange "
            f"{'kommuner' if f.level == 'kommune' else 'fylker'} i hver klasse).")
    return {"kart": Figure("kart", title, map_svg(data, ind.unit, note), rows)}


def map_query(f: MapFilters) -> str:
    """The query string that reproduces ``f`` (for the map's download links)."""
    params = [("i", f.indicator), ("ar", str(f.year)), ("niva", f.level)]
    if f.county:
        params.append(("fylke", f.county))
    if f.district_only:
        params.append(("distrikt", "1"))
    if f.centrality:
        params.append(("sentralitet", str(f.centrality)))
    return "?" + urlencode(params)


def indicator_choices(ctx: AtlasContext) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for ind in ctx.catalogue.indicators:
        if not ctx.cube.years.get(ind.id) or ctx.cube.years[ind.id] == [0]:
            continue
        groups.setdefault(ind.topic, []).append({"id": ind.id, "name": ind.name_nb})
    return [{"topic": TOPICS_NB.get(t, t), "items": items} for t, items in groups.items()]


def usable_years(ctx: AtlasContext, ind: Indicator) -> list[int]:
    return [y for y in ctx.cube.years.get(ind.id, []) if y > 0]


# -- municipality ------------------------------------------------------------------------


def municipality_page(ctx: AtlasContext, code: str, from_year: int | None = None,
                      group: PeerGroup | None = None) -> dict[str, Any]:
    region = ctx.registry.get(code)
    if region.level != "kommune":
        raise NotFound(f"{code} er et fylke, ikke en kommune; se /fylke/{code}")
    facts = ctx.cube.facts("kommune", code)  # fetched once, handed to everything below
    profile = build_profile(ctx.cube, code, from_year, facts=facts, group=group)
    items = {it["id"]: it for it in profile["indikatorer"]}
    key_rows = []
    notes: list[str] = []
    comparison_keys = [c["nokkel"] for c in profile["sammenligninger"]]
    for it in profile["indikatorer"]:
        ind = ctx.catalogue.get(it["id"])
        by_key = {c["nokkel"]: c for c in it["sammenligning"]}
        note = it["arsak"]
        mark = None
        if it["arsak"]:
            if it["arsak"] not in notes:
                notes.append(it["arsak"])
            mark = notes.index(it["arsak"]) + 1
        ranked = next((c for c in it["sammenligning"] if c["rang"] is not None), None)
        key_rows.append({
            "id": ind.id, "name": ind.name_nb, "unit": ind.unit, "year": it["ar"],
            "text": it["verdi_tekst"], "status": it["status"], "reason": note, "mark": mark,
            "comparisons": [by_key.get(k) for k in comparison_keys],
            "rank": ranked, "trend": it["utvikling"], "topic": ind.topic,
            "direction": ind.direction, "peers": it["jevnforing"],
        })
    charts = series_charts(ctx, region, items)
    county = ctx.registry.counties.get(region.county_code)
    locator_codes = sorted(m.code for m in ctx.registry.municipalities_in(region.county_code))
    view, paths = ctx.geometry.view(f"fylke-{region.county_code}", locator_codes, locator_codes)
    locator = {
        "viewbox": view.viewbox,
        "shapes": [{"code": c, "d": paths[c], "this": c == code} for c in locator_codes
                   if c in paths],
    }
    weakest = _weakest(key_rows)
    knowledge = related_knowledge(ctx, region, weakest)
    return {
        "region": region,
        "county": county,
        "profile": profile,
        "lead": profile["hovedtall"],
        "key_rows": key_rows,
        "notes": notes,
        "comparison_names": profile["sammenligninger"],
        "base_year": profile["endring_fra_ar"],
        "base_years": sorted({p["ar"] for it in profile["indikatorer"] for p in it["serie"]
                              if p["status"] == OK and p["ar"]}),
        "charts": charts,
        "funnel": funnel(ctx, facts),
        "grants": grants(ctx, code),
        "locator": locator,
        "knowledge": knowledge,
        "pointers": knowledge_pointers(ctx, region, profile, knowledge["weak"]),
        "weakest": weakest,
        "definitions": definitions(ctx, [r["id"] for r in key_rows]),
        "provenance": profile["proveniens"],
        "not_fetched": profile["ikke_hentet"],
    }


def series_charts(ctx: AtlasContext, region, items: dict[str, dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """The municipality page's time series (one chart per indicator with a value)."""
    charts = []
    for n, ind_id in enumerate(SERIES_INDICATORS):
        it = items.get(ind_id)
        if it is None or not any(s["status"] in (OK, INTERVAL) for s in it["serie"]):
            continue
        ind = ctx.catalogue.get(ind_id)
        points = series_points(it["serie"])
        joins = [s for s in it["serie"] if s["skjot"]]
        title = f"{ind.name_nb}, {region.name}"
        charts.append({
            "id": f"serie-{n}", "indicator": ind, "title": title,
            "svg": line_chart(f"serie-{n}", title, ind.unit, points, ind.decimals),
            "rows": [{"year": s["ar"], "text": s["verdi_tekst"], "source": s["kilde_tekst"],
                      "join": s["skjot"]} for s in it["serie"]],
            "joins": [f"Fra {s['ar']}: {s['kilde_tekst']}" for s in joins],
            "data": [[s["ar"], s["verdi"] if s["status"] == OK else None,
                      s["nedre"] if s["status"] == INTERVAL else None,
                      s["ovre"] if s["status"] == INTERVAL else None,
                      s["status"], s["verdi_tekst"], ind.unit] for s in it["serie"]],
        })
    return charts


FIGURE_HEADER = ["figur", "rad", "verdi", "nedre", "øvre", "status", "tekst", "enhet"]


@dataclass(frozen=True)
class Figure:
    """One chart as a download: its SVG and the numbers behind it (suppressed values
    keep no number, only their status and text)."""

    id: str
    title: str
    svg: str
    rows: list[list[Any]]  # FIGURE_HEADER columns

    def svg_document(self, source: str) -> bytes:
        """The chart with its title and ``source`` written in it, as an SVG file."""
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                + standalone(self.svg, self.title, source)).encode("utf-8")


def municipality_figures(ctx: AtlasContext, code: str) -> dict[str, Figure]:
    """Every chart on ``/kommune/{code}`` by its id, with its numbers."""
    region = ctx.registry.get(code)
    if region.level != "kommune":
        raise NotFound(f"{code} er et fylke, ikke en kommune; se /fylke/{code}")
    facts = ctx.cube.facts("kommune", code)
    profile = build_profile(ctx.cube, code, facts=facts)
    items = {it["id"]: it for it in profile["indikatorer"]}
    out: dict[str, Figure] = {}
    for c in series_charts(ctx, region, items):
        out[c["id"]] = Figure(c["id"], c["title"], str(c["svg"]),
                              [[c["title"], *row] for row in c["data"]])
    f = funnel(ctx, facts)
    if f is not None:
        title = f"Bosettingstrakten {f['year']}, {region.name}"
        out["trakt"] = Figure("trakt", title, str(f["svg"]), [
            [title, s["label"], s["value"], None, None,
             s["cell"].status if s["cell"] is not None else MISSING, s["text"], "personer"]
            for s in f["steps"]])
    g = grants(ctx, code)
    if g is not None and g["svg"] is not None:
        title = f"Tilskudd fra IMDi etter type {g['year']}, {region.name}"
        out["tilskudd"] = Figure("tilskudd", title, str(g["svg"]), [
            [title, i["type"], i["value"], None, None, i["status"], i["text"], "kroner"]
            for i in ([g["total"]] if g["total"] else []) + g["items"]])
    return out


def compare_figures(ctx: AtlasContext, codes: list[str], ids: list[str],
                    year: str | None) -> dict[str, Figure]:
    """Every chart on the compare page by its id, with its numbers."""
    page = compare_page(ctx, codes, ids, year)
    out: dict[str, Figure] = {}
    for n, (c, t) in enumerate(zip(page["charts"], page["table"])):
        title = f"{c['ind'].name_nb} ({c['ind'].unit}), {c['year']}"
        rows = [[title, r.nb_name, v["value"], None, None, v["status"], v["text"],
                 c["ind"].unit] for r, v in zip(page["regions"], t["values"])]
        rows.append([title, "Hele landet samlet", t["national_value"], None, None,
                     t["national_status"], t["national"], c["ind"].unit])
        out[f"sml-{n}"] = Figure(f"sml-{n}", title, str(c["svg"]), rows)
    for s in page["series"]:
        rows = [[s["title"], f"{r.nb_name} {p.year}", p.value, p.lower, p.upper, p.status,
                 p.text, s["ind"].unit] for r, line in zip(page["regions"], s["lines"])
                for p in line.points]
        out[s["id"]] = Figure(s["id"], s["title"], str(s["svg"]), rows)
    return out


def _weakest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The indicator with direction where the municipality ranks lowest in its centrality
    class (the same ranking the page shows)."""
    scored = [r for r in rows if r["direction"] != "neutral" and r["status"] == OK
              and r["rank"] is not None and r["rank"]["persentil"] is not None]
    if not scored:
        return None
    return min(scored, key=lambda r: r["rank"]["persentil"])


def funnel(ctx: AtlasContext, facts: RegionFacts) -> dict[str, Any] | None:
    """Request → decision → settled (:func:`bliatlas.render.figures.settlement_funnel`),
    from the municipality's cells the page already holds."""
    f = settlement_funnel(ctx.cube, facts.level, facts.code, lookup=facts.lookup)
    if f is None:
        return None
    steps = [{"label": s.label, "indicator": s.indicator.id,
              "value": s.cell.value if s.cell is not None and s.cell.ok else None,
              "text": format_cell(s.cell, s.indicator), "cell": s.cell} for s in f.steps]
    rates = [{"name": ind.name_nb, "text": with_unit(cell, ind)} for ind, cell in f.rates]
    svg = bar_chart("trakt", f"Bosettingstrakten {f.year}", f.bars())
    return {"year": f.year, "steps": steps, "rates": rates, "svg": svg}


def grants(ctx: AtlasContext, code: str) -> dict[str, Any] | None:
    """IMDi grants by type for the latest year with published (or suppressed) values."""
    g = grants_by_type(grant_rows(ctx.store, code))
    if g is None:
        return None

    def item(r: GrantRow) -> dict[str, Any]:
        text = (format_number(r.value, 0) + " kr" if r.status == OK
                else ("skjermet" if r.status == SUPPRESSED else "mangler"))
        return {"type": r.type, "value": r.value, "text": text, "status": r.status}
    items = [item(r) for r in g.items]
    svg = bar_chart("tilskudd", f"Tilskudd fra IMDi etter type, {g.year}", [
        Bar(label=i["type"], value=i["value"], text=i["text"], status=i["status"])
        for i in items]) if items else None
    return {"year": g.year, "items": items, "total": item(g.total) if g.total else None,
            "svg": svg}


def related_knowledge(ctx: AtlasContext, region, weakest: dict[str, Any] | None) -> dict[str, Any]:
    """Recommended practices (knowledge engine), else a search on the weakest theme.

    Recommendations come from :mod:`bliatlas.knowledge.recommend`: practices from the
    municipality itself and from places like it, and practices for indicators where it is
    weakest among its centrality class, each with its reason. If that yields nothing, the
    page searches the knowledge base on the theme of the weakest indicator and lists
    entries from the same county.
    """
    index = ctx.knowledge()
    out: dict[str, Any] = {"similar": [], "weak": [], "how": None, "entries": [],
                           "query": None, "county_entries": []}
    try:
        facts = ctx.place_facts()
        out["similar"] = recommend.similar_place_practices(index, facts, region.code, limit=5)
        out["weak"] = recommend.practices_for_weaknesses(index, ctx.cube, facts, region.code)
    except UserError:
        pass
    county_entries = [e for e in index.entries if region.county_code in e.county_codes
                      or any(index.regions.get(m) is not None
                             and index.regions[m].county_code == region.county_code
                             for m in e.municipality_codes)]
    county_entries.sort(key=lambda e: (e.type != "praksis", e.title))
    out["county_entries"] = county_entries[:5]
    if out["similar"] or out["weak"]:
        return out
    if weakest is not None:
        query = TOPIC_QUERY.get(weakest["topic"], weakest["name"])
        result = index.search(query, {"type": ["praksis", "rad"]}, limit=5)
        out.update(
            how=(f"Praksiser og råd om «{TOPICS_NB.get(weakest['topic'], weakest['topic'])}», "
                 f"der {region.name} ligger lavest blant alle kommuner "
                 f"({weakest['name'].lower()})"),
            entries=[h.entry for h in result.hits], query=query)
    return out


def knowledge_pointers(ctx: AtlasContext, region, profile: dict[str, Any],
                       weak: list[Any]) -> list[Any]:
    """Knowledge needs and practices the municipality's own figures point to."""
    try:
        return municipality_pointers(ctx.knowledge(), ctx.cube, ctx.place_facts(), region.code,
                                     profile=profile, weak=weak)
    except UserError:
        return []


def definitions(ctx: AtlasContext, ids: list[str]) -> list[Indicator]:
    wanted = set(ids)
    return [ind for ind in ctx.catalogue.indicators if ind.id in wanted]


def municipality_csv_rows(ctx: AtlasContext, code: str, group: PeerGroup | None = None
                          ) -> list[list[Any]]:
    """Everything on the municipality page as long rows (section, what, year, value, ...);
    with ``group``, its members and the group median beside the other comparisons."""
    page = municipality_page(ctx, code, group=group)
    region = page["region"]
    out: list[list[Any]] = [["seksjon", "kode", "kommune", "indikator", "navn", "år", "verdi",
                             "nedre", "øvre", "status", "enhet", "merknad"]]
    out += peer_group_csv_rows(group)
    for it in page["profile"]["indikatorer"]:
        ind = ctx.catalogue.get(it["id"])
        for s in it["serie"]:
            note = "; ".join(x for x in (s["arsak"], s["skjot"] and
                                         f"kilden skifter til {s['kilde_tekst']}") if x)
            out.append(["indikator", code, region.name, ind.id, ind.name_nb, s["ar"],
                        s["verdi"] if s["status"] == OK else None,
                        s["nedre"] if s["status"] in (INTERVAL, SUPPRESSED) else None,
                        s["ovre"] if s["status"] in (INTERVAL, SUPPRESSED) else None,
                        s["status"], ind.unit, note])
        for c in it["sammenligning"]:
            out.append(["sammenligning", code, region.name, ind.id,
                        f"{ind.name_nb}: {c['etikett']}", c["ar"], c["verdi"], None, None,
                        OK if c["verdi"] is not None else INTERVAL, ind.unit,
                        "; ".join(x for x in (c["verdi_tekst"] if c["verdi"] is None else None,
                                              c["rang_tekst"]) if x)])
    if page["funnel"]:
        for s in page["funnel"]["steps"]:
            cell = s["cell"]
            out.append(["bosettingstrakt", code, region.name, s["indicator"], s["label"],
                        page["funnel"]["year"], s["value"], None, None,
                        cell.status if cell is not None else MISSING, "personer",
                        cell.note_text() if cell is not None else ""])
    if page["grants"]:
        g = page["grants"]
        for item in ([g["total"]] if g["total"] else []) + g["items"]:
            out.append(["tilskudd", code, region.name, "tilskudd", item["type"], g["year"],
                        item["value"], None, None, item["status"], "kroner", ""])
    for sentence in page["profile"]["setninger"]:
        out.append(["setning", code, region.name, "", sentence, "", None, None, None, "", "",
                    ""])
    return out


# -- comparison group (sammenligningsgruppe) on the municipality page -------------------


PEER_WEIGHT_CHOICES = (0, 1, 2, 3)


def peer_group_from_query(ctx: AtlasContext, code: str, params: Mapping[str, str]
                          ) -> PeerGroup | None:
    """The comparison group the query asks for (any ``g_…`` parameter), or None; a bad
    value is a Norwegian 400 naming the parameter."""
    ctx.registry.get(code)  # 404 for an unknown code before the group is built
    return group_from_params(ctx.cube, code, params)


def peer_group_view(ctx: AtlasContext, code: str, group: PeerGroup | None,
                    from_year: int | None = None) -> dict[str, Any]:
    """The group form's state (the definition shown, or the defaults), the members with
    why each is alike, and the query that keeps the group in links (CSV, report, compare)."""
    d = group.definition if group is not None else Definition()
    form = {"weights": [{"key": k, "label": FEATURES_NB[k], "value": d.weights[k]}
                        for k in FEATURES],
            "size": d.size, "same_kostra": d.same_kostra, "same_county": d.same_county,
            "codes": ",".join(d.codes), "choices": PEER_WEIGHT_CHOICES,
            "size_range": SIZE_RANGE}
    if group is None:
        return {"form": form, "group": None, "query": "", "compare_url": None}
    query = urlencode(d.params())
    members = [{"code": m.code, "name": m.name, "distance": fmt_num(m.distance, 2),
                "why": feature_text(m.features)} for m in group.members]
    compare = urlencode([("k", code)] + [("k", m.code) for m in group.members])
    return {"form": form, "group": group, "definition": d.text(), "members": members,
            "own_why": feature_text(group.features), "excluded": group.excluded,
            "query": query, "compare_url": f"/sammenlign?{compare}",
            "page_query": urlencode(([("fra", from_year)] if from_year else [])
                                    + list(d.params().items()))}


def peer_group_csv_rows(group: PeerGroup | None) -> list[list[Any]]:
    """The group's members as CSV rows (section ``sammenligningsgruppe``)."""
    if group is None:
        return []
    return [["sammenligningsgruppe", m.code, m.name, "", group.definition.text(), "", m.distance,
             None, None, "", "avstand", feature_text(m.features)] for m in group.members]


# -- county ------------------------------------------------------------------------------


def county_page(ctx: AtlasContext, code: str, sort: str | None, direction: str | None,
                indicator: str | None) -> dict[str, Any]:
    region = ctx.registry.get(code)
    if region.level != "fylke":
        raise NotFound(f"{code} er en kommune, ikke et fylke; se /kommune/{code}")
    inds = [ctx.catalogue.get(i) for i in MAIN_INDICATORS]
    members = ctx.registry.municipalities_in(code)
    years = {ind.id: latest_year_with_values(ctx, ind, "kommune", [m.code for m in members])
             for ind in inds}
    rows = []
    for m in members:
        cols = []
        for ind in inds:
            cell = ctx.cube.cell(ind.id, "kommune", m.code, years[ind.id])
            cols.append({"value": cell.value if cell and cell.ok else None,
                         "text": value_text(cell, ind)})
        rows.append({"code": m.code, "name": m.display_name, "sort": m.sort_key,
                     "centrality": m.centrality,
                     "district": m.is_district, "cols": cols})
    sort_keys = ["navn", "sentralitet"] + [ind.id for ind in inds]
    sort = sort or "navn"
    if sort not in sort_keys:
        raise InputError("sort", f"forventet en av {', '.join(sort_keys)}, fikk {sort!r}")
    descending = direction == "synkende"
    if sort == "navn":
        rows.sort(key=lambda r: r["sort"], reverse=descending)
    elif sort == "sentralitet":
        rows.sort(key=lambda r: (r["centrality"] or 0, r["sort"]), reverse=descending)
    else:
        k = [ind.id for ind in inds].index(sort)
        with_value = [r for r in rows if r["cols"][k]["value"] is not None]
        without = [r for r in rows if r["cols"][k]["value"] is None]
        with_value.sort(key=lambda r: r["cols"][k]["value"], reverse=descending)
        rows = with_value + sorted(without, key=lambda r: r["sort"])
    totals = []
    for ind in inds:
        cell = ctx.cube.cell(ind.id, "fylke", code, years[ind.id])
        nat = ctx.cube.cell(ind.id, "nasjonal", "NO", years[ind.id])
        notes = [n for n in (coverage_note(cell), coverage_note(nat) and
                             f"Hele landet: {coverage_note(nat)}") if n]
        totals.append({"text": value_text(cell, ind), "national": value_text(nat, ind),
                       "reason": "; ".join(notes)})
    summary = next(s for s in ctx.registry.district_summary() if s["code"] == code)
    map_ind = ctx.catalogue.get(indicator or DEFAULT_INDICATOR)
    map_year = ctx.cube.year_of(map_ind, None)
    codes = sorted(m.code for m in members)
    cmap = choropleth(ctx, map_ind, map_year, "kommune", codes, f"fylke-{code}", codes, codes,
                      map_id="fylkeskart")
    return {
        "region": region, "inds": inds, "years": years, "rows": rows, "sort": sort,
        "descending": descending, "sort_keys": sort_keys, "totals": totals,
        "summary": summary, "map": cmap, "map_ind": map_ind, "map_year": map_year,
    }


# -- compare -----------------------------------------------------------------------------

DEFAULT_COMPARE_INDICATORS = ("bosatte_per_1000", "ukrainere_andel",
                              "vedtak_andel_av_anmodning", "tilskudd_per_innbygger")


def compare_page(ctx: AtlasContext, codes: list[str], ids: list[str],
                 year: str | None) -> dict[str, Any]:
    """Municipalities, or counties, side by side. Each ``k`` is a code, a list entry or a
    name in any official form; several may be given in one field, separated by commas."""
    typed = [t.strip() for x in codes for t in re.split(r"[,;]", x) if t.strip()]
    regions = []
    for c in dict.fromkeys(typed):
        if c.isdigit():
            r = ctx.registry.get(c)  # an unknown code is 404, as on the region pages
        else:
            try:
                r = ctx.registry.find(c)
            except NotFound as exc:
                raise InputError("k", str(exc)) from None
        if r in regions:
            continue
        if r.level not in ("kommune", "fylke"):
            raise InputError("k", f"{c}: velg kommuner (4 siffer) eller fylker (2 siffer)")
        regions.append(r)
    levels = {r.level for r in regions}
    if len(levels) > 1:
        raise InputError("k", "sammenlign enten kommuner eller fylker, ikke begge: "
                         + ", ".join(f"{r.nb_name} ({r.level})" for r in regions))
    level = levels.pop() if levels else "kommune"
    noun = "kommuner" if level == "kommune" else "fylker"
    if len(regions) > 12:
        raise InputError("k", f"velg høyst 12 {noun}, fikk {len(regions)}")
    inds = [ctx.catalogue.get(i) for i in dict.fromkeys(ids or DEFAULT_COMPARE_INDICATORS)]
    inds = [i for i in inds if i.base_level == "kommune"
            or (level == "fylke" and i.base_level == "fylke")]
    table = []
    charts = []
    for n, ind in enumerate(inds):
        y = (ctx.cube.year_of(ind, year) if year else
             latest_year_with_values(ctx, ind, level, [r.code for r in regions]))
        values = []
        cells = []
        for r in regions:
            cell = ctx.cube.cell(ind.id, level, r.code, y)
            cells.append(cell)
            values.append({"value": cell.value if cell and cell.ok else None,
                           "text": value_text(cell, ind),
                           "status": cell.status if cell else MISSING})
        nat = ctx.cube.cell(ind.id, "nasjonal", "NO", y)
        table.append({"ind": ind, "year": y, "values": values,
                      "national": value_text(nat, ind), "note": coverage_note(nat),
                      "national_value": nat.value if nat and nat.ok else None,
                      "national_status": nat.status if nat else MISSING})
        if regions:
            bars = [bar_for(r.nb_name, c, ind) for r, c in zip(regions, cells)]
            bars.append(bar_for("Hele landet samlet", nat, ind, highlight=True))
            charts.append({"ind": ind, "year": y, "svg": bar_chart(
                f"sml-{n}", f"{ind.name_nb} ({ind.unit}), {y}", bars)})
    series = [compare_series(ctx, ind, regions, f"utv-{n}", level)
              for n, ind in enumerate(inds)]
    return {"regions": regions, "level": level, "noun": noun, "inds": inds, "table": table,
            "charts": charts,
            "series": [s for s in series if s is not None]}


COMPARE_YEARS = 12  # the latest years in a compare page's time series


def compare_series(ctx: AtlasContext, ind: Indicator, regions: list[Any],
                   chart_id: str, level: str = "kommune") -> dict[str, Any] | None:
    """One time-series chart with a line per chosen municipality or county (the latest
    years with a value for any of them), and the table of its numbers."""
    if not regions:
        return None
    years = usable_years(ctx, ind)[-COMPARE_YEARS:]
    cells = {(r.code, y): ctx.cube.cell(ind.id, level, r.code, y)
             for r in regions for y in years}
    years = [y for y in years if any(cells[(r.code, y)] is not None
                                     and cells[(r.code, y)].status != MISSING
                                     for r in regions)]
    if len(years) < 2:
        return None
    lines = []
    for r in regions:
        lines.append(Series(r.nb_name, [point_for(y, cells[(r.code, y)], ind) for y in years]))
    title = f"{ind.name_nb} ({ind.unit}), {years[0]}–{years[-1]}"
    return {"id": chart_id, "ind": ind, "title": title, "years": years,
            "svg": multi_line_chart(chart_id, title, ind.unit, lines, ind.decimals),
            "rows": [{"name": r.display_name, "texts": [p.text for p in line.points]}
                     for r, line in zip(regions, lines)], "lines": lines}


# -- search ------------------------------------------------------------------------------


def search_indicators(ctx: AtlasContext, query: str) -> list[Indicator]:
    words = [w for w in fold(query).split() if len(w) >= 3]
    if not words:
        return []
    hits = []
    for ind in ctx.catalogue.indicators:
        text = fold(" ".join([ind.name_nb, ind.definition, ind.id.replace("_", " "),
                              " ".join(ind.caveats)]))
        tokens = text.split()
        score = 0
        for w in words:
            if any(t.startswith(w) or (len(w) >= 5 and w in t) for t in tokens):
                score += 1
        if score == len(words):
            hits.append(ind)
    return hits


def search_page(ctx: AtlasContext, q: str) -> dict[str, Any]:
    q = (q or "").strip()
    if not q:
        return {"q": "", "regions": [], "indicators": [], "knowledge": None}
    if len(q) > 200:
        raise InputError("q", "søket er for langt (høyst 200 tegn)")
    regions = ctx.registry.search(q, limit=10)
    index = ctx.knowledge()
    knowledge = index.search(q, limit=10) if index is not None else None
    return {"q": q, "regions": regions, "indicators": search_indicators(ctx, q),
            "knowledge": knowledge}
