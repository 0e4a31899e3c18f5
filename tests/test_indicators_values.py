"""Indicator values recomputed by hand from the raw files and matched to the engine."""

from __future__ import annotations

import csv

import pytest
from indicators_raw import DATA, imdi_cell

pytest_plugins = ["conftest_indicators"]


def val(cube, indicator, level, code, year):
    cell = cube.cell(indicator, level, code, year)
    assert cell is not None, (indicator, level, code, year)
    return cell


@pytest.mark.parametrize("code", ["4650", "3401", "1820", "5001"])
@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_settled_per_1000_matches_panel(cube, panel, code, year):
    row = panel[(code, year)]
    cell = val(cube, "bosatte_per_1000", "kommune", code, year)
    assert cell.status == "ok"
    assert cell.numerator == row["innvandr"]
    assert cell.denominator == row["pop"]
    assert cell.value == pytest.approx(row["innvandr"] / row["pop"] * 1000, rel=1e-12)
    ukr = val(cube, "ukrainere_andel", "kommune", code, year)
    assert ukr.value == pytest.approx(row["ukrainere"] / row["innvandr"] * 100, rel=1e-12)


def test_gloppen_funnel_2024_matches_panel(cube, panel):
    row = panel[("4650", 2024)]
    anm, ved, bos = row["innvandr_anmodet"], int(row["innvandr_vedtak"]), int(row["innvandr_bosatt"])
    assert (anm, ved, bos) == (85, 50, 45)  # the raw file, read independently
    assert val(cube, "anmodning", "kommune", "4650", 2024).value == anm
    assert val(cube, "vedtak", "kommune", "4650", 2024).value == ved
    assert val(cube, "bosatt_etter_anmodning", "kommune", "4650", 2024).value == bos
    assert val(cube, "vedtak_andel_av_anmodning", "kommune", "4650", 2024).value == (
        pytest.approx(100 * ved / anm)
    )
    assert val(cube, "bosatt_andel_av_vedtak", "kommune", "4650", 2024).value == (
        pytest.approx(100 * bos / ved)
    )


@pytest.mark.parametrize("county", ["46", "40", "18"])
def test_county_settlement_is_recomputed_from_municipal_counts(cube, panel, county):
    rows = [r for (code, year), r in panel.items() if year == 2024 and r["Fylkenummer"] == county]
    settled = sum(r["innvandr"] for r in rows)
    pop = sum(r["pop"] for r in rows)
    assert val(cube, "bosatte_flyktninger", "fylke", county, 2024).value == settled
    cell = val(cube, "bosatte_per_1000", "fylke", county, 2024)
    assert cell.value == pytest.approx(1000 * settled / pop, rel=1e-12)
    # not the average of the municipal rates
    mean_rate = sum(1000 * r["innvandr"] / r["pop"] for r in rows) / len(rows)
    assert cell.value != pytest.approx(mean_rate, rel=1e-6)


def test_national_and_district_totals_match_panel(cube, panel):
    rows = [r for (code, year), r in panel.items() if year == 2023]
    assert val(cube, "bosatte_flyktninger", "nasjonal", "NO", 2023).value == sum(
        r["innvandr"] for r in rows
    )
    district = [r for r in rows if r["sentralitet"] >= 5]
    cell = val(cube, "bosatte_per_1000", "distrikt", "distrikt", 2023)
    assert cell.value == pytest.approx(
        1000 * sum(r["innvandr"] for r in district) / sum(r["pop"] for r in district)
    )
    c6 = [r for r in rows if r["sentralitet"] == 6]
    assert val(cube, "bosatte_flyktninger", "sentralitet", "6", 2023).value == sum(
        r["innvandr"] for r in c6
    )
    k4 = [r for r in rows if r["kostranr"] == "EKG04"]
    assert val(cube, "bosatte_flyktninger", "kostra", "EKG04", 2023).value == sum(
        r["innvandr"] for r in k4
    )
    # 356 municipalities in 2023: the panel's row for Haram (population 0) is a placeholder,
    # Haram was part of Ålesund until 2024.
    robek = val(cube, "robek", "nasjonal", "NO", 2023)
    real = [r for r in rows if r["pop"] > 0]
    assert len(real) == 356
    assert robek.numerator == sum(r["robek"] == "robek" for r in real)
    assert robek.denominator == len(real)


def test_grants_per_inhabitant_match_raw_file(cube, panel, grants):
    total = next(
        g["Antall"] for g in grants
        if g["Kommunenummer"] == "4650" and g["År"] == 2023 and g["Tilskuddstype"] == "Totalt"
    )
    cell = val(cube, "tilskudd_per_innbygger", "kommune", "4650", 2023)
    assert cell.value == pytest.approx(total / panel[("4650", 2023)]["pop"], rel=1e-12)
    per_settled = val(cube, "tilskudd_per_bosatt", "kommune", "4650", 2023)
    assert per_settled.value == pytest.approx(total / panel[("4650", 2023)]["innvandr"])
    integ = sum(
        g["Antall"] for g in grants
        if g["Kommunenummer"] == "4650" and g["År"] == 2023
        and g["Tilskuddstype"] in ("Integreringstilskudd for år 1", "Integreringstilskudd for år 2-5")
    )
    cell = val(cube, "integreringstilskudd_per_innbygger", "kommune", "4650", 2023)
    assert cell.value == pytest.approx(integ / panel[("4650", 2023)]["pop"], rel=1e-12)


def test_anonymised_grant_is_suppressed_not_zero(cube, grants):
    hidden = next(
        g for g in grants
        if g["Kommentar"] == "Anonymisert"
        and g["Tilskuddstype"] == "Tilskudd til bosetting av enslige mindreårige flyktninger"
    )
    cell = val(cube, "ema_tilskudd_per_innbygger", "kommune", hidden["Kommunenummer"], hidden["År"])
    assert cell.status == "suppressed" and cell.value is None and cell.numerator is None
    assert "skjermet" in cell.reason


@pytest.mark.parametrize("code,year", [("K4650", 2021), ("K3401", 2014), ("K1820", 2006)])
def test_reason_shares_match_imdi_export(cube, imdi_export, code, year):
    header, data = imdi_export("innvandringsgrunn_kommuner_2006-2021.csv")
    row = data[code]

    def persons(reason):
        return float(imdi_cell(header, row, Innvandringsgrunn=reason, Kjønn="Alle",
                               Enhet="Personer", År=str(year)))

    total = persons("Alle")
    for ind, reason in [
        ("innvandrere_flukt_andel", "Flyktninger og deres familieinnvandrede"),
        ("innvandrere_arbeid_andel", "Arbeidsinnvandrere"),
        ("innvandrere_familie_andel", "Familieinnvandrede"),
        ("innvandrere_utdanning_andel", "Utdanning (inkl. au pair) eller andre grunner"),
    ]:
        cell = val(cube, ind, "kommune", code[1:], year)
        assert cell.denominator == total
        assert cell.value == pytest.approx(100 * persons(reason) / total, rel=1e-12)


def test_reason_shares_for_telemark_after_2021_come_from_county_series(cube):
    with open(DATA / "telemark" / "innvandringsgrunn_telemark_long.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def persons(code, reason, year):
        return sum(
            float(r["Antall"]) for r in rows
            if r["Kommunenummer"] == code and r["Innvandringsgrunn"] == reason
            and r["År"] == str(year) and r["Enhet"] == "Personer" and r["Kjønn"] == "Alle"
        )

    # Telemark municipalities 2024 (no IMDi export after 2021)
    code = "4003"
    cell = val(cube, "innvandrere_flukt_andel", "kommune", code, 2024)
    expected = 100 * persons(code, "Flyktninger og deres familieinnvandrede", 2024) / persons(
        code, "Alle", 2024)
    assert cell.value == pytest.approx(expected, rel=1e-12)


def test_county_published_series_match_telemark_files(cube):
    with open(DATA / "telemark" / "bofasthet_fylker.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    telemark = next(r for r in rows if r[0] == "Telemark")
    assert val(cube, "bofasthet_fylke", "fylke", "40", 0).value == float(telemark[1])
    with open(DATA / "telemark" / "sysselsatte_etter_landbakgrunn_telemark.csv",
              encoding="utf-8") as fh:
        emp = {r["År"]: r for r in csv.DictReader(fh)}
    assert val(cube, "sysselsatte_gruppe2", "fylke", "40", 2021).value == float(
        emp["2021"]["Gruppe 2-land (Asia, Afrika, Latin-Amerika ++)"])
    # published rates are not re-aggregated to other levels
    assert cube.slice("sysselsatte_gruppe2", "nasjonal", 2021) == []


def test_retention_matches_imdi_secondary_migration_export(cube, imdi_export):
    header, data = imdi_export("flyktning_botid_sekundaerflytting_vestfold-telemark.csv")
    row = data["K3808"]  # Notodden (2020 code) -> 4005 in 2024
    stayed = float(imdi_cell(header, row, **{"Botid i Norge": "Alle",
                                             "Sekundærflytting": "Bosatt her",
                                             "Enhet": "Personer", "År": "2019"}))
    everyone = float(imdi_cell(header, row, **{"Botid i Norge": "Alle",
                                               "Sekundærflytting": "Alle",
                                               "Enhet": "Personer", "År": "2019"}))
    cell = val(cube, "bosatt_forste_kommune_andel", "kommune", "4005", 2019)
    assert cell.value == pytest.approx(100 * stayed / everyone, rel=1e-12)


def test_every_indicator_has_values_and_years_come_from_the_store(cube):
    """Every indicator built on ../shared/data has values (exact or intervals: totals over
    IMDi's countries are suppressed in a municipality wherever one country is, and
    intervals in every group). Those built on tables `bli sync standard` fetches are
    checked after a sync (tests/test_sync_standard.py)."""
    from bliatlas.indicators.profile import fetch_hint_for

    assert len(cube.catalogue.indicators) >= 20
    for ind in cube.catalogue.indicators:
        if fetch_hint_for(cube.catalogue, ind):
            continue
        assert cube.years[ind.id], f"{ind.id} has no values in the real import"
    assert cube.years["bosatte_flyktninger"] == [2022, 2023, 2024]
    assert cube.years["innvandrere_arbeid_andel"][0] == 2006


def test_womens_share_is_computed_from_counts_not_published_percent(cube, imdi_export):
    header, data = imdi_export("innvandringsgrunn_kommuner_2006-2021.csv")
    row = data["K4650"]

    def cell(**kw):
        return float(imdi_cell(header, row, Enhet="Personer", År="2015", **kw))

    women = cell(Innvandringsgrunn="Alle", Kjønn="Kvinner")
    everyone = cell(Innvandringsgrunn="Alle", Kjønn="Alle")
    got = val(cube, "kvinner_andel_innvandrere", "kommune", "4650", 2015)
    assert (got.numerator, got.denominator) == (women, everyone)
    assert got.value == pytest.approx(100 * women / everyone, rel=1e-12)
