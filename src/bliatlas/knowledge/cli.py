"""`bli search` and `bli kunnskap` (valider, vis, anbefal): the knowledge base in the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bliatlas import settings
from bliatlas.knowledge.base import (
    actor_entries,
    entry_payload,
    open_index,
    place_facts_from_database,
    place_labels,
    regions_from_database,
)
from bliatlas.knowledge.citations import plain
from bliatlas.knowledge.loader import ContentError, default_content_dir, validate_content
from bliatlas.knowledge.recommend import practices_for_weaknesses, similar_place_practices
from bliatlas.knowledge.search import KnowledgeIndex, SearchResult
from bliatlas.knowledge.vocab import (
    ACTORS,
    CENTRALITY_LABELS,
    COST_CLASSES,
    COUNTY_CODES_2024,
    EVIDENCE_LEVELS,
    FACETS,
    FINDING_KINDS,
    NOT_GIVEN,
    TARGET_GROUPS,
    THEMES,
    TYPES,
)

BOLD, RESET = "\033[1m", "\033[0m"

FILTER_OPTIONS: list[tuple[str, str, list[str]]] = [
    # (option, facet key, allowed values)
    ("--type", "type", list(TYPES)),
    ("--tema", "tema", list(THEMES)),
    ("--malgruppe", "malgruppe", list(TARGET_GROUPS)),
    ("--aktor", "aktor", list(ACTORS)),
    ("--fylke", "fylke", list(COUNTY_CODES_2024)),
    ("--sentralitet", "sentralitet", list(CENTRALITY_LABELS)),
    ("--evidens", "evidens", list(EVIDENCE_LEVELS)),
    ("--kostnad", "kostnad", list(COST_CLASSES)),
]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="søk i kunnskapsbasen (praksiser, funn, tilskudd, aktører …)",
        description="Søk på bokmål i kunnskapsbasen, med fasetter og utdrag.",
    )
    p.add_argument("query", nargs="?", default="", help='søkeord, f.eks. "språkopplæring"')
    for option, facet, values in FILTER_OPTIONS:
        p.add_argument(option, dest=f"filter_{facet}", action="append",
                       metavar=option.lstrip("-").upper(),
                       help=f"filtrer på {FACETS[facet].lower()} (kan gjentas): "
                            f"{', '.join(values)}")
    p.add_argument("--limit", type=_positive_int, default=10, help="antall treff (standard 10)")
    p.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    _content_option(p)
    p.set_defaults(func=cmd_search)

    k = sub.add_parser("kunnskap", help="kunnskapsbasen: valider innhold, vis en oppføring")
    ksub = k.add_subparsers(dest="kunnskap_command", metavar="KOMMANDO")
    ksub.required = True

    v = ksub.add_parser("valider", help="sjekk alt innhold mot innholdsmodellen")
    _content_option(v)
    v.set_defaults(func=cmd_validate)

    s = ksub.add_parser("vis", help="vis én oppføring")
    s.add_argument("id", help="oppføringens id, f.eks. praksis-heroy-frivilligsentral-nettverk")
    s.add_argument("--json", action="store_true", help="skriv oppføringen som JSON")
    _content_option(s)
    s.set_defaults(func=cmd_show)

    a = ksub.add_parser("anbefal", help="praksiser fra kommuner som ligner på en kommune")
    a.add_argument("kommune", help="firesifret kommunenummer (2024), f.eks. 4650")
    a.add_argument("--limit", type=_positive_int, default=5, help="antall (standard 5)")
    a.add_argument("--json", action="store_true", help="skriv resultatet som JSON")
    _content_option(a)
    a.set_defaults(func=cmd_recommend)


def cmd_recommend(args: argparse.Namespace) -> int:
    index = _index(args)
    explicit = bool(args.database or settings.get().database_explicit)
    facts = place_facts_from_database(args.database, explicit=explicit)
    recs = similar_place_practices(index, facts, args.kommune, limit=args.limit)
    weak = practices_for_weaknesses(index, _cube(args), facts, args.kommune)
    if args.json:
        data = {"kommune": facts[args.kommune].to_dict(),
                "results": [r.to_dict() for r in recs],
                "weakest": [r.to_dict() for r in weak]}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"Praksiser fra steder som ligner på {facts[args.kommune].describe()}:")
    if not recs:
        print("Ingen praksiser med sted i Norge ennå.")
    for n, r in enumerate(recs, 1):
        print(f"{n:>2}. {r.entry.title} ({r.entry.id})")
        print(f"    {r.reason}")
    print()
    print("Praksiser for der kommunen ligger svakest mot kommuner i samme sentralitetsklasse:")
    if not weak:
        print("Ingen indikatorer med retning der kommunen ligger i nedre halvdel av klassen.")
    for n, w in enumerate(weak, 1):
        print(f"{n:>2}. {w.entry.title} ({w.entry.id})")
        print(f"    {w.reason}")
    return 0


def _cube(args: argparse.Namespace) -> Any:
    """The indicator cube of the same database (for peer comparisons)."""
    from bliatlas.indicators.engine import build_cube
    from bliatlas.store import database_path, open_store

    with open_store(database_path(args.database), read_only=True) as store:
        return build_cube(store)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"forventet et heltall, fant {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"forventet et tall fra 1 til 1000, fant {value}")
    return value


def _content_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--innhold", metavar="MAPPE",
                   help="innholdsmappen (standard: $BLI_CONTENT eller content/)")


def _index(args: argparse.Namespace) -> KnowledgeIndex:
    explicit = bool(args.database or settings.get().database_explicit)
    return open_index(args.innhold, args.database, explicit_database=explicit)


def _use_ansi() -> bool:
    return sys.stdout.isatty() and not settings.get().no_color


def _num(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def cmd_search(args: argparse.Namespace) -> int:
    index = _index(args)
    filters = {facet: getattr(args, f"filter_{facet}") or [] for _, facet, _ in FILTER_OPTIONS}
    result = index.search(args.query, filters=filters, limit=args.limit)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(format_result(result, ansi=_use_ansi()))
    return 0


def format_result(result: SearchResult, ansi: bool = False) -> str:
    """The result as terminal text in Norwegian; matched words in bold (ANSI) or **…**."""
    start, end = (BOLD, RESET) if ansi else ("**", "**")
    lines: list[str] = []
    what = f"«{result.query}»" if result.query.strip() else "alle oppføringer"
    noun = "treff" if result.query.strip() else "oppføringer"
    lines.append(f"Søk: {what} – {result.total} {noun} ({_num(result.took_ms)} ms)")
    if result.interpretation:
        lines.append("Tolket som: " + "; ".join(result.interpretation))
    if not result.hits:
        lines.append("")
        lines.append("Ingen treff. Prøv færre eller andre ord, eller fjern filtre.")
    for n, hit in enumerate(result.hits, 1):
        e = hit.entry
        lines.append("")
        lines.append(f"{n:>2}. {start}{e.title}{end}")
        lines.append(f"    {e.type_label} · {e.id}" + (f" · relevans {_num(hit.score, 2)}"
                                                        if result.query.strip() else ""))
        if hit.places:
            lines.append("    Steder: " + ", ".join(p["name"] for p in hit.places))
        if hit.reasons:
            lines.append(f"    {hit.why()}")
        lines.append(f"    {hit.snippet.text(start, end)}")
    if result.total:
        lines.append("")
        lines.append("Fasetter:")
        for key, values in result.facets.items():
            if values:
                shown = ", ".join(f"{v.label} ({v.count})" for v in values)
                lines.append(f"  {FACETS[key]}: {shown}")
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    explicit = bool(args.database or settings.get().database_explicit)
    regions = regions_from_database(args.database, explicit=explicit)
    root = Path(args.innhold) if args.innhold else default_content_dir()
    entries, issues = validate_content(root, regions)
    if issues:
        raise ContentError(issues)
    by_type = Counter(e.type for e in entries)
    counts = ", ".join(f"{by_type[t]} {TYPES[t][1].lower()}" for t in TYPES if by_type[t])
    check = ("kontrollert mot regionregisteret" if regions
             else "uten regionregister (ingen database)")
    print(f"Innholdet i {root} er gyldig: {len(entries)} oppføringer ({counts}); "
          f"stedskoder {check}.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    index = _index(args)
    entry = index.get(args.id)
    if args.json:
        print(json.dumps(entry_payload(index, args.id), ensure_ascii=False, indent=2))
        return 0
    ansi = _use_ansi()
    start, end = (BOLD, RESET) if ansi else ("", "")
    out: list[str] = [f"{start}{entry.title}{end}", f"{entry.type_label} · {entry.id}", ""]
    out.append(entry.summary)
    out.append("")
    out.append("Tema: " + ", ".join(THEMES[t] for t in entry.themes))
    out.append("Målgruppe: " + ", ".join(TARGET_GROUPS[g] for g in entry.target_groups))
    if entry.actors:
        out.append("Aktører: " + ", ".join(ACTORS[a] for a in entry.actors))
    places = [p["label"] for p in place_labels(index, entry)]
    if places:
        out.append("Steder: " + "; ".join(places))
    if entry.years:
        out.append(f"År: {entry.years}")
    if entry.finding_kind:
        out.append(f"Slags funn: {FINDING_KINDS[entry.finding_kind]}")
    if entry.evidence is not None:
        out.append(f"Evidens: {entry.evidence.label} – {plain(entry.evidence.basis)}")
    if entry.conditions is not None:
        for label, value in (("Størrelse", entry.conditions.size),
                             ("Samarbeidspartnere", entry.conditions.partners),
                             ("Forutsetninger", entry.conditions.needs)):
            out.append(f"{label}: {plain(value)}")
    if entry.contact is not None:
        out.append(f"Kontakt: {plain(entry.contact.organisation)}"
                   + (f" ({entry.contact.web})" if entry.contact.url else ""))
    if entry.status is not None:
        out.append(f"Status: {entry.status.label}"
                   + (f" – {plain(entry.status.note)}" if entry.status.note != NOT_GIVEN else ""))
    for label, value in (("Hvorfor det virker", entry.mechanism), ("Kostnad", entry.cost),
                         ("Finansiering", entry.funding), ("Forvaltes av", entry.giver),
                         ("Formål", entry.purpose), ("Beløp", entry.amount),
                         ("Frist", entry.deadline), ("Lenke", entry.link),
                         ("Hjemmel", entry.legal_basis), ("Sikkerhet", entry.confidence),
                         ("Data", entry.data_gap)):
        if value:
            out.append(f"{label}: {value}")
    if entry.indicators:
        out.append("Indikatorer som belyser behovet:")
        out.extend(f"  – {i.id} ({i.when_label}): {plain(i.why)}" for i in entry.indicators)
    for label, values in (("Hvem kan søke", entry.recipients), ("Ansvar og oppgaver",
                                                               entry.responsibilities),
                          ("Resultater", entry.results), ("Gode grep", entry.advice)):
        if values:
            out.append(f"{label}:")
            out.extend(f"  – {v}" for v in values)
    if entry.type == "aktor":
        linked = actor_entries(index, entry)
        if linked:
            out.append("Nevnt i:")
            out.extend(f"  – {e.title} ({e.id})" for e in linked)
    out.append("")
    out.append(entry.body.rstrip())
    out.append("")
    out.append("Kilder:")
    out.extend(f"  [{n}] {s.citation()}" for n, s in enumerate(entry.sources, 1))
    if entry.quoted_figures:
        out.append("Tall sitert fra kilden:")
        out.extend(f"  – {q.figure}: {q.context}" for q in entry.quoted_figures)
    print("\n".join(out))
    return 0
