"""The knowledge base over HTTP: search with facets and snippets, entry detail, listing.

The index is the process-wide one of :func:`bliatlas.knowledge.base.shared_index`
(``$BLI_CONTENT`` or ``content/``, plus the region registry of ``$BLI_DATABASE`` or the
default database if it exists), the same object the web pages and reports use.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from bliatlas import settings
from bliatlas.errors import UserError, int_param
from bliatlas.knowledge.base import entry_payload, place_facts_from_database, shared_index
from bliatlas.knowledge.recommend import (
    PlaceFacts,
    practices_for_weaknesses,
    similar_place_practices,
)
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.serving import SOURCE_NOTE

router = APIRouter(prefix="/api/kunnskap", tags=["kunnskap"])

_lock = threading.Lock()
_facts: dict[str, PlaceFacts] | None = None


def _database():
    """The configured database when ``BLI_DATABASE`` names one, else None (the default)."""
    s = settings.get()
    return s.database if s.database_explicit else None


async def get_index() -> KnowledgeIndex:
    """The process-wide index (built on first use). Override in tests via dependency_overrides.

    A coroutine so that FastAPI does not hand every request to its thread pool for it.
    """
    return shared_index()


def _source_note() -> str:
    return (
        "Kunnskapsinnhold: egne sammendrag av Distriktssenteret (2019), NIBR-rapporter og "
        "evalueringen av fylkeskommunenes integreringsarbeid, med kildehenvisning per oppføring. "
        + SOURCE_NOTE
    )


def _json(data: dict[str, Any]) -> Response:
    # Serialised directly: the payload is plain JSON data already, and skipping FastAPI's
    # generic encoder keeps a search request at about a millisecond of server time.
    body = json.dumps({**data, "source": _source_note()}, ensure_ascii=False)
    return Response(content=body.encode("utf-8"), media_type="application/json")


IndexDep = Annotated[KnowledgeIndex, Depends(get_index)]
FILTER_KEYS = ("type", "tema", "malgruppe", "aktor", "fylke", "sentralitet", "evidens",
               "kostnad")


def _params(request: Request, allowed: tuple[str, ...], max_limit: int, default_limit: int,
            ) -> tuple[dict[str, list[str]], int, int]:
    """Filters, limit and offset from the query string, with Norwegian 400 errors.

    Parsed by hand rather than declared per parameter: FastAPI's generic parsing of eight
    list parameters costs about a millisecond per request, as much as the search itself.
    """
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise UserError(f"ukjent parameter {unknown[0]!r}; tillatt: {', '.join(allowed)}")
    filters = {key: request.query_params.getlist(key) for key in FILTER_KEYS}
    limit = int_param(request.query_params, "limit", 1, max_limit, default_limit)
    offset = int_param(request.query_params, "offset", 0, 10_000, 0)
    return filters, limit, offset


def _documented(*names: tuple[str, str, bool]) -> dict[str, Any]:
    """OpenAPI description of hand-parsed query parameters: (name, description, required)."""
    return {"parameters": [
        {"name": n, "in": "query", "required": req, "description": d,
         "schema": {"type": "string"} if n in ("q", "limit", "offset")
         else {"type": "array", "items": {"type": "string"}}}
        for n, d, req in names
    ]}


_FILTER_DOCS = (
    ("type", "entry type, e.g. praksis, funn, tilskudd (repeatable)", False),
    ("tema", "theme, e.g. arbeid, sprak (repeatable)", False),
    ("malgruppe", "target group, e.g. flyktninger (repeatable)", False),
    ("aktor", "actor, e.g. kommune, nav (repeatable)", False),
    ("fylke", "2024 county code (needs the region registry; repeatable)", False),
    ("sentralitet", "centrality class 1-6 (needs the region registry; repeatable)", False),
    ("evidens", ("evidence level of practices: effekt_dokumentert, evaluert, erfaringsbasert, "
                "ikke_dokumentert (repeatable)"), False),
    ("kostnad", ("what the source says on cost: belop_oppgitt, finansiering_beskrevet, "
                "ikke_oppgitt (repeatable)"), False),
    ("offset", "results to skip", False),
)


@router.get("/sok", summary="Søk i kunnskapsbasen", response_class=Response,
            openapi_extra=_documented(("q", "search words in Norwegian (1-200 characters)", True),
                                      ("limit", "hits to return, 1-100 (default 10)", False),
                                      *_FILTER_DOCS))
async def search(request: Request, index: IndexDep) -> Response:
    """Ranked entries for ``q`` with snippets (``<mark>`` around matched words) and facets
    counted over the hits; filters narrow on facet values (OR within, AND across)."""
    filters, limit, offset = _params(request, ("q", "limit", "offset", *FILTER_KEYS), 100, 10)
    q = request.query_params.get("q", "").strip()
    if not q or len(q) > 200:
        raise UserError("parameteren 'q' mangler eller er for lang; forventet 1–200 tegn")
    result = index.search(q, filters, limit=limit, offset=offset)
    return _json({**result.to_dict(), "limit": limit, "offset": offset})


@router.get("", summary="Alle oppføringer med fasetter", response_class=Response,
            openapi_extra=_documented(("limit", "entries to return, 1-1000 (default 100)",
                                       False), *_FILTER_DOCS))
async def list_entries(request: Request, index: IndexDep) -> Response:
    """Every entry (filtered), by type and title, with facet counts."""
    filters, limit, offset = _params(request, ("limit", "offset", *FILTER_KEYS), 1000, 100)
    result = index.search("", filters, limit=limit, offset=offset)
    data = result.to_dict()
    for item in data["results"]:
        for key in ("score", "snippet_html", "snippet_text", "why", "why_text"):
            item.pop(key)
    data.pop("interpretation")
    data.pop("query")
    return _json({**data, "limit": limit, "offset": offset})


async def _warm_index() -> None:
    """Build the index when the server (each worker) starts, so no request waits for it."""
    try:
        await get_index()
    except UserError:
        pass  # invalid content or database: requests answer with the error until fixed


router.add_event_handler("startup", _warm_index)


async def get_place_facts() -> dict[str, PlaceFacts]:
    """Municipal centrality and population from the database (read once per process)."""
    global _facts
    with _lock:
        if _facts is None:
            _facts = place_facts_from_database(
                _database(), explicit=settings.get().database_explicit)
        return _facts


def get_indicator_cube() -> Any:
    """The indicator layer's process-wide cube (peer ranks for "weakest against peers")."""
    from bliatlas.indicators.api import get_cube

    return get_cube()


@router.get("/anbefalinger/{kommunenummer}", summary="Praksiser fra lignende kommuner",
            response_class=Response,
            openapi_extra=_documented(("limit", "similar-place practices, 1-50 (default 5)",
                                       False)))
async def recommendations(
    request: Request,
    index: IndexDep,
    facts: Annotated[dict[str, PlaceFacts], Depends(get_place_facts)],
    cube: Annotated[Any, Depends(get_indicator_cube)],
    kommunenummer: str,
) -> Response:
    """Practices from the municipality itself and from those most like it (same centrality
    class, similar population), and practices for the indicators where it ranks lowest in
    its centrality class; each with a one-line reason built from stored values."""
    _, limit, _ = _params(request, ("limit",), 50, 5)
    recs = similar_place_practices(index, facts, kommunenummer, limit=limit)
    weak = practices_for_weaknesses(index, cube, facts, kommunenummer)
    return _json({"kommune": facts[kommunenummer].to_dict(),
                  "results": [r.to_dict() for r in recs],
                  "weakest": [r.to_dict() for r in weak]})


@router.get("/{entry_id}", summary="Én oppføring", response_class=Response)
async def get_entry(index: IndexDep, entry_id: str) -> Response:
    """The entry with its body as Markdown and as HTML; 404 for an unknown id."""
    return _json(entry_payload(index, entry_id))
