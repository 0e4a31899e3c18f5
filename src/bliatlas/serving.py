"""The HTTP plumbing every router shares, at the bottom of the serving layers.

It imports nothing of Bli-atlas above :mod:`bliatlas.store`, :mod:`bliatlas.settings` and
:mod:`bliatlas.errors`, so the routers (``indicators.api``, ``knowledge.api``,
``settlement.api``, ``web.pages`` …) import it without reaching up to
:mod:`bliatlas.api.app`, which imports them. It holds:

* the store as a request dependency (:func:`get_store`, ``StoreDep``) and the values
  built from it once per database state (:func:`cached`) — *generations*, below;
* :data:`SOURCE_NOTE`, the one source and licence line every answer and page carries;
* the signed values of sessions and CSRF tokens (:func:`sign`, :func:`csrf_token`);
* the error answers (:func:`install_error_handlers`): a :class:`bliatlas.errors.BliError`
  with its ``http_status``, FastAPI's validation errors in Norwegian, HTTP errors.

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
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bliatlas import settings
from bliatlas.errors import BliError, DatabaseUnavailable
from bliatlas.privacy import SUPPRESSION_NOTE
from bliatlas.store import Store, database_path, open_store, state_token

log = logging.getLogger("bliatlas")
T = TypeVar("T")

SOURCE_NOTE = (
    "Kilde: IMDi, SSB, KOSTRA, Helsedirektoratet og Telemark fylkeskommune, beregnet av "
    "Bli-atlas. " + SUPPRESSION_NOTE + " Lisens: NLOD 2.0 (Norsk lisens for offentlige "
    "data); kartgrunnlag Kartverket, CC BY 4.0."
)


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
    except BliError:
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


# -- signed values (sessions, CSRF) ------------------------------------------------------
_process_secret = secrets.token_hex(32)
CSRF_COOKIE = "bli_csrf"
CSRF_FIELD = "csrf"


def secret() -> bytes:
    """The signing key: ``BLI_SESSION_SECRET``, or one per process when unset."""
    return (settings.get().session_secret or _process_secret).encode()


def sign(value: str) -> str:
    mac = hmac.new(secret(), value.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{value}.{mac}"


def unsign(signed: str) -> str | None:
    value, _, mac = signed.rpartition(".")
    if not value:
        return None
    good = hmac.new(secret(), value.encode(), hashlib.sha256).hexdigest()[:32]
    return value if hmac.compare_digest(mac, good) else None


def new_csrf_token() -> str:
    return sign(secrets.token_urlsafe(18))


def csrf_valid(cookie: str | None, submitted: str | None) -> bool:
    return bool(cookie and submitted and unsign(cookie) is not None
                and hmac.compare_digest(cookie, submitted))


def csrf_token(state: dict[str, Any], cookie: str | None) -> str:
    """The token for the forms of this page: the valid cookie's, else a new one that the
    response sets as cookie (:class:`bliatlas.api.middleware.Csrf`)."""
    if cookie and unsign(cookie) is not None:
        return cookie
    if "csrf_new" not in state:
        state["csrf_new"] = new_csrf_token()
    return state["csrf_new"]


# -- error answers ------------------------------------------------------------------------
_EXPECTED = {
    "missing": "mangler",
    "int_parsing": "forventet et heltall",
    "int_type": "forventet et heltall",
    "float_parsing": "forventet et tall",
    "float_type": "forventet et tall",
    "bool_parsing": "forventet ja/nei (true/false)",
    "string_too_long": "teksten er for lang",
    "string_too_short": "teksten er for kort",
    "greater_than_equal": "verdien er for liten",
    "less_than_equal": "verdien er for stor",
    "json_invalid": "ugyldig JSON",
}
_PLACE = {"query": "parameter", "path": "del av adressen", "body": "felt", "header": "header"}


def validation_message(errors: list[dict]) -> str:
    """FastAPI's validation errors as one Norwegian sentence per field."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ())]
        place = _PLACE.get(loc[0], "felt") if loc else "felt"
        field_name = ".".join(loc[1:]) or (loc[0] if loc else "?")
        expected = _EXPECTED.get(err.get("type", ""))
        if expected is None:
            ctx = err.get("ctx") or {}
            expected = (f"forventet en av {ctx['expected']}" if "expected" in ctx
                        else f"ugyldig verdi ({err.get('msg', '')})")
        given = err.get("input")
        shown = f", fikk {given!r}" if given is not None and err.get("type") != "missing" else ""
        parts.append(f"{place} {field_name!r}: {expected}{shown}")
    return "Ugyldig forespørsel: " + "; ".join(parts)


HTTP_MESSAGES = {
    400: "Ugyldig forespørsel",
    401: "Innlogging kreves",
    403: "Ingen tilgang",
    404: "Fant ikke adressen {path}",
    405: "Metoden {method} er ikke tillatt for {path}",
    406: "Kan ikke svare i formatet som ble bedt om",
    413: "Forespørselen er for stor",
    415: "Ukjent innholdstype",
    429: "For mange forespørsler; prøv igjen senere",
}

ErrorPage = Callable[[Request, int, str, "dict[str, str] | None"], Response]


def error_response(request: Request, status: int, message: str,
                   headers: dict[str, str] | None = None,
                   page: ErrorPage | None = None) -> Response:
    """JSON for the API and scripts; ``page(...)`` (the Norwegian error page) for a browser
    asking for a page outside ``/api/``."""
    if page is not None and not request.url.path.startswith("/api/") and (
            "text/html" in request.headers.get("accept", "")):
        return page(request, status, message, headers)
    return JSONResponse(status_code=status, content={"error": message, "source": SOURCE_NOTE},
                        headers=headers)


def error_headers(exc: BliError) -> dict[str, str]:
    """Headers of every error answer: never cached (an error about a private run must not
    stay in a shared cache), and ``Retry-After`` when the job queue is full
    (:class:`bliatlas.errors.Busy`)."""
    retry = getattr(exc, "retry_after", None)
    return {"Cache-Control": "no-store", **({"Retry-After": str(retry)} if retry else {})}


def install_error_handlers(app: FastAPI, page: ErrorPage | None = None) -> None:
    """Answer every :class:`~bliatlas.errors.BliError` with its ``http_status`` and
    ``{"error": …, "source": …}``, FastAPI's validation errors with 422 and a Norwegian
    sentence per field, and HTTP errors with a Norwegian message; ``page`` renders the
    HTML error page for browsers (the web layer's, handed in by :mod:`bliatlas.api.app`)."""

    @app.exception_handler(BliError)
    async def _bli_error(request: Request, exc: BliError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status,
                            content={"error": str(exc), "source": SOURCE_NOTE},
                            headers=error_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, validation_message(exc.errors()), page=page)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        template = HTTP_MESSAGES.get(exc.status_code)
        if template is None:
            message = str(exc.detail)
        else:
            message = template.format(path=request.url.path, method=request.method)
        return error_response(request, exc.status_code, message,
                              getattr(exc, "headers", None), page=page)
