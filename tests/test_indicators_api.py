"""The indicator API (FastAPI TestClient) and `bli profile` agree with each other and the
raw data."""

from __future__ import annotations

import csv
import io
import re

from bliatlas.cli import main

pytest_plugins = ["conftest_indicators"]




def assert_sourced(body):
    assert "IMDi" in body["kilde"]
    assert "NLOD 2.0" in body["lisens"]
    assert body["proveniens"] and all(len(p["sha256"]) == 64 for p in body["proveniens"])


def test_regions(client):
    r = client.get("/api/regioner")
    assert r.status_code == 200
    body = r.json()
    assert_sourced(body)
    levels = [x["niva"] for x in body["regioner"]]
    assert levels.count("kommune") == 357 and levels.count("fylke") == 15
    g = client.get("/api/regioner/4650").json()["region"]
    assert g["navn"] == "Gloppen" and g["sentralitet"] == 5 and g["distriktskommune"] is True
    assert client.get("/api/regioner?niva=fylke").json()["regioner"][0]["niva"] == "fylke"


def test_unknown_region_indicator_level_year_are_clear_errors(client):
    r = client.get("/api/regioner/9999")
    assert r.status_code == 404 and "ukjent region '9999'" in r.json()["error"]
    r = client.get("/api/indikatorer/finnes_ikke")
    assert r.status_code == 404 and "ukjent indikator" in r.json()["error"]
    r = client.get("/api/data/bosatte_per_1000?niva=bydel")
    assert r.status_code == 422 and "ukjent nivå 'bydel'" in r.json()["error"]
    r = client.get("/api/data/bosatte_per_1000?ar=1990")
    assert r.status_code == 404 and "i 1990; år med tall: 2022–2024" in r.json()["error"]
    r = client.get("/api/data/bosatte_per_1000?ar=i fjor")
    assert r.status_code == 422 and "ugyldig år" in r.json()["error"]
    r = client.get("/api/data/bofasthet_fylke?niva=kommune")
    assert r.status_code == 404 and "bare på nivå fylke" in r.json()["error"]
    r = client.get("/api/profil/4650?format=xml")
    assert r.status_code == 422 and "format" in r.json()["error"]
    assert client.get("/api/profil/12").status_code == 404


def test_catalogue(client):
    body = client.get("/api/indikatorer").json()
    assert_sourced(body)
    ids = [i["id"] for i in body["indikatorer"]]
    assert len(ids) >= 20 and "bosatte_per_1000" in ids
    one = client.get("/api/indikatorer/bosatte_per_1000").json()["indikator"]
    assert one["ar"] == [2022, 2023, 2024]
    assert one["nivaer"] == ["kommune", "fylke", "sentralitet", "distrikt", "kostra", "nasjonal"]
    assert one["definisjon"].startswith("Antall bosatte flyktninger")


def test_data_by_level_matches_panel(client, panel):
    body = client.get("/api/data/bosatte_flyktninger?niva=fylke&ar=2024").json()
    assert_sourced(body)
    vestland = next(v for v in body["verdier"] if v["kode"] == "46")
    assert vestland["verdi"] == sum(
        r["innvandr"] for (c, y), r in panel.items() if y == 2024 and r["Fylkenummer"] == "46")
    nat = client.get("/api/data/bosatte_flyktninger?niva=nasjonal&ar=2024").json()["verdier"]
    assert nat[0]["verdi"] == sum(r["innvandr"] for (c, y), r in panel.items() if y == 2024)
    dist = client.get("/api/data/bosatte_per_1000?niva=distrikt").json()
    assert dist["ar"] == 2024 and {v["kode"] for v in dist["verdier"]} == {
        "distrikt", "ikke-distrikt"}


def test_suppressed_cells_carry_no_number_in_json_or_csv(client, panel):
    code = next(c for (c, y), r in panel.items() if y == 2024 and r["ema_prikket"])
    body = client.get("/api/data/enslige_mindreaarige?niva=kommune&ar=2024").json()
    cell = next(v for v in body["verdier"] if v["kode"] == code)
    assert cell["verdi"] is None and cell["teller"] is None
    assert cell["verdi_tekst"] == "færre enn 5 (skjermet)"
    text = client.get("/api/data/enslige_mindreaarige?niva=kommune&ar=2024&format=csv").text
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["kode"] == code)
    assert row["verdi"] == "" and row["teller"] == "" and row["status"] == "suppressed"
    assert "NLOD 2.0" in row["lisens"]


def test_csv_format(client):
    r = client.get("/api/data/bosatte_per_1000?niva=fylke&ar=2024&format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 15 and rows[0]["kilde"].startswith("Kilde:")
    prof = list(csv.DictReader(io.StringIO(client.get("/api/profil/4650?format=csv").text)))
    assert {r["id"] for r in prof} >= {"bosatte_flyktninger", "vedtak", "anmodning"}


def test_profile_agrees_with_cli_and_raw_data(client, panel, imported_db, capsys):
    body = client.get("/api/profil/4650").json()
    assert_sourced(body)
    assert body["region"]["navn"] == "Gloppen"
    items = {i["id"]: i for i in body["indikatorer"]}
    raw = panel[("4650", 2024)]
    assert items["bosatte_flyktninger"]["verdi"] == raw["innvandr"]
    assert items["anmodning"]["verdi"] == raw["innvandr_anmodet"]
    assert items["vedtak"]["verdi"] == int(raw["innvandr_vedtak"])
    # The profile leads with the population (the raw panel's 1 January figure).
    pop = f"{raw['pop']:,.0f}".replace(",", " ")
    assert body["setninger"][0].startswith(f"Gloppen hadde {pop} innbyggere 1. januar 2024")
    assert body["hovedtall"][0]["id"] == "folkemengde_1_januar"
    assert body["hovedtall"][0]["verdi"] == raw["pop"]
    assert body["setninger"][1].startswith(
        f"Gloppen bosatte {raw['innvandr']} flyktninger i 2024")

    assert main(["--database", str(imported_db), "profile", "4650"]) == 0
    out = capsys.readouterr().out
    for sentence in body["setninger"]:
        assert sentence in out
    for item in body["indikatorer"]:
        line = next(ln for ln in out.splitlines() if ln.startswith(item["navn"] + " "))
        assert re.search(rf"\s{re.escape(item['verdi_tekst'])}\s", line + " "), (line, item)


def test_county_profile(client):
    body = client.get("/api/profil/46").json()
    assert body["region"]["niva"] == "fylke"
    assert body["setninger"][0].startswith("Vestland hadde ")
    assert body["setninger"][1].startswith("Kommunene i Vestland bosatte")
    peers = next(i for i in body["indikatorer"] if i["id"] == "bosatte_per_1000")["jevnforing"]
    assert peers["alle"]["antall"] == 15


def test_profile_provenance_names_only_the_sources_behind_the_region(client):
    gloppen = {p["kilde"] for p in client.get("/api/profil/4650").json()["proveniens"]}
    telemark = {p["kilde"] for p in client.get("/api/profil/40").json()["proveniens"]}
    assert "kommuner_bosetting_2022-2024.xlsx" in gloppen
    assert "innvandringsgrunn_telemark_long.csv" not in gloppen
    assert "innvandringsgrunn_telemark_long.csv" in telemark
