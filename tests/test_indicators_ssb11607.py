"""SSB table 11607 (employment of immigrants) slots into the catalogue without code changes.

The table is synced with `bli sync ssb 11607` from the project's labelled SSB test fixture
(served by tests/ssb_fake.py, no network) into a copy of the real import; a catalogue with
one extra `published` entry then yields the rate for the synced municipalities.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from ssb_fake import FakeSsb, load_fixture

from bliatlas.cli import main
from bliatlas.indicators.catalogue import CATALOGUE_PATH, parse_catalogue
from bliatlas.indicators.engine import build_cube
from bliatlas.sources import ssb
from bliatlas.store import open_store

DIMS = {
    "alder": "15-74 år",
    "kjonn": "Menn",
    "landbakgrunn": "Norden utenom Norge, EU/EFTA, Storbritannia, USA, Canada, Australia, "
                    "New Zealand",
}


@pytest.fixture()
def synced_db(imported_db, tmp_path, monkeypatch):
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")
    path = tmp_path / "with_11607.duckdb"
    shutil.copy(imported_db, path)
    monkeypatch.setattr(ssb, "transport_factory", FakeSsb(load_fixture("11607.json")).factory())
    assert main(["--database", str(path), "sync", "ssb", "11607", "--region", "4601,4650",
                 "--region", "3806", "--year", "2022", "--year", "2023",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    return path


def test_ssb_11607_entry_is_computed_for_synced_regions(synced_db):
    with open_store(synced_db, read_only=True) as store:
        stored = store.query(
            "SELECT measure, unit, region_code, year, value FROM observation "
            "WHERE dataset = 'ssb_11607' AND dims = ? AND status = 'ok' ORDER BY 3, 4",
            ["|".join(f"{k}={v}" for k, v in sorted(DIMS.items()))])
    assert stored, "the sync stored the selected cells"
    measure, unit = stored[0]["measure"], stored[0]["unit"]

    data = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    data["indicators"].append({
        "id": "sysselsatte_innvandrere_norden_eu_menn",
        "topic": "sysselsetting",
        "name_nb": "Sysselsatte mannlige innvandrere fra Norden, EU/EFTA mfl. (15–74 år)",
        "name_en": "Employment rate, male immigrants from Nordic/EU/EFTA etc. (15-74)",
        "definition": "Andel sysselsatte, slik SSB publiserer det i tabell 11607.",
        "kind": "published",
        "numerator": {"dataset": "ssb_11607", "measure": measure, "unit": unit, "dims": DIMS},
        "aggregation": "none",
        "unit": "prosent",
        "direction": "higher_better",
        "sources": ["SSB tabell 11607"],
    })
    catalogue = parse_catalogue(data, "catalogue.yaml + 11607")
    with open_store(synced_db, read_only=True) as store:
        cube = build_cube(store, catalogue)
    for row in stored:
        cell = cube.cell("sysselsatte_innvandrere_norden_eu_menn", "kommune",
                         row["region_code"], row["year"])
        assert cell.status == "ok" and cell.value == row["value"]
    # Porsgrunn's 2020–2023 code 3806 was placed on 4001 by the sync and computed there
    assert cube.years["sysselsatte_innvandrere_norden_eu_menn"] == sorted(
        {r["year"] for r in stored})
    assert any(r["region_code"] == "4001" for r in stored)
