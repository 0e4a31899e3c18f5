"""Import all of ../shared/data into an empty database: wall time and peak memory.

Budget (issue 2): under 15 s and 1 GiB peak RSS on the 2-core machine. Each run is a fresh
process (`bli import`) on a fresh database; the median of the runs is the figure.
Prints one JSON object per budget.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA

BLI = [sys.executable, "-m", "bliatlas.cli"]


def run_once(data: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run([*BLI, "--database", str(db), "import", str(data)],
                              capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"import failed: {proc.stderr}")
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return elapsed, max(peak_kib, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    times, peaks = [], []
    for _ in range(args.runs):
        t, m = run_once(args.data)
        times.append(t)
        peaks.append(m)
    median = statistics.median(times)
    print(json.dumps({"benchmark": "import_all_shared_data", "figure": round(median, 2),
                      "unit": "s", "budget": 15.0, "pass": median < 15.0,
                      "runs": [round(t, 2) for t in times]}))
    peak = max(peaks)
    print(json.dumps({"benchmark": "import_peak_memory", "figure": round(peak, 1),
                      "unit": "MiB", "budget": 1024, "pass": peak < 1024}))


if __name__ == "__main__":
    main()
