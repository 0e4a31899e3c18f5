"""Shared fixtures: the real data in ../shared/data, imported once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert DATA.is_dir(), f"../shared/data is missing (looked in {DATA})"
    return DATA


@pytest.fixture(scope="session")
def imported_db(tmp_path_factory, shared_data) -> Path:
    """Path to a database with all of ../shared/data imported (read it, don't write it)."""
    from bliatlas.cli import main

    path = tmp_path_factory.mktemp("db") / "bliatlas.duckdb"
    assert main(["--database", str(path), "import", str(shared_data)]) == 0
    return path


@pytest.fixture(scope="session")
def munis(imported_db):
    """The settlement layer's municipality table (357 municipalities) from the import."""
    from bliatlas.settlement.features import municipality_features
    from bliatlas.store import open_store

    with open_store(imported_db, read_only=True) as store:
        return municipality_features(store)


@pytest.fixture(scope="session")
def calibration_targets(imported_db, munis):
    """The published figures the synthetic cohort generator is calibrated to."""
    from bliatlas.settlement import synthetic
    from bliatlas.store import open_store

    with open_store(imported_db, read_only=True) as store:
        return synthetic.CalibrationTargets.load(store, munis)


def reset_app_caches() -> None:
    """Forget the process-wide store, cube, page and report contexts (between databases)."""
    from bliatlas import serving as deps
    from bliatlas.indicators import api as indicators_api
    from bliatlas.render import context as web_context
    from bliatlas.reports.context import reset_shared_report_context

    reset_shared_report_context()
    web_context.reset_context()
    indicators_api.reset_cube()
    deps.reset()


@pytest.fixture(scope="module")
def client(imported_db):
    """The whole app (API and pages) in a TestClient over the imported database."""
    from fastapi.testclient import TestClient

    from bliatlas.api.app import create_app

    mp = pytest.MonkeyPatch()
    mp.setenv("BLI_DATABASE", str(imported_db))
    mp.delenv("BLI_SETTLEMENT_MODEL", raising=False)
    reset_app_caches()
    with TestClient(create_app()) as c:
        with_csrf_token(c)
        yield c
    reset_app_caches()
    mp.undo()


def with_csrf_token(client) -> str:
    """Give a TestClient the CSRF cookie and send its token as ``X-CSRF-Token`` on every
    request, as a form on the site would in its hidden field (tests of the protection
    itself use a client without it)."""
    import re

    page = client.get("/logg-inn")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.headers["X-CSRF-Token"] = token
    return token


@pytest.fixture()
def db_env(imported_db, monkeypatch) -> Path:
    """Point BLI_DATABASE at the imported database (for the API and libraries)."""
    monkeypatch.setenv("BLI_DATABASE", str(imported_db))
    return imported_db


def pytest_configure(config):
    os.environ.setdefault("BLI_TEST", "1")


def bli_on(db: Path, *args: object) -> int:
    """Run the `bli` command line against database ``db``; returns the exit code."""
    from bliatlas.cli import main

    return main(["--database", str(db), *(str(a) for a in args)])


# -- helpers for the publisher clients' tests (SSB, IMDi, the standard set) -------------------


@pytest.fixture(scope="session")
def registry_db(tmp_path_factory, shared_data) -> Path:
    """A database holding only the real 2024 registry (the panel); copy it, don't write it."""
    from bliatlas.cli import main

    path = tmp_path_factory.mktemp("registry") / "registry.duckdb"
    assert main(["--database", str(path), "import",
                 str(shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx")]) == 0
    return path


@pytest.fixture
def db(registry_db, tmp_path) -> Path:
    """A fresh copy of the registry database for one test."""
    import shutil

    path = tmp_path / "bli.duckdb"
    shutil.copy(registry_db, path)
    return path


def db_rows(db: Path, sql: str, params=None) -> list[dict]:
    from bliatlas.store import open_store

    with open_store(db, read_only=True) as store:
        return store.query(sql, params)


def db_snapshot(db: Path) -> tuple:
    """Everything imports write, to show that a refused answer left the database as it was."""
    return tuple(
        tuple(sorted(map(str, db_rows(db, f"SELECT * FROM {t}"))))
        for t in ("import", "observation", "observation_history", "observation_unassigned")
    )


def unmatched_selectors(store, catalogue, datasets) -> tuple[int, list[tuple[str, str, str]]]:
    """(selectors checked, those that find no stored cell) among the catalogue's selectors
    over ``datasets`` — a typo in a dims value would otherwise give a silently empty
    indicator."""
    checked, missing = 0, []
    for ind in catalogue.indicators:
        for terms in (ind.numerator, ind.denominator or []):
            for term in terms:
                for sel in term.any_of:
                    if sel.dataset not in datasets:
                        continue
                    for dims in sel.dims_strings():
                        n = store.query(
                            "SELECT count(*) AS n FROM observation WHERE dataset = ? AND "
                            "measure = ? AND unit = ? AND dims = ?",
                            [sel.dataset, sel.measure, sel.unit, dims])[0]["n"]
                        checked += 1
                        if n == 0:
                            missing.append((ind.id, sel.describe(), dims))
    return checked, missing
