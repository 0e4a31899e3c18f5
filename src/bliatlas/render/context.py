"""What the pages read: the store, region registry, indicator cube, geometry and knowledge.

Built once per process on first use and shared by every request. The store and the cube
are the API's own (``bliatlas.serving.get_store``, ``bliatlas.indicators.api.get_cube``),
so pages and API show the same numbers from one read-only connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bliatlas import serving as deps
from bliatlas.indicators import api as indicators_api
from bliatlas.indicators.engine import Cube
from bliatlas.knowledge.base import reset_shared_index, shared_index
from bliatlas.knowledge.recommend import PlaceFacts, read_place_facts
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.regions.registry import Registry
from bliatlas.render.geo import GeometryCache
from bliatlas.store import Store


@dataclass
class AtlasContext:
    store: Store
    registry: Registry
    cube: Cube
    geometry: GeometryCache
    _place_facts: dict[str, PlaceFacts] | None = None

    @property
    def catalogue(self):
        return self.cube.catalogue

    def place_facts(self) -> dict[str, PlaceFacts]:
        """Centrality and latest population per municipality, for recommendations."""
        with _lock:
            if self._place_facts is None:
                self._place_facts = read_place_facts(self.store)
            return self._place_facts

    def knowledge(self) -> KnowledgeIndex:
        """The knowledge layer's process-wide index (the same object the API uses)."""
        return shared_index()


_lock = threading.Lock()


def _build_context() -> AtlasContext:
    store = deps.get_store()
    return AtlasContext(
        store=store,
        registry=Registry.from_store(store),
        cube=indicators_api.get_cube(),
        geometry=GeometryCache.from_store(store),
    )


def get_context() -> AtlasContext:
    """The context of the current database state (built on first use, and beside the old
    one when an import replaced the file; see ``bliatlas.serving``)."""
    return deps.cached("render.context", _build_context)


def warm() -> None:
    """Build the context and the knowledge index (server start and each new database)."""
    get_context().knowledge()


def reset_context() -> None:
    """Forget the context (tests switching databases; the store is reset in ``deps``)."""
    deps.forget("render.context")
    reset_shared_index()
