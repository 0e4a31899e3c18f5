"""The HTTP transport every publisher client shares: disk cache, rate limit, retries.

:class:`CachedHttp` sends GET/POST requests for one publisher service (SSB's statistics
bank, IMDi's download service) and

* keeps every successful answer on disk, keyed by the exact request (method, URL, body),
  and serves it again while it is younger than ``max_age`` seconds;
* keeps within ``rate_limit`` requests in any ``rate_period`` seconds (sliding window,
  retries included);
* retries HTTP 429 and 5xx, time-outs and connection errors with exponential backoff
  (``backoff * 2**attempt`` seconds, capped at ``max_backoff``, or the server's
  ``Retry-After`` when that is longer); any other answer is handed to the caller's
  ``refusal`` function, which turns it into the error the user sees;
* recognises a machine without network (the host name cannot be resolved, or every
  attempt failed to connect) and raises :class:`Offline`, whose Norwegian message names the
  service and suggests importing a downloaded file with ``bli import`` instead.

Nothing is written to the cache unless the answer is complete and accepted by the
caller's ``check`` function, so a refused or malformed answer never poisons the cache.
Tests replace the network with an ``httpx.MockTransport`` (``transport=``), and the clock
and sleep with fakes.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Self

import httpx

from bliatlas.errors import BliError, Offline, PublisherError
from bliatlas.export import write_file

RETRY_STATUSES = {429, 500, 502, 503, 504}
DEFAULT_MAX_AGE = 24 * 3600.0


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request exactly as it would be sent (for ``--dry-run`` and logs)."""

    method: str
    url: str
    body: Any = None
    purpose: str = "data"

    def describe(self) -> str:
        text = f"{self.method} {self.url}"
        if self.body is not None:
            text += "\n" + json.dumps(self.body, ensure_ascii=False, indent=2)
        return text


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class RateLimiter:
    """At most ``limit`` calls in any window of ``period`` seconds (sliding window)."""

    def __init__(
        self,
        limit: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be ≥ 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more call fits in the window, then record it."""
        while True:
            now = self.clock()
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return
            wait = self.period - (now - self._sent[0])
            self.waited += wait
            self.sleep(wait)


def _is_name_resolution_failure(exc: BaseException) -> bool:
    """True when the host name could not be looked up (no network, no DNS)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, socket.gaierror):
            return True
        text = str(cur).lower()
        if ("name or service not known" in text or "temporary failure in name resolution"
                in text or "nodename nor servname" in text or "getaddrinfo failed" in text):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


class CachedHttp:
    """GET/POST with disk cache, rate limit and retries for one publisher service."""

    def __init__(
        self,
        *,
        service: str,
        host: str,
        cache_dir: str | os.PathLike[str],
        max_age: float = DEFAULT_MAX_AGE,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        rate_limit: int = 30,
        rate_period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        user_agent: str = "bliatlas/0.1 (Bli-atlas)",
        accept: str = "application/json",
        offline_hint: str = "",
    ) -> None:
        self.service = service
        self.host = host
        self.cache_dir = Path(cache_dir)
        self.max_age = max_age
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.sleep = sleep
        self.now = now
        self.offline_hint = offline_hint
        self.limiter = RateLimiter(rate_limit, rate_period, clock=clock, sleep=sleep)
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": accept},
        )
        self.requests = 0
        self.cache_hits = 0

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache -------------------------------------------------------------------------------
    def cache_path(self, prefix: str, kind: str, request: PlannedRequest, ext: str,
                   extra: object = None) -> Path:
        key = canonical_json({"method": request.method, "url": request.url,
                              "body": request.body, "extra": extra})
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        return self.cache_dir / f"{prefix}-{kind}-{digest}.{ext}"

    def cached(self, path: Path) -> bytes | None:
        """The cached answer at ``path`` if it exists and is young enough."""
        try:
            if self.now() - path.stat().st_mtime > self.max_age:
                return None
            return path.read_bytes()
        except OSError:
            return None

    def store(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)

    def fetch(
        self,
        request: PlannedRequest,
        *,
        prefix: str,
        kind: str,
        ext: str,
        refusal: Callable[[httpx.Response], Exception],
        check: Callable[[bytes], Any] | None = None,
        extra: object = None,
        label: str | None = None,
    ) -> tuple[bytes, Any]:
        """Send ``request`` (or serve it from the cache); returns (bytes, check(bytes)).

        ``check`` validates and may parse the answer; a cached answer that fails the
        check is fetched again, a fresh one that fails raises.
        """
        path = self.cache_path(prefix, kind, request, ext, extra)
        data = self.cached(path)
        if data is not None:
            try:
                parsed = check(data) if check else None
            except BliError:
                parsed = data = None       # a damaged cache file is simply fetched again
            if data is not None:
                self.cache_hits += 1
                return data, parsed
        data = self.send(request, refusal, label)
        parsed = check(data) if check else None
        self.store(path, data)
        return data, parsed

    # -- sending -------------------------------------------------------------------------
    def send(self, request: PlannedRequest,
             refusal: Callable[[httpx.Response], Exception], label: str | None = None) -> bytes:
        """Send with rate limit and retries; the body of a 200 answer."""
        last_problem = ""
        connect_failures = 0
        attempts = 0
        for attempt in range(self.max_retries + 1):
            self.limiter.acquire()
            self.requests += 1
            attempts += 1
            retry_after = 0.0
            try:
                if request.body is None:
                    response = self._http.request(request.method, request.url)
                else:
                    response = self._http.request(request.method, request.url,
                                                  json=request.body)
            except httpx.TimeoutException:
                last_problem = "tidsavbrudd"
            except httpx.TransportError as exc:
                if _is_name_resolution_failure(exc):
                    raise self.offline(f"fant ikke adressen {self.host}") from None
                if isinstance(exc, httpx.ConnectError):
                    connect_failures += 1
                last_problem = f"nettverksfeil ({exc.__class__.__name__})"
            else:
                if response.status_code == 200:
                    return response.content
                if response.status_code not in RETRY_STATUSES:
                    raise refusal(response)
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
            if attempt == self.max_retries:
                break
            delay = min(self.max_backoff, self.backoff * 2**attempt)
            self.sleep(max(delay, retry_after))
        if connect_failures == attempts:
            raise self.offline(f"ingen forbindelse etter {attempts} forsøk")
        raise PublisherError(
            f"{label or self.service}: fikk ikke svar etter {attempts} forsøk (siste feil: "
            f"{last_problem}). {self.service} tillater {self.rate_limit} spørringer per "
            f"{self.rate_period:.0f} sekunder per IP-adresse; prøv igjen senere"
        )

    def offline(self, detail: str) -> Offline:
        hint = f" {self.offline_hint}" if self.offline_hint else ""
        return Offline(
            f"Ingen nettverksforbindelse: fikk ikke kontakt med {self.service} "
            f"({self.host}; {detail}). Ingenting er lagret.{hint}"
        )


def client_wiring(module: ModuleType, transport: httpx.BaseTransport | None,
                  clock: Callable[[], float] | None, sleep: Callable[[float], None] | None,
                  http_options: dict[str, Any], rate_limit: int, rate_period: float
                  ) -> dict[str, Any]:
    """The injectable parts of a publisher client, for :class:`PublisherClient`.

    What is not passed comes from the client's ``module`` when the client is made:
    ``module.transport_factory`` (tests and users who route requests elsewhere set it),
    ``module.default_clock`` and ``module.default_sleep``; the publisher's rate limit
    applies unless ``http_options`` give another."""
    http_options.setdefault("rate_limit", rate_limit)
    http_options.setdefault("rate_period", rate_period)
    factory = module.transport_factory
    return {
        "transport": transport if transport is not None or factory is None else factory(),
        "clock": clock if clock is not None else module.default_clock,
        "sleep": sleep if sleep is not None else module.default_sleep,
        **http_options,
    }


class PublisherClient:
    """What the SSB and IMDi clients share: one :class:`CachedHttp` for the publisher's
    service, its counters, and the ``with`` lifecycle.

    ``http_options`` are :class:`CachedHttp`'s (``max_age``, ``timeout``, ``max_retries``,
    ``backoff``, ``max_backoff``, ``rate_limit``, ``rate_period``, ``now``).
    """

    def __init__(self, *, service: str, base_url: str, cache_dir: str | os.PathLike[str],
                 transport: httpx.BaseTransport | None, clock: Callable[[], float],
                 sleep: Callable[[float], None], user_agent: str, offline_hint: str,
                 accept: str = "application/json", **http_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = CachedHttp(
            service=service, host=httpx.URL(self.base_url).host or self.base_url,
            cache_dir=cache_dir, transport=transport, clock=clock, sleep=sleep,
            user_agent=user_agent, accept=accept, offline_hint=offline_hint, **http_options)

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.http.requests

    @property
    def cache_hits(self) -> int:
        return self.http.cache_hits

    @property
    def limiter(self) -> RateLimiter:
        return self.http.limiter

    @property
    def cache_dir(self) -> Path:
        return self.http.cache_dir

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0


def error_detail(response: httpx.Response, limit: int = 300) -> str:
    """The publisher's own explanation: ``detail``/``title`` of a problem+json answer
    (PxWebApi v2), a JSON ``message``/``error``, or the first line(s) of a text body."""
    text = response.text.strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        parts = [str(doc[k]) for k in ("title", "detail", "message", "error") if doc.get(k)]
        if parts:
            return "; ".join(dict.fromkeys(parts))[:limit]
    if text.lower().startswith(("<!doctype", "<html")):
        return ""
    return " ".join(text.split())[:limit]
