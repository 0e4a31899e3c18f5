"""Opening the knowledge base: content plus, when a database is at hand, the region registry.

:func:`shared_index` is the one process-wide index the API, the web pages and the reports
read (built once per content folder and database, on first use).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import markdown

from bliatlas import settings
from bliatlas.errors import UserError
from bliatlas.knowledge import citations
from bliatlas.knowledge.loader import Region, default_content_dir, load_entries
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.recommend import PlaceFacts, read_place_facts
from bliatlas.knowledge.search import KnowledgeIndex, regions_of
from bliatlas.knowledge.vocab import COUNTY_CODES_2024
from bliatlas.regions.registry import Registry
from bliatlas.store import database_path, open_store


def registry_from_database(database: str | os.PathLike[str] | None,
                           explicit: bool = False) -> Registry | None:
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
        if not store.query("SELECT 1 FROM region LIMIT 1"):
            return None
        return Registry.from_store(store)
    except duckdb.Error as exc:
        raise UserError(f"{path}: mangler regiontabellen ({exc})") from exc
    finally:
        store.close()


def regions_from_database(database: str | os.PathLike[str] | None,
                          explicit: bool = False) -> dict[str, Region] | None:
    """The registry as the knowledge layer's :class:`Region` records (``None`` without one)."""
    registry = registry_from_database(database, explicit=explicit)
    return regions_of(registry) if registry is not None else None


def open_index(content: str | os.PathLike[str] | None = None,
               database: str | os.PathLike[str] | None = None,
               explicit_database: bool = False) -> KnowledgeIndex:
    """Load and validate all content and build the search index.

    ``database`` is the store whose ``region`` table gives counties and centrality
    (facets ``fylke`` and ``sentralitet``, existence checks of place codes, and the place
    names search resolves).
    """
    registry = registry_from_database(database, explicit=explicit_database)
    regions = regions_of(registry) if registry is not None else None
    root = Path(content) if content else default_content_dir()
    entries = load_entries(root, regions)
    return KnowledgeIndex(entries, regions, registry)


_shared_lock = threading.Lock()
_shared: tuple[tuple[str, str], KnowledgeIndex] | None = None


def shared_index() -> KnowledgeIndex:
    """The process-wide index over ``$BLI_CONTENT`` (or ``content/``) and the database
    (``$BLI_DATABASE`` or the default path), built on first use and then shared by the
    API, the web pages and the reports. A different content folder or database (tests
    switching environments) builds a new one.

    Called on every request: the check is a settings look-up and a comparison."""
    global _shared
    configured = settings.get()
    key = (str(configured.content or ""),
           str(configured.database) if configured.database_explicit else "")
    current = _shared
    if current is not None and current[0] == key:
        return current[1]
    with _shared_lock:
        if _shared is None or _shared[0] != key:
            content = key[0] or str(default_content_dir())
            index = open_index(content, database_path(), explicit_database=bool(key[1]))
            _shared = (key, index)
        return _shared[1]


def reset_shared_index() -> None:
    """Forget the shared index (tests that change the content folder in place)."""
    global _shared
    with _shared_lock:
        _shared = None


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
    data["body_html"] = body_html(entry)
    data["marked"] = entry.marked
    if entry.type == "aktor":
        data["appears_in"] = [{"id": e.id, "title": e.title, "type": e.type}
                              for e in actor_entries(index, entry)]
    return data


def body_html(entry: Entry) -> str:
    """The body as HTML, each source mark a link to its source (``#kilde-N``) and the
    editors' reading labelled."""
    return citations.marks_to_html(markdown.markdown(entry.body, output_format="html"))


def actor_entries(index: KnowledgeIndex, actor_entry: Entry) -> list[Entry]:
    """Practices and grant schemes (then other entries) tagged with the actor an actor
    entry describes, practices first."""
    if actor_entry.actor is None:
        return []
    rank = {"praksis": 0, "tilskudd": 1}
    found = [e for e in index.entries if e.id != actor_entry.id and actor_entry.actor in e.actors]
    return sorted(found, key=lambda e: (rank.get(e.type, 2), e.title))


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
