"""What a report reads: the atlas context (store, registry, indicator cube, geometry) and
the knowledge index, built once and shared by every report rendered in the process.

The CLI builds one for ``--database``; the API shares the web atlas's process-wide
context (:func:`bliatlas.render.context.get_context`), so a report downloaded from the atlas
shows the same cube values as the page it was downloaded from.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bliatlas import settings
from bliatlas.errors import UserError
from bliatlas.indicators.engine import build_cube
from bliatlas.knowledge.base import open_index
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.regions.registry import Registry
from bliatlas.render.context import AtlasContext
from bliatlas.render.geo import GeometryCache
from bliatlas.store import database_path, open_store


@dataclass
class ReportContext:
    atlas: AtlasContext
    knowledge: KnowledgeIndex
    database: Path
    # Values derived once per context and shared by every report (provenance index,
    # stored values, place facts); filled lazily by ``reports.build``.
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def cube(self):
        return self.atlas.cube

    @property
    def store(self):
        return self.atlas.store

    @property
    def registry(self) -> Registry:
        return self.atlas.registry


def open_report_context(database: str | os.PathLike[str] | None = None,
                        content: str | os.PathLike[str] | None = None) -> ReportContext:
    """Open the database read-only and build the cube, geometry and knowledge index."""
    path = database_path(database)
    if not path.exists():
        raise UserError(
            f"{path}: databasen finnes ikke; kjør `bli import ../shared/data` først "
            "eller oppgi --database"
        )
    try:
        store = open_store(path, read_only=True)
    except (RuntimeError, duckdb.Error) as exc:
        raise UserError(f"{path}: kan ikke lese databasen ({exc})") from None
    atlas = AtlasContext(
        store=store,
        registry=Registry.from_store(store),
        cube=build_cube(store),
        geometry=GeometryCache.from_store(store),
    )
    index = open_index(content or settings.get().content, path, explicit_database=True)
    return ReportContext(atlas=atlas, knowledge=index, database=path)


_lock = threading.Lock()
_shared: ReportContext | None = None


def shared_report_context() -> ReportContext:
    """The process-wide context for the API: the web atlas's context plus its knowledge index."""
    global _shared
    from bliatlas.render.context import get_context

    with _lock:
        atlas = get_context()
        if _shared is None or _shared.atlas is not atlas:
            index = atlas.knowledge()
            if index is None:  # pragma: no cover - the knowledge layer is part of the package
                raise UserError("kunnskapsbasen kunne ikke lastes")
            _shared = ReportContext(atlas=atlas, knowledge=index, database=database_path())
        return _shared


def reset_shared_report_context() -> None:
    global _shared
    with _lock:
        _shared = None
