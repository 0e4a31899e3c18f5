"""The privacy audit: every suppressed cell minimised and maximised (HiGHS) subject to
everything the cube publishes (bliatlas.indicators.audit).

Reports the audit's run time on the full real data (the cube is built first, not timed) and
the size of the model. The audit runs in the test suite, so it must stay fast: budget 10 s
on the 2-core machine. Uses ``--database`` (or ``$BLI_DATABASE``); without one it imports
../shared/data into a temporary database first (not timed). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database

from bliatlas.indicators.audit import audit
from bliatlas.indicators.engine import build_cube
from bliatlas.store import open_store

BUDGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        times = []
        with open_store(db, read_only=True) as store:
            cube = build_cube(store)
            for _ in range(args.runs):
                start = time.perf_counter()
                report = audit(store, cube)
                times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({
        "benchmark": "privacy_lp_audit",
        "figure": round(median, 3),
        "unit": "s",
        "budget": BUDGET_S,
        "pass": median < BUDGET_S and report.passed,
        "runs": [round(t, 3) for t in times],
        "hidden_cells": report.hidden_cells,
        "suppressed_by_publisher": report.protected_cells,
        "constraints": report.constraints,
        "binding_constraints": report.binding_constraints,
        "blocks": report.blocks,
        "lp_solves": report.solves,
        "narrowed": len(report.narrowed),
    }))


if __name__ == "__main__":
    main()
