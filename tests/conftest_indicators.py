"""Fixtures for the indicator tests: the cube built once from the real import, and the
raw files read independently (openpyxl/csv) so tests can recompute values by hand.

Test modules load it with ``pytest_plugins = ["conftest_indicators"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from indicators_raw import DATA, read_imdi_export, read_xlsx

from bliatlas.indicators.engine import Cube, build_cube
from bliatlas.store import open_store


@pytest.fixture(scope="session")
def cube(imported_db: Path) -> Cube:
    """The full cube computed from the real import (``imported_db`` from conftest.py)."""
    with open_store(imported_db, read_only=True) as store:
        return build_cube(store)


@pytest.fixture(scope="session")
def panel() -> dict[tuple[str, int], dict[str, Any]]:
    """The municipality panel by (municipality code, year), straight from the xlsx."""
    rows = read_xlsx(DATA / "panel" / "kommuner_bosetting_2022-2024.xlsx")
    return {(r["Kommunenummer"], r["year"]): r for r in rows}


@pytest.fixture(scope="session")
def grants() -> list[dict[str, Any]]:
    return read_xlsx(DATA / "panel" / "imdi_tilskudd_kommuner_2022-2024.xlsx")


@pytest.fixture(scope="session")
def imdi_export():
    return read_imdi_export
