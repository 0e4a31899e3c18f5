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
    from bliatlas.api import deps
    from bliatlas.indicators import api as indicators_api
    from bliatlas.reports.context import reset_shared_report_context
    from bliatlas.web import context as web_context

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
