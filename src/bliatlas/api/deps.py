"""Shared API dependencies: the store, opened read-only, and everything built from it.

A *generation* is one state of the database file: its read-only :class:`Store` and the
values built from it once per process (the indicator cube, the pages' context, the
knowledge index, cached answers) — see :func:`cached`. Writers never change the served
file in place: they replace it atomically (:func:`bliatlas.store.writing`). The server
notices (a ``stat`` at most every ``reload_seconds``), opens the new file in a background
thread, builds and warms the new generation there while requests are still answered from
the old one, then switches in one assignment. A request sees one generation from start to
end (:func:`pin`, set by the middleware), so no request fails or mixes two states during
the switch; the old generation is dropped when its last request is done.

Routers use ``StoreDep`` (or call :func:`get_store`) instead of opening the database
themselves. The path comes from :mod:`bliatlas.settings`; tests override
:func:`get_store` through ``app.dependency_overrides`` or call :func:`reset` after
changing the environment.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
from fastapi import Depends

from bliatlas import settings
from bliatlas.errors import UserError
from bliatlas.store import Store, database_path, open_store, state_token

log = logging.getLogger("bliatlas")
T = TypeVar("T")


class DatabaseUnavailable(UserError):
    """The database file is missing or not a Bli-atlas database."""

    http_status = 503


@dataclass(eq=False)
class Generation:
    """One state of the database file and what this process built from it."""

    path: Path
    token: str
    store: Store
    number: int
    values: dict[str, Any] = field(default_factory=dict)
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str, build: Callable[[], T]) -> T:
        try:
            return self.values[name]
        except KeyError:
            pass
        with self.lock:
            key_lock = self.locks.setdefault(name, threading.Lock())
        with key_lock:
            if name not in self.values:
                self.values[name] = build()
            return self.values[name]

    def forget(self, *names: str) -> None:
        for name in names:
            self.values.pop(name, None)


_lock = threading.Lock()
_current: Generation | None = None
_checked_at = 0.0
_reloading = False
_count = 0
_pinned: contextvars.ContextVar[Generation | None] = contextvars.ContextVar(
    "bliatlas_generation", default=None)
_warmers: list[Callable[[], Any]] = []


def add_warmer(warm: Callable[[], Any]) -> None:
    """Run ``warm()`` in every new generation before it is switched to (builds caches)."""
    if warm not in _warmers:
        _warmers.append(warm)


def _open(path: Path, token: str) -> Generation:
    """Open the file's current state read-only.

    DuckDB keeps one database instance per file *name* in a process, so opening the same
    name again would return the old, still-open state. The new state is therefore opened
    through a fresh hard link to the current file (removed right after opening; DuckDB
    keeps its handle), which also pins exactly the file that was there at that moment.
    """
    global _count
    _count += 1
    link = path.with_name(f".{path.name}.lese-{os.getpid()}-{_count}")
    try:
        os.link(path, link)
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError:  # a file system without hard links: open by name
        link = path
    try:
        token = state_token(link) or token
        store = open_store(link, read_only=True)
    except (RuntimeError, duckdb.Error) as exc:
        raise DatabaseUnavailable(f"databasen {path} kan ikke åpnes: {exc}") from None
    finally:
        if link != path:
            link.unlink(missing_ok=True)
    store.path = path
    return Generation(path=path, token=token, store=store, number=_count)


def _missing(path: Path) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"databasen {path} finnes ikke; kjør `bli import` eller sett BLI_DATABASE")


def _reload(path: Path, token: str) -> None:
    """Build the next generation beside the current one and switch to it."""
    global _current, _reloading
    try:
        gen = _open(path, token)
        handle = _pinned.set(gen)
        try:
            for warm in _warmers:
                warm()
        finally:
            _pinned.reset(handle)
        with _lock:
            if _current is None or _current.path == path:
                _current = gen
        log.warning("databasen er byttet ut; viser nå tilstand %s", token)
    except Exception as exc:  # noqa: BLE001 - keep serving the old state, try again later
        log.warning("ny database kunne ikke åpnes (%s); viser fortsatt den forrige", exc)
    finally:
        with _lock:
            _reloading = False


def current() -> Generation:
    """The generation this request works on (the pinned one), else the newest."""
    gen = _pinned.get()
    if gen is not None:
        return gen
    return _latest()


def _latest() -> Generation:
    global _current, _checked_at, _reloading
    path = database_path()
    now = time.monotonic()
    gen = _current
    if gen is not None and gen.path == path and (
            now - _checked_at < settings.get().reload_seconds or _reloading):
        return gen
    token = state_token(path)
    with _lock:
        _checked_at = now
        gen = _current
        if gen is not None and gen.path == path:
            if token is None or token == gen.token or _reloading:
                return gen  # unchanged, being replaced, or removed: keep what we have
            _reloading = True
            threading.Thread(target=_reload, args=(path, token), daemon=True,
                             name="bliatlas-reload").start()
            return gen
        if token is None:
            raise _missing(path)
        _current = _open(path, token)
        return _current


def pin() -> contextvars.Token:
    """Fix the generation for the rest of this context (one request); see :func:`unpin`."""
    try:
        gen = _latest()
    except UserError:
        gen = None
    return _pinned.set(gen)


def unpin(handle: contextvars.Token) -> None:
    _pinned.reset(handle)


def get_store() -> Store:
    """The read-only store of the current generation (opened on first use)."""
    return current().store


def cached(name: str, build: Callable[[], T]) -> T:
    """``build()`` once per generation (per database state) and process."""
    return current().get(name, build)


def forget(*names: str) -> None:
    """Drop cached values of the current generation (tests)."""
    gen = _current
    if gen is not None:
        gen.forget(*names)


def reset() -> None:
    """Forget the open store and everything built from it (after ``BLI_DATABASE`` changed,
    e.g. in tests)."""
    global _current, _checked_at
    with _lock:
        if _current is not None:
            _current.store.close()
        _current = None
        _checked_at = 0.0


StoreDep = Annotated[Store, Depends(get_store)]
