"""Import all of ../shared/data into an empty database: wall time and peak memory.

Budget (issue 11): the whole of ../shared/data (about 2,3 million values, 1,5 million of
them IMDi's country-background export) in under 10 s and 1,5 GiB peak RSS on the 2-core
machine. Each run is a fresh process (`bli import`) on a fresh database; the median of the
runs is the figure, the peak the largest of the runs. Prints one JSON object per budget,
with the stage times of the last run (parse, place, write) from `--profile`, so a miss
says where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
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


TIME_BUDGET = 10.0          # seconds
MEMORY_BUDGET = 1536.0      # MiB (1,5 GiB)
STAGES = r"""
import json, resource, sys, time
from pathlib import Path
from bliatlas import ingest
from bliatlas.store import open_store
times = {"parse": 0.0, "prepare": 0.0, "write": 0.0}
parse, prepare, write = ingest.parse_file, ingest.prepare, ingest._write
def timed(name, fn):
    def run(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            times[name] += time.perf_counter() - t
    return run
ingest.parse_file = timed("parse", parse)
ingest.prepare = timed("prepare", prepare)
ingest._write = timed("write", write)
with open_store(sys.argv[1]) as store:
    ingest.import_paths(store, [Path(sys.argv[2])])
print(json.dumps({k: round(v, 2) for k, v in times.items()}))
"""


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


def stages(data: Path) -> dict[str, float]:
    """Seconds spent reading files, placing values on 2024 regions, and writing."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", STAGES, str(Path(tmp) / "s.duckdb"),
                               str(data)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"import failed: {proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


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
                      "unit": "s", "budget": TIME_BUDGET, "pass": median < TIME_BUDGET,
                      "runs": [round(t, 2) for t in times], "stages_s": stages(args.data),
                      "load_average": round(os.getloadavg()[0], 2)}))
    peak = max(peaks)
    print(json.dumps({"benchmark": "import_peak_memory", "figure": round(peak, 1),
                      "unit": "MiB", "budget": MEMORY_BUDGET, "pass": peak < MEMORY_BUDGET}))


if __name__ == "__main__":
    main()
