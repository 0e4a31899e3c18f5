"""`bli report kommune|fylke CODE --format html|pdf --out FILE [--short]
[--gruppe 'g_antall=8&g_samme_fylke=1']`."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path
from urllib.parse import parse_qsl

from bliatlas.errors import InputError
from bliatlas.export import write_file


def slug(text: str) -> str:
    """ASCII file-name part: ``Unjárga - Nesseby`` → ``unjarga-nesseby``."""
    folded = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    out = "".join(ch if ch.isalnum() else "-" for ch in folded)
    return "-".join(part for part in out.split("-") if part)


def default_filename(code: str, short_name: str, fmt: str, short: bool = False) -> str:
    kind = "kort-kunnskapsgrunnlag" if short else "kunnskapsgrunnlag"
    return f"{kind}-{code}-{slug(short_name)}.{fmt}"


def _write_atomic(path: Path, data: bytes) -> None:
    """Write the report whole or not at all (:func:`bliatlas.export.write_file`), into a
    folder that must exist."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(str(path), f"mappen {directory} finnes ikke")
    write_file(path, data)


def parse_group_option(text: str | None) -> dict[str, str] | None:
    """``--gruppe 'g_antall=8&g_samme_fylke=1'``: the comparison group's parameters as in
    the page's URL (a leading ``?`` is allowed)."""
    if text is None:
        return None
    try:
        pairs = parse_qsl(text.strip().lstrip("?"), keep_blank_values=True,
                          strict_parsing=True)
    except ValueError:
        raise InputError("--gruppe", f"forventet parametere som i adressen, f.eks. "
                         f"'g_antall=8&g_samme_fylke=1', fikk {text!r}") from None
    return dict(pairs)


def _run(args: argparse.Namespace) -> int:
    from bliatlas.reports.context import open_report_context
    from bliatlas.reports.render import FORMATS, render

    fmt = args.format
    if fmt is None:
        suffix = Path(args.out).suffix.lower().lstrip(".") if args.out not in (None, "-") else ""
        fmt = suffix if suffix in FORMATS else "html"
    if fmt not in FORMATS:
        raise InputError("--format", f"forventet «html» eller «pdf», fikk {fmt!r}")
    if fmt == "pdf" and args.out == "-" and sys.stdout.isatty():
        raise InputError("--out", "PDF skrives ikke til terminalen; oppgi en fil med --out")
    if args.out not in (None, "-") and not (Path(args.out).parent.is_dir()):
        raise InputError(args.out, f"mappen {Path(args.out).parent} finnes ikke")
    ctx = open_report_context(args.database)
    region = ctx.cube.region(args.code)  # NotFound for unknown codes
    data = render(ctx, args.kind, args.code, fmt, short=args.short,
                  group=parse_group_option(args.gruppe))
    if args.out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    out = Path(args.out) if args.out else Path(default_filename(
        args.code, region["short_name"], fmt, short=args.short))
    _write_atomic(out, data)
    what = "kort kunnskapsgrunnlag" if args.short else "kunnskapsgrunnlag"
    print(f"Skrev {out} ({len(data) / 1024:.0f} kB, {fmt.upper()}): {what} for "
          f"{region['name']}.")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="lag kunnskapsgrunnlag (HTML eller PDF) for en kommune eller et fylke",
        description="Lag et kunnskapsgrunnlag om inkludering for en kommune eller et fylke, "
        "som frittstående HTML eller PDF (A4).",
    )
    kinds = parser.add_subparsers(dest="report_kind", metavar="kommune|fylke")
    kinds.required = True
    for kind, what in (("kommune", "kommunenummer, f.eks. 4650"),
                       ("fylke", "fylkesnummer, f.eks. 46")):
        p = kinds.add_parser(kind, help=f"rapport for en {kind}",
                             description=f"Kunnskapsgrunnlag for en {kind}.")
        p.add_argument("code", metavar="KODE", help=what)
        p.add_argument("--format", choices=["html", "pdf"], default=None,
                       help="html eller pdf (standard: fra filendelsen i --out, ellers html)")
        p.add_argument("--out", metavar="FIL",
                       help="utfil (standard: kunnskapsgrunnlag-KODE-navn.FORMAT; «-» for "
                       "standard ut)")
        p.add_argument("--short", action="store_true",
                       help="kort rapport (2–4 sider): nøkkeltall mot sammenligningsgruppene, "
                       "det som skiller seg ut, hva andre har gjort og spørsmål til planen")
        p.add_argument("--gruppe", metavar="PARAMETERE",
                       help="sammenligningsgruppe (bare kommune) med parameterne fra "
                       "kommunesiden, f.eks. 'g_antall=8&g_samme_fylke=1' eller "
                       "'g_kommuner=4602,4640'; se docs/indicators.md")
        p.set_defaults(func=_run, kind=kind)
