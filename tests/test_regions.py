"""The region registry and crosswalk, through `bli regions` and the library, on the real panel."""

from __future__ import annotations

import json
from collections import defaultdict

import openpyxl
import pytest

from bliatlas.cli import main
from bliatlas.regions.crosswalk import Crosswalk
from bliatlas.regions.registry import Registry
from bliatlas.store import open_store


@pytest.fixture(scope="module")
def registry(imported_db) -> Registry:
    with open_store(imported_db, read_only=True) as store:
        return Registry.from_store(store)


def _panel_2024(shared_data):
    wb = openpyxl.load_workbook(shared_data / "panel" / "kommuner_bosetting_2022-2024.xlsx",
                                read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:] if r[0] == 2024]


def test_summary_matches_the_panel_and_the_counties_evaluation(imported_db, shared_data, capsys):
    assert main(["--database", str(imported_db), "regions", "summary", "--json"]) == 0
    rows = {r["code"]: r for r in json.loads(capsys.readouterr().out)}
    # Recount straight from the raw panel.
    expected = defaultdict(lambda: [0, 0])
    for r in _panel_2024(shared_data):
        expected[r["Fylkenummer"]][0] += 1
        expected[r["Fylkenummer"]][1] += r["sentralitet"] in (5, 6)
    for code, (n, n_district) in expected.items():
        assert rows[code]["municipalities"] == n
        assert rows[code]["district_municipalities"] == n_district
    # The figures the issue names (seed 003, Tabell 1 in today's structure).
    assert (rows["55"]["municipalities"], rows["55"]["district_municipalities"]) == (21, 19)
    assert (rows["18"]["municipalities"], rows["18"]["district_municipalities"]) == (41, 35)
    assert (rows["42"]["municipalities"], rows["42"]["district_municipalities"]) == (25, 11)
    for code in ("32", "03", "39"):
        assert rows[code]["district_municipalities"] == 0
    assert rows["0"]["municipalities"] == 357
    assert round(100 * rows["55"]["district_share"]) == 90
    assert round(100 * rows["18"]["district_share"]) == 85


def test_summary_prints_a_readable_table(imported_db, capsys):
    assert main(["--database", str(imported_db), "regions", "summary"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("55 "))
    assert "Troms - Romsa - Tromssa" in line and line.split()[-2:] == ["90", "%"]


def test_official_names_keep_sami_and_kven_forms(registry):
    assert registry.get("5610").name == "Kárášjohka - Karasjok"
    assert registry.get("5622").name == "Porsanger - Porsáŋgu - Porsanki"
    assert registry.get("55").name == "Troms - Romsa - Tromssa"
    assert registry.get("56").name == "Finnmark - Finnmárku - Finmarkku"
    assert len(registry.municipalities) == 357 and len(registry.counties) == 15


@pytest.mark.parametrize("query, code", [
    ("Romsa", "55"),
    ("Tromso", "5501"),
    ("tromsø", "5501"),
    ("Guovdageaidnu", "5612"),
    ("Kautokeino", "5612"),
    ("Karasjohka", "5610"),
    ("Porsangu", "5622"),
    ("Gloppn", "4650"),
    ("Baerum", "3201"),
    ("Tromssa", "55"),
    ("Gáŋgaviika", "5626"),      # names in use, not official (navneformer_i_bruk.csv)
    ("gangaviika", "5626"),
    ("Čáhcesuolu", "5607"),
    ("Mátta-Várjjat", "5605"),
])
def test_search_finds_names_in_every_form(registry, query, code):
    assert registry.search(query)[0].code == code


def test_names_in_use_find_but_do_not_rename_the_municipality(registry):
    gamvik = registry.get("5626")
    assert gamvik.name == "Gamvik" and gamvik.names_in_use == ("Gáŋgaviika",)
    assert registry.get("5607").names_in_use == ("Čáhcesuolu", "Vesisaari")


def test_search_cli_reports_nothing_found(imported_db, capsys):
    assert main(["--database", str(imported_db), "regions", "search", "xqzv"]) == 1
    assert "Fant ingen" in capsys.readouterr().out


@pytest.mark.parametrize("code, name, target, kind", [
    ("K0104", "Moss (t.o.m. 2019)", "3103", "merged"),
    ("K0136", "Rygge (t.o.m. 2019)", "3103", "merged"),
    ("K3002", "Moss (f.o.m. 2020)", "3103", "renumbered"),
    ("K3001", "Halden", "3101", "renumbered"),
    ("0805", "Porsgrunn", "4001", "renumbered"),
    ("3806", "Porsgrunn", "4001", "renumbered"),
    ("K5401", "Tromsø", "5501", "renumbered"),
    ("K1534", "Haram (t.o.m. 2019)", "1580", "merged"),
    ("K1504", "Ålesund (t.o.m. 2019)", "1508", "merged"),
    ("K4650", "Gloppen", "4650", "current"),
    ("K0102", "", "3105", "merged"),
])
def test_crosswalk_places_old_codes(registry, code, name, target, kind):
    res = Crosswalk(registry).resolve(code, name)
    assert (res.targets, res.kind) == ((target,), kind)


@pytest.mark.parametrize("code, kind", [("1850", "split"), ("K1507", "split"), ("5012", "split"),
                                        ("21-22", "outside"), ("30", "split")])
def test_crosswalk_refuses_to_guess_splits(registry, code, kind):
    res = Crosswalk(registry).resolve(code, "")
    assert res.targets == () and res.kind == kind and res.reason


def test_crosswalk_cli(imported_db, capsys):
    assert main(["--database", str(imported_db), "regions", "crosswalk", "K0104", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["target_name"] == "Moss"
    assert main(["--database", str(imported_db), "regions", "crosswalk", "1850"]) == 1
    assert "Tysfjord" in capsys.readouterr().out


def test_regions_list_filters_county_and_district(imported_db, capsys):
    assert main(["--database", str(imported_db), "regions", "list", "--county", "46",
                 "--district", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 32 and all(r["centrality"] >= 5 for r in rows)
    assert main(["--database", str(imported_db), "regions", "list", "--county", "99"]) == 2
