"""`bli sync ssb TABLE --region ... [--year ...]`: fetch an SSB table and load it.

The command asks SSB's statistics bank API for the selection (see
:mod:`bliatlas.sources.ssb` for endpoints, limits, cache and retries), parses the
JSON-stat 2.0 answer and hands it to :func:`bliatlas.ingest.load_parsed`, which places
the regions on the 2024 structure and writes one transaction. The same answer twice
changes nothing (the content hash is already in the store).

Tests replace the network with ``bliatlas.sources.ssb.transport_factory``.
"""

from __future__ import annotations

import argparse
import sys

from bliatlas.errors import UserError
from bliatlas.sources.ssb import (
    DEFAULT_MAX_AGE,
    RATE_LIMIT,
    RATE_PERIOD,
    SsbClient,
    TableMetadata,
    fetch_parsed,
)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="hent statistikk direkte fra utgiveren")
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
        "--region", action="append", required=True, metavar="KODE",
        help="regionkode slik SSB bruker den (4650, 46, 0) eller et mønster (46* = fylket og "
        "alle kommuner i det); kan gjentas eller kommaskilles",
    )
    q.add_argument(
        "--year", action="append", metavar="ÅR",
        help="tidskode (2023, 2017-2023); kan gjentas; uten: alle år i tabellen",
    )
    q.add_argument("--latest", type=int, metavar="N",
                   help="bare de N siste periodene i tabellen (i stedet for --year)")
    q.add_argument(
        "--select", action="append", default=[], metavar="VARIABEL=KODER",
        help="velg koder for en annen variabel, f.eks. Kjonn=1,2 (uten: alle, eller SSBs sum "
        "der tabellen tillater det)",
    )
    q.add_argument("--api", choices=["v0", "v2"], default="v0",
                   help="v0 = PxWebApi v1 (/api/v0/, standard) eller v2 (/api/pxwebapi/v2/)")
    q.add_argument("--cache-dir", metavar="MAPPE",
                   help="hurtigbuffer for svar (standard: $BLI_SSB_CACHE eller var/cache/ssb)")
    q.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE / 3600, metavar="TIMER",
                   help="bruk svar fra hurtigbufferen som er yngre enn dette (standard 24)")
    q.add_argument(
        "--sub-annual", choices=["error", "keep"], default="error",
        help="kvartals- og månedstall: avvis (standard) eller behold med perioden som egen "
        "dimensjon",
    )
    q.set_defaults(func=cmd_sync_ssb)


def _codes(raw: list[str] | None) -> list[str]:
    out: list[str] = []
    for item in raw or []:
        out.extend(c.strip() for c in item.split(",") if c.strip())
    return out


def _selection(
    args: argparse.Namespace, meta: TableMetadata
) -> dict[str, list[str]]:
    selection: dict[str, list[str]] = {}
    for item in args.select:
        name, sep, codes = item.partition("=")
        if not sep or not name.strip() or not _codes([codes]):
            raise UserError(
                f"--select {item!r}: forventet VARIABEL=KODE[,KODE...], f.eks. Kjonn=1,2"
            )
        selection[meta.variable(name.strip()).code] = _codes([codes])
    selection[meta.region_variable.code] = _codes(args.region)
    time_var = meta.time_variable
    if args.latest is not None:
        if args.year:
            raise UserError("bruk enten --year eller --latest, ikke begge")
        if args.latest < 1:
            raise UserError("--latest må være minst 1")
        selection[time_var.code] = list(time_var.values[-args.latest:])
    else:
        selection[time_var.code] = _codes(args.year) or list(time_var.values)
    return selection


def cmd_sync_ssb(args: argparse.Namespace) -> int:
    from bliatlas.ingest import load_parsed
    from bliatlas.store import writing

    if args.max_age < 0:
        raise UserError("--max-age må være 0 eller mer (timer)")
    with SsbClient(
        api=args.api, cache_dir=args.cache_dir, max_age=args.max_age * 3600
    ) as client:
        meta = client.metadata(args.table)
        parsed, fetched = fetch_parsed(
            client, args.table, _selection(args, meta), sub_annual=args.sub_annual, meta=meta
        )
        n_requests, n_cached, cache_dir = client.requests, client.cache_hits, client.cache_dir
    print(
        f"SSB-tabell {fetched.table_id}: {len(parsed.observations)} verdier hentet i "
        f"{len(fetched.queries)} spørring(er) ({n_requests} forespørsler til SSB, "
        f"{n_cached} svar fra hurtigbufferen {cache_dir})."
    )
    with writing(args.database, on_wait=lambda m: print(m, file=sys.stderr)) as store:
        result = load_parsed(store, parsed, content_sha256=fetched.content_sha256,
                             source_path=None)
    for warning in result.warnings:
        print(f"advarsel: {warning}", file=sys.stderr)
    if result.status == "uendret":
        print(
            f"Ingen endringer: det samme svaret fra SSB er allerede lagret som {parsed.dataset}."
        )
    else:
        print(
            f"Lagret som {parsed.dataset}: {result.n_new} nye og {result.n_changed} endrede "
            f"verdier; {result.n_unassigned} kan ikke plasseres på en 2024-kommune "
            "(f.eks. delte kommuner; se tabellen observation_unassigned)."
        )
    print(
        f"Kilde: Statistisk sentralbyrå (SSB), tabell {fetched.table_id}, "
        f"lisens {parsed.licence}."
    )
    return 0
