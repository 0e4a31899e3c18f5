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


EDUCATION_2021 = "innvandringsgrunn=Utdanning (inkl. au pair) eller andre grunner|kjonn=Alle"


def hide_education_count(path: Path, true_value: float = 2.0) -> None:
    """In a copy of the import: IMDi suppresses Gloppen's immigrants who came for education
    in 2021 (':'), as it would a count under 5. The real count is 11, so the total of all
    reasons is lowered by 11 − ``true_value``: the hidden count is then ``true_value``, and
    the published cells are consistent with it (the reasons still add up to the total)."""
    with open_store(path) as store:
        where = ("dataset = 'imdi_innvandringsgrunn' AND region_code = '4650' AND year = 2021 "
                 "AND unit = 'personer' AND dims = ?")
        real = store.query(f"SELECT value FROM observation_source WHERE {where}",
                           [EDUCATION_2021])[0]["value"]
        store.execute(f"UPDATE observation_source SET value = value - ? WHERE {where}",
                      [real - true_value, "innvandringsgrunn=Alle|kjonn=Alle"])
        store.execute(
            "UPDATE observation_source SET value = NULL, status = 'suppressed', "
            f"status_note = ':', lower_bound = 0, upper_bound = 4 WHERE {where}",
            [EDUCATION_2021])
