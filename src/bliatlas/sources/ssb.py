"""A client for SSB's statistics bank API (PxWebApi), returning JSON-stat 2.0.

What SSB documents (API user guide at ssb.no/api, "API mot statistikkbanken –
brukerveiledning", and the PxApiSpecs OpenAPI description):

* **PxWebApi v1**, served at ``https://data.ssb.no/api/v0/{lang}/table/{id}``: ``GET``
  returns the table's variables (``code``, ``text``, ``values``, ``valueTexts``,
  ``elimination``, ``time``); ``POST`` a query
  ``{"query": [{"code": V, "selection": {"filter": "item", "values": [...]}}],
  "response": {"format": "json-stat2"}}`` returns the data. This is the default here.
* **PxWebApi v2**, at ``https://data.ssb.no/api/pxwebapi/v2/``:
  ``GET tables/{id}/metadata?lang=no`` returns the metadata as JSON-stat 2.0, and
  ``POST tables/{id}/data?lang=no&outputFormat=json-stat2`` with
  ``{"selection": [{"variableCode": V, "valueCodes": [...]}]}`` returns the data.
  Choose it with ``api="v2"`` (``bli sync ssb --api v2``).
* **Limits** (both versions, per IP address, so colleagues behind one office address
  share them): at most **800,000 data cells per extract** and currently **30 queries
  per 60 seconds**. The client counts cells from the table metadata and splits a
  larger selection into several queries, and a sliding-window rate limiter keeps it
  under 30 requests (metadata requests included) in any 60 s.
* Licence: SSB publishes the API and its data under CC BY 4.0.

Other behaviour:

* Variables left out of a selection are *eliminated* (SSB sums them) when the table
  allows it (``elimination``), otherwise all their values are requested explicitly.
* Responses are cached on disk, keyed by the API version, language, table and the exact
  query, in ``cache_dir`` (default ``$BLI_SSB_CACHE`` or ``var/cache/ssb``); a cached
  answer younger than ``max_age`` seconds is used without a request.
* HTTP 429, 5xx, time-outs and connection errors are retried with exponential backoff
  (``backoff * 2**attempt`` seconds, capped, or the server's ``Retry-After`` if longer).
* Tests never touch the network: pass ``transport=httpx.MockTransport(...)`` to
  :class:`SsbClient`, or set the module attribute :data:`transport_factory` (used by
  ``bli sync ssb``) to a callable returning a transport. ``clock`` and ``sleep`` are
  injectable too (arguments, or the module attributes ``default_clock`` and
  ``default_sleep``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from bliatlas import settings
from bliatlas.errors import NotFound, UserError
from bliatlas.sources.jsonstat import parse_jsonstat
from bliatlas.sources.records import ParsedSource

BASE_URL = "https://data.ssb.no/api"
MAX_CELLS = 800_000          # SSB: cells per extract
RATE_LIMIT = 30              # SSB: queries ...
RATE_PERIOD = 60.0           # ... per 60 seconds, per IP address
DEFAULT_MAX_AGE = 24 * 3600.0
DEFAULT_CACHE_DIR = Path("var/cache/ssb")
RETRY_STATUSES = {429, 500, 502, 503, 504}
USER_AGENT = "bliatlas/0.1 (Bli-atlas; https://data.ssb.no klient)"

# Set by tests (or by a user who wants to route requests elsewhere): a callable returning
# the httpx transport every new SsbClient uses when none is passed explicitly.
transport_factory: Callable[[], httpx.BaseTransport] | None = None
# The clock and sleep a new SsbClient uses when none is passed (tests replace them).
default_clock: Callable[[], float] = time.monotonic
default_sleep: Callable[[float], None] = time.sleep


class SsbApiError(UserError):
    """SSB refused the query or did not answer; the message says which table and why."""


@dataclass(frozen=True)
class Variable:
    code: str
    label: str
    values: list[str]
    value_labels: list[str]
    elimination: bool
    time: bool


@dataclass(frozen=True)
class TableMetadata:
    table_id: str
    title: str
    variables: list[Variable]

    def variable(self, code: str) -> Variable:
        for v in self.variables:
            if v.code == code:
                return v
        for v in self.variables:
            if v.code.lower() == code.lower():
                return v
        known = ", ".join(v.code for v in self.variables)
        raise UserError(f"tabell {self.table_id} har ingen variabel {code!r} (har: {known})")

    @property
    def region_variable(self) -> Variable:
        for v in self.variables:
            if v.code.lower() == "region":
                return v
        raise UserError(f"tabell {self.table_id} har ingen regionvariabel (Region)")

    @property
    def time_variable(self) -> Variable:
        for v in self.variables:
            if v.time or v.code.lower() == "tid":
                return v
        raise UserError(f"tabell {self.table_id} har ingen tidsvariabel (Tid)")


@dataclass
class FetchResult:
    """What one table fetch returned: the JSON-stat documents, in query order."""

    table_id: str
    documents: list[dict[str, Any]]
    queries: list[dict[str, list[str]]]
    requests: int = 0             # HTTP requests actually sent (retries included)
    cache_hits: int = 0
    cells: int = 0

    @property
    def content_sha256(self) -> str:
        """Hash of the documents' canonical JSON: same answer from SSB → same hash."""
        h = hashlib.sha256()
        for doc in self.documents:
            h.update(canonical_json(doc).encode("utf-8"))
        return h.hexdigest()


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class RateLimiter:
    """At most ``limit`` calls in any window of ``period`` seconds (sliding window)."""

    def __init__(
        self,
        limit: int = RATE_LIMIT,
        period: float = RATE_PERIOD,
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


def split_selection(
    selection: Mapping[str, Sequence[str]], max_cells: int = MAX_CELLS
) -> list[dict[str, list[str]]]:
    """Split ``selection`` into queries of at most ``max_cells`` cells each.

    The variable with the most values is cut into consecutive runs; if a single value
    of it still leaves too many cells, the next largest variable is cut as well. The
    union of the parts is exactly the original selection, each cell once.
    """
    if max_cells < 1:
        raise ValueError("max_cells must be ≥ 1")
    sel = {k: list(v) for k, v in selection.items()}
    cells = math.prod(len(v) for v in sel.values())
    if cells <= max_cells:
        return [sel]
    var = max((k for k in sel if len(sel[k]) > 1), key=lambda k: len(sel[k]))
    rest = cells // len(sel[var])
    per_part = max(1, max_cells // rest)
    parts: list[dict[str, list[str]]] = []
    for start in range(0, len(sel[var]), per_part):
        parts.extend(split_selection({**sel, var: sel[var][start:start + per_part]}, max_cells))
    return parts


class SsbClient:
    """Query SSB tables; see the module docstring for endpoints, limits and caching."""

    def __init__(
        self,
        *,
        api: str = "v0",
        lang: str = "no",
        base_url: str = BASE_URL,
        cache_dir: str | os.PathLike[str] | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        max_cells: int = MAX_CELLS,
        rate_limit: int = RATE_LIMIT,
        rate_period: float = RATE_PERIOD,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if api not in ("v0", "v2"):
            raise UserError(f"ukjent API-versjon {api!r}; velg v0 (PxWebApi v1) eller v2")
        self.api = api
        self.lang = lang
        self.base_url = base_url.rstrip("/")
        if cache_dir is None:
            cache_dir = settings.get().ssb_cache or DEFAULT_CACHE_DIR
        self.cache_dir = Path(cache_dir)
        self.max_age = max_age
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_cells = max_cells
        self.sleep = sleep if sleep is not None else default_sleep
        self.now = now
        self.limiter = RateLimiter(
            rate_limit,
            rate_period,
            clock=clock if clock is not None else default_clock,
            sleep=self.sleep,
        )
        if transport is None and transport_factory is not None:
            transport = transport_factory()
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self.requests = 0
        self.cache_hits = 0

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs and bodies ---------------------------------------------------------------
    def metadata_url(self, table_id: str) -> str:
        if self.api == "v0":
            return f"{self.base_url}/v0/{self.lang}/table/{table_id}"
        return f"{self.base_url}/pxwebapi/v2/tables/{table_id}/metadata?lang={self.lang}"

    def data_url(self, table_id: str) -> str:
        if self.api == "v0":
            return f"{self.base_url}/v0/{self.lang}/table/{table_id}"
        return (
            f"{self.base_url}/pxwebapi/v2/tables/{table_id}/data"
            f"?lang={self.lang}&outputFormat=json-stat2"
        )

    def query_body(self, selection: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """The POST body SSB documents for this API version."""
        if self.api == "v0":
            return {
                "query": [
                    {"code": code, "selection": {"filter": "item", "values": list(values)}}
                    for code, values in selection.items()
                ],
                "response": {"format": "json-stat2"},
            }
        return {
            "selection": [
                {"variableCode": code, "valueCodes": list(values)}
                for code, values in selection.items()
            ]
        }

    # -- public operations -----------------------------------------------------------
    def metadata(self, table_id: str) -> TableMetadata:
        """The table's variables and their codes (cached like data)."""
        table_id = check_table_id(table_id)
        doc = self._request("GET", self.metadata_url(table_id), None, table_id, "meta")
        return parse_metadata(doc, table_id, self.api)

    def resolve_selection(
        self, meta: TableMetadata, selection: Mapping[str, Sequence[str]]
    ) -> dict[str, list[str]]:
        """Check codes against the metadata and make the selection explicit.

        Every named variable must exist and every code must be one of its values. A
        code with ``*`` or ``?`` is a pattern expanded against the table's codes
        (``46*`` → ``46`` and every ``46xx``). For the region variable, a plain code
        also matches SSB's prefixed forms (``4650`` → ``K-4650``, ``46`` → ``F-46``) when
        the table uses those. Variables not named are eliminated when SSB allows it,
        otherwise all their values are selected. Order follows the table's variables.
        """
        named = {meta.variable(code).code: list(values) for code, values in selection.items()}
        resolved: dict[str, list[str]] = {}
        for var in meta.variables:
            if var.code in named:
                values, unknown = _match_codes(var, named[var.code])
                if unknown:
                    sample = ", ".join(var.values[:8]) + (" …" if len(var.values) > 8 else "")
                    raise UserError(
                        f"tabell {meta.table_id}, variabel {var.code} ({var.label}): ukjent "
                        f"kode {', '.join(unknown)}; gyldige koder er f.eks. {sample}"
                    )
                if not values:
                    raise UserError(f"tabell {meta.table_id}: ingen verdier valgt for {var.code}")
                resolved[var.code] = values
            elif not var.elimination:
                resolved[var.code] = list(var.values)
        return resolved

    def fetch(
        self,
        table_id: str,
        selection: Mapping[str, Sequence[str]],
        meta: TableMetadata | None = None,
    ) -> FetchResult:
        """Fetch ``selection`` from the table, split to respect the cell limit.

        ``meta`` is the table's metadata if the caller already has it.
        """
        table_id = check_table_id(table_id)
        start_requests, start_hits = self.requests, self.cache_hits
        if meta is None or meta.table_id != table_id:
            meta = self.metadata(table_id)
        resolved = self.resolve_selection(meta, selection)
        queries = split_selection(resolved, self.max_cells)
        docs = [
            self._request("POST", self.data_url(table_id), self.query_body(q), table_id, "data")
            for q in queries
        ]
        return FetchResult(
            table_id=table_id,
            documents=docs,
            queries=queries,
            requests=self.requests - start_requests,
            cache_hits=self.cache_hits - start_hits,
            cells=math.prod(len(v) for v in resolved.values()),
        )

    # -- HTTP with cache, rate limit and retries -------------------------------------
    def cache_path(self, table_id: str, kind: str, url: str, body: object) -> Path:
        key = canonical_json({"api": self.api, "lang": self.lang, "url": url, "body": body})
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        return self.cache_dir / f"{table_id}-{kind}-{digest}.json"

    def _request(
        self, method: str, url: str, body: object, table_id: str, kind: str
    ) -> dict[str, Any]:
        path = self.cache_path(table_id, kind, url, body)
        if path.exists() and self.now() - path.stat().st_mtime <= self.max_age:
            try:
                cached = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                cached = None          # a damaged cache file is simply fetched again
            if isinstance(cached, dict):
                self.cache_hits += 1
                return cached
        text = self._send(method, url, body, table_id)
        try:
            doc = json.loads(text)
        except ValueError:
            raise SsbApiError(
                f"SSB-tabell {table_id}: svaret er ikke gyldig JSON (begynner med {text[:80]!r})"
            ) from None
        if not isinstance(doc, dict):
            raise SsbApiError(f"SSB-tabell {table_id}: forventet et JSON-objekt i svaret")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return doc

    def _send(self, method: str, url: str, body: object, table_id: str) -> str:
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            self.limiter.acquire()
            self.requests += 1
            retry_after = 0.0
            try:
                response = self._http.request(method, url, json=body)
            except httpx.TimeoutException:
                last_problem = "tidsavbrudd"
            except httpx.TransportError as exc:
                last_problem = f"nettverksfeil ({exc.__class__.__name__})"
            else:
                if response.status_code == 200:
                    return response.text
                if response.status_code not in RETRY_STATUSES:
                    raise self._refusal(response, table_id)
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
            if attempt == self.max_retries:
                break
            delay = min(self.max_backoff, self.backoff * 2**attempt)
            self.sleep(max(delay, retry_after))
        raise SsbApiError(
            f"SSB-tabell {table_id}: fikk ikke svar etter {self.max_retries + 1} forsøk "
            f"(siste feil: {last_problem}). SSB tillater {RATE_LIMIT} spørringer per "
            f"{RATE_PERIOD:.0f} sekunder per IP-adresse; prøv igjen senere"
        )

    @staticmethod
    def _refusal(response: httpx.Response, table_id: str) -> UserError:
        detail = response.text.strip().replace("\n", " ")[:200]
        if response.status_code == 404:
            return NotFound(f"fant ikke tabell {table_id} hos SSB (HTTP 404)")
        if response.status_code == 403:
            limit = f"{MAX_CELLS:,}".replace(",", " ")
            return SsbApiError(
                f"SSB-tabell {table_id}: SSB avviste spørringen (HTTP 403) – for mange celler "
                f"(grensen er {limit} per uttrekk) eller for mange spørringer. {detail}"
            )
        return SsbApiError(
            f"SSB-tabell {table_id}: SSB avviste spørringen (HTTP {response.status_code}). "
            f"{detail}"
        )


def _match_codes(var: Variable, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The table codes ``wanted`` names (patterns expanded), and those that match nothing."""
    known = set(var.values)
    is_region = var.code.lower() == "region"
    found: list[str] = []
    unknown: list[str] = []
    for code in wanted:
        if "*" in code or "?" in code:
            hits = [v for v in var.values if fnmatch.fnmatchcase(v, code)]
            if is_region and not hits:
                hits = [
                    v for v in var.values
                    if any(fnmatch.fnmatchcase(v, p + code) for p in ("K-", "F-", "K", "F"))
                ]
        elif code in known:
            hits = [code]
        elif is_region:
            hits = [p + code for p in ("K-", "F-", "K", "F") if p + code in known][:1]
        else:
            hits = []
        if hits:
            found.extend(hits)
        else:
            unknown.append(code)
    return list(dict.fromkeys(found)), unknown


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0


def check_table_id(table_id: str) -> str:
    table_id = str(table_id).strip()
    if not (len(table_id) == 5 and table_id.isdigit()):
        raise UserError(
            f"ugyldig tabellnummer {table_id!r}; SSB-tabeller har fem sifre, f.eks. 11607"
        )
    return table_id


def parse_metadata(doc: Mapping[str, Any], table_id: str, api: str) -> TableMetadata:
    """Read table metadata from PxWebApi v1 (``variables``) or v2 (JSON-stat 2.0)."""
    try:
        if api == "v0":
            variables = [
                Variable(
                    code=str(v["code"]),
                    label=str(v.get("text", v["code"])),
                    values=[str(x) for x in v["values"]],
                    value_labels=[str(x) for x in v.get("valueTexts", v["values"])],
                    elimination=bool(v.get("elimination", False)),
                    time=bool(v.get("time", False)),
                )
                for v in doc["variables"]
            ]
            return TableMetadata(table_id, str(doc.get("title", table_id)), variables)
        role = doc.get("role") or {}
        time_ids = set(role.get("time") or [])
        variables = []
        for code in doc["id"]:
            dim = doc["dimension"][code]
            cat = dim["category"]
            index = cat.get("index")
            if isinstance(index, Mapping):
                codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
            elif isinstance(index, list):
                codes = [str(c) for c in index]
            else:
                codes = list(cat.get("label", {}))
            labels = cat.get("label", {})
            ext = dim.get("extension") or {}
            variables.append(
                Variable(
                    code=str(code),
                    label=str(dim.get("label", code)),
                    values=codes,
                    value_labels=[str(labels.get(c, c)) for c in codes],
                    elimination=bool(ext.get("elimination", False)),
                    time=code in time_ids,
                )
            )
        return TableMetadata(table_id, str(doc.get("label", table_id)), variables)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SsbApiError(
            f"SSB-tabell {table_id}: uventet form på metadata ({exc.__class__.__name__}: {exc})"
        ) from None


def fetch_parsed(
    client: SsbClient,
    table_id: str,
    selection: Mapping[str, Sequence[str]],
    *,
    sub_annual: str = "error",
    meta: TableMetadata | None = None,
) -> tuple[ParsedSource, FetchResult]:
    """Fetch and parse a selection; the parts of a split query become one source."""
    result = client.fetch(table_id, selection, meta=meta)
    source = f"SSB-tabell {result.table_id}"
    merged: ParsedSource | None = None
    for doc in result.documents:
        parsed = parse_jsonstat(doc, source, sub_annual=sub_annual)
        if merged is None:
            merged = parsed
        else:
            merged.observations.extend(parsed.observations)
    assert merged is not None  # split_selection always returns at least one query
    merged.notes.append(
        f"hentet fra {client.data_url(result.table_id)} i {len(result.queries)} spørring(er)"
    )
    return merged, result
