"""Benchmark: peak memory of the server for concurrent national matchings, queue on.

``--runs`` (default 5) clients each upload a SYNTHETIC national cohort of ``--persons``
(default 25 000: a national year must fit in the 28 327 places the municipalities decided
for 2024; ``bli settlement generate``) to ``POST /api/bosetting/match`` at the same
moment (capacity: each decision scaled to the cohort's share of the year, ``kapasitet=andel``), against uvicorn over ``--database`` with the job queue's defaults
(``BLI_MATCHING_JOBS=1``, so runs go one at a time) and a queue wait long enough for all
of them (``BLI_QUEUE_WAIT``). The server's resident memory is sampled every 0.2 s
(``/proc/PID/status``, VmRSS) from before the first upload until the last answer.

Figures (JSON):

* ``jobs_matching_peak_rss`` — the server's peak RSS during the runs, budget 2.5 GiB
  (one run at a time: the peak of one run plus the server's base, not five);
  with the base RSS before the uploads, the answers' statuses, the wall time, and the
  peak growth per (person × municipality) cell, which calibrates
  ``bliatlas.jobs.MATCHING_BYTES_PER_CELL``; and whether that growth stayed within the
  estimate the queue admits a run on (``estimate_holds``; part of ``pass``).

    .venv/bin/python benchmarks/bench_jobs.py [--database PATH] [--runs 5] [--persons 25000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, free_port, start_server, stop_server, wait_ready

BUDGET_BYTES = int(2.5 * 2**30)
MUNICIPALITIES = 357


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    import httpx

    from bliatlas.cli import main as bli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--persons", type=int, default=25_000)
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="bench-jobs-")
    db = ensure_database(args.database, Path(tmp.name))
    cohort = Path(tmp.name) / "kohort.csv"
    with contextlib.redirect_stdout(io.StringIO()):
        assert bli(["--database", str(db), "settlement", "generate", "--persons",
                    str(args.persons), "--seed", "7", "--out", str(cohort)]) == 0
    data = cohort.read_bytes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, {"BLI_DATABASE": str(db), "BLI_QUEUE_WAIT": "3600",
                               "BLI_MATCHING_JOBS": None, "BLI_QUEUE_LENGTH": None,
                               "BLI_JOB_MEMORY_MB": None})
    statuses: list[int] = []
    peak = 0
    try:
        wait_ready(base, proc, "/api/jobber", timeout=300)
        # the first matching trains the synthetic outcome model: do it before measuring
        httpx.post(base + "/api/bosetting/match", data={"fylke": "46"}, timeout=900,
                   files={"kohort": ("k.csv", b"\n".join(data.split(b"\n")[:200]) + b"\n",
                                     "text/csv")})
        base_rss = rss(proc.pid)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss(proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()

        def upload() -> None:
            r = httpx.post(base + "/api/bosetting/match", timeout=3600,
                           data={"kapasitet": "andel"},
                           files={"kohort": ("kohort.csv", data, "text/csv")})
            statuses.append(r.status_code)

        started = time.perf_counter()
        clients = [threading.Thread(target=upload) for _ in range(args.runs)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        status = httpx.get(base + "/api/jobber").json()["jobber"][0]
    finally:
        stop_server(proc)
        tmp.cleanup()

    growth = peak - base_rss
    from bliatlas import jobs

    estimate = jobs.matching_memory(args.persons, MUNICIPALITIES)
    result = {
        "benchmark": "jobs_matching_peak_rss",
        "figure": peak,
        "unit": "bytes",
        "budget": BUDGET_BYTES,
        "pass": peak <= BUDGET_BYTES and statuses == [200] * args.runs and growth <= estimate,
        "peak_gib": round(peak / 2**30, 2),
        "base_rss_gib": round(base_rss / 2**30, 2),
        "runs": args.runs,
        "persons_per_run": args.persons,
        "statuses": sorted(statuses),
        "wall_seconds": round(wall, 1),
        "typical_run_seconds": status["typisk_sekunder"],
        "bytes_per_cell": round(growth / (args.persons * MUNICIPALITIES), 1),
        # the queue admits a run on this estimate (jobs.matching_memory, checked against
        # BLI_JOB_MEMORY_MB before the run starts): the measured growth must stay below it
        "estimate_bytes": estimate,
        "estimate_holds": growth <= estimate,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
