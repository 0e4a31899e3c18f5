"""SSB's real protocol: groupings read from the table's metadata, `top`, v2 GET parameters,
KOSTRA region codes, national tables, SSB's grouping codes, error shapes, JSON-stat 1.x,
offline and changed formats. Everything runs against tests/ssb_fake.py (no network) and a
temporary database holding the real 2024 registry; the answers are our labelled fixtures.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
import pytest
from conftest import db_rows, db_snapshot
from ssb_fake import FIXTURES, FakeSsb, load_fixture, region_codelists

from bliatlas.cli import main
from bliatlas.regions.crosswalk import Crosswalk
from bliatlas.regions.registry import Registry
from bliatlas.sources import ssb
from bliatlas.store import open_store


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


@pytest.fixture(scope="module")
def crosswalk(registry_db) -> Crosswalk:
    with open_store(registry_db, read_only=True) as store:
        return Crosswalk(Registry.from_store(store))


def serve(monkeypatch, doc: dict, crosswalk: Crosswalk | None = None, region="Region",
          **kw) -> FakeSsb:
    lists = {region: region_codelists(doc, crosswalk.registry, crosswalk, region)} if (
        crosswalk is not None) else None
    fake = FakeSsb(doc, codelists=lists, **kw)
    monkeypatch.setattr(ssb, "transport_factory", fake.factory())
    return fake


def bli(db: Path, tmp_path: Path, *args: str) -> int:
    return main(["--database", str(db), *args, "--cache-dir", str(tmp_path / "c")])


rows = db_rows
snapshot = db_snapshot


# -- groupings -----------------------------------------------------------------------------


def test_dry_run_alle_kommuner_v0_is_one_grouped_query_on_todays_structure(
        db, tmp_path, monkeypatch, capsys, crosswalk):
    fake = serve(monkeypatch, load_fixture("11607.json"), crosswalk)
    before = snapshot(db)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--region", "alle-kommuner",
               "--latest", "1", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "Tørrkjøring: ingen dataspørring er sendt" in out
    assert "grupperingen agg_KommSummer" in out and "357 av 357 regioner" in out
    body = json.loads(out[out.index("{"):out.rindex("}") + 1])
    region = body["query"][0]
    assert region["code"] == "Region"
    assert region["selection"]["filter"] == "agg:KommSummer"
    codes = region["selection"]["values"]
    assert len([c for c in codes if c.startswith("K-") and len(c) == 6 and c[2:].isdigit()]) == 357
    assert "K-4001" in codes and "K-3806" not in codes
    assert body["query"][-1] == {"code": "Tid", "selection": {"filter": "top",
                                                               "values": ["1"]}}
    # metadata and the grouping were read; no data request went out, nothing was stored
    assert fake.data_bodies == [] and fake.data_queries == []
    assert {r.url.path for r in fake.requests} == {
        "/api/v0/no/table/11607", "/api/pxwebapi/v2/tables/11607/metadata",
        "/api/pxwebapi/v2/codelists/agg_KommSummer", "/api/pxwebapi/v2/codelists/agg_KommGjeldende",
        "/api/pxwebapi/v2/codelists/agg_KommFylker",
    }
    assert snapshot(db) == before


def test_dry_run_v2_uses_codelist_and_output_values(db, tmp_path, monkeypatch, capsys,
                                                     crosswalk):
    serve(monkeypatch, load_fixture("11607.json"), crosswalk)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--api", "v2", "--region",
               "alle-kommuner", "--latest", "3", "--dry-run") == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("GET "))
    assert line.startswith("GET https://data.ssb.no/api/pxwebapi/v2/tables/11607/data?lang=no"
                           "&outputFormat=json-stat2&valueCodes[Region]=*"
                           "&codelist[Region]=agg_KommSummer&outputValues[Region]=aggregated")
    assert line.endswith("&valueCodes[Tid]=top(3)")


def test_grouped_fetch_sums_old_codes_into_todays_municipality(db, tmp_path, monkeypatch,
                                                                capsys, crosswalk):
    """--region K-4001 is a code of the table's grouping, not of the table: the client
    finds it in the metadata and asks for it with agg:KommSummer; SSB sums 3806 into it."""
    doc = load_fixture("11607.json")
    fake = serve(monkeypatch, doc, crosswalk)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--region", "K-4001,K-4650") == 0
    body = fake.data_bodies[-1]
    assert body["query"][0]["selection"] == {"filter": "agg:KommSummer",
                                             "values": ["K-4001", "K-4650"]}
    got = rows(db, "SELECT region_code, count(*) AS n FROM observation WHERE dataset = "
               "'ssb_11607' GROUP BY 1 ORDER BY 1")
    assert got == [{"region_code": "4001", "n": 8}, {"region_code": "4650", "n": 8}]
    # Porsgrunn's 2020–2023 value 76.2 (3806, 2022, menn, Norden/EU…) comes back under K-4001
    (cell,) = rows(db, "SELECT value FROM observation WHERE dataset = 'ssb_11607' AND "
                   "region_code = '4001' AND year = 2022 AND dims LIKE 'alder=15-74 år|"
                   "kjonn=Menn|landbakgrunn=Norden%'")
    assert cell["value"] == 76.2


def test_alle_kommuner_fetch_on_v2_keeps_grouping_codes_aside(db, tmp_path, monkeypatch,
                                                                capsys, crosswalk):
    doc = load_fixture("07459.json")
    fake = serve(monkeypatch, doc, crosswalk, elimination={"Kjonn": True, "Alder": True})
    assert bli(db, tmp_path, "sync", "ssb", "07459", "--api", "v2", "--region",
               "alle-kommuner", "--year", "2019,2024") == 0
    out = capsys.readouterr().out
    (query,) = fake.data_queries
    assert query["codelist[Region]"] == "agg_KommSummer"
    assert query["outputValues[Region]"] == "aggregated"
    # Volda 2019 on today's borders: Volda (1519) and Hornindal (1444) summed by SSB
    (volda,) = rows(db, "SELECT value FROM observation WHERE dataset = 'ssb_07459' AND "
                    "region_code = '1577' AND year = 2019")
    base = load_fixture("07459.json")
    assert volda["value"] == _sum_cells(base, ["1519", "1444"], "2019")
    aside = rows(db, "SELECT DISTINCT source_region_code AS code, reason FROM "
                 "observation_unassigned WHERE dataset = 'ssb_07459' ORDER BY 1")
    assert [a["code"] for a in aside] == ["K-21-22", "K-23", "K-Rest"]
    assert "Svalbard og Jan Mayen" in aside[0]["reason"]
    assert "kan ikke plasseres" in out


def _sum_cells(doc: dict, regions: list[str], year: str) -> float:
    ids = doc["id"]
    codes = {d: list(doc["dimension"][d]["category"]["index"]) for d in ids}
    total = 0.0
    for flat, combo in enumerate(itertools.product(*(codes[d] for d in ids))):
        key = dict(zip(ids, combo, strict=True))
        if key["Region"] in regions and key["Tid"] == year and doc["value"][flat] is not None:
            total += doc["value"][flat]
    return total


def test_alle_fylker_and_landet_pick_their_groupings(db, tmp_path, monkeypatch, capsys,
                                                      crosswalk):
    serve(monkeypatch, load_fixture("11607.json"), crosswalk)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--region", "alle-fylker",
               "--region", "landet", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "agg_KommFylker" in out and "15 av 15 regioner" in out
    assert "«landet»: grupperingen vs_Landet" in out
    decoder = json.JSONDecoder()
    bodies = [decoder.raw_decode(chunk[chunk.index("{"):])[0]
              for chunk in out.split("POST ")[1:]]
    assert [b["query"][0]["selection"]["filter"] for b in bodies] == ["agg:KommFylker",
                                                                       "vs:Landet"]


# -- KOSTRA, national tables, SSB's own codes ---------------------------------------------


def test_kostra_region_variable_and_codes(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, load_fixture("12268.json"))
    assert bli(db, tmp_path, "sync", "ssb", "12268", "--region", "4650,EKA46,EAK,EAKUO,EKG13"
               ) == 0
    assert fake.data_bodies[-1]["query"][0]["code"] == "KOKkommuneregion0000"
    placed = rows(db, "SELECT DISTINCT region_code FROM observation WHERE dataset = "
                  "'ssb_12268' ORDER BY 1")
    assert [p["region_code"] for p in placed] == ["0", "46", "4650"]
    aside = rows(db, "SELECT DISTINCT source_region_code AS code, reason FROM "
                 "observation_unassigned WHERE dataset = 'ssb_12268' ORDER BY 1")
    assert [a["code"] for a in aside] == ["EAKUO", "EKG13"]
    assert "KOSTRA-gruppe 13" in aside[1]["reason"] and "EKG13" in aside[1]["reason"]
    unit = rows(db, "SELECT DISTINCT unit FROM observation WHERE dataset = 'ssb_12268'")
    assert unit == [{"unit": "kroner"}]
    # SSB publishes table 12268 in 1000 kr (0,377 → 377 kroner per innbygger)
    got = rows(db, "SELECT measure, year, value FROM observation WHERE dataset = 'ssb_12268' "
               "AND region_code = '4650' AND value IS NOT NULL ORDER BY 1, 2")
    assert got == [{"measure": "kosbrdr275inn0000", "year": 2018, "value": 343.0},
                   {"measure": "kosnedr275inn0000", "year": 2018, "value": 377.0},
                   {"measure": "kosnedr275inn0000", "year": 2019, "value": 415.0}]


def test_national_table_without_region(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, load_fixture("05300.json"))
    assert bli(db, tmp_path, "sync", "ssb", "05300", "--latest", "1") == 0
    assert [q["code"] for q in fake.data_bodies[-1]["query"]] == ["Kjonn", "ContentsCode", "Tid"]
    got = rows(db, "SELECT region_code, year, count(*) AS n FROM observation WHERE dataset = "
               "'ssb_05300' GROUP BY 1, 2")
    assert got == [{"region_code": "0", "year": 2024, "n": 3}]
    assert bli(db, tmp_path, "sync", "ssb", "05300", "--region", "4650") == 2
    assert "ingen regionvariabel" in capsys.readouterr().err


def test_saved_answer_with_ssb_grouping_codes_imports(db, capsys):
    """The answer that used to fail ("ukjent regionkode 'K-21-22'", then K-Rest)."""
    path = FIXTURES / "07459_K_agg_KommSummer.json"
    assert main(["--database", str(db), "import", str(path)]) == 0, capsys.readouterr().err
    aside = rows(db, "SELECT source_region_code AS code, count(*) AS n FROM "
                 "observation_unassigned GROUP BY 1 ORDER BY 1")
    assert aside == [{"code": "K-21-22", "n": 4}, {"code": "K-23", "n": 4},
                     {"code": "K-Rest", "n": 4}]
    placed = rows(db, "SELECT DISTINCT region_code FROM observation WHERE dataset = "
                  "'ssb_07459' ORDER BY 1")
    assert [p["region_code"] for p in placed] == ["1577", "3103", "4001", "4650"]


# -- error shapes and limits ---------------------------------------------------------------


@pytest.mark.parametrize("api", ["v0", "v2"])
def test_too_large_extract_is_halved_and_sent_again(tmp_path, api):
    """v1 answers a too large extract with 403, v2 with 400 (problem+json); either way
    the client halves the query and gets every cell."""
    doc = load_fixture("11607.json")
    fake = FakeSsb(doc, max_cells=8)
    with ssb.SsbClient(api=api, transport=fake.transport, cache_dir=tmp_path,
                       sleep=lambda s: None) as client:
        result = client.fetch("11607", {})
    statuses = []
    for r in fake.requests:
        if "/data" in r.url.path or (r.method == "POST"):
            statuses.append(r)
    assert len(result.documents) == 4
    assert sum(len(d["value"]) for d in result.documents) == 32
    assert len(statuses) == 1 + 2 + 4          # 32 → 2 × 16 → 4 × 8 cells


def test_v2_problem_detail_is_shown(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    with ssb.SsbClient(api="v2", transport=fake.transport, cache_dir=tmp_path) as client:
        meta = client.metadata("11607")
        query = client.build_query(meta, {"Region": ["4650"]})
        query.selections["Kjonn"] = ssb.VarSelection("Kjonn", ("9",))
        with pytest.raises(ssb.SsbApiError) as err:
            client.fetch("11607", query)
    assert "HTTP 400" in str(err.value) and "Value 9 is not a valid value code" in str(err.value)


def test_offline_names_the_service_and_suggests_import(db, tmp_path, monkeypatch, capsys):
    def no_network(request):
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ssb, "transport_factory", lambda: httpx.MockTransport(no_network))
    slept: list[float] = []
    monkeypatch.setattr(ssb, "default_sleep", slept.append)
    before = snapshot(db)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--region", "4650") == 3  # no network
    err = capsys.readouterr().err
    assert "Ingen nettverksforbindelse" in err and "SSBs statistikkbank" in err
    assert "data.ssb.no" in err and "bli import" in err and "Ingenting er lagret" in err
    assert slept == []                      # no point waiting when the name does not resolve
    assert snapshot(db) == before


def test_renamed_dimension_in_answer_fails_naming_table_and_field(db, tmp_path, monkeypatch,
                                                                  capsys):
    doc = load_fixture("11607.json")
    fake = serve(monkeypatch, doc)
    original = fake.slice

    def renamed(selection):
        out = original(selection)
        out["id"] = ["Kjønn" if d == "Kjonn" else d for d in out["id"]]
        out["dimension"]["Kjønn"] = out["dimension"].pop("Kjonn")
        return out

    fake.slice = renamed
    before = snapshot(db)
    assert bli(db, tmp_path, "sync", "ssb", "11607", "--region", "4650") == 2
    err = capsys.readouterr().err
    assert "SSB-tabell 11607" in err and "kolonne 'dimension.Kjonn'" in err
    assert "svaret mangler variabelen Kjonn" in err and "Kjønn" in err
    assert snapshot(db) == before


# -- JSON-stat 1.x and sub-annual periods in `bli import` ----------------------------------


def test_jsonstat1_is_read_and_named(db, capsys):
    path = FIXTURES / "11607_jsonstat1.json"
    assert main(["--database", str(db), "import", str(path)]) == 0, capsys.readouterr().err
    (imp,) = rows(db, "SELECT format, notes FROM import WHERE dataset = 'ssb_11607'")
    assert imp["format"] == "json-stat1" and "JSON-stat 1.x" in imp["notes"]
    n = rows(db, "SELECT count(*) AS n FROM observation WHERE dataset = 'ssb_11607'")
    assert n == [{"n": 24}]


def test_jsonstat1_bundle_with_two_datasets_is_refused(db, tmp_path, capsys):
    one = json.loads((FIXTURES / "11607_jsonstat1.json").read_text(encoding="utf-8"))
    path = tmp_path / "to_tabeller.json"
    path.write_text(json.dumps({"dataset1": one["dataset"], "dataset2": one["dataset"]}),
                    encoding="utf-8")
    before = snapshot(db)
    assert main(["--database", str(db), "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "JSON-stat 1.x-samling med 2 datasett" in err and "to_tabeller.json" in err
    assert snapshot(db) == before


def test_quarterly_file_message_recommends_an_option_of_bli_import(db, tmp_path, capsys):
    doc = load_fixture("11607.json")
    doc["dimension"]["Tid"]["category"] = {"index": {"2024K1": 0, "2024K2": 1}}
    path = tmp_path / "11607_kvartal.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["--database", str(db), "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "kortere enn et år" in err and "--sub-annual keep" in err
    # … and the option it recommends exists on `bli import`
    assert main(["--database", str(db), "import", "--sub-annual", "keep", str(path)]) == 0
    periods = rows(db, "SELECT DISTINCT year FROM observation WHERE dataset = 'ssb_11607'")
    assert periods == [{"year": 2024}]


def test_selection_shapes_for_every_filter_real_clients_send():
    """The v1 filters and v2 parameters as SSB's own examples and public clients write
    them (agg:, agg_single:, vs:, top, item)."""
    sel = ssb.VarSelection
    assert sel("Region", ("K-3103",), "agg", "agg_KommSummer").v0() == {
        "code": "Region", "selection": {"filter": "agg:KommSummer", "values": ["K-3103"]}}
    single = sel("Region", ("3103",), "agg_single", "agg_KommGjeldende")
    assert single.v0()["selection"]["filter"] == "agg_single:KommGjeldende"
    assert single.v2_output_values() == "single"
    landet = sel("Region", ("0",), "vs", "vs_Landet")
    assert landet.v0()["selection"] == {"filter": "vs:Landet", "values": ["0"]}
    top = sel("Tid", ("2023", "2024"), "top", top=2)
    assert top.v0()["selection"] == {"filter": "top", "values": ["2"]}
    assert top.v2_value_codes() == "top(2)"
    whole = sel("Region", ("K-3101", "K-3103"), "agg", "agg_KommSummer", whole=True)
    assert (whole.v2_value_codes(), whole.v2_output_values()) == ("*", "aggregated")
    # a split keeps the grouping but names the codes
    assert whole.subset(["K-3101"]).v2_value_codes() == "K-3101"
    assert top.subset(["2024"]) == sel("Tid", ("2024",))
