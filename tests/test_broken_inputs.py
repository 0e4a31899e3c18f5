"""A corpus of broken files: each gives a clear error (file, row/column, what was expected),
exit code 2, and leaves the database exactly as it was."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pytest

from bliatlas.cli import main
from bliatlas.store import open_store

CORPUS = Path(__file__).parent / "broken"


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """The corpus: the tracked text cases plus the xlsx/GeoJSON cases make_broken.py writes
    (generated here, so the repository tracks no data files)."""
    import importlib.util

    folder = tmp_path_factory.mktemp("korpus")
    for f in CORPUS.iterdir():
        if f.is_file() and f.suffix != ".py":
            shutil.copy(f, folder)
    spec = importlib.util.spec_from_file_location("make_broken", CORPUS / "make_broken.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(folder)
    assert all((folder / n).is_file() for n in module.GENERATED)
    return folder


def fingerprint(db: Path) -> str:
    with open_store(db, read_only=True) as store:
        parts = []
        for table in ("import", "region", "observation", "observation_history",
                      "observation_unassigned", "region_geometry", "kostra_group"):
            rows = store.query(f"SELECT * FROM {table} ORDER BY ALL")
            parts.append(repr(rows))
    return hashlib.sha256("".join(parts).encode()).hexdigest()


@pytest.fixture(scope="module")
def base_db(tmp_path_factory, shared_data) -> Path:
    db = tmp_path_factory.mktemp("broken") / "base.duckdb"
    assert main(["--database", str(db), "import",
                 str(shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx"),
                 str(shared_data / "telemark" / "bofasthet_fylker.csv")]) == 0
    return db


def xlsx_without_columns(tmp_path: Path) -> Path:
    path = tmp_path / "panel_uten_kolonner.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["year", "Kommunenummer", "Kommune", "Fylke", "pop"])
    ws.append([2024, "4650", "Gloppen", "Vestland", 5900])
    wb.save(path)
    return path


def xlsx_bad_code(tmp_path: Path) -> Path:
    path = tmp_path / "ema_feil_kode.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["year", "kommnr", "År", "Kommunenavn", "Kommunenummer", "ema", "ema_string",
               "prikket"])
    ws.append([2024, "4650", 2024, "Gloppen", "4650", 3, "3", None])
    ws.append([2024, "465", 2024, "Gloppen", "46-50", 3, "3", None])
    wb.save(path)
    return path


CASES = [
    # file, extra args, expected fragments of the message
    ("imdi_truncated.csv", [], ["imdi_truncated.csv", "rad 5", "forventet 4"]),
    # The wide reader checks cells column-wise, but the error named is the first in the
    # file, as a row-by-row reader finds it: a bad cell before a short row, and vice versa.
    ("imdi_bad_cell_before_short_row.csv", [], ["imdi_bad_cell_before_short_row.csv",
                                                "rad 5", "kolonne 4", "'mange'"]),
    ("imdi_short_row_before_bad_cell.csv", [], ["imdi_short_row_before_bad_cell.csv",
                                                "rad 5", "har 3 celler, forventet 4"]),
    ("imdi_utf16.csv", [], ["imdi_utf16.csv", "UTF-16", "ISO-8859-1"]),
    ("imdi_header_rows_missing.csv", [], ["imdi_header_rows_missing.csv", "rad 1",
                                          "'År: …'", "forventet år"]),
    ("imdi_unknown_region.csv", [], ["imdi_unknown_region.csv", "rad 5", "9876",
                                     "finnes ikke"]),
    ("imdi_duplicate_keys.csv", ["--strict"], ["imdi_duplicate_keys.csv", "rad 5",
                                               "dobbel nøkkel", "forventet én verdi"]),
    ("imdi_text_in_number.csv", [], ["imdi_text_in_number.csv", "rad 4", "kolonne 4",
                                     "forventet et tall", "'mange'"]),
    ("empty.csv", [], ["empty.csv", "tom"]),
    ("tidy_text_in_number.csv", [], ["tidy_text_in_number.csv", "rad 3", "Antall",
                                     "'ca. 900'"]),
    ("tidy_truncated.csv", [], ["tidy_truncated.csv", "rad 3", "forventet 7"]),
    ("tidy_latin1.csv", [], ["tidy_latin1.csv", "UTF-8"]),
    ("jsonstat_size_mismatch.json", [], ["jsonstat_size_mismatch.json", "size", "value"]),
    # hostile files (issue 13): refused before they can exhaust memory, stack or time
    ("xlsx_cell_at_XFD1048576.xlsx", [], ["xlsx_cell_at_XFD1048576.xlsx", "A1:XFD1048576",
                                          "17 179 869 184 celler", "grensen er 5 000 000"]),
    ("xlsx_cell_at_ZZ200000.xlsx", [], ["xlsx_cell_at_ZZ200000.xlsx", "ZZ200000",
                                        "140 400 000 celler", "grensen er 5 000 000"]),
    ("imdi_nul_after_4k.csv", [], ["imdi_nul_after_4k.csv", "NUL-byte", "byte 4 396"]),
    ("json_nested_20000.json", [], ["json_nested_20000.json", "dypere enn 64 nivåer"]),
    ("geo_one_feature_nan.geojson", [], ["geo_one_feature_nan.geojson", "kolonne 'geometry'",
                                         "4650", "ikke er et endelig tall"]),
    ("geo_open_ring.geojson", [], ["geo_open_ring.geojson", "ringen er ikke lukket"]),
    ("geo_one_feature.geojson", [], ["geo_one_feature.geojson", "1 av 357 kommuner",
                                     "--partial-geometry"]),
    # values checked against the measure's type
    ("imdi_negative_count.csv", [], ["imdi_negative_count.csv", "rad 4", "et antall",
                                     "heltall ≥ 0", "fant -5"]),
    ("imdi_fractional_count.csv", [], ["imdi_fractional_count.csv", "rad 4", "fant 3835,5"]),
    ("imdi_underscore_number.csv", [], ["imdi_underscore_number.csv", "rad 4", "'1_000'"]),
    ("imdi_arabic_digits.csv", [], ["imdi_arabic_digits.csv", "rad 4", "'١٢٣'"]),
    ("imdi_inf_count.csv", [], ["imdi_inf_count.csv", "rad 4", "'inf'"]),
    ("imdi_nan_count.csv", [], ["imdi_nan_count.csv", "rad 4", "'nan'"]),
    ("imdi_huge_number.csv", [], ["imdi_huge_number.csv", "rad 4", "'1.7e308'",
                                  "urimelig stort"]),
    ("imdi_share_over_100.csv", [], ["imdi_share_over_100.csv", "rad 4", "andel i prosent",
                                     "0–100 (±0,5)", "fant 150,2"]),
]


@pytest.mark.parametrize("name, extra, fragments", CASES, ids=[c[0] for c in CASES])
def test_broken_file_is_rejected_cleanly(name, extra, fragments, base_db, tmp_path, capsys,
                                         broken):
    db = tmp_path / "db.duckdb"
    shutil.copy(base_db, db)
    before = fingerprint(db)
    code = main(["--database", str(db), "import", *extra, str(broken / name)])
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert fingerprint(db) == before


@pytest.mark.parametrize("make, fragments", [
    (xlsx_without_columns, ["panel_uten_kolonner.xlsx", "rad 1", "mangler kolonnene",
                            "sentralitet"]),
    (xlsx_bad_code, ["ema_feil_kode.xlsx", "rad 3", "Kommunenummer", "4-sifret", "'46-50'"]),
])
def test_broken_workbook_is_rejected_cleanly(make, fragments, base_db, tmp_path, capsys):
    db = tmp_path / "db.duckdb"
    shutil.copy(base_db, db)
    before = fingerprint(db)
    code = main(["--database", str(db), "import", str(make(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert fingerprint(db) == before


def test_one_bad_file_in_a_batch_writes_nothing(base_db, tmp_path, shared_data, capsys,
                                                broken):
    db = tmp_path / "db.duckdb"
    shutil.copy(base_db, db)
    before = fingerprint(db)
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(shared_data / "imdi" / "bosatt_anmodede_2014-2021_utvalg.csv", folder)
    shutil.copy(broken / "imdi_unknown_region.csv", folder)
    assert main(["--database", str(db), "import", str(folder)]) == 2
    assert "imdi_unknown_region.csv" in capsys.readouterr().err
    assert fingerprint(db) == before


def test_conflicting_duplicates_are_quarantined_not_guessed(base_db, tmp_path, capsys,
                                                            broken):
    db = tmp_path / "db.duckdb"
    shutil.copy(base_db, db)
    assert main(["--database", str(db), "import", str(broken / "imdi_duplicate_keys.csv")]) == 0
    assert "motstridende verdier" in capsys.readouterr().err
    with open_store(db, read_only=True) as store:
        rows = store.query("SELECT year, value, status FROM observation WHERE region_code='3101' "
                           "AND dataset = 'imdi_innvandringsgrunn' "
                           "ORDER BY year")
    assert rows == [{"year": 2020, "value": 3835.0, "status": "ok"},
                    {"year": 2021, "value": None, "status": "missing"}]


def test_partial_geometry_only_when_asked_and_then_only_its_regions(base_db, tmp_path, broken,
                                                                    shared_data, capsys):
    db = tmp_path / "db.duckdb"
    shutil.copy(base_db, db)
    assert main(["--database", str(db), "import",
                 str(shared_data / "geo" / "kommuner-2024-S.geojson")]) == 0
    with open_store(db, read_only=True) as store:
        before = {r["code"]: r["geojson"] for r in store.query(
            "SELECT code, geojson FROM region_geometry WHERE level = 'kommune'")}
    assert len(before) == 357
    assert main(["--database", str(db), "import", "--partial-geometry",
                 str(broken / "geo_one_feature.geojson")]) == 0
    with open_store(db, read_only=True) as store:
        after = {r["code"]: r["geojson"] for r in store.query(
            "SELECT code, geojson FROM region_geometry WHERE level = 'kommune'")}
    assert len(after) == 357
    assert after["4650"] != before["4650"] and '"coordinates":[[[5.9,61.7]' in after["4650"]
    assert {c: g for c, g in after.items() if c != "4650"} == {
        c: g for c, g in before.items() if c != "4650"}


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["--database", str(tmp_path / "x.duckdb"), "import",
                 str(tmp_path / "finnes-ikke.csv")]) == 2
    assert "finnes ikke" in capsys.readouterr().err
