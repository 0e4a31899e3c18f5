"""`bli` — the command line. Thin: parses arguments and calls the library.

Each command group lives in its own module exposing ``add_commands(subparsers)``;
the handler it sets with ``set_defaults(func=...)`` receives the parsed arguments
and returns an exit code. Errors raise a :class:`bliatlas.errors.BliError`; its
``exit_code`` is the exit code (2 bad input, 3 a source/network failure, 1 internal).
"""

from __future__ import annotations

import argparse
import sys

from bliatlas import ingest_cli, sync
from bliatlas.api import cli as api_cli
from bliatlas.errors import BliError
from bliatlas.indicators import cli as indicators_cli
from bliatlas.knowledge import cli as knowledge_cli
from bliatlas.reports import cli as reports_cli
from bliatlas.settlement import cli as settlement_cli

# Modules that add subcommands. Add a line here when a layer gains a command group.
COMMAND_MODULES = [ingest_cli, api_cli, knowledge_cli, sync, settlement_cli,
                   indicators_cli, reports_cli]


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
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BliError as exc:
        print(f"bli: feil: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
