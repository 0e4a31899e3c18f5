"""Report content: what a municipality or county *kunnskapsgrunnlag* contains.

:func:`municipality_report` and :func:`county_report` return plain data for the template
(``templates/report.html.j2``). All numbers come from the indicator cube (the same
values as ``/api/profil/{code}``: the indicator table is built from
:func:`bliatlas.indicators.profile.build_profile`) or, where the report shows a stored
value that is not an indicator (population, grants by type), from the store with its
import id. The structure follows what counties put in their knowledge bases for
integration («Kartlegging og analyse av fylkeskommunens praksis på inkluderings- og
integreringsfeltet», ideas2evidence for Distriktssenteret, 2025, chapter 3): population
and immigration, the district perspective, settlement, capacity, grants, retention,
practices, questions for the plan work, then definitions and sources.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bliatlas.errors import NotFound
from bliatlas.format import fmt_datetime_nb, fmt_num, join_nb
from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.compare import Comparison, comparisons, rank_text
from bliatlas.indicators.peer_groups import PeerGroup, feature_text, group_comparison
from bliatlas.indicators.profile import (
    build_profile,
    not_yet_fetched,
    provenance,
    series_points,
)
from bliatlas.knowledge.recommend import (
    practices_for_weaknesses,
    read_place_facts,
    similar_place_practices,
)
from bliatlas.knowledge.vocab import DOCUMENTS, Document
from bliatlas.published import MISSING, Cell
from bliatlas.render.charts import Bar, bar_chart, line_chart
from bliatlas.render.figures import grant_rows, grants_by_type, settlement_funnel
from bliatlas.render.figures import series_points as web_points
from bliatlas.render.map import choropleth
from bliatlas.reports.context import ReportContext
from bliatlas.reports.questions import RULES, Question, questions_for
from bliatlas.reports.values import Num, Provenance, cell_num, count_num, stored_num

# Topic sections in report order: (section id, heading, catalogue topic, chart indicators).
TOPIC_SECTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("befolkning", "Befolkningen og innvandrerbefolkningen", "befolkning+innvandringsgrunn",
     ("folkemengde_1_januar", "innvandrere", "innvandrere_flukt_andel")),
    ("bosetting", "Bosetting av flyktninger", "bosetting",
     ("bosatte_flyktninger", "bosatte_per_1000")),
    ("kapasitet", "Kapasitet: fastlege og kommuneøkonomi", "kapasitet",
     ("fastlege_venteliste_per_1000",)),
    ("tilskudd", "Tilskudd fra IMDi", "tilskudd", ("tilskudd_per_innbygger",)),
    ("bofasthet", "Bofasthet og sekundærflytting", "bofasthet",
     ("bosatt_forste_kommune_andel",)),
    ("sysselsetting", "Sysselsetting blant innvandrere", "sysselsetting", ()),
    ("utdanning", "Utdanning etter innvandringsbakgrunn", "utdanning",
     ("hoyere_utdanning_innvandrere_andel", "hoyere_utdanning_forskjell")),
    ("landbakgrunn", "Innvandrerbefolkningen etter landbakgrunn", "innvandrerbefolkningen", ()),
    ("introduksjon", "Introduksjonsprogrammet", "introduksjonsprogrammet", ()),
    ("inntekt", "Inntekt og levekår", "inntekt", ()),
    ("barnehage", "Barnehage", "barnehage", ()),
)
MAP_INDICATOR = "bosatte_per_1000"
# Columns of the county's comparison table of its municipalities.
COMPARISON_INDICATORS: tuple[str, ...] = (
    "bosatte_per_1000", "vedtak_andel_av_anmodning", "bosatt_andel_av_vedtak",
    "innvandrere_per_1000", "innvandrere_flukt_andel", "fastlege_venteliste_per_1000",
    "tilskudd_per_innbygger",
)
COMPARE_LEVELS: tuple[tuple[str, str], ...] = (
    ("fylke", "Fylket"), ("sentralitet", "Samme sentralitet"), ("kostra", "KOSTRA-gruppen"),
    ("distrikt", "Distrikt / ikke distrikt"), ("nasjonal", "Hele landet"),
)
MAX_YEAR_COLUMNS = 7
# Documents the report's structure (chapter 3 of the county evaluation) and its questions
# (the county guides of its chapter 4; the workshop's call to retain immigrants) build on.
REPORT_DOCUMENTS: tuple[str, ...] = ("fylkeskommunene-2025", "arbeidsverksted-2023")
LICENCES: tuple[tuple[str, str], ...] = (
    ("Statistikk fra SSB, IMDi, KOSTRA og Helsedirektoratet",
     "Norsk lisens for offentlige data (NLOD 2.0); kilden skal oppgis ved gjenbruk."),
    ("Kartgrunnlag (kommune- og fylkesgrenser 2024)",
     "Kartverket, CC BY 4.0 (navngivelse)."),
    ("Kunnskapsinnhold (praksiser, råd, tilskuddsordninger)",
     "Bli-atlas' egne sammendrag med kildehenvisning per oppføring."),
)


@dataclass
class Chart:
    id: str
    svg: Markup
    caption: str
    table_ref: str  # id of the table holding the chart's numbers
    table_caption: str = ""  # that table's caption, named in the figure caption


@dataclass
class SeriesTable:
    id: str
    caption: str
    years: list[int]
    rows: list[dict[str, Any]]  # {"indicator": Indicator, "label": str, "cells": [Num]}
    notes: list[str] = field(default_factory=list)


@dataclass
class Section:
    id: str
    title: str
    intro: list[Markup] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[SeriesTable] = field(default_factory=list)
    compare: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _provenance(ctx: ReportContext) -> Provenance:
    prov = ctx.memo.get("provenance")
    if prov is None:
        prov = Provenance(ctx.store, ctx.cube)
        ctx.memo["provenance"] = prov
    return prov


def _lower_first(text: str) -> str:
    """«Vedtak om bosetting» → «vedtak om bosetting»; «IMDi-tilskudd» stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


# -- topic sections ------------------------------------------------------------------------


def _region_cells(ctx: ReportContext, level: str, code: str) -> dict[str, list[Cell]]:
    out: dict[str, list[Cell]] = {}
    for c in _provenance(ctx).region_cells(level, code):
        out.setdefault(c.indicator, []).append(c)
    return out


def _publisher(ctx: ReportContext, dataset: str) -> str:
    """A dataset as a reader knows it: its publisher (the file is named under «Kilder og
    metode»)."""
    return next((str(imp["publisher"]) for imp in ctx.cube.imports.values()
                 if imp["dataset"] == dataset), dataset)


def _join_note(ctx: ReportContext, cells: list[Cell]) -> str | None:
    """Where a series changes source: «fra 2024 IMDi, SSB, … (kommunepanel), før IMDi»."""
    joins = []
    previous: Cell | None = None
    for c in sorted(cells, key=lambda c: c.year):
        if c.status == MISSING or not c.source:
            continue
        if previous is not None and c.source != previous.source:
            now = " og ".join(dict.fromkeys(_publisher(ctx, s) for s in c.sources))
            before = " og ".join(dict.fromkeys(_publisher(ctx, s) for s in previous.sources))
            if now != before:
                joins.append(f"fra {c.year} {now}, før {before}")
            else:
                joins.append(f"fra {c.year} en annen tabell fra {now}")
        previous = c
    return "; ".join(joins) if joins else None


def _series_table(ctx: ReportContext, prov: Provenance, table_id: str, caption: str,
                  entries: list[tuple[Indicator, str, str, list[Cell]]]) -> SeriesTable:
    """Rows of (indicator, level, code, cells); columns: the latest years with any value.
    Notes under the table: what the figures cover, and where a series changes source."""
    years = sorted({c.year for _, _, _, cells in entries for c in cells if c.status != MISSING})
    years = years[-MAX_YEAR_COLUMNS:]
    rows = []
    notes: list[str] = []
    joins: dict[str, list[str]] = {}  # one note per change of source, naming its series
    for ind, level, code, cells in entries:
        by_year = {c.year: c for c in cells}
        shown = [by_year.get(y) for y in years]
        for c in shown:
            for n in (c.notes if c is not None else ()):
                note = f"{ind.name_nb}{'' if c.year == 0 else f' {c.year}'}: {n}"
                if n not in " ".join(notes):
                    notes.append(note)
        join = _join_note(ctx, [c for c in cells if c.year in years])
        if join:
            joins.setdefault(join, []).append(_lower_first(ind.name_nb))
        rows.append({
            "indicator": ind, "label": ind.name_nb, "level": level,
            "cells": [cell_num(ctx.cube, prov, ind, level, code, y, c)
                      for y, c in zip(years, shown)],
        })
    for join, names in joins.items():
        what = names[0] if len(names) == 1 else join_nb(names)
        notes.append(f"Kilden skifter for {what}: {join}.")
    if years == [0]:  # the table says the source gives no year; the cells' notes need not
        notes = [n for n in notes if not n.endswith("referanseår ikke oppgitt i kilden")]
    notes = [n[:1].upper() + n[1:] for n in notes]
    return SeriesTable(id=table_id, caption=caption, years=years, rows=rows, notes=notes)


def _compare(ctx: ReportContext, prov: Provenance, code: str, level: str,
             indicators: list[Indicator], group: PeerGroup | None = None
             ) -> dict[str, Any] | None:
    """Latest value next to the comparisons of :mod:`bliatlas.indicators.compare` — the same
    definitions and labels as on the web page and in the API — and, with ``group``, the
    median and rank in the user's comparison group (:mod:`bliatlas.indicators.peer_groups`)."""
    reg = ctx.cube.group(level, code)
    rows = []
    headings: dict[str, str] = {}
    labels: dict[str, str] = {}
    for ind in indicators:
        if ind.aggregation == "none":
            continue
        cells = [c for c in prov.region_cells(level, code)
                 if c.indicator == ind.id and c.status != MISSING]
        if not cells:
            continue
        year = max(c.year for c in cells)
        own = cell_num(ctx.cube, prov, ind, level, code, year)
        comps = {c.key: c for c in comparisons(ctx.cube, level, code, ind, year)}
        in_group = group_comparison(ctx.cube, group, ind, year) if group is not None else None
        if in_group is not None:
            comps[in_group.key] = in_group
        for c in comps.values():
            headings.setdefault(c.key, c.heading)
            labels.setdefault(c.key, c.label)
        rows.append({"indicator": ind, "year": year, "own": own, "comparisons": comps,
                     "rank": next((rank_text(c) for c in comps.values() if c.rank), None),
                     "group_rank": rank_text(in_group) if in_group is not None else None})
    if not rows:
        return None
    keys = list(headings)
    for row in rows:
        row["others"] = [_comparison_num(ctx, prov, ind=row["indicator"],
                                         comp=row["comparisons"].get(k), level=level,
                                         code=code, year=row["year"], group=group)
                         for k in keys]
    return {"groups": [headings[k] for k in keys], "with_group": group is not None,
            "class_rank": True,
            "group_index": keys.index("median_gruppe") if "median_gruppe" in keys else None,
            "definitions": [(headings[k], labels[k]) for k in keys
                            if labels[k].lower() != headings[k].lower()], "rows": rows,
            "own_label": reg["short_name"]}


def _comparison_num(ctx: ReportContext, prov: Provenance, ind: Indicator,
                    comp: Comparison | None, level: str, code: str, year: int,
                    group: PeerGroup | None = None) -> Num | str:
    """A comparison as a traceable number: the pooled cell itself, or the median (computed
    by the engine from the peers' exact values; a comparison group's from its members')."""
    if comp is None:
        return "–"
    if comp.cell is not None:
        return cell_num(ctx.cube, prov, ind, comp.cell.level, comp.cell.code, year, comp.cell)
    if comp.key == "median_gruppe" and group is not None:
        imports = sorted({i for m in group.members
                          for i in prov.indicator(ind.id, "kommune", m.code, year)})
        return Num(text=comp.text, source=f"median av {ind.id}: {comp.label}", region=code,
                   level="kommune", year=year, status="ok", imports=tuple(imports),
                   value=comp.value, reason=comp.label)
    group_level, group_code = _median_group(ctx, comp, level, code)
    return Num(text=comp.text, source=f"median av {ind.id}: {comp.label}", region=group_code,
               level=group_level, year=year, status="ok",
               imports=prov.indicator(ind.id, group_level, group_code, year),
               value=comp.value, reason=comp.label)


def _median_group(ctx: ReportContext, comp: Comparison, level: str, code: str
                  ) -> tuple[str, str]:
    """The group a median is taken over (its members' imports are the median's)."""
    if level != "kommune":
        return "nasjonal", "NO"
    reg = ctx.cube.group(level, code)
    if comp.key == "median_kostra":
        return "kostra", reg["kostra_group"]
    return "sentralitet", str(reg["centrality"])


def _topic_section(ctx: ReportContext, prov: Provenance, level: str, code: str,
                   section_id: str, title: str, topic: str,
                   chart_ids: tuple[str, ...], group: PeerGroup | None = None
                   ) -> Section | None:
    reg = ctx.cube.group(level, code)
    own = _region_cells(ctx, level, code)
    county_code = reg["county_code"] if level == "kommune" else code
    county_cells = _region_cells(ctx, "fylke", county_code) if level == "kommune" else own
    entries = []
    for ind in ctx.cube.catalogue.indicators:
        if ind.topic not in topic.split("+"):
            continue
        if ind.base_level == "fylke" and level == "kommune":
            cells = county_cells.get(ind.id, [])
            lvl, c = "fylke", county_code
        else:
            cells = own.get(ind.id, [])
            lvl, c = level, code
        if any(x.status != MISSING for x in cells):
            entries.append((ind, lvl, c, cells))
    section = Section(id=section_id, title=title)
    if not entries:
        return None
    own_entries = [e for e in entries if e[1] == level]
    county_entries = [e for e in entries if e[1] != level]
    if own_entries:
        section.tables.append(_series_table(
            ctx, prov, f"tab-{section_id}", f"{title}: {reg['short_name']}, utvikling",
            own_entries))
    if county_entries:
        section.tables.append(_series_table(
            ctx, prov, f"tab-{section_id}-fylke",
            f"{title}: tall for {ctx.cube.group('fylke', county_code)['short_name']} "
            "(publiseres bare per fylke)", county_entries))
    for n, ind_id in enumerate(chart_ids):
        entry = next((e for e in own_entries if e[0].id == ind_id), None)
        if entry is None:
            continue
        ind, lvl, c, cells = entry
        ok = [x for x in cells if x.status != MISSING]
        if len(ok) < 2:
            continue
        ok = ok[-12:]
        chart_id = f"fig-{section_id}-{n}"
        label = f"{ind.name_nb}, {reg['short_name']}"
        points = series_points(ctx.cube, ok, ind)
        svg = line_chart(chart_id, label, ind.unit, web_points(points), ind.decimals)
        table_ref = f"tab-{section_id}"
        years_in_table = set(section.tables[0].years) if section.tables else set()
        if not {x.year for x in ok} <= years_in_table:
            series = _series_table(ctx, prov, f"{chart_id}-tabell",
                                   f"Tallene i figuren: {label}", [entry])
            series.years = [x.year for x in ok]
            series.rows[0]["cells"] = [cell_num(ctx.cube, prov, ind, lvl, c, x.year, x)
                                       for x in ok]
            section.tables.append(series)
            table_ref = series.id
        caption = next((t.caption for t in section.tables if t.id == table_ref), "")
        section.charts.append(Chart(chart_id, svg, f"{label} ({ind.unit})", table_ref, caption))
    section.compare = _compare(ctx, prov, code, level, [e[0] for e in own_entries], group)
    return section


def _funnel(ctx: ReportContext, prov: Provenance, level: str, code: str) -> dict[str, Any] | None:
    """Request → decision → settled (:func:`bliatlas.render.figures.settlement_funnel`)."""
    f = settlement_funnel(ctx.cube, level, code, lookup=prov.cell)
    if f is None:
        return None
    year = f.year
    steps = [{"label": s.label,
              "num": cell_num(ctx.cube, prov, s.indicator, level, code, year, s.cell)}
             for s in f.steps]
    rates = [{"indicator": ind, "num": cell_num(ctx.cube, prov, ind, level, code, year, cell)}
             for ind, cell in f.rates]
    chart_id = f"fig-trakt-{code}"
    svg = bar_chart(chart_id, f"Fra anmodning til bosetting {year}", f.bars())
    return {"year": year, "steps": steps, "rates": rates,
            "chart": Chart(chart_id, svg, f"Fra anmodning til bosetting, {year} (personer)",
                           f"tab-trakt-{code}", f"Bosettingstrakten {year}")}


class StoredValues:
    """Stored values the report shows that are not indicators, read once per context:
    IMDi grants by type and the KOSTRA group descriptions."""

    def __init__(self, ctx: ReportContext) -> None:
        self.grants: dict[str, list[dict[str, Any]]] = {}
        for r in grant_rows(ctx.store):
            self.grants.setdefault(r["region_code"], []).append(r)
        self.kostra = {r["code"]: r for r in ctx.store.query("SELECT * FROM kostra_group")}


def _stored(ctx: ReportContext) -> StoredValues:
    stored = ctx.memo.get("stored_values")
    if stored is None:
        stored = StoredValues(ctx)
        ctx.memo["stored_values"] = stored
    return stored


def _grants_by_type(ctx: ReportContext, prov: Provenance, code: str) -> dict[str, Any] | None:
    g = grants_by_type(_stored(ctx).grants.get(code, []))
    if g is None:
        return None
    year = g.year

    def num(r):
        return stored_num(prov, "imdi_tilskudd", "tilskudd", "kommune", code, year, r.value,
                          r.status, dims=r.dims, note=r.note)
    items = [{"type": r.type, "num": num(r)} for r in g.items]
    total = num(g.total) if g.total is not None else None
    chart_id = f"fig-tilskudd-{code}"
    svg = bar_chart(chart_id, f"Tilskudd fra IMDi etter type, {year} (kroner)", [
        Bar(label=i["type"], value=i["num"].value, text=i["num"].text, status=i["num"].status)
        for i in items])
    return {"year": year, "items": items, "total": total,
            "chart": Chart(chart_id, svg, f"Tilskudd fra IMDi etter type, {year} (kroner)",
                           f"tab-tilskudd-{code}", f"Tilskudd etter type, {year}")}


# -- district perspective, map -------------------------------------------------------------


def _population(ctx: ReportContext, prov: Provenance, level: str, code: str) -> list[Num]:
    """Population 1 January per year: the engine's ``folkemengde_1_januar`` (a county: the
    sum of its municipalities, with the same coverage rules as every other figure)."""
    ind = ctx.cube.catalogue.get("folkemengde_1_januar")
    return [cell_num(ctx.cube, prov, ind, level, code, c.year, c)
            for c in sorted(_region_cells(ctx, level, code).get("folkemengde_1_januar", []),
                            key=lambda c: c.year) if c.status != MISSING]


def _map(ctx: ReportContext, prov: Provenance, county_code: str,
         highlight: str | None) -> dict[str, Any] | None:
    ind = ctx.cube.catalogue.get(MAP_INDICATOR)
    year = ctx.cube.latest_year(ind.id)
    codes = sorted(m.code for m in ctx.registry.municipalities_in(county_code))
    if year is None or not codes:
        return None
    try:
        data = choropleth(ctx.atlas, ind, year, "kommune", codes, f"fylke-{county_code}",
                          codes, codes, map_id=f"kart-{county_code}", linked=False,
                          highlight=highlight)
    except KeyError:  # no geometry imported
        return None
    rows = []
    for code in codes:
        rows.append({"code": code, "name": ctx.cube.group("kommune", code)["short_name"],
                     "centrality": ctx.cube.group("kommune", code)["centrality"],
                     "num": cell_num(ctx.cube, prov, ind, "kommune", code, year),
                     "highlight": code == highlight})
    county = ctx.cube.group("fylke", county_code)["short_name"]
    return {"data": data, "indicator": ind, "year": year, "rows": rows,
            "id": f"kart-{county_code}", "table_id": f"tab-kart-{county_code}",
            "caption": f"{ind.name_nb} i kommunene i {county}, {year}"}


def _place_facts(ctx: ReportContext) -> dict[str, Any]:
    facts = ctx.memo.get("place_facts")
    if facts is None:
        facts = read_place_facts(ctx.store)
        ctx.memo["place_facts"] = facts
    return facts


def _knowledge(ctx: ReportContext, county_code: str, municipality: str | None,
               questions: list[Question]) -> dict[str, Any]:
    """Practices (with why each was chosen) and grant schemes for the report.

    For a municipality: the knowledge layer's recommendations (practices from the
    municipality itself and from places like it; practices for where it stands weakest
    against its centrality class), then one practice or piece of advice per question
    asked, then practices from the county. For a county: practices from the county and
    from district municipalities like its own.
    """
    index = ctx.knowledge
    chosen: list[tuple[Any, str]] = []
    seen: set[str] = set()

    def add(entry: Any, why: str) -> None:
        if entry.id not in seen and entry.type in ("praksis", "rad"):
            seen.add(entry.id)
            chosen.append((entry, why))

    if municipality is not None:
        facts = _place_facts(ctx)
        if municipality in facts:
            for rec in similar_place_practices(index, facts, municipality, limit=4):
                add(rec.entry, rec.reason)
            for wrec in practices_for_weaknesses(index, ctx.cube, facts, municipality,
                                                 per_weakness=1):
                add(wrec.entry, wrec.reason)
        for q in questions:
            if q.knowledge_query and len(chosen) < 9:
                res = index.search(q.knowledge_query, {"type": ["praksis", "rad"]}, limit=1)
                for h in res.hits:
                    add(h.entry, f"Knyttet til spørsmålet «{q.title}» i kapitlet om planarbeidet.")
    county_name = ctx.cube.group("fylke", county_code)["short_name"]
    in_county = [e for e in index.entries if county_code in e.county_codes or any(
        (r := index.regions.get(m)) is not None and r.county_code == county_code
        for m in e.municipality_codes)]
    limit = 10 if municipality is None else 12
    for e in sorted(in_county, key=lambda e: (e.type != "praksis", e.title)):
        if len(chosen) >= limit:
            break
        add(e, f"Fra {county_name}.")
    if municipality is None and index.has_regions and len(chosen) < limit:
        res = index.search("", {"type": ["praksis"], "sentralitet": ["5", "6"]},
                           limit=limit - len(chosen))
        for h in res.hits:
            add(h.entry, "Fra en distriktskommune (sentralitetsklasse 5–6).")
    grants = [e for e in index.entries
              if e.type == "tilskudd" and (not e.places or county_code in e.county_codes)]
    grants.sort(key=lambda e: (bool(e.places), e.title))
    return {"practices": chosen, "grants": grants}


# -- the reports ---------------------------------------------------------------------------


def _common(ctx: ReportContext, level: str, code: str) -> dict[str, Any]:
    profile = build_profile(ctx.cube, code)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    imports = provenance(ctx.cube, {i for ids in ctx.cube.indicator_imports.values()
                                    for i in ids} | _geometry_imports(ctx))
    for p in imports:  # the import time as readers read it (the ISO form stays in the API)
        imported = ctx.cube.imports[p["import_id"]]["imported_at"]
        p["importert_tekst"] = (fmt_datetime_nb(imported, with_time=False)
                                if isinstance(imported, dt.datetime) else p["importert"][:10])
    return {
        "generated": fmt_datetime_nb(now, with_time=False),
        "generated_iso": now.date().isoformat(),
        "profile": profile,
        "sentences": profile["setninger"],
        "sentence_imports": " ".join(str(p["import_id"]) for p in profile["proveniens"]),
        "imports": imports,
    }


def references(knowledge: dict[str, Any]) -> list[Document]:
    """The source documents a report cites: those its structure and questions are built on
    and those of every knowledge entry it shows, by title, publisher and year."""
    keys = list(REPORT_DOCUMENTS)
    for entry in [e for e, _ in knowledge["practices"]] + list(knowledge["grants"]):
        keys.extend(s.document for s in entry.sources)
    docs = [DOCUMENTS[k] for k in dict.fromkeys(keys) if k in DOCUMENTS]
    return sorted(docs, key=lambda d: (d.publisher, d.year, d.title))


def _geometry_imports(ctx: ReportContext) -> set[int]:
    return {iid for iid, imp in ctx.cube.imports.items()
            if str(imp.get("dataset", "")).startswith("geo_")}


def _definitions(ctx: ReportContext, sections: list[Section]) -> list[Indicator]:
    used: set[str] = set()
    for s in sections:
        for t in s.tables:
            used.update(r["indicator"].id for r in t.rows)
    return [ind for ind in ctx.cube.catalogue.indicators if ind.id in used]


def _sections(ctx: ReportContext, prov: Provenance, level: str, code: str,
              group: PeerGroup | None = None) -> list[Section]:
    out = []
    pending = not_yet_fetched(ctx.cube, level)
    for sid, title, topic, charts in TOPIC_SECTIONS:
        s = _topic_section(ctx, prov, level, code, sid, title, topic, charts, group)
        waiting = [m["navn"] for m in pending if m["tema"] in topic.split("+")]
        if s is None:  # one line: what is missing, and what has not been fetched yet
            name = ctx.cube.group(level, code)["short_name"]
            line = f"Databasen har ingen tall om dette for {name}"
            s = Section(id=sid, title=title, notes=[
                line + (f"; disse er ikke hentet inn ennå: {'; '.join(waiting)}." if waiting
                        else ".")], extra={"empty": True})
        elif waiting:
            s.notes.append("Ikke hentet inn ennå: " + "; ".join(waiting) + ".")
        if sid == "bosetting":
            s.extra["funnel"] = _funnel(ctx, prov, level, code)
        if sid == "tilskudd" and level == "kommune":
            s.extra["grants"] = _grants_by_type(ctx, prov, code)
        out.append(s)
    return out


def peer_group_part(group: PeerGroup | None) -> dict[str, Any] | None:
    """The comparison group as the reports show it: definition, members and why each is
    alike (no pooled figure: see :mod:`bliatlas.indicators.peer_groups`)."""
    if group is None:
        return None
    return {"definition": group.definition.text(), "own_why": feature_text(group.features),
            "explicit": bool(group.definition.codes),
            "members": [{"code": m.code, "name": m.name, "why": feature_text(m.features),
                         "distance": fmt_num(m.distance, 2)} for m in group.members]}


def municipality_report(ctx: ReportContext, code: str, group: PeerGroup | None = None
                        ) -> dict[str, Any]:
    """Everything the municipality report shows; with ``group``, the comparison group's
    definition and members, and its median beside the other comparisons."""
    reg = ctx.cube.region(code)
    if reg["level"] != "kommune":
        raise NotFound(f"{code} er et fylke; bruk «bli report fylke {code}»")
    prov = _provenance(ctx)
    county = ctx.cube.group("fylke", reg["county_code"])
    questions = questions_for(ctx.cube, prov, code)
    sections = _sections(ctx, prov, "kommune", code, group)
    kostra = _stored(ctx).kostra.get(reg["kostra_group"])
    district = reg["centrality"] is not None and reg["centrality"] >= 5
    knowledge = _knowledge(ctx, reg["county_code"], code, questions)
    return {
        "kind": "kommune",
        "title": f"Kunnskapsgrunnlag for inkludering: {reg['short_name']} kommune",
        "peer_group": peer_group_part(group),
        "region": reg,
        "county": county,
        "district": district,
        "kostra": kostra,
        "population": _population(ctx, prov, "kommune", code),
        "map": _map(ctx, prov, reg["county_code"], code),
        "sections": sections,
        "questions": questions,
        "rules": RULES,
        "knowledge": knowledge,
        "definitions": _definitions(ctx, sections),
        **_common(ctx, "kommune", code),
        "references": references(knowledge),
    }


def county_report(ctx: ReportContext, code: str, per_municipality: bool = True) -> dict[str, Any]:
    """Everything the county report shows: county overview, all municipalities compared,
    questions per rule with the municipalities it fires for, and (optionally) a short
    section per municipality."""
    reg = ctx.cube.region(code)
    if reg["level"] != "fylke":
        raise NotFound(f"{code} er en kommune; bruk «bli report kommune {code}»")
    prov = _provenance(ctx)
    members = sorted(m.code for m in ctx.registry.municipalities_in(code))
    sections = _sections(ctx, prov, "fylke", code)
    comparison_inds = [ctx.cube.catalogue.get(i) for i in COMPARISON_INDICATORS]
    # Per indicator, the latest year any of the county's municipalities has a value for
    # (some series reach later years only for a few counties).
    years: dict[str, int] = {}
    for i in comparison_inds:
        shown = [c.year for m in members for c in prov.region_cells("kommune", m)
                 if c.indicator == i.id and c.status == "ok"]
        if shown:
            years[i.id] = max(shown)
    # Columns without a value for any of the county's municipalities are left out.
    comparison_inds = [i for i in comparison_inds if i.id in years]
    comparison = []
    municipality_parts = []
    fired: dict[str, list[dict[str, Any]]] = {r.id: [] for r in RULES}
    for m in members:
        mreg = ctx.cube.group("kommune", m)
        comparison.append({
            "code": m, "name": mreg["short_name"], "centrality": mreg["centrality"],
            "cells": [cell_num(ctx.cube, prov, i, "kommune", m, years[i.id])
                      for i in comparison_inds],
        })
        qs = questions_for(ctx.cube, prov, m)
        for q in qs:
            fired[q.rule].append({"code": m, "name": mreg["short_name"]})
        if per_municipality:
            from bliatlas.indicators.profile import sentences_for

            municipality_parts.append({
                "code": m, "name": mreg["short_name"], "centrality": mreg["centrality"],
                "sentences": sentences_for(ctx.cube, ctx.cube.facts("kommune", m)),
                "questions": [q.title for q in qs if q.rule != "mal_i_planen"],
            })
    comparison_totals = [cell_num(ctx.cube, prov, i, "fylke", code, years[i.id])
                         for i in comparison_inds]
    n_district = sum(1 for m in members if (ctx.cube.group("kommune", m)["centrality"] or 0) >= 5)
    by_centrality: dict[int, int] = {}
    for m in members:
        c = ctx.cube.group("kommune", m)["centrality"]
        by_centrality[c] = by_centrality.get(c, 0) + 1
    knowledge = _knowledge(ctx, code, None, [])
    return {
        "kind": "fylke",
        "peer_group": None,
        "title": f"Kunnskapsgrunnlag for inkludering: {reg['short_name']}",
        "region": reg,
        "county": reg,
        "district": None,
        "n_municipalities": count_num(len(members), code, "fylke", "region (kommuner i fylket)"),
        "n_district": count_num(n_district, code, "fylke",
                                "region (kommuner med sentralitet 5–6)"),
        "by_centrality": [(c, count_num(n, code, "fylke", f"region (sentralitet {c})"))
                          for c, n in sorted(by_centrality.items())],
        "population": _population(ctx, prov, "fylke", code),
        "map": _map(ctx, prov, code, None),
        "sections": sections,
        "comparison": {"indicators": comparison_inds, "years": years, "rows": comparison,
                       "totals": comparison_totals},
        "fired": [(r, fired[r.id]) for r in RULES if r.id != "mal_i_planen"],
        "rules": RULES,
        "municipalities": municipality_parts,
        "knowledge": knowledge,
        "definitions": _definitions(ctx, sections),
        **_common(ctx, "fylke", code),
        "references": references(knowledge),
    }
