"""`bli indicators list|show` and `bli profile CODE`: indicators in the terminal."""

from __future__ import annotations

import argparse
from typing import Any

from bliatlas.errors import UserError
from bliatlas.format import table
from bliatlas.indicators.engine import LEVEL_NAMES_NB, LEVELS, Cube, build_cube, years_text
from bliatlas.indicators.profile import build_profile, lead_text
from bliatlas.indicators.sentences import SUPPRESSION_NOTE, format_cell
from bliatlas.store import database_path, open_store

LEVEL_ALIASES = {
    "kommune": "kommune", "municipality": "kommune",
    "fylke": "fylke", "county": "fylke",
    "sentralitet": "sentralitet", "centrality": "sentralitet",
    "distrikt": "distrikt", "district": "distrikt",
    "kostra": "kostra",
    "nasjonal": "nasjonal", "national": "nasjonal", "land": "nasjonal",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("indicators", help="integreringsindikatorer: liste og verdier")
    isub = p.add_subparsers(dest="indicators_command", metavar="KOMMANDO")
    isub.required = True
    lp = isub.add_parser("list", help="list alle indikatorer i katalogen")
    lp.set_defaults(func=cmd_list)
    sp = isub.add_parser("show", help="vis én indikator for alle regioner på et nivå")
    sp.add_argument("indicator", metavar="ID", help="indikator-id (se `bli indicators list`)")
    sp.add_argument("--level", default="fylke",
                    help="kommune|fylke|sentralitet|distrikt|kostra|nasjonal "
                         "(også county, municipality, national); standard fylke")
    sp.add_argument("--year", help="år (standard: siste år med tall)")
    sp.set_defaults(func=cmd_show)

    pp = sub.add_parser("profile", help="profil for en kommune eller et fylke, f.eks. 4650")
    pp.add_argument("code", metavar="KODE", help="kommunenummer (4 siffer) eller fylkesnummer")
    pp.add_argument("--fra", metavar="ÅR", help="basisår for endringene (standard: første år "
                    "alle seriene har)")
    pp.set_defaults(func=cmd_profile)


def _cube(args: argparse.Namespace) -> Cube:
    path = database_path(args.database)
    if not path.exists():
        raise UserError(f"databasen {path} finnes ikke; kjør `bli import ../shared/data` først")
    try:
        store = open_store(path, read_only=True)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    try:
        return build_cube(store)
    finally:
        store.close()


def cmd_list(args: argparse.Namespace) -> int:
    cube = _cube(args)
    rows = [
        [ind.id, ind.name_nb, ind.unit, years_text(cube.years.get(ind.id, []))]
        for ind in cube.catalogue.indicators
    ]
    print(table(["id", "indikator", "enhet", "år med tall"], rows, align="llll"))
    print(f"\n{len(rows)} indikatorer. Vis én: bli indicators show ID --level fylke --year 2024")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cube = _cube(args)
    ind = cube.catalogue.get(args.indicator)
    level = LEVEL_ALIASES.get(args.level)
    if level is None:
        raise UserError(f"ukjent nivå {args.level!r}: bruk ett av {', '.join(LEVELS)}")
    if level not in cube.levels_for(ind):
        raise UserError(
            f"indikatoren {ind.id!r} finnes bare på nivå {', '.join(cube.levels_for(ind))}"
        )
    year = cube.year_of(ind, args.year)
    print(f"{ind.name_nb} ({ind.unit}), {LEVEL_NAMES_NB[level]}, {year or 'uten år'}")
    print(ind.definition)
    rows = []
    for cell in cube.slice(ind.id, level, year):
        reg = cube.regions.get((level, cell.code), {})
        rows.append([cell.code, reg.get("short_name", ""), format_cell(cell, ind),
                     cell.note_text()])
    print()
    print(table(["kode", "navn", "verdi", "merknad"], rows, align="llrl"))
    _print_caveats(ind.caveats, ind.sources)
    return 0


def _print_caveats(caveats: list[str], sources: list[str]) -> None:
    print()
    for c in caveats:
        print(f"Merk: {c}")
    print(f"Kilder: {', '.join(sources)}. Lisens: NLOD 2.0.")


def _comparison_cells(item: dict[str, Any], keys: list[str]) -> list[str]:
    by_key = {c["nokkel"]: c for c in item["sammenligning"]}
    return [by_key[k]["verdi_tekst"] if k in by_key else "" for k in keys]


def cmd_profile(args: argparse.Namespace) -> int:
    cube = _cube(args)
    from_year = None
    if args.fra:
        try:
            from_year = int(args.fra)
        except ValueError:
            raise UserError(f"ugyldig år {args.fra!r} for --fra: forventet et årstall") from None
    profile = build_profile(cube, args.code, from_year)
    reg = profile["region"]
    title = f"{reg['navn']} ({reg['kode']})"
    print(title)
    print("=" * len(title))
    for item in profile["hovedtall"]:
        print(lead_text(item))
    print()
    if reg["niva"] == "kommune":
        district = "distriktskommune" if reg["distriktskommune"] else "ikke distriktskommune"
        print(
            f"Fylke: {reg['fylkesnavn']} ({reg['fylke']}). Sentralitet {reg['sentralitet']} "
            f"({district}). {reg['kostragruppe'] or 'ingen KOSTRA-gruppe'}."
        )
    else:
        print(f"Fylke med {reg['antall_kommuner']} kommuner.")
    print()
    for sentence in profile["setninger"]:
        print(f"- {sentence}")
    print()
    comps = profile["sammenligninger"]
    keys = [c["nokkel"] for c in comps]
    base = profile["endring_fra_ar"]
    rows = []
    notes: list[str] = []
    for item in profile["indikatorer"]:
        ranked = next((c for c in item["sammenligning"] if c["rang"] is not None), None)
        mark = ""
        if item["arsak"] and item["status"] != "missing":
            notes.append(item["arsak"])
            mark = f" [{len(notes)}]"
        rows.append([
            item["navn"],
            "uten år" if item["ar"] == 0 else str(item["ar"]),
            item["verdi_tekst"] + mark,
            item["enhet"] if item["status"] in ("ok", "intervall") else "",
            *_comparison_cells(item, keys),
            ranked["rang_tekst"] if ranked else "",
            item["utvikling"]["endring_tekst"] if item["utvikling"] else "",
        ])
    change_head = f"endring siden {base}" if base else "endring"
    print(table(["indikator", "år", "verdi", "enhet", *[c["overskrift"] for c in comps],
                 "rang", change_head], rows, align="llrl" + "r" * len(comps) + "ll"))
    print()
    for n, note in enumerate(notes, 1):
        print(f"[{n}] {note}")
    for c in comps:
        print(f"{c['overskrift']}: {c['etikett']}.")
    missing = profile["ikke_hentet"]
    if missing:
        print(f"Ikke hentet ennå ({missing[0]['hvordan']}): "
              + "; ".join(m["navn"] for m in missing) + ".")
        print()
    sources = sorted({f"{p['utgiver']} ({p['kilde']})" for p in profile["proveniens"]})
    print("Kilder: " + "; ".join(sources) + ".")
    print(f"Lisens: NLOD 2.0. {SUPPRESSION_NOTE}")
    return 0
