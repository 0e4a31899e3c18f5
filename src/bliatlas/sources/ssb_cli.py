"""`bli sync ssb TABLE [--region ...] [--year ... | --latest N] [--dry-run]`, and the
`bli sync` command group (`bli sync imdi`, `bli sync standard` are added from
:mod:`bliatlas.sources.imdi_cli` and :mod:`bliatlas.sources.standard`).

The command asks SSB's statistics bank for the selection (see :mod:`bliatlas.sources.ssb`
for endpoints, groupings, limits, cache and retries), parses the JSON-stat answer and
hands it to :func:`bliatlas.ingest.load_parsed`, which places the regions on the 2024
structure and writes one transaction. The same answer twice changes nothing.

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
    RATE_LIMIT,
    RATE_PERIOD,
    REGION_GROUPS,
    Query,
    SsbClient,
    TableMetadata,
    VarSelection,
)

SUB_ANNUAL_HINT = "--sub-annual keep"


def add_commands(sub: argparse._SubParsersAction) -> None:
    from bliatlas.sources import imdi_cli, standard

    p = sub.add_parser("sync", help="hent statistikk direkte fra utgiveren (SSB, IMDi)")
    ssub = p.add_subparsers(dest="sync_command", metavar="KILDE")
    ssub.required = True
    q = ssub.add_parser(
        "ssb",
        help="hent en tabell fra SSBs statistikkbank (PxWebApi, JSON-stat 2.0)",
        description=(
            "Henter et utvalg fra en tabell i SSBs statistikkbank og lagrer det i databasen. "
            f"SSB tillater {RATE_LIMIT} spørringer per {RATE_PERIOD:.0f} sekunder og 800 000 "
            "celler per uttrekk; større utvalg deles opp automatisk. Svar lagres i en "
            "hurtigbuffer på disk."
        ),
    )
    q.add_argument("table", metavar="TABELL", help="tabellnummer, f.eks. 11607")
    q.add_argument(
        "--region", action="append", default=[], metavar="KODE",
        help="regionkode (4650, 46, 0), mønster (46* = fylket og kommunene), kode i en av "
        "tabellens grupperinger (K-4001) eller et navngitt utvalg: "
        + ", ".join(f"{k} ({v[1]})" for k, v in REGION_GROUPS.items())
        + "; kan gjentas eller kommaskilles. Utelates for landstabeller uten regionvariabel",
    )
    q.add_argument(
        "--year", action="append", metavar="ÅR",
        help="tidskode (2023, 2017-2023) eller mønster (20*); kan gjentas; uten: alle år",
    )
    q.add_argument("--latest", type=int, metavar="N",
                   help="bare de N siste periodene i tabellen (SSBs «top», i stedet for --year)")
    q.add_argument(
        "--select", action="append", default=[], metavar="VARIABEL=KODER",
        help="velg koder for en annen variabel, f.eks. Kjonn=1,2 (uten: alle, eller SSBs sum "
        "der tabellen tillater det)",
    )
    q.add_argument("--api", choices=["v0", "v2"], default="v0",
                   help="v0 = PxWebApi v1 (/api/v0/, standard) eller v2 (/api/pxwebapi/v2/)")
    add_cache_arguments(q, "ssb")
    q.add_argument(
        "--sub-annual", choices=["error", "keep"], default="error",
        help="kvartals- og månedstall: avvis (standard) eller behold med perioden som egen "
        "dimensjon",
    )
    q.add_argument("--dry-run", action="store_true",
                   help="vis de eksakte forespørslene uten å sende noen dataspørring")
    q.set_defaults(func=cmd_sync_ssb)
    imdi_cli.add_command(ssub)
    standard.add_command(ssub)


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


def current_regions(database: str | None) -> dict[str, set[str]]:
    """Today's municipality and county codes from the registry in the store (empty if the
    store does not exist yet)."""
    from bliatlas.regions.registry import Registry
    from bliatlas.store import database_path, open_store

    if not database_path(database).exists():
        return {}
    store = open_store(database, read_only=True)
    try:
        reg = Registry.from_store(store)
    finally:
        store.close()
    return {"kommune": set(reg.municipalities), "fylke": set(reg.counties)}


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


def store_parsed(database: str | None, parsed: ParsedSource, digest: str):
    from bliatlas.ingest import load_parsed
    from bliatlas.store import writing

    # on a copy beside the database, renamed over it when done (see store.writing): a
    # running server keeps answering from the old file; a second writer waits its turn
    with writing(database, on_wait=lambda m: print(m, file=sys.stderr)) as store:
        return load_parsed(store, parsed, content_sha256=digest, source_path=None)


def report_load(result, parsed: ParsedSource, source_text: str) -> None:
    for warning in result.warnings:
        print(f"advarsel: {warning}", file=sys.stderr)
    if result.status == "uendret":
        print(f"Ingen endringer: det samme svaret er allerede lagret som {parsed.dataset}.")
    else:
        print(
            f"Lagret som {parsed.dataset}: {fmt_int(result.n_new)} nye og "
            f"{fmt_int(result.n_changed)} endrede verdier; {fmt_int(result.n_unassigned)} "
            "kan ikke plasseres på 2024-inndelingen og er holdt utenfor med begrunnelse "
            "(delte kommuner, grupperingskoder; se tabellen observation_unassigned)."
        )
    print(f"Kilde: {source_text}, lisens {parsed.licence}.")


def cmd_sync_ssb(args: argparse.Namespace) -> int:
    max_age = check_max_age(args.max_age)
    spec = SsbSpec(table=args.table, regions=args.region, years=split_codes(args.year),
                   latest=args.latest, select=args.select, sub_annual=args.sub_annual)
    current = current_regions(args.database)
    with SsbClient(api=args.api, cache_dir=args.cache_dir, max_age=max_age) as client:
        plan = plan_ssb(client, spec, current)
        if args.dry_run:
            print_plan(plan, client)
            return 0
        fetched = fetch_ssb(client, spec, plan)
        n_requests, n_cached, cache_dir = client.requests, client.cache_hits, client.cache_dir
    parsed = fetched.parsed
    print(
        f"SSB-tabell {plan.meta.table_id}: {len(parsed.observations) + len(parsed.aside)} "
        f"verdier hentet i {fetched.n_queries} spørring(er) ({n_requests} forespørsler til "
        f"SSB, {n_cached} svar fra hurtigbufferen {cache_dir})."
    )
    for note in plan.notes:
        print(note)
    result = store_parsed(args.database, parsed, fetched.content_sha256)
    report_load(result, parsed, f"Statistisk sentralbyrå (SSB), tabell {plan.meta.table_id}")
    return 0
