"""Compute the full indicator cube (all indicators × all regions × all levels × all years,
with suppression as intervals, aggregates, peers and trends) from the store.

Budget (issue 3): under 2 s on the 2-core machine. Uses the database given with
``--database`` (or ``$BLI_DATABASE``); without one it imports ../shared/data into a
temporary database first (not timed). The figure is the median of ``--runs`` builds, each
from a freshly opened read-only store. Prints one JSON object.
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

from bliatlas.indicators.engine import build_cube
from bliatlas.store import open_store

BUDGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            with open_store(db, read_only=True) as store:
                cube = build_cube(store)
            times.append(time.perf_counter() - start)
        n_cells = cube.sql("SELECT count(*) FROM cells")[0][0]
        n_intervals = cube.sql("SELECT count(*) FROM cells WHERE status = 'intervall'")[0][0]
        n_peers = cube.sql("SELECT count(*) FROM peers")[0][0]
        levels = [r[0] for r in cube.sql("SELECT DISTINCT level FROM cells ORDER BY 1")]
    median = statistics.median(times)
    print(json.dumps({
        "benchmark": "indicators_full_cube",
        "figure": round(median, 3),
        "unit": "s",
        "budget": BUDGET_S,
        "pass": median < BUDGET_S,
        "runs": [round(t, 3) for t in times],
        "indicators": len(cube.catalogue.indicators),
        "cells": n_cells,
        "interval_cells": n_intervals,
        "peer_rows": n_peers,
        "levels": levels,
    }))


if __name__ == "__main__":
    main()
