"""A client for SSB's statistics bank API (PxWebApi v1 under ``/api/v0/`` and PxWebApi v2).

What SSB documents (API user guide at ssb.no/api, "API mot statistikkbanken –
brukerveiledning"; the PxWebApi 2 OpenAPI description in github.com/PxTools/PxApiSpecs):

* **PxWebApi v1** (``--api v0``, the default), ``https://data.ssb.no/api/v0/{lang}/table/{id}``:
  ``GET`` gives the variables (``code``, ``text``, ``values``, ``valueTexts``,
  ``elimination``, ``time``); ``POST`` a query
  ``{"query": [{"code": V, "selection": {"filter": F, "values": [...]}}],
  "response": {"format": "json-stat2"}}`` gives the data. Filters: ``item`` (listed codes),
  ``top`` (the last N periods, ``values: ["N"]``), ``all`` (``["*"]``), and the table's
  groupings: ``agg:<id>`` (aggregated, e.g. old municipalities summed into today's),
  ``agg_single:<id>`` (the grouping's single values) and ``vs:<id>`` (a value set).
* **PxWebApi v2** (``--api v2``), ``https://data.ssb.no/api/pxwebapi/v2/``:
  ``GET tables/{id}/metadata?lang=no`` gives the metadata as JSON-stat 2.0, each
  dimension's groupings listed in ``extension.codelists`` (``id``, ``label``, ``type``
  ``Aggregation``/``Valueset``); ``GET codelists/{id}`` gives a grouping's values and
  their ``valueMap`` (the table codes each value stands for). Data is fetched with
  ``GET tables/{id}/data?lang=no&outputFormat=json-stat2&valueCodes[V]=...`` plus
  ``codelist[V]=<id>`` and ``outputValues[V]=aggregated|single`` for a grouping;
  ``valueCodes`` may be ``top(N)`` or ``*``. A URL longer than 2 000 characters is sent as
  ``POST`` with ``{"selection": [{"variableCode", "valueCodes", "codelist"}]}`` instead.
* **Groupings are read from the table's metadata**, never typed in: the v2 metadata lists
  them (for the v1 API the same ids are used with the ``agg:``/``vs:`` filters, since the
  v1 metadata does not list them). Named region selections (``alle-kommuner``,
  ``alle-fylker``, ``landet``) pick, among the table's groupings, the one whose values
  cover today's municipalities (counties) best: the series then comes back on the
  current structure for every year, with the old codes summed by SSB.
* **Limits**: 800,000 data cells per extract; 30 queries per 60 s per IP address. The
  client counts cells and splits larger selections; should SSB still find the extract
  too large (v1 answers HTTP 403, v2 HTTP 400 with a message about cells) the query is
  halved and sent again. The rate limiter counts every request, metadata included.
* Licence: SSB publishes the API and its data under CC BY 4.0.

Cache, retries and rate limit come from :mod:`bliatlas.sources.http`. Tests never touch
the network: pass ``transport=httpx.MockTransport(...)`` to :class:`SsbClient`, or set
:data:`transport_factory`; ``clock`` and ``sleep`` are injectable too (arguments, or
:data:`default_clock` / :data:`default_sleep`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bliatlas import settings
from bliatlas.errors import CellLimitExceeded, NotFound, SsbApiError, UserError
from bliatlas.format import fmt_int
from bliatlas.sources.http import (
    DEFAULT_MAX_AGE,
    PlannedRequest,
    PublisherClient,
    PublisherError,
    RateLimiter,
    canonical_json,
    client_wiring,
    error_detail,
)
from bliatlas.sources.jsonstat import parse_jsonstat
from bliatlas.sources.records import ParsedSource

__all__ = [
    "BASE_URL",
    "DEFAULT_MAX_AGE",
    "MAX_CELLS",
    "RATE_LIMIT",
    "RATE_PERIOD",
    "Codelist",
    "FetchResult",
    "RateLimiter",
    "SsbApiError",
    "SsbClient",
    "TableMetadata",
    "VarSelection",
    "Variable",
    "canonical_json",
    "fetch_parsed",
    "split_selection",
]

BASE_URL = "https://data.ssb.no/api"
MAX_CELLS = 800_000          # SSB: cells per extract
RATE_LIMIT = 30              # SSB: queries ...
RATE_PERIOD = 60.0           # ... per 60 seconds, per IP address
MAX_GET_URL = 2000           # longer v2 data URLs are sent as POST
DEFAULT_CACHE_DIR = Path("var/cache/ssb")
USER_AGENT = "bliatlas/0.1 (Bli-atlas; https://data.ssb.no klient)"
SERVICE = "SSBs statistikkbank"
OFFLINE_HINT = ("Last ned tabellen som JSON-stat fra statistikkbanken (ssb.no/statbank) på en "
                "maskin med nett, og importer filen med `bli import FIL.json`.")

# Named region selections: name → (level, Norwegian description).
REGION_GROUPS: dict[str, tuple[str, str]] = {
    "alle-kommuner": ("kommune", "alle kommuner på dagens kommuneinndeling"),
    "alle-fylker": ("fylke", "alle fylker på dagens fylkesinndeling"),
    "landet": ("land", "hele landet"),
}
_GROUP_WORDS = {"kommune": ("komm",), "fylke": ("fylk",), "land": ("land",)}
_NATIONAL_CODES = ("0", "EAK", "F-0", "K-0")

# Set by tests (or a user who routes requests elsewhere): a callable returning the httpx
# transport every new SsbClient uses when none is passed explicitly.
transport_factory: Callable[[], httpx.BaseTransport] | None = None
# The clock and sleep a new SsbClient uses when none is passed (tests replace them).
default_clock: Callable[[], float] = time.monotonic
default_sleep: Callable[[float], None] = time.sleep


# -- metadata --------------------------------------------------------------------------


@dataclass(frozen=True)
class CodelistInfo:
    """A grouping as the v2 metadata lists it."""

    id: str
    label: str
    type: str                  # "Aggregation" | "Valueset"


@dataclass(frozen=True)
class CodelistValue:
    code: str
    label: str
    value_map: tuple[str, ...]


@dataclass(frozen=True)
class Codelist:
    id: str
    label: str
    type: str
    values: tuple[CodelistValue, ...]

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.values]


@dataclass(frozen=True)
class Variable:
    code: str
    label: str
    values: list[str]
    value_labels: list[str]
    elimination: bool
    time: bool
    geo: bool = False
    codelists: tuple[CodelistInfo, ...] = ()


def is_region_code(code: str) -> bool:
    """A variable code SSB uses for regions: ``Region``, or KOSTRA's ``KOKkommuneregion0000``
    (and ``KOKfylkesregion…``, ``KOKbydelsregion…``)."""
    low = code.lower()
    return low == "region" or bool(re.fullmatch(r"kok\w*region\d*", low))


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
    def region_variable_or_none(self) -> Variable | None:
        for v in self.variables:
            if v.geo:
                return v
        for v in self.variables:
            if is_region_code(v.code):
                return v
        return None

    @property
    def region_variable(self) -> Variable:
        var = self.region_variable_or_none
        if var is None:
            raise UserError(
                f"tabell {self.table_id} har ingen regionvariabel (Region eller KOSTRAs "
                "KOKkommuneregion0000); tabellen gjelder hele landet, så utelat --region"
            )
        return var

    @property
    def time_variable(self) -> Variable:
        for v in self.variables:
            if v.time or v.code.lower() == "tid":
                return v
        raise UserError(f"tabell {self.table_id} har ingen tidsvariabel (Tid)")


# -- selections ------------------------------------------------------------------------


@dataclass(frozen=True)
class VarSelection:
    """What to ask for one variable.

    ``filter`` is ``item`` (the listed table codes), ``top`` (the last ``top`` periods),
    ``agg`` / ``agg_single`` / ``vs`` (values of the grouping ``codelist``). ``values`` are
    always the explicit codes (for ``top`` the periods it stands for), so cells can be
    counted and a query split; ``whole`` says the values are the whole grouping.
    """

    code: str
    values: tuple[str, ...]
    filter: str = "item"
    codelist: str | None = None
    top: int | None = None
    whole: bool = False

    def __post_init__(self) -> None:
        if self.filter not in ("item", "top", "agg", "agg_single", "vs"):
            raise ValueError(f"unknown filter {self.filter!r}")

    @property
    def count(self) -> int:
        return len(self.values)

    def subset(self, values: Sequence[str]) -> VarSelection:
        """The same selection for part of the values (a split query)."""
        values = tuple(values)
        if values == self.values:
            return self
        if self.filter == "top":
            return VarSelection(self.code, values)
        return replace(self, values=values, whole=False)

    # v1 body ---------------------------------------------------------------------------
    def v0(self) -> dict[str, Any]:
        if self.filter == "top":
            return {"code": self.code, "selection": {"filter": "top", "values": [str(self.top)]}}
        if self.filter == "item":
            flt = "item"
        else:
            assert self.codelist is not None
            name = self.codelist.split("_", 1)[1] if "_" in self.codelist else self.codelist
            flt = {"agg": "agg:", "agg_single": "agg_single:", "vs": "vs:"}[self.filter] + name
        return {"code": self.code, "selection": {"filter": flt, "values": list(self.values)}}

    # v2 parameters -----------------------------------------------------------------------
    def v2_value_codes(self) -> str:
        if self.filter == "top":
            return f"top({self.top})"
        if self.whole:
            return "*"
        return ",".join(self.values)

    def v2_output_values(self) -> str | None:
        if self.filter == "agg":
            return "aggregated"
        if self.filter in ("agg_single", "vs") and self.codelist:
            return "single"
        return None


@dataclass
class Query:
    """A complete, checked selection for one table, variables in the table's order."""

    table_id: str
    selections: dict[str, VarSelection]
    notes: list[str] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return math.prod(s.count for s in self.selections.values())

    def as_lists(self) -> dict[str, list[str]]:
        return {k: list(s.values) for k, s in self.selections.items()}


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


def split_query(query: Query, max_cells: int) -> list[Query]:
    """``query`` as parts of at most ``max_cells`` cells (see :func:`split_selection`)."""
    parts = split_selection(query.as_lists(), max_cells)
    if len(parts) == 1:
        return [query]
    return [
        Query(query.table_id, {k: query.selections[k].subset(v) for k, v in part.items()},
              query.notes)
        for part in parts
    ]


@dataclass
class FetchResult:
    """What one table fetch returned: the JSON-stat documents, in query order."""

    table_id: str
    documents: list[dict[str, Any]]
    queries: list[dict[str, list[str]]]
    requests: int = 0             # HTTP requests actually sent (retries included)
    cache_hits: int = 0
    cells: int = 0
    planned: list[PlannedRequest] = field(default_factory=list)

    @property
    def content_sha256(self) -> str:
        """Hash of the documents' canonical JSON: same answer from SSB → same hash."""
        h = hashlib.sha256()
        for doc in self.documents:
            h.update(canonical_json(doc).encode("utf-8"))
        return h.hexdigest()


# -- client ----------------------------------------------------------------------------


class SsbClient(PublisherClient):
    """Query SSB tables; see the module docstring for endpoints, limits and caching.

    ``http_options`` go to :class:`~bliatlas.sources.http.CachedHttp` (``max_age``,
    ``timeout``, ``max_retries``, ``backoff``, ``max_backoff``, ``rate_limit``,
    ``rate_period``, ``now``); the rate limit is SSB's 30 per 60 s unless given.
    """

    def __init__(
        self,
        *,
        api: str = "v0",
        lang: str = "no",
        base_url: str = BASE_URL,
        cache_dir: str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_cells: int = MAX_CELLS,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        **http_options: Any,
    ) -> None:
        if api not in ("v0", "v2"):
            raise UserError(f"ukjent API-versjon {api!r}; velg v0 (PxWebApi v1) eller v2")
        self.api = api
        self.lang = lang
        self.max_cells = max_cells
        super().__init__(
            service=SERVICE, base_url=base_url,
            cache_dir=cache_dir or settings.get().ssb_cache or DEFAULT_CACHE_DIR,
            user_agent=USER_AGENT, offline_hint=OFFLINE_HINT,
            **client_wiring(sys.modules[__name__], transport, clock, sleep, http_options,
                            RATE_LIMIT, RATE_PERIOD))
        self._codelists: dict[str, Codelist] = {}

    # -- URLs and bodies ---------------------------------------------------------------
    @property
    def v2_base(self) -> str:
        return f"{self.base_url}/pxwebapi/v2"

    def metadata_url(self, table_id: str, api: str | None = None) -> str:
        if (api or self.api) == "v0":
            return f"{self.base_url}/v0/{self.lang}/table/{table_id}"
        return f"{self.v2_base}/tables/{table_id}/metadata?lang={self.lang}"

    def codelist_url(self, codelist_id: str) -> str:
        return f"{self.v2_base}/codelists/{quote(codelist_id, safe='_-')}?lang={self.lang}"

    def data_url(self, table_id: str) -> str:
        if self.api == "v0":
            return f"{self.base_url}/v0/{self.lang}/table/{table_id}"
        return f"{self.v2_base}/tables/{table_id}/data?lang={self.lang}&outputFormat=json-stat2"

    def query_body(self, selection: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """The POST body SSB documents for this API version (item selections)."""
        query = Query("", {k: VarSelection(k, tuple(v)) for k, v in selection.items()})
        return self._v0_body(query) if self.api == "v0" else self._v2_body(query)

    @staticmethod
    def _v0_body(query: Query) -> dict[str, Any]:
        return {"query": [s.v0() for s in query.selections.values()],
                "response": {"format": "json-stat2"}}

    @staticmethod
    def _v2_body(query: Query) -> dict[str, Any]:
        out = []
        for s in query.selections.values():
            entry: dict[str, Any] = {"variableCode": s.code,
                                     "valueCodes": [s.v2_value_codes()] if s.filter == "top"
                                     or s.whole else list(s.values)}
            if s.codelist:
                entry["codelist"] = s.codelist
            out.append(entry)
        return {"selection": out}

    def data_request(self, query: Query) -> PlannedRequest:
        """The exact HTTP request for one (already split) query."""
        url = self.data_url(query.table_id)
        if self.api == "v0":
            return PlannedRequest("POST", url, self._v0_body(query))
        params = []
        for s in query.selections.values():
            params.append(f"valueCodes[{s.code}]={quote(s.v2_value_codes(), safe=',*()-_.:~')}")
            if s.codelist:
                params.append(f"codelist[{s.code}]={quote(s.codelist, safe='_-')}")
            out_values = s.v2_output_values()
            if out_values:
                params.append(f"outputValues[{s.code}]={out_values}")
        get_url = url + "&" + "&".join(params) if params else url
        if len(get_url) <= MAX_GET_URL:
            return PlannedRequest("GET", get_url)
        post_params = [p for p in params if p.startswith("outputValues[")]
        post_url = url + ("&" + "&".join(post_params) if post_params else "")
        return PlannedRequest("POST", post_url, self._v2_body(query))

    # -- metadata ------------------------------------------------------------------------
    def metadata(self, table_id: str) -> TableMetadata:
        """The table's variables and their codes (cached like data)."""
        table_id = check_table_id(table_id)
        doc = self._json(PlannedRequest("GET", self.metadata_url(table_id), purpose="metadata"),
                         table_id, "meta")
        return parse_metadata(doc, table_id, self.api)

    def table_codelists(self, table_id: str) -> dict[str, tuple[CodelistInfo, ...]]:
        """The groupings of each variable, from the v2 metadata (also for ``--api v0``)."""
        table_id = check_table_id(table_id)
        doc = self._json(PlannedRequest("GET", self.metadata_url(table_id, "v2"),
                                        purpose="metadata"), table_id, "meta")
        meta = parse_metadata(doc, table_id, "v2")
        return {v.code: v.codelists for v in meta.variables}

    def codelist(self, codelist_id: str) -> Codelist:
        """A grouping's values and the table codes each one stands for."""
        if codelist_id not in self._codelists:
            doc = self._json(PlannedRequest("GET", self.codelist_url(codelist_id),
                                            purpose="kodeliste"),
                             f"kodeliste {codelist_id}", "codelist",
                             prefix=f"codelist-{_safe(codelist_id)}")
            self._codelists[codelist_id] = parse_codelist(doc, codelist_id)
        return self._codelists[codelist_id]

    # -- selections --------------------------------------------------------------------
    def resolve_selection(
        self, meta: TableMetadata, selection: Mapping[str, Sequence[str]]
    ) -> dict[str, list[str]]:
        """Check codes against the metadata and make an item selection explicit.

        Every named variable must exist and every code must be one of its values. A
        code with ``*`` or ``?`` is a pattern expanded against the table's codes
        (``46*`` → ``46`` and every ``46xx``). For the region variable, a plain code
        also matches SSB's prefixed forms (``4650`` → ``K-4650``, ``46`` → ``F-46``) when
        the table uses those. Variables not named are eliminated when SSB allows it,
        otherwise all their values are selected. Order follows the table's variables.
        """
        return self.build_query(meta, selection).as_lists()

    def build_query(
        self,
        meta: TableMetadata,
        selection: Mapping[str, Sequence[str] | VarSelection],
    ) -> Query:
        """A checked :class:`Query`: lists of codes become ``item`` selections (patterns
        and prefixed region codes resolved); a :class:`VarSelection` is taken as given;
        unnamed variables are eliminated where SSB allows it, else all values are asked."""
        named: dict[str, Sequence[str] | VarSelection] = {
            meta.variable(code).code: values for code, values in selection.items()
        }
        region = meta.region_variable_or_none
        resolved: dict[str, VarSelection] = {}
        notes: list[str] = []
        for var in meta.variables:
            if var.code in named:
                wanted = named[var.code]
                if isinstance(wanted, VarSelection):
                    resolved[var.code] = wanted
                    continue
                values, unknown = _match_codes(var, wanted)
                if unknown and region is not None and var.code == region.code:
                    grouped = self._codes_in_groupings(meta, var, unknown)
                    if grouped is not None:
                        if values:
                            raise UserError(
                                f"tabell {meta.table_id}: {', '.join(unknown)} finnes bare i "
                                f"grupperingen {grouped.codelist}, ikke blant tabellens egne "
                                "koder; bland ikke de to i samme --region"
                            )
                        resolved[var.code] = grouped
                        notes.append(f"{', '.join(unknown)}: fra grupperingen {grouped.codelist}")
                        continue
                if unknown:
                    sample = ", ".join(var.values[:8]) + (" …" if len(var.values) > 8 else "")
                    raise UserError(
                        f"tabell {meta.table_id}, variabel {var.code} ({var.label}): ukjent "
                        f"kode {', '.join(unknown)}; gyldige koder er f.eks. {sample}"
                    )
                if not values:
                    raise UserError(f"tabell {meta.table_id}: ingen verdier valgt for {var.code}")
                resolved[var.code] = VarSelection(var.code, tuple(values))
            elif not var.elimination:
                resolved[var.code] = VarSelection(var.code, tuple(var.values))
        return Query(meta.table_id, resolved, notes)

    def latest(self, meta: TableMetadata, n: int) -> VarSelection:
        """The last ``n`` periods of the table, asked for as SSB's ``top``."""
        if n < 1:
            raise UserError("--latest må være minst 1")
        var = meta.time_variable
        return VarSelection(var.code, tuple(var.values[-n:]), filter="top", top=n)

    def _codes_in_groupings(self, meta: TableMetadata, var: Variable,
                            codes: Sequence[str]) -> VarSelection | None:
        """``codes`` as values of one of the table's groupings (e.g. ``K-4001`` in
        ``agg_KommSummer``), or None if no grouping has them all."""
        infos = self._variable_codelists(meta, var)
        for info in infos:
            cl = self.codelist(info.id)
            known = set(cl.codes)
            found = []
            for code in codes:
                hits = [c for c in cl.codes if fnmatch.fnmatchcase(c, code)] if (
                    "*" in code or "?" in code) else [c for c in (code, "K-" + code,
                                                                  "F-" + code) if c in known][:1]
                if not hits:
                    break
                found.extend(hits)
            else:
                flt = "agg" if info.type.lower() == "aggregation" else "vs"
                return VarSelection(var.code, tuple(dict.fromkeys(found)), filter=flt,
                                    codelist=info.id)
        return None

    def _variable_codelists(self, meta: TableMetadata, var: Variable) -> tuple[CodelistInfo, ...]:
        if var.codelists:
            return var.codelists
        return self.table_codelists(meta.table_id).get(var.code, ())

    def region_group(
        self,
        meta: TableMetadata,
        name: str,
        current: Collection[str],
    ) -> tuple[VarSelection, str]:
        """The region selection for a named group (``alle-kommuner`` …) and a Norwegian
        sentence saying which grouping was chosen and why.

        ``current`` are today's codes at that level (the registry's 357 municipalities or
        15 counties; unused for ``landet``). Among the table's groupings whose id or label
        speaks of that level, the one covering most of ``current`` wins (ties: the one
        that maps more table codes, i.e. sums more old codes into today's); without a
        suitable grouping the table's own codes are used if they already are today's.
        """
        if name not in REGION_GROUPS:
            raise UserError(f"ukjent regionutvalg {name!r}; velg {', '.join(REGION_GROUPS)}")
        level, described = REGION_GROUPS[name]
        var = meta.region_variable
        if level == "land":
            for code in _NATIONAL_CODES:
                if code in var.values:
                    return (VarSelection(var.code, (code,)),
                            f"«{name}»: tabellens kode {code} ({described})")
        current = {str(c) for c in current}
        if level != "land" and not current:
            raise UserError(
                f"regionutvalget «{name}» trenger regionregisteret (dagens kommuner og "
                "fylker); importer det først med `bli import ../shared/data`"
            )
        words = _GROUP_WORDS[level]
        best: tuple[tuple[int, int, int], Codelist] | None = None
        for info in self._variable_codelists(meta, var):
            text = f"{info.id} {info.label}".lower()
            if not any(w in text for w in words):
                continue
            cl = self.codelist(info.id)
            codes = [_bare(c) for c in cl.codes]
            if level == "land":
                score = (int(any(c in ("0", "EAK") for c in codes) and len(codes) == 1), 0, 0)
            else:
                hits = sum(c in current for c in codes)
                score = (hits, sum(len(v.value_map) for v in cl.values), -(len(codes) - hits))
            if score[0] and (best is None or score > best[0]):
                best = (score, cl)
        if best is not None:
            (hits, mapped, _), cl = best
            if level == "land" or hits >= 0.9 * len(current):
                flt = "agg" if cl.type.lower() == "aggregation" else "vs"
                sel = VarSelection(var.code, tuple(cl.codes), filter=flt, codelist=cl.id,
                                   whole=True)
                if level == "land":
                    why = f"«{name}»: grupperingen {cl.id} («{cl.label}»)"
                else:
                    why = (f"«{name}»: grupperingen {cl.id} («{cl.label}») fra tabellens "
                           f"metadata, {hits} av {len(current)} regioner på dagens inndeling"
                           + (f", summert fra {mapped} tabellkoder" if flt == "agg" else ""))
                return sel, why
        own = [c for c in var.values if _bare(c) in current]
        if level != "land" and len(own) >= 0.9 * len(current):
            why = (f"«{name}»: tabellens egne koder ({len(own)} av {len(current)} regioner på "
                   "dagens inndeling; tabellen har ingen gruppering for dem)")
            return VarSelection(var.code, tuple(own)), why
        offered = ", ".join(i.id for i in self._variable_codelists(meta, var)) or "ingen"
        raise UserError(
            f"tabell {meta.table_id}: fant ingen gruppering eller egne koder som gir "
            f"{described}; tabellens grupperinger: {offered}"
        )

    # -- fetching ------------------------------------------------------------------------
    def plan(self, query: Query) -> list[Query]:
        return split_query(query, self.max_cells)

    def fetch(
        self,
        table_id: str,
        selection: Mapping[str, Sequence[str] | VarSelection] | Query,
        meta: TableMetadata | None = None,
        *,
        dry_run: bool = False,
    ) -> FetchResult:
        """Fetch a selection from the table, split to respect the cell limit.

        ``meta`` is the table's metadata if the caller already has it. With
        ``dry_run`` the data requests are planned (``FetchResult.planned``) but not sent.
        """
        table_id = check_table_id(table_id)
        start_requests, start_hits = self.requests, self.cache_hits
        if isinstance(selection, Query):
            query = selection
        else:
            if meta is None or meta.table_id != table_id:
                meta = self.metadata(table_id)
            query = self.build_query(meta, selection)
        parts = self.plan(query)
        planned = [self.data_request(q) for q in parts]
        docs: list[dict[str, Any]] = []
        if not dry_run:
            for part in parts:
                docs.extend(self._fetch_part(part))
        return FetchResult(
            table_id=table_id,
            documents=docs,
            queries=[q.as_lists() for q in parts],
            requests=self.requests - start_requests,
            cache_hits=self.cache_hits - start_hits,
            cells=query.cells,
            planned=planned,
        )

    def _fetch_part(self, query: Query, depth: int = 0) -> list[dict[str, Any]]:
        try:
            return [self._json(self.data_request(query), query.table_id, "data")]
        except CellLimitExceeded:
            if query.cells <= 1 or depth >= 12:
                raise
            halves = split_query(query, max(1, query.cells // 2))
            return [doc for half in halves for doc in self._fetch_part(half, depth + 1)]

    # -- HTTP ------------------------------------------------------------------------------
    def _json(self, request: PlannedRequest, what: str, kind: str,
              prefix: str | None = None) -> dict[str, Any]:
        label = what if what.startswith("kodeliste") else f"SSB-tabell {what}"

        def check(data: bytes) -> dict[str, Any]:
            return _json_object(data, label)

        def refusal(response: httpx.Response) -> Exception:
            return self._refusal(response, label)

        try:
            _, doc = self.http.fetch(request, prefix=prefix or what, kind=kind, ext="json",
                                     refusal=refusal, check=check, label=label,
                                     extra={"api": self.api, "lang": self.lang})
        except PublisherError as exc:
            if type(exc) is PublisherError:     # retries used up: say it as SSB's error
                raise SsbApiError(str(exc)) from None
            raise
        return doc

    def _refusal(self, response: httpx.Response, label: str) -> UserError:
        """SSB's refusal as the error users see. v1 answers a too large extract with
        HTTP 403 (plain text), v2 with HTTP 400 (problem+json whose detail speaks of cells);
        both become :class:`CellLimitExceeded`, which :meth:`fetch` answers by halving."""
        detail = error_detail(response)
        status = response.status_code
        suffix = f". {detail}" if detail else ""
        if status == 404:
            return NotFound(f"fant ikke {label.replace('SSB-tabell', 'tabell')} hos SSB "
                            f"(HTTP 404){suffix}")
        low = detail.lower()
        about_cells = any(w in low for w in ("cell", "celle", "too many", "for mange",
                                             "too large", "for stor"))
        if status == 403 or (status == 400 and about_cells):
            limit = fmt_int(MAX_CELLS)
            return CellLimitExceeded(
                f"{label}: SSB avviste spørringen (HTTP {status}) – for mange celler "
                f"(grensen er {limit} per uttrekk){suffix}"
            )
        return SsbApiError(f"{label}: SSB avviste spørringen (HTTP {status}){suffix}")


def _json_object(data: bytes, label: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise SsbApiError(f"{label}: svaret er for dypt nøstet JSON") from None
    except (UnicodeDecodeError, ValueError):
        head = data[:80].decode("utf-8", "replace")
        raise SsbApiError(
            f"{label}: svaret er ikke gyldig JSON (begynner med {head!r})"
        ) from None
    if not isinstance(doc, dict):
        raise SsbApiError(f"{label}: forventet et JSON-objekt i svaret")
    return doc


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _bare(code: str) -> str:
    """``K-4001`` → ``4001``, ``F-46`` → ``46``, KOSTRA's ``EKA46`` → ``46``; other codes
    unchanged."""
    m = re.fullmatch(r"(?:[KF]-?|EKA)(\d+)", code)
    return m.group(1) if m else code


def _match_codes(var: Variable, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The table codes ``wanted`` names (patterns expanded), and those that match nothing."""
    known = set(var.values)
    is_region = var.geo or is_region_code(var.code)
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
        geo_ids = set(role.get("geo") or [])
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
            codelists = tuple(
                CodelistInfo(str(c["id"]), str(c.get("label", c["id"])),
                             str(c.get("type", "")))
                for c in ext.get("codelists") or [] if isinstance(c, Mapping) and "id" in c
            )
            variables.append(
                Variable(
                    code=str(code),
                    label=str(dim.get("label", code)),
                    values=codes,
                    value_labels=[str(labels.get(c, c)) for c in codes],
                    elimination=bool(ext.get("elimination", False)),
                    time=code in time_ids,
                    geo=code in geo_ids,
                    codelists=codelists,
                )
            )
        return TableMetadata(table_id, str(doc.get("label", table_id)), variables)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SsbApiError(
            f"SSB-tabell {table_id}: uventet form på metadata ({exc.__class__.__name__}: {exc})"
        ) from None


def parse_codelist(doc: Mapping[str, Any], codelist_id: str) -> Codelist:
    """A PxWebApi v2 codelist: ``id``, ``label``, ``type``, ``values`` with ``valueMap``."""
    try:
        values = tuple(
            CodelistValue(str(v["code"]), str(v.get("label", v["code"])),
                          tuple(str(x) for x in v.get("valueMap") or []))
            for v in doc["values"]
        )
        return Codelist(str(doc.get("id", codelist_id)), str(doc.get("label", codelist_id)),
                        str(doc.get("type", "")), values)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SsbApiError(
            f"kodeliste {codelist_id}: uventet form ({exc.__class__.__name__}: {exc}); "
            "forventet 'values' med 'code', 'label' og 'valueMap'"
        ) from None


def fetch_parsed(
    client: SsbClient,
    table_id: str,
    selection: Mapping[str, Sequence[str] | VarSelection] | Query,
    *,
    sub_annual: str = "error",
    meta: TableMetadata | None = None,
    sub_annual_hint: str = "--sub-annual keep",
) -> tuple[ParsedSource, FetchResult]:
    """Fetch and parse a selection; the parts of a split query become one source."""
    result = client.fetch(table_id, selection, meta=meta)
    source = f"SSB-tabell {result.table_id}"
    merged: ParsedSource | None = None
    for doc in result.documents:
        parsed = parse_jsonstat(doc, source, sub_annual=sub_annual,
                                sub_annual_hint=sub_annual_hint)
        if merged is None:
            merged = parsed
        else:
            merged.observations.extend(parsed.observations)
            merged.aside.extend(parsed.aside)
    assert merged is not None  # split_selection always returns at least one query
    merged.notes.append(
        f"hentet fra {client.data_url(result.table_id)} i {len(result.queries)} spørring(er)"
    )
    return merged, result
