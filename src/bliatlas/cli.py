"""`bli` — the command line. Thin: parses arguments and calls the library.

Each command group lives in its own module exposing ``add_commands(subparsers)``;
the handler it sets with ``set_defaults(func=...)`` receives the parsed arguments
and returns an exit code. Errors users can fix raise :class:`bliatlas.errors.UserError`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bliatlas.errors import UserError

# Modules that add subcommands. Add a line here when a layer gains a command group.
COMMAND_MODULES = [
    "bliatlas.ingest_cli",
    "bliatlas.api.cli",
    "bliatlas.knowledge.cli",
    "bliatlas.sources.ssb_cli",
    "bliatlas.settlement.cli",
    "bliatlas.indicators.cli",
    "bliatlas.reports.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bli",
        description="Bli-atlas: integreringsstatistikk, kunnskap og bosettingsplanlegging.",
    )
    parser.add_argument(
        "--database",
        help="databasefil (standard: $BLI_DATABASE eller var/bliatlas.duckdb)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"bli: feil: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
