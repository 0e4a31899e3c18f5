"""Personal data never at rest: an uploaded cohort is read in memory, never cached, and kept
only in process memory for a short while.

Marker rows (values that occur nowhere else) are uploaded through the planner page and the
API, the result pages and downloads are fetched, and a broken upload carrying the marker is
refused; meanwhile every way the standard library offers to make a temporary file is
watched. Afterwards the temporary directories, the working directory, the database's
directory and the home directory are searched for the marker in every file changed since the
test began, and so are the log records and what the process printed.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import pytest
from settlement_checker import independent_check  # noqa: F401  (autouse fixture)
from test_web_planner import _cohort_csv, _run_id, small_cohort

from bliatlas.settlement import run_store

MAX_SCAN_BYTES = 50 * 1024 * 1024


def _marked_cohort(marker: str) -> bytes:
    rows = small_cohort()
    for r in rows:
        r["person_id"] = f"{marker}-{r['person_id']}"
        r["household_id"] = f"{marker}-{r['household_id']}"
    return _cohort_csv(rows)


def _files_changed_since(roots: list[Path], since: float):
    seen: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            dirnames[:] = [d for d in dirnames if d not in (".git", "node_modules", ".venv")]
            for name in filenames:
                path = Path(dirpath) / name
                if path in seen:
                    continue
                seen.add(path)
                try:
                    st = path.stat()
                except OSError:
                    continue
                if st.st_mtime >= since - 1 and st.st_size <= MAX_SCAN_BYTES:
                    yield path


def test_cohort_data_never_reaches_disk_logs_or_caches(client, imported_db, monkeypatch, caplog,
                                                       capfd):
    marker = "MARKOER" + secrets.token_hex(8)
    made: list[str] = []
    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile",
                 "SpooledTemporaryFile", "TemporaryDirectory"):
        real = getattr(tempfile, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            made.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, spy)
    caplog.set_level(logging.DEBUG)
    started = time.time()
    data = _marked_cohort(marker)
    big = data + b"\n" * (1_500_000)  # over starlette's 1 MB spool limit: must stay in memory
    r = client.post("/bosetting/matching", data={"kilde": "fil", "fylke": "46"},
                    files={"kohort": ("kohort.csv", big, "text/csv")})
    assert r.status_code == 200, r.text[-1000:]
    assert r.headers["cache-control"] == "no-store"
    assert r.history and r.history[0].headers["cache-control"] == "no-store"  # the redirect
    run_id = _run_id(r.url)
    assert marker in r.text  # the result shows the households (to the planner only)
    for url in (f"/bosetting/matching/{run_id}", f"/bosetting/matching/{run_id}?side=1",
                f"/bosetting/matching/{run_id}/tildeling.csv",
                f"/bosetting/matching/{run_id}/kapasitet.csv",
                f"/api/bosetting/match/{run_id}.csv"):
        got = client.get(url)
        assert got.status_code == 200, url
        assert got.headers["cache-control"] == "no-store", url
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/bosetting/matching/{run_id}/tildeling.csv").text.lstrip("\ufeff"))))
    assert all(x["person_id"].startswith(marker) for x in rows)
    api = client.post("/api/bosetting/match", data={"fylke": "46"},
                      files={"kohort": ("kohort.csv", data, "text/csv")})
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    lock = client.post(f"/bosetting/matching/{run_id}/endre",
                       data={"husholdning": f"{marker}-h0", "kommune": "4601",
                             "handling": "lås"})
    assert lock.status_code == 200
    assert lock.history and lock.history[0].headers["cache-control"] == "no-store"
    broken = data.replace(b",35,", b",tretti,", 1)
    bad = client.post("/bosetting/matching", data={"kilde": "fil"},
                      files={"kohort": ("kohort.csv", broken, "text/csv")})
    assert bad.status_code == 400 and bad.headers["cache-control"] == "no-store"
    assert made == [], f"temporary files were made: {made}"
    # nothing with the marker in the temporary directories, here, by the database or at home
    needle = marker.encode()
    roots = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"),
             Path.cwd(), Path(imported_db).parent, Path.home()]
    hits = [str(p) for p in _files_changed_since(roots, started)
            if _contains(p, needle)]
    assert hits == [], hits
    assert not any(marker in rec.getMessage() for rec in caplog.records)
    out, err = capfd.readouterr()
    assert marker not in out and marker not in err
    # and the runs go when their time is up
    kept = [run_store.get_run(rid) for rid in (run_id, api.json()["id"])]
    monkeypatch.setenv("BLI_MATCH_TTL", "10")
    for run in kept:
        monkeypatch.setattr(run, "created", time.monotonic() - 60)
    assert client.get(f"/bosetting/matching/{run_id}").status_code == 404
    assert client.get(f"/api/bosetting/match/{kept[1].id}.csv").status_code == 404


def _contains(path: Path, needle: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return needle in fh.read()
    except OSError:
        return False


@pytest.mark.parametrize("url", ["/bosetting/matching/finnes-ikke",
                                 "/bosetting/matching/finnes-ikke/tildeling.csv",
                                 "/api/bosetting/match/finnes-ikke.csv"])
def test_answers_about_runs_are_never_cached(client, url):
    r = client.get(url)
    assert r.status_code == 404 and r.headers["cache-control"] == "no-store"
