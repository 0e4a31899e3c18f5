"""Data refresh without downtime: imports write a copy beside the served database and
rename it over the file; a running server switches by itself, under load, with no failed
request; two imports are serialised with a Norwegian message; a server started during the
first import waits for the database instead of exiting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bliatlas.cli import main
from bliatlas.store import open_store, state_token, writer_lock

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(db: Path, port: int, **env: str) -> subprocess.Popen:
    full = {**os.environ, "BLI_DATABASE": str(db), "BLI_RELOAD_SECONDS": "0.2",
            "BLI_WARMUP": "1", **env}
    full.pop("BLI_SETTLEMENT_MODEL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bliatlas.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=full, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(url: str, proc: subprocess.Popen, status: int = 200, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        try:
            if httpx.get(url, timeout=30).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _retention_file(tmp: Path, vestland: int) -> Path:
    """bofasthet_fylker.csv with Vestland's published share replaced (a data correction)."""
    src = (DATA / "telemark" / "bofasthet_fylker.csv").read_text(encoding="utf-8")
    lines = src.splitlines()
    out = [line if not line.startswith('"Vestland"') else
           '"Vestland";' + ";".join([str(vestland), *line.split(";")[2:]]) for line in lines]
    path = tmp / "bofasthet_fylker.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _vestland_retention(base: str) -> float:
    r = httpx.get(base + "/api/data/bofasthet_fylke?niva=fylke", timeout=30)
    assert r.status_code == 200, r.text
    return next(row["verdi"] for row in r.json()["verdier"] if row["kode"] == "46")


@pytest.fixture()
def served_copy(imported_db, tmp_path):
    db = tmp_path / "served.duckdb"
    shutil.copyfile(imported_db, db)
    return db


def test_import_under_load_switches_without_a_failed_request(served_copy, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _server(served_copy, port)
    try:
        _wait(base + "/api/regioner", proc)
        before = _vestland_retention(base)
        token = httpx.get(base + "/api/jobber").json()["database"]
        results: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(timeout=60) as c:
                urls = ["/api/regioner", "/kommune/4650", "/api/profil/4601",
                        "/api/data/bofasthet_fylke?niva=fylke"]
                i = 0
                while not stop.is_set():
                    try:
                        results.append(c.get(base + urls[i % len(urls)]).status_code)
                    except httpx.HTTPError:
                        results.append(-1)
                    i += 1

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        changed = _retention_file(tmp_path, 70)
        assert main(["--database", str(served_copy), "import", str(changed)]) == 0
        deadline = time.monotonic() + 180
        while httpx.get(base + "/api/jobber").json()["database"] == token:
            assert time.monotonic() < deadline, "the server did not switch to the new file"
            time.sleep(0.2)
        time.sleep(1.0)
        stop.set()
        for w in workers:
            w.join()
        assert len(results) > 20
        assert set(results) == {200}, {s: results.count(s) for s in set(results)}
        assert before != 70 and _vestland_retention(base) == 70
        assert proc.poll() is None
    finally:
        _stop(proc)
    assert not list(tmp_path.glob(".served.duckdb.ny-*"))  # no copy left behind


def test_second_import_waits_with_a_message(served_copy, tmp_path):
    changed = _retention_file(tmp_path, 71)
    release = threading.Event()
    held = threading.Event()

    def first_import() -> None:
        with writer_lock(served_copy):
            held.set()
            release.wait(60)

    t = threading.Thread(target=first_import)
    t.start()
    held.wait(10)
    proc = subprocess.Popen([sys.executable, "-m", "bliatlas.cli", "--database",
                             str(served_copy), "import", str(changed)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr))
    reader.start()
    deadline = time.monotonic() + 180
    while not any("en annen import eller synkronisering skriver til" in x for x in lines):
        assert proc.poll() is None, "".join(lines)  # waiting, not failed
        assert time.monotonic() < deadline, "no waiting message"
        time.sleep(0.1)
    time.sleep(1)
    assert proc.poll() is None  # still waiting for the lock
    release.set()
    t.join()
    proc.wait(timeout=240)
    reader.join()
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert f"prosess {os.getpid()}" in err
    assert "Traceback" not in err
    with open_store(served_copy, read_only=True) as store:
        value = store.query("SELECT value FROM observation WHERE dataset = 'bofasthet_fylker' "
                            "AND region_code = '46' AND measure = 'bofasthet'")
    values = [r["value"] for r in value]
    assert 71 in values and 84 not in values  # the share now reads 71 (was 84)


def test_failed_import_leaves_the_database_and_no_copy(served_copy, tmp_path):
    before = state_token(served_copy)
    bad = tmp_path / "ødelagt.csv"
    bad.write_text('"Fylke";"Bosatt i første bostedskommune"\n"Vestland";mange\n',
                   encoding="utf-8")
    assert main(["--database", str(served_copy), "import", str(bad)]) == 2
    assert state_token(served_copy) == before  # same file, not rewritten
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_serve_started_during_the_first_import_waits_for_the_database(tmp_path):
    db = tmp_path / "ny.duckdb"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _server(db, port)
    try:
        _wait(base + "/api/regioner", proc, status=503, timeout=120)
        r = httpx.get(base + "/api/regioner")
        assert "finnes ikke" in r.json()["error"]
        importer = subprocess.run(
            [sys.executable, "-m", "bliatlas.cli", "--database", str(db), "import",
             str(DATA / "panel")], check=False, cwd=REPO, capture_output=True, text=True,
            timeout=600)
        assert importer.returncode == 0, importer.stderr
        _wait(base + "/api/regioner", proc, status=200, timeout=240)
        assert len(httpx.get(base + "/api/regioner?niva=fylke").json()["regioner"]) == 15
        assert proc.poll() is None
    finally:
        _stop(proc)
