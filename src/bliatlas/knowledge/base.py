"""Opening the knowledge base: content plus, when a database is at hand, the region registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import markdown

from bliatlas.errors import UserError
from bliatlas.knowledge.loader import Region, default_content_dir, load_entries, read_regions
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.recommend import PlaceFacts, read_place_facts
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.knowledge.vocab import COUNTY_CODES_2024
from bliatlas.store import database_path, open_store


def regions_from_database(database: str | os.PathLike[str] | None,
                          explicit: bool = False) -> dict[str, Region] | None:
    """The region registry from the database, or ``None`` if there is none.

    A database named explicitly must exist and be readable; the default one is used only
    if it exists. An empty ``region`` table (nothing imported yet) gives ``None``.
    """
    path = database_path(database)
    if not path.exists():
        if explicit:
            raise UserError(f"{path}: databasefilen finnes ikke; kjør `bli import` først")
        return None
    try:
        store = open_store(path, read_only=True)
    except (RuntimeError, duckdb.Error) as exc:
        raise UserError(f"{path}: kan ikke lese databasen ({exc})") from exc
    try:
        regions = read_regions(store)
    except duckdb.Error as exc:
        raise UserError(f"{path}: mangler regiontabellen ({exc})") from exc
    finally:
        store.close()
    return regions or None


def open_index(content: str | os.PathLike[str] | None = None,
               database: str | os.PathLike[str] | None = None,
               explicit_database: bool = False) -> KnowledgeIndex:
    """Load and validate all content and build the search index.

    ``database`` is the store whose ``region`` table gives counties and centrality
    (facets ``fylke`` and ``sentralitet``, and existence checks of place codes).
    """
    regions = regions_from_database(database, explicit=explicit_database)
    root = Path(content) if content else default_content_dir()
    entries = load_entries(root, regions)
    return KnowledgeIndex(entries, regions)


def place_labels(index: KnowledgeIndex, entry: Entry) -> list[dict[str, Any]]:
    """Places of an entry with names (and county/centrality when the registry is loaded)."""
    out: list[dict[str, Any]] = []
    for p in entry.places:
        item: dict[str, Any] = p.to_dict()
        if p.kommune:
            r = index.regions.get(p.kommune)
            if r:
                item.update(name=r.name, county_code=r.county_code, centrality=r.centrality)
                extra = f", sentralitet {r.centrality}" if r.centrality is not None else ""
                item["label"] = f"{r.name} kommune ({p.kommune}{extra})"
            else:
                item["label"] = f"kommune {p.kommune}"
        elif p.fylke:
            name = COUNTY_CODES_2024[p.fylke]
            item.update(name=name, label=f"{name} fylke ({p.fylke})")
        else:
            item.update(name=p.navn, label=p.navn + (f" ({p.land})" if p.land else ""))
        out.append(item)
    return out


def entry_payload(index: KnowledgeIndex, entry_id: str) -> dict[str, Any]:
    """An entry as JSON-ready data: fields with labels, places named, body as Markdown and HTML."""
    entry = index.get(entry_id)
    data = entry.to_dict()
    data["places"] = place_labels(index, entry)
    data["body_markdown"] = entry.body
    data["body_html"] = markdown.markdown(entry.body, output_format="html")
    return data


def place_facts_from_database(database: str | os.PathLike[str] | None,
                              explicit: bool = False) -> dict[str, PlaceFacts]:
    """Municipal centrality and latest population for recommendations ({} without a database)."""
    path = database_path(database)
    if not path.exists():
        if explicit:
            raise UserError(f"{path}: databasefilen finnes ikke; kjør `bli import` først")
        return {}
    try:
        store = open_store(path, read_only=True)
    except (RuntimeError, duckdb.Error) as exc:
        raise UserError(f"{path}: kan ikke lese databasen ({exc})") from exc
    try:
        return read_place_facts(store)
    except duckdb.Error as exc:
        raise UserError(f"{path}: mangler region- eller observasjonstabellen ({exc})") from exc
    finally:
        store.close()
