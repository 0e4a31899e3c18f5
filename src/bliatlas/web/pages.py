"""The web atlas pages: map, municipality, county, compare, search, knowledge.

Server-rendered HTML (Jinja2) with inline SVG maps and charts; a little vanilla JS adds
tooltips and client-side table sorting, but every page works without it. Errors from bad
parameters are shown as a Norwegian error page with the right 4xx status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from bliatlas import export
from bliatlas.errors import InvalidParameter, NotFound, UserError
from bliatlas.knowledge.base import actor_entries, body_html, place_labels
from bliatlas.knowledge.vocab import FACETS
from bliatlas.render.context import get_context
from bliatlas.render.map import SUPPRESSED_LEGEND
from bliatlas.serving import SOURCE_NOTE
from bliatlas.web import views
from bliatlas.web.templating import STATIC_DIR, TEMPLATE_DIR, templates  # noqa: F401

router = APIRouter(include_in_schema=False)

Multi = Annotated[list[str] | None, Query()]


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200,
            ) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _page(request: Request, name: str, build: Callable[[], dict[str, Any]]) -> HTMLResponse:
    try:
        context = build()
    except UserError as exc:
        return _render(request, "error.html", {"message": str(exc), "title": "Feil"},
                       status=exc.http_status)
    return _render(request, name, context)


@router.get("/", response_class=HTMLResponse)
@router.get("/kart", response_class=HTMLResponse)
def map_view(request: Request, i: str | None = None, ar: str | None = None,
             niva: str | None = None, fylke: str | None = None, distrikt: str | None = None,
             sentralitet: str | None = None) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        f, ind, notes = views.parse_map_filters(ctx, i, ar, niva, fylke, distrikt, sentralitet)
        return {
            "title": f"Kart: {ind.name_nb} {f.year}",
            "f": f, "ind": ind, "notes": notes, **views.map_page(ctx, f, ind),
            "choices": views.indicator_choices(ctx),
            "years": views.usable_years(ctx, ind),
            "counties": ctx.registry.by_name("fylke"),
            "levels": views.LEVEL_CHOICES,
            "suppressed_legend": SUPPRESSED_LEGEND,
            "figure_query": views.map_query(f),
        }
    return _page(request, "map.html", build)


@router.get("/kart/figur/{chart}.{fmt}")
def map_figure(chart: str, fmt: str, i: str | None = None, ar: str | None = None,
               niva: str | None = None, fylke: str | None = None,
               distrikt: str | None = None, sentralitet: str | None = None,
               stil: str = "excel") -> Response:
    """The map of ``/kart`` (same filters) as SVG with its legend, or its numbers as CSV."""
    ctx = get_context()
    f, ind, _notes = views.parse_map_filters(ctx, i, ar, niva, fylke, distrikt, sentralitet)
    return _figure(views.map_figures(ctx, f, ind), chart, fmt,
                   f"kart-{ind.id}-{f.level}-{f.year}", stil)


@router.get("/kommune/{code}.csv")
def municipality_csv(request: Request, code: str, stil: str = "excel") -> Response:
    """Everything on the municipality page as CSV; Norwegian Excel style unless
    ``stil=maskin`` (:mod:`bliatlas.export`); with the page's ``g_…`` parameters, the
    comparison group's members and median too."""
    csv_style = export.style(stil, export.EXCEL)
    ctx = get_context()
    group = views.peer_group_from_query(ctx, code, request.query_params)
    rows = views.municipality_csv_rows(ctx, code, group)  # UserError → JSON 4xx (app handler)
    return export.csv_download(None, rows, f"bli-atlas-kommune-{code}.csv", csv_style,
                               footer=[SOURCE_NOTE])


FIGURE_FORMATS = {"svg": "image/svg+xml", "csv": "text/csv"}


def _figure(figures: dict[str, views.Figure], chart: str, fmt: str, stem: str,
            stil: str) -> Response:
    if fmt not in FIGURE_FORMATS:
        raise InvalidParameter(f"format: forventet svg eller csv, fikk {fmt!r}")
    figure = figures.get(chart)
    if figure is None:
        raise NotFound(f"ingen figur {chart!r} her; figurer: {', '.join(figures) or 'ingen'}")
    name = f"bli-atlas-{stem}-{chart}.{fmt}"
    if fmt == "svg":
        source = SOURCE_NOTE.split(". ")[0] + "."
        return export.download(figure.svg_document(source), FIGURE_FORMATS["svg"], name)
    return export.csv_download(views.FIGURE_HEADER, figure.rows, name,
                               export.style(stil, export.EXCEL), footer=[SOURCE_NOTE])


@router.get("/kommune/{code}/figur/{chart}.{fmt}")
def municipality_figure(code: str, chart: str, fmt: str, stil: str = "excel") -> Response:
    """One chart of the municipality page as SVG, or its numbers as CSV."""
    ctx = get_context()
    return _figure(views.municipality_figures(ctx, code), chart, fmt, f"kommune-{code}", stil)


@router.get("/sammenlign/figur/{chart}.{fmt}")
def compare_figure(chart: str, fmt: str, k: Multi = None, i: Multi = None,
                   ar: str | None = None, stil: str = "excel") -> Response:
    """One chart of the compare page (same ``k``, ``i``, ``ar``) as SVG, or its numbers."""
    ctx = get_context()
    return _figure(views.compare_figures(ctx, k or [], i or [], ar), chart, fmt,
                   "sammenligning", stil)


@router.get("/kommune/{code}", response_class=HTMLResponse)
def municipality_view(request: Request, code: str, fra: str | None = None) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        from_year = views.parse_from_year(fra)
        group = views.peer_group_from_query(ctx, code, request.query_params)
        page = views.municipality_page(ctx, code, from_year, group)
        return {"title": f"{page['region'].name} kommune",
                "peers": views.peer_group_view(ctx, code, group, from_year), **page}
    return _page(request, "kommune.html", build)


@router.get("/fylke/{code}", response_class=HTMLResponse)
def county_view(request: Request, code: str, sort: str | None = None,
                retning: str | None = None, i: str | None = None) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        page = views.county_page(ctx, code, sort, retning, i)
        return {"title": page["region"].name, "choices": views.indicator_choices(ctx),
                "suppressed_legend": SUPPRESSED_LEGEND, **page}
    return _page(request, "fylke.html", build)


@router.get("/sammenlign", response_class=HTMLResponse)
def compare_view(request: Request, k: Multi = None, i: Multi = None,
                 ar: str | None = None) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        page = views.compare_page(ctx, k or [], i or [], ar)
        municipalities = ctx.registry.by_name("kommune")
        return {"title": "Sammenlign kommuner eller fylker",
                "choices": views.indicator_choices(ctx),
                "municipalities": municipalities, "counties": ctx.registry.by_name("fylke"),
                "selected_ids": [ind.id for ind in page["inds"]],
                "figure_query": "?" + urlencode([("k", r.code) for r in page["regions"]]
                                                + [("i", ind.id) for ind in page["inds"]]
                                                + ([("ar", ar)] if ar else [])), **page}
    return _page(request, "sammenlign.html", build)


@router.get("/sok", response_class=HTMLResponse)
def search_view(request: Request, q: str = "") -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        page = views.search_page(ctx, q)
        return {"title": f"Søk: {page['q']}" if page["q"] else "Søk", **page}
    return _page(request, "sok.html", build)


@router.get("/indikatorer", response_class=HTMLResponse)
def indicators_view(request: Request) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        return {"title": "Indikatorer: definisjoner og kilder",
                "indicators": ctx.catalogue.indicators, "years": ctx.cube.years}
    return _page(request, "indikatorer.html", build)


@router.get("/kunnskap", response_class=HTMLResponse)
def knowledge_view(request: Request, q: str = "", type_: Annotated[
        list[str] | None, Query(alias="type")] = None, tema: Multi = None,
        malgruppe: Multi = None, aktor: Multi = None, fylke: Multi = None,
        sentralitet: Multi = None, evidens: Multi = None, kostnad: Multi = None,
        ) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        index = ctx.knowledge()
        filters = {"type": type_ or [], "tema": tema or [], "malgruppe": malgruppe or [],
                   "aktor": aktor or [], "fylke": fylke or [], "sentralitet": sentralitet or [],
                   "evidens": evidens or [], "kostnad": kostnad or []}
        result = index.search(q.strip(), filters, limit=200)
        return {"title": "Kunnskapsbasen", "q": q, "result": result, "filters": filters,
                "facet_names": FACETS}
    return _page(request, "kunnskap.html", build)


@router.get("/kunnskap/{entry_id}", response_class=HTMLResponse)
def knowledge_entry_view(request: Request, entry_id: str) -> HTMLResponse:
    def build() -> dict[str, Any]:
        ctx = get_context()
        index = ctx.knowledge()
        entry = index.get(entry_id)
        indicators = {ind.id: ind for ind in ctx.catalogue.indicators}
        return {"title": entry.title, "entry": entry, "body_html": Markup(body_html(entry)),
                "places": place_labels(index, entry), "appears_in": actor_entries(index, entry),
                "indicator_names": {i.id: indicators[i.id].name_nb for i in entry.indicators
                                    if i.id in indicators}}
    return _page(request, "kunnskap_oppforing.html", build)
