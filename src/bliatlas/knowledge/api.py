"""The knowledge base over HTTP: search with facets and snippets, entry detail, listing.

The index is built once per process from ``$BLI_CONTENT`` (or ``content/``) and, if the
database (``$BLI_DATABASE`` or the default) exists, its region registry.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bliatlas.api.app import SOURCE_NOTE
from bliatlas.knowledge.base import entry_payload, open_index, place_facts_from_database
from bliatlas.knowledge.recommend import (
    PlaceFacts,
    practices_for_weaknesses,
    similar_place_practices,
)
from bliatlas.knowledge.search import KnowledgeIndex

router = APIRouter(prefix="/api/kunnskap", tags=["kunnskap"])

_lock = threading.Lock()
_index: KnowledgeIndex | None = None
_facts: dict[str, PlaceFacts] | None = None


async def get_index() -> KnowledgeIndex:
    """The process-wide index (built on first use). Override in tests via dependency_overrides.

    A coroutine so that FastAPI does not hand every request to its thread pool for it.
    """
    global _index
    with _lock:
        if _index is None:
            _index = open_index(os.environ.get("BLI_CONTENT"), os.environ.get("BLI_DATABASE"),
                                explicit_database=bool(os.environ.get("BLI_DATABASE")))
        return _index


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
FilterParam = Annotated[list[str] | None, Query()]


def _filters(type_: list[str] | None, tema: list[str] | None, malgruppe: list[str] | None,
             aktor: list[str] | None, fylke: list[str] | None,
             sentralitet: list[str] | None) -> dict[str, list[str]]:
    return {
        "type": type_ or [],
        "tema": tema or [],
        "malgruppe": malgruppe or [],
        "aktor": aktor or [],
        "fylke": fylke or [],
        "sentralitet": sentralitet or [],
    }


@router.get("/sok", summary="Søk i kunnskapsbasen", response_class=Response)
async def search(
    index: IndexDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="søkeord på bokmål")],
    type_: Annotated[list[str] | None, Query(alias="type")] = None,
    tema: FilterParam = None,
    malgruppe: FilterParam = None,
    aktor: FilterParam = None,
    fylke: FilterParam = None,
    sentralitet: FilterParam = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    """Ranked entries for ``q`` with snippets (``<mark>`` around matched words) and facets."""
    result = index.search(q, _filters(type_, tema, malgruppe, aktor, fylke, sentralitet),
                          limit=limit, offset=offset)
    return _json({**result.to_dict(), "limit": limit, "offset": offset})


@router.get("", summary="Alle oppføringer med fasetter", response_class=Response)
async def list_entries(
    index: IndexDep,
    type_: Annotated[list[str] | None, Query(alias="type")] = None,
    tema: FilterParam = None,
    malgruppe: FilterParam = None,
    aktor: FilterParam = None,
    fylke: FilterParam = None,
    sentralitet: FilterParam = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    """Every entry (filtered), by type and title, with facet counts."""
    result = index.search("", _filters(type_, tema, malgruppe, aktor, fylke, sentralitet),
                          limit=limit, offset=offset)
    data = result.to_dict()
    for item in data["results"]:
        item.pop("score")
        item.pop("snippet_html")
        item.pop("snippet_text")
    data.pop("interpretation")
    data.pop("query")
    return _json({**data, "limit": limit, "offset": offset})


async def get_place_facts() -> dict[str, PlaceFacts]:
    """Municipal centrality and population from the database (read once per process)."""
    global _facts
    with _lock:
        if _facts is None:
            _facts = place_facts_from_database(
                os.environ.get("BLI_DATABASE"), explicit=bool(os.environ.get("BLI_DATABASE")))
        return _facts


def get_indicator_cube() -> Any:
    """The indicator layer's process-wide cube (peer ranks for "weakest against peers")."""
    from bliatlas.indicators.api import get_cube

    return get_cube()


@router.get("/anbefalinger/{kommunenummer}", summary="Praksiser fra lignende kommuner",
            response_class=Response)
async def recommendations(
    index: IndexDep,
    facts: Annotated[dict[str, PlaceFacts], Depends(get_place_facts)],
    cube: Annotated[Any, Depends(get_indicator_cube)],
    kommunenummer: str,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> Response:
    """Practices from the municipality itself and from those most like it (same centrality
    class, similar population), and practices for the indicators where it ranks lowest in
    its centrality class; each with a one-line reason built from stored values."""
    recs = similar_place_practices(index, facts, kommunenummer, limit=limit)
    weak = practices_for_weaknesses(index, cube, facts, kommunenummer)
    return _json({"kommune": facts[kommunenummer].to_dict(),
                  "results": [r.to_dict() for r in recs],
                  "weakest": [r.to_dict() for r in weak]})


@router.get("/{entry_id}", summary="Én oppføring", response_class=Response)
async def get_entry(index: IndexDep, entry_id: str) -> Response:
    """The entry with its body as Markdown and as HTML; 404 for an unknown id."""
    return _json(entry_payload(index, entry_id))
