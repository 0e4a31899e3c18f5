"""`bli import` on the real files: values, merges, suppression, idempotence, new versions."""

from __future__ import annotations

import csv
import io
import json
import shutil

import openpyxl

from bliatlas.cli import main
from bliatlas.store import open_store


def q(db, sql, params=None):
    with open_store(db, read_only=True) as store:
        return store.query(sql, params)


def value(db, dataset, measure, region, year, dims="", unit="personer"):
    rows = q(db, "SELECT value, status, status_note FROM observation WHERE dataset=? AND "
             "measure=? AND region_code=? AND year=? AND dims=? AND unit=?",
             [dataset, measure, region, year, dims, unit])
    assert len(rows) == 1, (dataset, measure, region, year, dims, unit, rows)
    return rows[0]


def imdi_rows(path):
    text = path.read_bytes().decode("iso-8859-1")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = [r for r in rows if r and not r[0].startswith("K")]
    data = {r[0]: r for r in rows if r and r[0].startswith("K")}
    return header, data


def column(header, **wanted):
    """Index of the value column whose header cells match ``wanted`` (dimension → value)."""
    for c in range(2, len(header[0])):
        cells = dict(h[c].split(": ", 1) for h in header)
        if all(cells.get(k) == v for k, v in wanted.items()):
            return c
    raise AssertionError(wanted)


def test_every_shared_file_imports_and_is_listed(imported_db, shared_data, capsys):
    files = sorted(p.name for p in shared_data.rglob("*") if p.suffix in (".csv", ".xlsx",
                                                                          ".geojson"))
    assert main(["--database", str(imported_db), "sources", "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)
    assert sorted(s["source"] for s in sources) == files
    for s in sources:
        assert len(s["content_sha256"]) == 64 and s["licence"] and s["publisher"]


def test_second_import_adds_nothing(imported_db, shared_data, capsys):
    before = q(imported_db, "SELECT count(*) AS n FROM observation")[0]["n"]
    n_imports = q(imported_db, "SELECT count(*) AS n FROM import")[0]["n"]
    assert main(["--database", str(imported_db), "import", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "0 nye og 0 endrede verdier" in out
    assert q(imported_db, "SELECT count(*) AS n FROM observation")[0]["n"] == before
    assert q(imported_db, "SELECT count(*) AS n FROM import")[0]["n"] == n_imports


def test_panel_values_land_as_published(imported_db, shared_data):
    wb = openpyxl.load_workbook(shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx",
                                read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    head = rows[0]
    gloppen = next(dict(zip(head, r)) for r in rows[1:] if r[3] == "4650" and r[0] == 2024)
    for measure, col in [("anmodning", "innvandr_anmodet"), ("folkemengde", "pop"),
                         ("bosatte_flyktninger", "innvandr")]:
        got = value(imported_db, "kommuner_bosetting", measure, "4650", 2024)
        assert got["status"] == "ok" and got["value"] == float(gloppen[col])
    got = value(imported_db, "kommuner_bosetting", "vedtak", "4650", 2024)
    assert got["value"] == float(gloppen["innvandr_vedtak"])


def test_suppressed_cells_are_never_numbers(imported_db, shared_data):
    wb = openpyxl.load_workbook(shared_data / "panel" / "enslige_mindreaarige_2022-2024.xlsx",
                                read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    suppressed = [(r[4], r[0]) for r in rows[1:] if r[6] == "<5"]
    assert len(suppressed) > 100
    for code, year in suppressed[:50]:
        got = value(imported_db, "enslige_mindreaarige", "enslige_mindreaarige_bosatt", code, year)
        assert (got["value"], got["status"]) == (None, "suppressed")
        assert got["status_note"].startswith("Prikket (<5)")
        # what everyone knows about a suppressed count: one of 0-4
        bounds = q(imported_db, "SELECT lower_bound, upper_bound FROM observation WHERE "
                   "dataset = 'enslige_mindreaarige' AND region_code = ? AND year = ?",
                   [code, year])[0]
        assert (bounds["lower_bound"], bounds["upper_bound"]) == (0, 4)
    bad = q(imported_db, "SELECT count(*) AS n FROM observation WHERE status <> 'ok' AND value "
            "IS NOT NULL")
    assert bad[0]["n"] == 0
    # IMDi's ':' in the settlement export is suppressed too.
    n = q(imported_db, "SELECT count(*) AS n FROM observation WHERE dataset='imdi_bosetting' "
          "AND status='suppressed'")[0]["n"]
    assert n > 0


def test_merged_municipalities_are_summed_per_year(imported_db, shared_data):
    header, data = imdi_rows(shared_data / "imdi" / "innvandringsgrunn_kommuner_2006-2021.csv")
    c2019 = column(header, Innvandringsgrunn="Alle", Kjønn="Kvinner", Enhet="Personer", År="2019")
    c2021 = column(header, Innvandringsgrunn="Alle", Kjønn="Kvinner", Enhet="Personer", År="2021")
    dims = "innvandringsgrunn=Alle|kjonn=Kvinner"
    moss_2019 = int(data["K0104"][c2019]) + int(data["K0136"][c2019])
    got = value(imported_db, "imdi_innvandringsgrunn", "innvandrere", "3103", 2019, dims)
    assert got["value"] == moss_2019 and "0104" in got["status_note"]
    got = value(imported_db, "imdi_innvandringsgrunn", "innvandrere", "3103", 2021, dims)
    assert got["value"] == int(data["K3002"][c2021])
    # Renumbered only: Halden's whole series is under its 2020 code K3001.
    got = value(imported_db, "imdi_innvandringsgrunn", "innvandrere", "3101", 2019, dims)
    assert got["value"] == int(data["K3001"][c2019])
    # Percentages of merged municipalities are not summed.
    pct = value(imported_db, "imdi_innvandringsgrunn", "innvandrere", "3103", 2019, dims,
                "prosent")
    assert pct["status"] == "missing" and "andeler" in pct["status_note"]


def test_split_municipalities_are_kept_aside_and_flagged(imported_db, shared_data):
    rows = q(imported_db, "SELECT DISTINCT source_region_code, reason FROM "
             "observation_unassigned WHERE dataset='imdi_innvandringsgrunn'")
    codes = {r["source_region_code"] for r in rows}
    assert {"K1850", "K5012", "K1507"} <= codes
    assert "K1571" not in codes  # Halsa merged into Heim (2020); it was not split
    assert all(r["reason"] for r in rows)
    dims = "innvandringsgrunn=Alle|kjonn=Kvinner"
    narvik = value(imported_db, "imdi_innvandringsgrunn", "innvandrere", "1806", 2015, dims)
    assert "1850" in narvik["status_note"]
    # Ålesund 2020-2021 (before Haram left again) is not assigned to 2024 Ålesund.
    assert not q(imported_db, "SELECT 1 FROM observation WHERE dataset='imdi_innvandringsgrunn' "
                 "AND region_code IN ('1508', '1580') AND year >= 2020 AND status = 'ok'")


def test_telemark_codes_from_three_structures_meet(imported_db):
    rows = q(imported_db, "SELECT year, value FROM observation WHERE "
             "dataset='telemark_innvandringsgrunn' AND region_code='4001' AND "
             "dims='innvandringsgrunn=Alle|kjonn=Alle' AND unit='personer' ORDER BY year")
    years = [r["year"] for r in rows]
    assert years[0] == 2006 and years[-1] == 2025 and len(years) == 20


def test_new_version_replaces_and_keeps_history(tmp_path, shared_data, capsys):
    db = tmp_path / "v.duckdb"
    src = shared_data / "telemark" / "sysselsatte_etter_landbakgrunn_telemark.csv"
    panel = shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx"
    assert main(["--database", str(db), "import", str(panel), str(src)]) == 0
    newer = tmp_path / "sysselsatte_etter_landbakgrunn_telemark.csv"
    text = src.read_text(encoding="utf-8")
    assert "2025,65.5,66.8,53.7" in text
    newer.write_text(text.replace("2025,65.5,66.8,53.7", "2025,65.5,66.8,54.1"),
                     encoding="utf-8")
    capsys.readouterr()
    assert main(["--database", str(db), "import", str(newer)]) == 0
    assert "0 nye og 1 endrede verdier" in capsys.readouterr().out
    dims = "landbakgrunn=Gruppe 2-land (Asia, Afrika, Latin-Amerika ++)"
    now = q(db, "SELECT value FROM observation WHERE dataset='sysselsatte_landbakgrunn' AND "
            "year=2025 AND dims=?", [dims])
    old = q(db, "SELECT value, replaced_by_import FROM observation_history")
    assert now == [{"value": 54.1}] and old[0]["value"] == 53.7
    # The changed key was replaced, not added (the table has no key index; see store.py).
    assert q(db, "SELECT count(*) AS n FROM observation_source WHERE "
             "dataset='sysselsatte_landbakgrunn' AND year=2025 AND dims=?", [dims]) == [{"n": 1}]


def test_every_stored_key_is_unique(imported_db):
    # observation_source has no primary-key index (migration 5): uniqueness is by
    # construction, checked here over all 1,2 million values of ../shared/data.
    rows = q(imported_db, "SELECT count(*) AS n, count(DISTINCT (dataset, measure, "
             "region_code, year, dims, unit)) AS keys FROM observation_source")
    assert rows[0]["n"] == rows[0]["keys"] and rows[0]["n"] > 1_000_000


def test_import_without_registry_says_what_to_do(tmp_path, shared_data, capsys):
    db = tmp_path / "empty.duckdb"
    code = main(["--database", str(db), "import",
                 str(shared_data / "telemark" / "bofasthet_fylker.csv")])
    assert code == 2
    assert "regionregisteret er tomt" in capsys.readouterr().err


def test_copy_of_a_file_under_another_name_is_recognised(tmp_path, shared_data, capsys):
    db = tmp_path / "c.duckdb"
    panel = shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx"
    renamed = tmp_path / "data.bin"
    shutil.copy(panel, renamed)
    assert main(["--database", str(db), "import", str(renamed)]) == 0
    assert "kommuner_bosetting" in capsys.readouterr().out
