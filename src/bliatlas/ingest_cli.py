"""`bli import`, `bli sources` and `bli regions …`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bliatlas.format import fmt_int, fmt_num, table
from bliatlas.ingest import import_paths
from bliatlas.regions.crosswalk import Crosswalk
from bliatlas.regions.registry import Registry
from bliatlas.store import open_store, writing


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="importer filer eller mapper (IMDi, panel, CSV, GeoJSON, "
                       "JSON-stat) til databasen")
    p.add_argument("paths", nargs="+", type=Path, metavar="STI")
    p.add_argument("--strict", action="store_true",
                   help="avvis filer med motstridende doble nøkler i stedet for å lagre dem "
                   "som manglende")
    p.add_argument("--region", help="fylkesnummer for tabeller som ikke oppgir region")
    p.add_argument("--sub-annual", choices=["error", "keep"], default="error",
                   help="kvartals- og månedstall i JSON-stat: avvis (standard) eller behold "
                   "med perioden som egen dimensjon")
    p.add_argument("--partial-geometry", action="store_true",
                   help="godta en GeoJSON med grenser for bare noen regioner (bytter ut bare "
                   "dem); ellers må filen dekke alle kommuner eller fylker")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("sources", help="list importerte kilder med proveniens")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("regions", help="regionregisteret: kommuner, fylker, kodeendringer")
    rsub = p.add_subparsers(dest="regions_command", metavar="KOMMANDO")
    rsub.required = True
    q = rsub.add_parser("summary", help="kommuner og distriktskommuner per fylke")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_regions_summary)
    q = rsub.add_parser("list", help="list kommuner (eventuelt i ett fylke)")
    q.add_argument("--county", help="fylkesnummer, f.eks. 46")
    q.add_argument("--district", action="store_true", help="bare distriktskommuner")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_regions_list)
    q = rsub.add_parser("search", help="finn kommune eller fylke på navn (også samisk/kvensk)")
    q.add_argument("query")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_regions_search)
    q = rsub.add_parser("crosswalk", help="hvor en gammel kode havner i 2024-strukturen")
    q.add_argument("codes", nargs="+", metavar="KODE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_regions_crosswalk)


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def cmd_import(args) -> int:
    started = time.perf_counter()
    # on a copy beside the database, renamed over it when done: a running server keeps
    # answering from the old file and switches by itself; a second import waits its turn
    with writing(args.database, on_wait=lambda m: print(m, file=sys.stderr)) as store:
        results, skipped = import_paths(store, args.paths, strict=args.strict, region=args.region,
                                        sub_annual=args.sub_annual,
                                        partial_geometry=args.partial_geometry)
    elapsed = time.perf_counter() - started
    rows = [[r.source, r.dataset, r.status, fmt_int(r.n_values), fmt_int(r.n_new),
             fmt_int(r.n_changed), fmt_int(r.n_unassigned)] for r in results]
    print(table(["fil", "datasett", "status", "verdier", "nye", "endret", "ikke plassert"], rows))
    for r in results:
        for w in r.warnings:
            print(f"advarsel: {w}", file=sys.stderr)
    for f in skipped:
        print(f"hoppet over (ikke en datafil): {f}", file=sys.stderr)
    new = sum(r.n_new for r in results)
    changed = sum(r.n_changed for r in results)
    print(f"{len(results)} filer, {fmt_int(new)} nye og {fmt_int(changed)} endrede verdier "
          f"på {fmt_num(elapsed, 1)} s.")
    return 0


def cmd_sources(args) -> int:
    store = open_store(args.database, read_only=_exists(args.database))
    try:
        rows = store.query(
            "SELECT import_id, publisher, dataset, source, format, licence, content_sha256, "
            "imported_at, n_values, n_new, n_changed, n_unassigned, notes FROM import "
            "ORDER BY import_id")
    finally:
        store.close()
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("Databasen er tom. Kjør `bli import ../shared/data`.")
        return 0
    print(table(
        ["id", "utgiver", "datasett", "kilde", "lisens", "sha256", "importert", "verdier"],
        [[r["import_id"], r["publisher"], r["dataset"], r["source"], r["licence"],
          r["content_sha256"][:12], r["imported_at"].strftime("%Y-%m-%d %H:%M"),
          fmt_int(r["n_values"])] for r in rows]))
    return 0


def _exists(path) -> bool:
    from bliatlas.store import database_path

    return database_path(path).exists()


def _registry(args) -> Registry:
    store = open_store(args.database, read_only=_exists(args.database))
    try:
        return Registry.from_store(store)
    finally:
        store.close()


def cmd_regions_summary(args) -> int:
    rows = _registry(args).district_summary()
    if args.json:
        _print_json(rows)
        return 0
    print("Distriktskommuner (sentralitetsklasse 5–6) per fylke, 2024-inndeling")
    print(table(["nr", "fylke", "kommuner", "distriktskommuner", "andel"],
                [[r["code"], r["name"], r["municipalities"], r["district_municipalities"],
                  fmt_num(100 * r["district_share"], 0) + " %"] for r in rows],
                align="llrrr"))
    print("Kilde: IMDi/SSB kommunepanel 2024 (sentralitetsindeks), NLOD 2.0.")
    return 0


def cmd_regions_list(args) -> int:
    reg = _registry(args)
    munis = sorted(reg.municipalities.values(), key=lambda m: m.code)
    if args.county:
        reg.get(args.county)
        munis = [m for m in munis if m.county_code == args.county]
    if args.district:
        munis = [m for m in munis if m.is_district]
    if args.json:
        _print_json([{k: v for k, v in m.__dict__.items() if k != "forms"} for m in munis])
        return 0
    print(table(["nr", "kommune", "fylke", "sentralitet", "KOSTRA", "ROBEK"],
                [[m.code, m.name, m.county_code, m.centrality, m.kostra_group or "",
                  "ja" if m.robek else "nei"] for m in munis]))
    return 0


def cmd_regions_search(args) -> int:
    hits = _registry(args).search(args.query)
    if args.json:
        _print_json([{"code": r.code, "level": r.level, "name": r.name} for r in hits])
        return 0
    if not hits:
        print(f"Fant ingen kommune eller fylke som ligner «{args.query}».")
        return 1
    print(table(["nr", "nivå", "navn"], [[r.code, r.level, r.name] for r in hits]))
    return 0


def cmd_regions_crosswalk(args) -> int:
    cw = Crosswalk(_registry(args))
    out = []
    for code in args.codes:
        res = cw.resolve(code)
        target = res.targets[0] if res.assigned else None
        out.append({"code": code, "kind": res.kind,
                    "target": target,
                    "target_name": cw.registry.get(target).name if target else None,
                    "reason": res.reason})
    if args.json:
        _print_json(out)
    else:
        print(table(["kode", "type", "2024-kode", "navn", "merknad"],
                    [[o["code"], o["kind"], o["target"] or "–", o["target_name"] or "",
                      o["reason"] or ""] for o in out]))
    return 0 if all(o["target"] for o in out) else 1
