"""Shared API dependencies: the store, opened read-only once per process.

Routers use ``StoreDep`` (or call :func:`get_store`) instead of opening the database
themselves. The path is ``$BLI_DATABASE`` or the default (``var/bliatlas.duckdb``); tests
override :func:`get_store` through ``app.dependency_overrides`` or call :func:`reset`
after changing the environment.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends

from bliatlas.errors import UserError
from bliatlas.store import Store, database_path, open_store

_lock = threading.Lock()
_store: Store | None = None


class DatabaseUnavailable(UserError):
    """The database file is missing or not a Bli-atlas database."""

    http_status = 503


def get_store() -> Store:
    """The process-wide read-only store (opened on first use)."""
    global _store
    with _lock:
        if _store is None:
            path = database_path()
            if not path.exists():
                raise DatabaseUnavailable(
                    f"databasen {path} finnes ikke; kjør `bli import` eller sett BLI_DATABASE"
                )
            try:
                _store = open_store(path, read_only=True)
            except RuntimeError as exc:
                raise DatabaseUnavailable(str(exc)) from None
        return _store


def reset() -> None:
    """Forget the open store (after ``$BLI_DATABASE`` changed, e.g. in tests)."""
    global _store
    with _lock:
        if _store is not None:
            _store.close()
        _store = None


StoreDep = Annotated[Store, Depends(get_store)]
