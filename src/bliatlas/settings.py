"""One settings object for the whole program, read from the environment.

Every configurable value (database, content, serving, access, job limits) is a field of
:class:`Settings`; nothing else in the package reads ``os.environ``. :func:`get` parses
and validates the environment once and returns the same object for as long as the
``BLI_*`` variables are unchanged (the CLI's ``--database`` and ``bli serve``'s options
set them before anything reads them, so uvicorn's worker processes see the same values).

A value that cannot be parsed raises :class:`bliatlas.errors.UserError` naming the
variable and what was expected. The table of variables is in ``docs/deployment.md``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path

from bliatlas.errors import UserError

DEFAULT_DATABASE = Path("var/bliatlas.duckdb")
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1", "testserver")


@dataclass(frozen=True)
class Settings:
    """What the program is configured to do. Field docs name the environment variable."""

    #: ``BLI_DATABASE``: the DuckDB file (default ``var/bliatlas.duckdb``).
    database: Path = DEFAULT_DATABASE
    #: whether ``BLI_DATABASE`` was given (some commands then refuse to fall back).
    database_explicit: bool = False
    #: ``BLI_CONTENT``: the knowledge content folder (default: the checkout's ``content/``).
    content: Path | None = None
    #: ``BLI_SETTLEMENT_MODEL``: a model folder from ``bli settlement train``.
    settlement_model: Path | None = None
    #: ``BLI_SSB_CACHE``: where SSB responses are cached.
    ssb_cache: Path | None = None
    #: ``BLI_IMDI_CACHE``: where answers of IMDi's statistics service are cached.
    imdi_cache: Path | None = None
    #: ``BLI_ALLOW_TEST_DATA=1``: accept JSON-stat files marked as Bli-atlas test data.
    allow_test_data: bool = False
    #: ``BLI_WARMUP=1``: build store, cube, geometry and index before the first request.
    warmup: bool = False
    #: ``BLI_TEST=1``: running under the test suite.
    test: bool = False
    #: ``NO_COLOR`` (any value): no colours in terminal output.
    no_color: bool = False

    # -- serving and access ------------------------------------------------------------
    #: ``BLI_PUBLIC=1`` (``bli serve --public``): the atlas is served to others; the
    #: surfaces that take personal data (matching) then need a login or an API token.
    public: bool = False
    #: ``BLI_ALLOWED_HOSTS``: comma-separated Host names the server answers to.
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS
    #: ``BLI_USERS_FILE``: the users file written by ``bli users add`` (scrypt hashes).
    users_file: Path = Path("var/brukere.txt")
    #: ``BLI_API_TOKENS``: comma-separated SHA-256 hex digests of accepted API tokens
    #: (``bli users token`` prints a new token and its digest).
    api_tokens: tuple[str, ...] = ()
    #: ``BLI_SESSION_SECRET``: key for signing session and CSRF cookies; ``bli serve``
    #: makes a random one per start when unset (so every worker shares it).
    session_secret: str = ""
    #: ``BLI_SESSION_HOURS``: how long a login lasts.
    session_hours: float = 8.0
    #: ``BLI_SECURE_COOKIES=1``: mark cookies ``Secure`` (behind HTTPS); on with --public.
    secure_cookies: bool = False

    # -- heavy work ----------------------------------------------------------------------
    #: ``BLI_MATCHING_JOBS``: matching runs at the same time (per server process).
    matching_jobs: int = 1
    #: ``BLI_RENDER_JOBS``: PDF renders at the same time (per server process).
    render_jobs: int = 1
    #: ``BLI_QUEUE_LENGTH``: jobs of one kind that may wait; more get 429.
    queue_length: int = 4
    #: ``BLI_QUEUE_WAIT``: seconds a waiting job waits before it gets 429.
    queue_wait: float = 120.0
    #: ``BLI_JOB_MEMORY_MB``: memory ceiling of one job (estimated before it starts).
    job_memory_mb: int = 2048

    # -- freshness and caching -------------------------------------------------------------
    #: ``BLI_RELOAD_SECONDS``: how often the server checks whether the database file was
    #: replaced by an import (0 = on every request).
    reload_seconds: float = 1.0
    #: ``BLI_PAGE_CACHE_MB``: rendered pages and API answers kept per process.
    page_cache_mb: int = 128


_ENV = {
    "database": "BLI_DATABASE", "content": "BLI_CONTENT",
    "settlement_model": "BLI_SETTLEMENT_MODEL", "ssb_cache": "BLI_SSB_CACHE",
    "imdi_cache": "BLI_IMDI_CACHE",
    "allow_test_data": "BLI_ALLOW_TEST_DATA", "warmup": "BLI_WARMUP", "test": "BLI_TEST",
    "public": "BLI_PUBLIC", "allowed_hosts": "BLI_ALLOWED_HOSTS",
    "users_file": "BLI_USERS_FILE", "api_tokens": "BLI_API_TOKENS",
    "session_secret": "BLI_SESSION_SECRET", "session_hours": "BLI_SESSION_HOURS",
    "secure_cookies": "BLI_SECURE_COOKIES",
    "matching_jobs": "BLI_MATCHING_JOBS", "render_jobs": "BLI_RENDER_JOBS",
    "queue_length": "BLI_QUEUE_LENGTH", "queue_wait": "BLI_QUEUE_WAIT",
    "job_memory_mb": "BLI_JOB_MEMORY_MB", "reload_seconds": "BLI_RELOAD_SECONDS",
    "page_cache_mb": "BLI_PAGE_CACHE_MB",
}
ENV_VARIABLES: tuple[str, ...] = (*_ENV.values(), "NO_COLOR")

_TRUE = {"1", "true", "ja", "yes", "on"}
_FALSE = {"0", "false", "nei", "no", "off", ""}


def _bool(var: str, text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise UserError(f"miljøvariabelen {var}: forventet 1 eller 0 (ja/nei), fikk {text!r}")


def _number(var: str, text: str, kind: type, lo: float, hi: float):
    try:
        value = kind(text.strip())
    except ValueError:
        word = "et heltall" if kind is int else "et tall"
        raise UserError(f"miljøvariabelen {var}: forventet {word}, fikk {text!r}") from None
    if not lo <= value <= hi:
        raise UserError(f"miljøvariabelen {var}: forventet {lo:g}–{hi:g}, fikk {text!r}")
    return value


def _list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _tokens(var: str, text: str) -> tuple[str, ...]:
    out = _list(text.lower())
    for t in out:
        if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
            raise UserError(f"miljøvariabelen {var}: forventet SHA-256-sjekksummer (64 heks-tegn) "
                            "skilt med komma, laget av `bli users token`")
    return out


_BOUNDS: dict[str, tuple[type, float, float]] = {
    "session_hours": (float, 0.01, 24 * 30),
    "matching_jobs": (int, 1, 64), "render_jobs": (int, 1, 64),
    "queue_length": (int, 0, 10_000), "queue_wait": (float, 0, 3600),
    "job_memory_mb": (int, 16, 1024 * 1024),
    "reload_seconds": (float, 0, 3600), "page_cache_mb": (int, 0, 100_000),
}


def from_environment(environ: dict[str, str] | None = None) -> Settings:
    """Parse the ``BLI_*`` variables of ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, var in _ENV.items():
        text = env.get(var)
        if text is None:
            continue
        if name in _BOUNDS:
            values[name] = _number(var, text, *_BOUNDS[name])
        elif types[name] == "bool":
            values[name] = _bool(var, text)
        elif name == "allowed_hosts":
            values[name] = _list(text) or DEFAULT_HOSTS
        elif name == "api_tokens":
            values[name] = _tokens(var, text)
        elif name == "session_secret":
            values[name] = text
        elif text.strip():  # paths; an empty value means "not set"
            values[name] = Path(text)
    values["database_explicit"] = bool(env.get("BLI_DATABASE"))
    values["no_color"] = bool(env.get("NO_COLOR"))
    if values.get("public") and "secure_cookies" not in values:
        values["secure_cookies"] = True
    return Settings(**values)  # type: ignore[arg-type]


_lock = threading.Lock()
_cached: tuple[tuple[str | None, ...], Settings] | None = None


def get() -> Settings:
    """The settings, parsed once and reused while the ``BLI_*`` environment is unchanged."""
    global _cached
    key = tuple(os.environ.get(v) for v in ENV_VARIABLES)
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        settings = from_environment()
        _cached = (key, settings)
        return settings


def export(**values: object) -> None:
    """Set settings for this process and the processes it starts (``bli serve`` workers),
    by writing the corresponding ``BLI_*`` variables."""
    for name, value in values.items():
        var = _ENV[name]
        if value is None:
            os.environ.pop(var, None)
        elif isinstance(value, bool):
            os.environ[var] = "1" if value else "0"
        elif isinstance(value, tuple | list):
            os.environ[var] = ",".join(str(v) for v in value)
        else:
            os.environ[var] = str(value)
