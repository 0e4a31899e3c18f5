"""Planning and fetching an SSB selection for `bli sync ssb TABLE [--region ...] [--year ...
| --latest N] [--dry-run]` and the standard set; the command itself, which stores the
answer, is :mod:`bliatlas.sync` (this module imports neither the store nor the import).

A selection is asked of SSB's statistics bank (see :mod:`bliatlas.sources.ssb` for
endpoints, groupings, limits, cache and retries) and its JSON-stat answer parsed; the
command hands it to :func:`bliatlas.ingest.load_parsed`, which places the regions on the
2024 structure and writes one transaction. The same answer twice changes nothing.

Region selections: codes (``4650``, ``46``, ``0``), patterns (``46*``), codes of one of the
table's groupings (``K-4001`` in ``agg_KommSummer``), or a named selection read from the
table's metadata: ``alle-kommuner`` (today's municipalities, old codes summed by SSB),
``alle-fylker``, ``landet``. Each named selection is its own query. ``--dry-run`` reads the
metadata (from the cache when it is there) and prints the exact data requests without
sending any.

Tests replace the network with ``bliatlas.sources.ssb.transport_factory``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bliatlas.errors import InputError, UserError
from bliatlas.format import fmt_int
from bliatlas.sources.http import PlannedRequest, canonical_json
from bliatlas.sources.jsonstat import parse_jsonstat
from bliatlas.sources.records import ParsedSource
from bliatlas.sources.ssb import (
    DEFAULT_MAX_AGE,
    REGION_GROUPS,
    Query,
    SsbClient,
    TableMetadata,
    VarSelection,
)

SUB_ANNUAL_HINT = "--sub-annual keep"


def add_cache_arguments(q: argparse.ArgumentParser, name: str) -> None:
    q.add_argument("--cache-dir", metavar="MAPPE",
                   help=f"hurtigbuffer for svar (standard: $BLI_{name.upper()}_CACHE eller "
                   f"var/cache/{name})")
    q.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE / 3600, metavar="TIMER",
                   help="bruk svar fra hurtigbufferen som er yngre enn dette (standard 24)")


def check_max_age(hours: float) -> float:
    if hours < 0:
        raise UserError("--max-age må være 0 eller mer (timer)")
    return hours * 3600


def split_codes(raw: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for item in raw or []:
        out.extend(c.strip() for c in item.split(",") if c.strip())
    return out


@dataclass
class SsbSpec:
    """One table to fetch: what `bli sync ssb` and the standard set ask for."""

    table: str
    regions: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    latest: int | None = None
    select: list[str] = field(default_factory=list)
    sub_annual: str = "error"
    # what the refusal of quarterly/monthly periods recommends, as the command spells it
    sub_annual_hint: str = SUB_ANNUAL_HINT


@dataclass
class SsbPlan:
    meta: TableMetadata
    queries: list[Query]
    notes: list[str]
    requests: list[PlannedRequest]


def plan_ssb(client: SsbClient, spec: SsbSpec, current: dict[str, set[str]]) -> SsbPlan:
    """Read the metadata and build the queries (one per named region selection)."""
    meta = client.metadata(spec.table)
    base: dict[str, Sequence[str] | VarSelection] = {}
    for item in spec.select:
        name, sep, codes = item.partition("=")
        if not sep or not name.strip() or not split_codes([codes]):
            raise UserError(
                f"--select {item!r}: forventet VARIABEL=KODE[,KODE...], f.eks. Kjonn=1,2"
            )
        base[meta.variable(name.strip()).code] = split_codes([codes])
    time_var = meta.time_variable
    if spec.latest is not None:
        if spec.years:
            raise UserError("bruk enten --year eller --latest, ikke begge")
        base[time_var.code] = client.latest(meta, spec.latest)
    elif spec.years:
        base[time_var.code] = spec.years

    region_var = meta.region_variable_or_none
    regions = split_codes(spec.regions)
    notes: list[str] = []
    region_sels: list[Sequence[str] | VarSelection] = []
    if region_var is None:
        if regions:
            raise UserError(
                f"tabell {meta.table_id} har ingen regionvariabel (Region eller "
                "KOKkommuneregion0000): den gjelder hele landet, så utelat --region"
            )
        notes.append(f"tabell {meta.table_id} har ingen regionvariabel; tallene gjelder "
                     "hele landet")
        region_sels = [()]
    else:
        if not regions:
            raise UserError(
                f"tabell {meta.table_id} har regionvariabelen {region_var.code}: velg regioner "
                "med --region, f.eks. --region alle-kommuner eller --region 4650"
            )
        plain = [r for r in regions if r not in REGION_GROUPS]
        for name in dict.fromkeys(r for r in regions if r in REGION_GROUPS):
            level = REGION_GROUPS[name][0]
            codes = current.get(level, set())
            sel, why = client.region_group(meta, name, codes)
            region_sels.append(sel)
            notes.append(why)
        if plain:
            region_sels.append(plain)
    queries = []
    for region_sel in region_sels:
        selection = dict(base)
        if region_var is not None:
            selection[region_var.code] = region_sel
        query = client.build_query(meta, selection)
        notes.extend(query.notes)
        queries.extend(client.plan(query))
    return SsbPlan(meta, queries, notes, [client.data_request(q) for q in queries])


@dataclass
class SsbFetched:
    parsed: ParsedSource
    content_sha256: str
    n_queries: int


def fetch_ssb(client: SsbClient, spec: SsbSpec, plan: SsbPlan) -> SsbFetched:
    """Send the planned queries and parse the answers into one source."""
    source = f"SSB-tabell {plan.meta.table_id}"
    region = "none" if plan.meta.region_variable_or_none is None else "required"
    digest = hashlib.sha256()
    merged: ParsedSource | None = None
    n_docs = 0
    for query in plan.queries:
        result = client.fetch(plan.meta.table_id, query)
        for doc in result.documents:
            check_answer_shape(doc, query, source)
            digest.update(canonical_json(doc).encode("utf-8"))
            parsed = parse_jsonstat(doc, source, sub_annual=spec.sub_annual,
                                    sub_annual_hint=spec.sub_annual_hint, region=region)
            n_docs += 1
            if merged is None:
                merged = parsed
            else:
                merged.observations.extend(parsed.observations)
                merged.aside.extend(parsed.aside)
    assert merged is not None
    merged.notes.append(f"hentet fra {client.data_url(plan.meta.table_id)} i {n_docs} "
                        "spørring(er)")
    merged.notes.extend(plan.notes)
    return SsbFetched(merged, digest.hexdigest(), n_docs)


def check_answer_shape(doc: dict[str, Any], query: Query, source: str) -> None:
    """An answer must carry the variables the query asked for (a renamed or missing
    dimension means SSB changed the table); refuse before anything is stored."""
    ids = doc.get("id")
    if not isinstance(ids, list):
        return                       # the parser reports the malformed document
    missing = [code for code in query.selections if code not in ids]
    if missing:
        extra = [i for i in ids if i not in query.selections]
        raise InputError(
            source,
            f"svaret mangler variabelen {', '.join(missing)} som spørringen ba om"
            + (f" (svaret har i stedet {', '.join(extra)})" if extra else "")
            + "; tabellens format er endret hos SSB",
            column=f"dimension.{missing[0]}",
        )


def print_plan(plan: SsbPlan, client: SsbClient, out=None) -> None:
    out = out or sys.stdout
    print(f"Tørrkjøring: ingen dataspørring er sendt til SSB (metadata: {client.requests} "
          f"forespørsler, {client.cache_hits} fra hurtigbufferen {client.cache_dir}).", file=out)
    for note in plan.notes:
        print(note, file=out)
    for i, (req, query) in enumerate(zip(plan.requests, plan.queries, strict=True), start=1):
        print(f"\nSpørring {i} av {len(plan.requests)} ({fmt_int(query.cells)} celler):",
              file=out)
        print(req.describe(), file=out)


