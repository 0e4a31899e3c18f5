"""What the benchmark scripts share: the data and database, a server on loopback, and a
light HTTP load generator.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio streams: it must cost
far less CPU than the server it measures (both share the machine's two cores), which a full
HTTP library does not. Every load run is bounded in request count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def ensure_database(explicit: str | os.PathLike[str] | None, tmp: Path) -> Path:
    """The given database (or ``$BLI_DATABASE``) if it exists; else import ../shared/data
    into ``tmp/bench.duckdb``."""
    from bliatlas.cli import main as bli

    path = explicit or os.environ.get("BLI_DATABASE")
    if path and Path(path).exists():
        return Path(path)
    db = tmp / "bench.duckdb"
    with contextlib.redirect_stdout(io.StringIO()):
        if bli(["--database", str(db), "import", str(DATA)]) != 0:
            raise SystemExit("import of ../shared/data failed")
    return db


def settlement_inputs(db: Path):
    """The settlement layer's municipality table and calibration targets from ``db``."""
    from bliatlas.settlement import synthetic
    from bliatlas.settlement.features import municipality_features
    from bliatlas.store import open_store

    with open_store(db, read_only=True) as store:
        munis = municipality_features(store)
        return munis, synthetic.CalibrationTargets.load(store, munis)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, env: dict[str, str | None], workers: int = 1
                 ) -> subprocess.Popen[bytes]:
    """uvicorn with the whole app on 127.0.0.1:``port``; ``env`` entries set (or, with
    ``None``, remove) environment variables."""
    full = dict(os.environ)
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    cmd = [sys.executable, "-m", "uvicorn", "bliatlas.api.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(cmd, env=full, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def wait_ready(base: str, proc: subprocess.Popen[bytes], path: str,
               timeout: float = 60.0) -> None:
    """Wait until ``GET base+path`` answers 200 (that first request is not measured)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            raise SystemExit(f"uvicorn stopped: {err}")
        try:
            if httpx.get(base + path, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"uvicorn did not answer within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Connection:
    """One keep-alive HTTP/1.1 connection: ``get`` returns (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None


async def load(port: int, targets: list[str], clients: int, total: int, max_seconds: float,
               ok: Callable[[int, bytes], bool] = lambda status, body: status == 200,
               ) -> tuple[list[float], int, float]:
    """``clients`` concurrent connections cycle through ``targets`` until ``total`` requests
    are done or ``max_seconds`` pass; returns latencies (ms), errors and wall time (s)."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        nonlocal issued, errors
        conn = Connection("127.0.0.1", port)
        try:
            while issued < total and time.monotonic() < deadline:
                target = targets[issued % len(targets)]
                issued += 1
                start = time.perf_counter()
                try:
                    status, body = await conn.get(target)
                    good = ok(status, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    good = False
                    await conn.close()
                latencies.append((time.perf_counter() - start) * 1000)
                errors += not good
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started
