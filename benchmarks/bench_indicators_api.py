"""Profile requests under load: p95 latency of ``GET /api/profil/{code}`` with 50 concurrent
clients on loopback.

Budget (issue 3): p95 under 50 ms. Starts ``uvicorn`` in a subprocess on 127.0.0.1 (a
free port) against the database given with ``--database`` (or ``$BLI_DATABASE``; without
one, ../shared/data is imported into a temporary database first), waits until it answers,
warms it with one request per region (the cube is built at startup, profiles are cached
on first request), then runs a bounded asyncio load generator (plain keep-alive HTTP/1.1 connections): ``--clients``
concurrent keep-alive clients, ``--requests`` requests in total over all municipality and
county codes, stopped after ``--max-seconds`` whatever happens. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, free_port, load, start_server, stop_server, wait_ready

BUDGET_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(port, {"BLI_DATABASE": str(db)}, args.workers)
        try:
            wait_ready(base, proc, "/api/regioner/4650")
            regions = httpx.get(f"{base}/api/regioner", timeout=30).json()["regioner"]
            targets = [f"/api/profil/{r['kode']}" for r in regions]
            cold = []
            for target in targets:  # warm-up: first request per region builds its profile
                start = time.perf_counter()
                assert httpx.get(base + target, timeout=30).status_code == 200
                cold.append((time.perf_counter() - start) * 1000)
            latencies, errors, elapsed = asyncio.run(
                load(port, targets, args.clients, args.requests, args.max_seconds))
        finally:
            stop_server(proc)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(json.dumps({
        "benchmark": "indicators_profile_api_p95",
        "figure": round(p95, 2),
        "unit": "ms",
        "budget": BUDGET_MS,
        "pass": p95 < BUDGET_MS and errors == 0,
        "clients": args.clients,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
        "first_request_median_ms": round(statistics.median(cold), 2),
        "server_workers": args.workers,
    }))


if __name__ == "__main__":
    main()
