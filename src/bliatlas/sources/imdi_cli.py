"""`bli sync imdi TABLE [--level kommune|fylke]` and `bli sync imdi --list`.

Fetches one table from IMDi's download service (:mod:`bliatlas.sources.imdi_client`),
parses it with the IMDi reader and loads it in one transaction (dataset as for a
downloaded file of the same table, publisher IMDi, licence NLOD 2.0, content hash of the
answer). The same answer twice changes nothing.
"""

from __future__ import annotations

import argparse

from bliatlas.errors import UserError
from bliatlas.format import fmt_int, table
from bliatlas.sources.imdi import TABLES
from bliatlas.sources.imdi_client import (
    LEVEL_NAMES,
    LEVELS,
    RATE_LIMIT,
    RATE_PERIOD,
    ImdiClient,
    parse_fetched,
)
from bliatlas.sources.ssb_cli import add_cache_arguments, check_max_age, report_load, store_parsed


def add_command(ssub: argparse._SubParsersAction) -> None:
    q = ssub.add_parser(
        "imdi",
        help="hent en tabell fra IMDis statistikk (imdi.no «Tall og statistikk»)",
        description=(
            "Henter en tabell fra tjenesten bak imdi.no «Tall og statistikk» (download_csv/k/ "
            "per kommune, download_csv/f/ per fylke) og lagrer den i databasen. Svar lagres "
            f"i en hurtigbuffer; klienten holder seg under {RATE_LIMIT} forespørsler per "
            f"{RATE_PERIOD:.0f} sekunder. `--list` viser tabellene Bli-atlas kjenner."
        ),
    )
    q.add_argument("table", nargs="?", metavar="TABELL",
                   help="tabellnavn, f.eks. intro_status_arbutd_avslutta")
    q.add_argument("--level", choices=list(LEVELS), default="kommune",
                   help="kommune (standard) eller fylke")
    q.add_argument("--list", action="store_true", help="list tabellene med norske titler")
    q.add_argument("--dry-run", action="store_true",
                   help="vis forespørselen uten å sende den")
    add_cache_arguments(q, "imdi")
    q.set_defaults(func=cmd_sync_imdi)


def print_tables() -> None:
    print("Tabeller i IMDis statistikktjeneste som Bli-atlas kjenner:")
    print(table(["tabell", "tittel", "datasett"],
                [[t.name, t.title, t.dataset] for t in TABLES.values()], align="lll"))
    print("Hentes med `bli sync imdi TABELL [--level kommune|fylke]`; alle med "
          "`bli sync standard`. Kilde: IMDi, lisens NLOD 2.0.")


def cmd_sync_imdi(args: argparse.Namespace) -> int:
    if args.list:
        print_tables()
        return 0
    if not args.table:
        raise UserError("oppgi en tabell, f.eks. `bli sync imdi intro_status_arbutd_avslutta`, "
                        "eller se `bli sync imdi --list`")
    max_age = check_max_age(args.max_age)
    with ImdiClient(cache_dir=args.cache_dir, max_age=max_age) as client:
        if args.dry_run:
            req = client.request(args.table, args.level)
            print("Tørrkjøring: ingen forespørsel er sendt til IMDi.")
            print(req.describe())
            return 0
        if args.table not in TABLES:
            print(f"merk: {args.table} er ikke blant tabellene Bli-atlas kjenner (se --list); "
                  f"den lagres som imdi_{args.table}")
        fetched = client.fetch(args.table, args.level)
        how = "fra hurtigbufferen" if fetched.from_cache else f"{client.requests} forespørsel(er)"
    parsed = parse_fetched(fetched)
    print(f"IMDi-tabell {args.table} ({LEVEL_NAMES[args.level]}): "
          f"{fmt_int(len(parsed.observations))} verdier hentet ({how}, {fetched.url}).")
    result = store_parsed(args.database, parsed, fetched.content_sha256)
    report_load(result, parsed, f"Integrerings- og mangfoldsdirektoratet (IMDi), tabell "
                f"{args.table}")
    return 0
