"""Outcome indicators from the new IMDi exports (issue 11, item 5), recomputed from the raw
files with the tests' own reader (tests/indicators_raw.py), never with the importer:
education by background and the gap, country background, upper-secondary completion per
county; and that profiles, pages and reports show the education indicators for every
municipality."""

from __future__ import annotations

import pytest

from bliatlas.indicators.profile import build_profile
from bliatlas.indicators.sentences import format_cell, format_number

pytest_plugins = ["conftest_indicators"]

UNI = "Universitet og høgskole"


def persons(header, row, background: str, level: str, year: int) -> float | None:
    from indicators_raw import imdi_cell

    text = imdi_cell(header, row, Utdanningsnivå=level, Bakgrunn=background, Kjønn="Alle", Enhet="Personer", År=str(year))
    return float(text) if text.strip() else None


def test_gloppen_2020_and_volda_2019_on_todays_borders(cube, imdi_export):
    header, data = imdi_export("utdanningsniva_kommuner_2011-2020.csv")
    gloppen = cube.cell("hoyere_utdanning_innvandrere_andel", "kommune", "4650", 2020)
    assert (gloppen.numerator, gloppen.denominator) == (131, 345)
    ind = cube.catalogue.get("hoyere_utdanning_innvandrere_andel")
    assert format_cell(gloppen, ind) == "38,0"
    # Volda (1519) and Hornindal (1444) merged into Volda (1577) in 2020
    num = sum(persons(header, data[k], "Innvandrere", UNI, 2019) for k in ("K1519", "K1444"))
    den = sum(persons(header, data[k], "Innvandrere", "alle", 2019) for k in ("K1519", "K1444"))
    assert (num, den) == (239 + 25, 495 + 57)
    volda = cube.cell("hoyere_utdanning_innvandrere_andel", "kommune", "1577", 2019)
    assert (volda.numerator, volda.denominator) == (num, den)
    assert format_cell(volda, ind) == "47,8"


def test_every_municipality_has_the_education_indicators(cube, imdi_export):
    """Every municipality's profile shows them, from its latest year in IMDi's export (a
    few, e.g. Time, have no 2020 column in the export; their profile shows 2019)."""
    header, data = imdi_export("utdanningsniva_kommuner_2011-2020.csv")
    munis = [code for (level, code) in cube.regions if level == "kommune"]
    assert len(munis) == 357
    wanted = {"hoyere_utdanning_innvandrere_andel", "hoyere_utdanning_ovrige_andel",
              "hoyere_utdanning_forskjell"}
    years = []
    for code in munis:
        items = {i["id"]: i for i in build_profile(cube, code)["indikatorer"]}
        assert wanted <= set(items), code
        assert items["hoyere_utdanning_innvandrere_andel"]["status"] == "ok", code
        years.append(items["hoyere_utdanning_innvandrere_andel"]["ar"])
    assert min(years) >= 2019 and years.count(2020) > 300
    time_2020 = [data["K1121"][c] for c in range(2, len(header[0]))
                 if header[4][c] == "År: 2020"]
    assert set(time_2020) == {""}
    # the gap is the rest's share minus the immigrants', recomputed here from the file
    row = data["K4650"]
    rest = 100 * persons(header, row, "Befolkningen unntatt innvandrere", UNI, 2020) / persons(
        header, row, "Befolkningen unntatt innvandrere", "alle", 2020)
    imm = 100 * persons(header, row, "Innvandrere", UNI, 2020) / persons(
        header, row, "Innvandrere", "alle", 2020)
    gap = cube.cell("hoyere_utdanning_forskjell", "kommune", "4650", 2020)
    assert gap.value == pytest.approx(rest - imm, abs=1e-9)


def test_education_for_the_county_and_the_nation_from_the_raw_files(cube, imdi_export):
    """Vestland 2020: IMDi publishes the county itself (F46) and no member is suppressed,
    so its own figure is used. The nation: every municipality's row of the 2020 file,
    including the 2020–2023 Ålesund (K1507, split between Ålesund and Haram in 2024), whose
    persons no 2024 municipality can hold but the national total does."""
    header, rows = _county_export("utdanningsniva_fylker_2009-2020.csv")
    county = cube.cell("hoyere_utdanning_innvandrere_andel", "fylke", "46", 2020)
    assert (county.status, county.numerator, county.denominator) == (
        "ok", persons(header, rows["F46"], "Innvandrere", UNI, 2020),
        persons(header, rows["F46"], "Innvandrere", "alle", 2020))
    assert "Tallet slik kilden publiserer det for fylket" in county.notes
    kheader, data = imdi_export("utdanningsniva_kommuner_2011-2020.csv")
    num = sum(persons(kheader, row, "Innvandrere", UNI, 2020) or 0 for row in data.values())
    den = sum(persons(kheader, row, "Innvandrere", "alle", 2020) or 0 for row in data.values())
    national = cube.cell("hoyere_utdanning_innvandrere_andel", "nasjonal", "NO", 2020)
    assert (national.status, national.numerator, national.denominator) == ("ok", num, den)
    assert persons(kheader, data["K1507"], "Innvandrere", "alle", 2020) > 0
    for level, code in (("fylke", "46"), ("nasjonal", "NO")):
        gap = cube.cell("hoyere_utdanning_forskjell", level, code, 2020)
        rest = cube.cell("hoyere_utdanning_ovrige_andel", level, code, 2020)
        cell = cube.cell("hoyere_utdanning_innvandrere_andel", level, code, 2020)
        assert gap.value == pytest.approx(rest.value - cell.value)


@pytest.mark.parametrize("level, code", [("sentralitet", "5"), ("distrikt", "distrikt")])
def test_education_at_every_level_is_pooled_from_municipal_persons(cube, level, code):
    cell = cube.cell("hoyere_utdanning_innvandrere_andel", level, code, 2020)
    assert cell.status == "ok"
    members = [c for (lvl, c), g in cube.regions.items() if lvl == "kommune" and (
        level == "nasjonal" or (level == "fylke" and g["county_code"] == code)
        or (level == "sentralitet" and str(g["centrality"]) == code)
        or (level == "distrikt" and (g["centrality"] or 0) >= 5))]
    cells = [cube.cell("hoyere_utdanning_innvandrere_andel", "kommune", m, 2020)
             for m in members]
    ok = [c for c in cells if c is not None and c.status == "ok"]
    assert cell.numerator == sum(c.numerator for c in ok)
    assert cell.value == pytest.approx(
        100 * sum(c.numerator for c in ok) / sum(c.denominator for c in ok))
    gap = cube.cell("hoyere_utdanning_forskjell", level, code, 2020)
    rest = cube.cell("hoyere_utdanning_ovrige_andel", level, code, 2020)
    assert gap.value == pytest.approx(rest.value - cell.value)


def test_country_background_total_is_the_sum_of_countries_and_stays_suppressed(
        cube, imdi_export):
    header, data = imdi_export("landbakgrunn_kommuner_2006-2022.csv")
    row = data["K4650"]
    cells = [row[c] for c in range(2, len(header[0]))
             if header[2][c] == "År: 2022" and header[0][c] != "Landbakgrunn: alle"]
    assert ":" in cells                      # some country is suppressed in Gloppen 2022
    total = cube.cell("innvandrere_landbakgrunn", "kommune", "4650", 2022)
    assert total.status == "suppressed" and total.value is None
    ind = cube.catalogue.get("innvandrere_landbakgrunn")
    assert format_cell(total, ind) == "skjermet"     # not "færre enn 5": it is a sum
    assert "195 verdier" in total.reason
    # what everyone knows: the published countries' sum, plus 0-4 for each hidden one
    shown = sum(int(v) for v in cells if v.strip() not in ("", ":", "."))
    assert (total.lower, total.upper) == (shown, shown + 4 * cells.count(":"))
    # a county adds its municipalities' bounds: an interval, not a blank
    county = cube.cell("innvandrere_landbakgrunn", "fylke", "46", 2022)
    assert county.status == "intervall" and county.lower <= county.upper
    assert format_cell(county, ind) == (
        f"{format_number(county.lower, 0)}–{format_number(county.upper, 0)}")
    # the groups and the unknown cover every country exactly once
    g1, g2, unknown = (t.any_of[0].dims["landbakgrunn"] for t in ind.numerator)
    countries = {header[0][c].split(": ", 1)[1] for c in range(2, len(header[0]))} - {"alle"}
    assert len(countries) == 245
    assert sorted(g1 + g2 + unknown) == sorted(countries)


def test_upper_secondary_completion_per_county_as_published(cube):
    from indicators_raw import imdi_cell

    header, rows = _county_export("videregaende_fullfort_fylker_2009-2019.csv")
    expected = float(imdi_cell(header, rows["F03"], Bakgrunn="Innvandrere", Kjønn="Alle", Enhet="Prosent", År="2019"))
    cell = cube.cell("vgs_fullfort_innvandrere_fylke", "fylke", "03", 2019)
    assert cell.status == "ok" and cell.value == expected
    assert cube.cell("vgs_fullfort_innvandrere_fylke", "kommune", "0301", 2019) is None


def _county_export(name: str) -> tuple[list[list[str]], dict[str, list[str]]]:
    """A county export (codes F01…): header rows and data rows by code."""
    import csv
    import io

    from indicators_raw import DATA

    text = (DATA / "imdi" / name).read_bytes().decode("iso-8859-1")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = [r for r in rows if r and not r[0].startswith("F")]
    return header, {r[0]: r for r in rows if r and r[0].startswith("F")}


def test_profile_page_and_report_show_education(cube, client):
    profile = build_profile(cube, "4650")
    shown = {i["id"]: i for i in profile["indikatorer"]}
    assert shown["hoyere_utdanning_innvandrere_andel"]["verdi_tekst"] == "38,0"
    assert shown["hoyere_utdanning_innvandrere_andel"]["ar"] == 2020
    page = client.get("/kommune/4650")
    assert page.status_code == 200
    assert "Innvandrere med universitets- eller høgskoleutdanning" in page.text
    assert "Forskjell i høyere utdanning" in page.text
    # the hint as a reader reads it (no markdown backticks on a page)
    assert "Ikke hentet ennå; hentes med kommandoen «bli sync standard»" in page.text
    assert "`" not in page.text.split("<main", 1)[1].split("<script", 1)[0]
    report = client.get("/api/rapport/kommune/1577.html")
    assert report.status_code == 200
    assert "Utdanning etter innvandringsbakgrunn" in report.text
    assert "Innvandrere med universitets- eller høgskoleutdanning" in report.text


def _tiny_store(tmp_path):
    """A store with one municipality and two of three parts of a sum (the third absent)."""
    from bliatlas.store import open_store

    store = open_store(tmp_path / "tiny.duckdb")
    store.insert_rows("region", [("4650", "kommune", "Gloppen", "Gloppen", "46", 5, "EKG02",
                                  False, 1), ("46", "fylke", "Vestland", "Vestland", None,
                                              None, None, None, 1)])
    store.insert_rows("observation_source", [
        ("d", "m", "4650", 2022, "land=A", "personer", 7.0, "ok", None, 1, None, None),
        ("d", "m", "4650", 2022, "land=B", "personer", 5.0, "ok", None, 1, None, None),
    ])
    return store


@pytest.mark.parametrize("absent_is_zero, status, value", [(True, "ok", 12.0),
                                                            (False, "missing", None)])
def test_a_part_without_a_row_counts_as_zero_only_when_the_selector_says_so(
        tmp_path, absent_is_zero, status, value):
    from bliatlas.indicators.catalogue import parse_catalogue
    from bliatlas.indicators.engine import build_cube

    catalogue = parse_catalogue({"indicators": [{
        "id": "sum_over_parts", "topic": "t", "name_nb": "Sum", "name_en": "Sum",
        "definition": "d", "kind": "count", "unit": "personer", "direction": "neutral",
        "sources": ["test"],
        "numerator": {"dataset": "d", "measure": "m", "unit": "personer",
                      "absent_is_zero": absent_is_zero, "dims": {"land": ["A", "B", "C"]}},
    }]})
    store = _tiny_store(tmp_path)
    try:
        cell = build_cube(store, catalogue).cell("sum_over_parts", "kommune", "4650", 2022)
    finally:
        store.close()
    if status == "missing":
        # a year where the indicator has no value anywhere is dropped from the cube
        assert cell is None or (cell.status, cell.value) == ("missing", None)
    else:
        assert (cell.status, cell.value) == (status, value)
