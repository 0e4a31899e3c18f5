"""Downloads go through one export module: two named CSV styles, xlsx with text kept as
text, and cells that a spreadsheet would run as formulas neutralised (OWASP's rule)."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook

from bliatlas import export
from bliatlas.settlement.cohort import COHORT_COLUMNS

HOSTILE = ["=HYPERLINK(\"http://x.test\",\"klikk\")", "+cmd|' /C calc'!A0", "@SUM(1+1)",
           "-2+3", "\tTAB", "\rCR"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_starts_are_neutralised(text):
    assert export.neutralise(text) == "'" + text
    assert export.cell_text(text) == "'" + text


def test_numbers_and_plain_text_are_left_alone():
    assert export.cell_text(-2.5) == "-2.5"
    assert export.cell_text(-2.5, export.EXCEL) == "-2,5"
    assert export.cell_text(3.0, export.EXCEL) == "3"
    assert export.cell_text(float("nan")) == ""
    assert export.cell_text(None) == ""
    assert export.cell_text(True) == "1"
    assert export.cell_text("Guovdageaidnu – Kautokeino") == "Guovdageaidnu – Kautokeino"


def test_the_two_styles():
    rows = [["4601", "Bergen", 12.5], ["5403", "Alta", None]]
    machine = export.csv_bytes(["kode", "navn", "verdi"], rows, export.MACHINE)
    assert machine == b"kode,navn,verdi\r\n4601,Bergen,12.5\r\n5403,Alta,\r\n"
    excel = export.csv_bytes(["kode", "navn", "verdi"], rows, export.EXCEL, footer=["Kilde: x"])
    assert excel == ("\ufeffkode;navn;verdi\r\n4601;Bergen;12,5\r\n5403;Alta;\r\n"
                     "\r\n# Kilde: x\r\n").encode("utf-8")
    assert export.style("excel") is export.EXCEL and export.style("") is export.MACHINE
    with pytest.raises(export.UserError, match="stil: forventet maskin eller excel"):
        export.style("tsv")


def test_xlsx_keeps_text_as_text_and_makes_sheet_titles_valid():
    data = export.xlsx_bytes([export.Sheet("a/b:c*?[x]", ["navn", "n"], [["=1+1", 2]]),
                              export.Sheet("a/b:c*?[x]", None, [["@A1"]]),
                              export.Sheet("x" * 40, None, [])])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["a_b_c___x_", "a_b_c___x_ (2)", "x" * 31]
    ws = wb["a_b_c___x_"]
    assert ws["A2"].value == "=1+1" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 2 and ws["B2"].data_type == "n"
    assert wb["a_b_c___x_ (2)"]["A1"].data_type == "s"


# -- every download endpoint ------------------------------------------------------------
def _hostile_cohort() -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COHORT_COLUMNS), lineterminator="\n")
    w.writeheader()
    base = {"age": "30", "sex": "K", "education": "grunnskole", "norwegian_level": "ingen",
            "country_group": "syria", "unaccompanied_minor": "0", "support_need": "0",
            "tie_municipality": "", "tie_kind": ""}
    for i, hostile in enumerate(HOSTILE[:4]):
        w.writerow({**base, "person_id": hostile, "household_id": HOSTILE[(i + 1) % 4]})
    return buf.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def hostile_run(client):
    r = client.post("/api/bosetting/match", data={"fylke": "46"},
                    files={"kohort": ("kohort.csv", _hostile_cohort(), "text/csv")})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _cells(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))


def test_match_csv_neutralises_uploaded_ids(client, hostile_run):
    for url in (f"/api/bosetting/match/{hostile_run}.csv",
                f"/bosetting/matching/{hostile_run}/tildeling.csv"):
        r = client.get(url)
        assert r.status_code == 200
        rows = _cells(r.text)
        assert rows[0][:2] == ["person_id", "household_id"]
        body = rows[1:]
        assert sorted(row[0] for row in body) == sorted("'" + h for h in HOSTILE[:4])
        assert {row[1] for row in body} == {"'" + h for h in HOSTILE[:4]}
        for row in body:
            assert not any(cell.startswith(export.FORMULA_START) for cell in row), row
    excel = client.get(f"/api/bosetting/match/{hostile_run}.csv?stil=excel")
    assert excel.content.startswith("\ufeff".encode())
    rows = _cells(excel.text, ";")
    assert "," in rows[1][4] and "." not in rows[1][4]  # forventet_utfall, decimal comma


def test_plan_downloads_neutralise_scenario_names(client):
    q = {"fylke": "46", "total": "500", "s1_navn": "@SUM(1+1)", "s1_tak": "10",
         "s2_navn": "+cmd|x", "s2_total": "400"}
    r = client.get("/bosetting/plan.csv?" + urlencode(q, doseq=True))
    assert r.status_code == 200
    header = _cells(r.text)[0]
    assert header == ["kommunenummer", "kommune", "grunnlag", "'@SUM(1+1)", "'+cmd|x"]
    r = client.get("/bosetting/plan.xlsx?" + urlencode(q, doseq=True))
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    head = [c.value for c in wb["Sammenligning"][1]]
    assert head[3:] == ["@SUM(1+1)", "+cmd|x"]
    assert all(c.data_type == "s" for c in wb["Sammenligning"][1])


def test_plan_xlsx_with_sheet_title_characters_in_a_scenario_name(client):
    q = {"fylke": "46", "total": "500", "s1_navn": "a/b", "s1_total": "100"}
    r = client.get("/bosetting/plan.xlsx?" + urlencode(q, doseq=True))
    assert r.status_code == 200
    assert load_workbook(io.BytesIO(r.content)).sheetnames == ["Sammenligning", "grunnlag",
                                                                "a_b", "Om"]


def test_municipality_csv_in_both_styles(client):
    excel = client.get("/kommune/4650.csv")
    assert excel.content.startswith("\ufeff".encode()) and excel.text.count(";") > 100
    machine = client.get("/kommune/4650.csv?stil=maskin")
    assert not machine.content.startswith("\ufeff".encode())
    head = _cells(machine.text)[0]
    assert head[:3] == ["seksjon", "kode", "kommune"]
    assert client.get("/kommune/4650.csv?stil=tsv").status_code == 400


def test_indicator_csv_is_machine_style(client):
    r = client.get("/api/data/bosatte_per_1000?niva=fylke&ar=2024&format=csv")
    assert r.status_code == 200
    assert not r.content.startswith("\ufeff".encode()) and "\r\n" in r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 15 and all("," not in row["verdi"] for row in rows)
