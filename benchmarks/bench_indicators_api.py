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
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_indicators_cube import ensure_database

BUDGET_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "BLI_DATABASE": str(db)}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bliatlas.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/regioner/4650", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not answer within 60 s")


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str,
               path: str) -> int:
    """One HTTP/1.1 keep-alive GET on an open connection; returns the status code.

    A minimal client (no pooling layer) so that the figure measures the server, not the
    load generator, which shares the machine's two cores with it.
    """
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(h.split(":", 1)[1]) for h in lines[1:]
                  if h.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


async def load(host: str, port: int, codes: list[str], clients: int, total: int,
               max_seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and next_index < total:
                code = codes[next_index % len(codes)]
                next_index += 1
                start = time.perf_counter()
                status = await _get(reader, writer, f"{host}:{port}", f"/api/profil/{code}")
                latencies.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


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
        proc = start_server(db, port, args.workers)
        try:
            wait_ready(base, proc)
            regions = httpx.get(f"{base}/api/regioner", timeout=30).json()["regioner"]
            codes = [r["kode"] for r in regions]
            cold = []
            for code in codes:  # warm-up: first request per region builds its profile
                start = time.perf_counter()
                assert httpx.get(f"{base}/api/profil/{code}", timeout=30).status_code == 200
                cold.append((time.perf_counter() - start) * 1000)
            latencies, errors, elapsed = asyncio.run(
                load("127.0.0.1", port, codes, args.clients, args.requests, args.max_seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
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
