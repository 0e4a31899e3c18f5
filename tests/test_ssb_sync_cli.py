"""`bli sync ssb` end to end against a fake SSB (httpx.MockTransport) and a temporary database.

The database holds the real 2024 region registry, imported from the panel in
``../shared/data``; the SSB answers are our labelled test fixtures (not SSB figures).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import db_rows, db_snapshot
from ssb_fake import FakeSsb, load_fixture

from bliatlas.cli import main
from bliatlas.sources import ssb


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    """Our fixtures are marked as test data; only tests may parse them."""
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


def serve(monkeypatch, fixture: str | dict, **kw) -> FakeSsb:
    doc = load_fixture(fixture) if isinstance(fixture, str) else fixture
    fake = FakeSsb(doc, **kw)
    monkeypatch.setattr(ssb, "transport_factory", fake.factory())
    return fake


def sync(db: Path, tmp_path: Path, *args: str) -> int:
    return main(["--database", str(db), "sync", "ssb", *args, "--cache-dir", str(tmp_path / "c")])


rows = db_rows
snapshot = db_snapshot


def test_sync_11607_places_old_codes_and_keeps_suppression(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, "11607.json")
    rc = sync(db, tmp_path, "11607", "--region", "4601,4650", "--region", "3806",
              "--region", "1507", "--year", "2022", "--year", "2023")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "SSB-tabell 11607: 32 verdier hentet i 1 spørring(er) (2 forespørsler" in out
    assert "24 nye og 0 endrede verdier; 8 kan ikke plasseres" in out
    assert "lisens CC BY 4.0" in out
    assert [r.method for r in fake.requests] == ["GET", "POST"]

    (imp,) = rows(db, "SELECT * FROM import WHERE dataset = 'ssb_11607'")
    assert (imp["publisher"], imp["source"], imp["format"], imp["licence"]) == (
        "SSB", "SSB-tabell 11607", "json-stat2", "CC BY 4.0")
    assert imp["source_path"] is None and len(imp["content_sha256"]) == 64

    # Porsgrunn's 2020–2023 code 3806 lands on today's 4001
    porsgrunn = rows(db, "SELECT value FROM observation WHERE dataset = 'ssb_11607' AND "
                     "region_code = '4001' AND year = 2022 AND dims = ?",
                     [("alder=15-74 år|kjonn=Menn|landbakgrunn=Norden utenom Norge, EU/EFTA, "
                       "Storbritannia, USA, Canada, Australia, New Zealand")])
    assert porsgrunn == [{"value": 76.2}]
    counts = rows(db, "SELECT region_code, count(*) AS n FROM observation "
                  "WHERE dataset = 'ssb_11607' GROUP BY 1 ORDER BY 1")
    assert counts == [{"region_code": "4001", "n": 8}, {"region_code": "4601", "n": 8},
                      {"region_code": "4650", "n": 8}]
    # the ':' cell is stored suppressed with no number; '.' is missing
    statuses = rows(db, "SELECT status, value, count(*) AS n FROM observation "
                    "WHERE dataset = 'ssb_11607' AND status <> 'ok' GROUP BY 1, 2 ORDER BY 1")
    assert statuses == [{"status": "missing", "value": None, "n": 1},
                        {"status": "suppressed", "value": None, "n": 1}]
    # Ålesund 1507 was split in 2024: its values are kept aside, not guessed onto 1508/1580
    split = rows(db, "SELECT DISTINCT source_region_code, reason FROM observation_unassigned "
                 "WHERE dataset = 'ssb_11607'")
    assert [s["source_region_code"] for s in split] == ["1507"]
    assert "Haram" in split[0]["reason"]


def test_second_sync_uses_cache_and_changes_nothing(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, "09817.json")
    assert sync(db, tmp_path, "09817", "--region", "0104,3002,3103,5401") == 0
    before = snapshot(db)
    n_requests = len(fake.requests)
    capsys.readouterr()
    assert sync(db, tmp_path, "09817", "--region", "0104,3002,3103,5401") == 0
    out = capsys.readouterr().out
    assert len(fake.requests) == n_requests == 2
    assert "(0 forespørsler til SSB, 2 svar fra hurtigbufferen" in out
    assert "Ingen endringer" in out
    assert snapshot(db) == before
    # Moss under three codes lands on 3103; Tromsø 5401 on 5501
    moss = rows(db, "SELECT year, value, status FROM observation WHERE dataset = 'ssb_09817' "
                "AND region_code = '3103' AND measure = 'personer' "
                "AND dims = 'innvandrkat=Innvandrere|landbakgrunn=I alt' ORDER BY year")
    assert moss == [{"year": 2023, "value": 7412.0, "status": "ok"},
                    {"year": 2024, "value": 7650.0, "status": "ok"}]
    hidden = rows(db, "SELECT value, status FROM observation WHERE dataset = 'ssb_09817' "
                  "AND region_code = '3103' AND year = 2024 AND measure = 'personer' "
                  "AND dims = 'innvandrkat=Norskfødte med innvandrerforeldre|landbakgrunn=I alt'")
    assert hidden == [{"value": None, "status": "suppressed"}]
    tromso = rows(db, "SELECT count(*) AS n FROM observation WHERE dataset = 'ssb_09817' "
                  "AND region_code = '5501' AND status = 'ok'")
    assert tromso == [{"n": 4}]


def test_sync_v2_with_interval_years_select_and_county(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, "13628.json")
    rc = sync(db, tmp_path, "13628", "--api", "v2", "--region", "4001,40",
              "--year", "2017-2023", "--select", "FullforingVGO=1a,4b")
    assert rc == 0, capsys.readouterr()
    assert fake.requests[0].url.path == "/api/pxwebapi/v2/tables/13628/metadata"
    got = rows(db, "SELECT region_code, year, dims, value, status, status_note FROM observation "
               "WHERE dataset = 'ssb_13628' ORDER BY region_code, dims")
    assert [(g["region_code"], g["year"], g["value"], g["status"]) for g in got] == [
        ("40", 2023, 1.2, "ok"), ("40", 2023, 45.1, "ok"),
        ("4001", 2023, 0.0, "ok"), ("4001", 2023, 43.8, "ok"),
    ]
    assert got[2]["status_note"] == "null (-); periode 2017-2023"
    assert all("periode 2017-2023" in g["status_note"] for g in got)
    assert not any("periode" in g["dims"] for g in got)


def test_broken_answer_fails_and_leaves_database_unchanged(db, tmp_path, monkeypatch, capsys):
    before = snapshot(db)

    class Broken(FakeSsb):
        def slice(self, selection):
            out = super().slice(selection)
            del out["dimension"]["Kjonn"]
            return out

    fake = Broken(load_fixture("11607.json"))
    monkeypatch.setattr(ssb, "transport_factory", fake.factory())
    rc = sync(db, tmp_path, "11607", "--region", "4650")
    err = capsys.readouterr().err
    assert rc == 2
    assert "SSB-tabell 11607" in err and "kolonne 'dimension.Kjonn'" in err
    assert "mangler i 'dimension'" in err
    assert snapshot(db) == before


def test_unknown_region_code_is_refused_before_any_data_request(db, tmp_path, monkeypatch,
                                                                 capsys):
    fake = serve(monkeypatch, "11607.json")
    before = snapshot(db)
    rc = sync(db, tmp_path, "11607", "--region", "4650,9999")
    err = capsys.readouterr().err
    assert rc == 2
    assert "ukjent kode 9999" in err and "variabel Region" in err
    # only metadata was read (the table's own codes, then its groupings in the v2
    # metadata, where 9999 is not either); no data request was sent
    assert [r.method for r in fake.requests] == ["GET", "GET"]
    assert not any("/data" in r.url.path for r in fake.requests)
    assert snapshot(db) == before


def test_ssb_unavailable_gives_clear_error(db, tmp_path, monkeypatch, capsys):
    serve(monkeypatch, "11607.json", script=[503] * 5)
    slept: list[float] = []
    monkeypatch.setattr(ssb, "default_sleep", slept.append)
    rc = sync(db, tmp_path, "11607", "--region", "4650")
    err = capsys.readouterr().err
    assert rc == 2
    assert "fikk ikke svar etter 5 forsøk" in err and "HTTP 503" in err
    assert slept == [2.0, 4.0, 8.0, 16.0]


def test_bad_select_and_quarterly_table(db, tmp_path, monkeypatch, capsys):
    serve(monkeypatch, "11607.json")
    assert sync(db, tmp_path, "11607", "--region", "4650", "--select", "Kjonn") == 2
    assert "forventet VARIABEL=KODE" in capsys.readouterr().err

    doc = load_fixture("11607.json")
    doc["dimension"]["Tid"]["category"] = {"index": {"2024K1": 0, "2024K2": 1}}
    serve(monkeypatch, doc)
    # --max-age 0: the table changed at SSB, so the cached metadata must not be used
    assert sync(db, tmp_path, "11607", "--region", "4650", "--max-age", "0") == 2
    assert "kortere enn et år" in capsys.readouterr().err
    assert sync(db, tmp_path, "11607", "--region", "4650", "--sub-annual", "keep") == 0
    periods = rows(db, "SELECT DISTINCT year, dims FROM observation WHERE dataset = 'ssb_11607'")
    assert {p["year"] for p in periods} == {2024}
    assert {p["dims"].split("periode=")[1].split("|")[0] for p in periods} == {"2024K1", "2024K2"}


@pytest.mark.parametrize(
    "name, phrase",
    [
        ("broken_size_value_mismatch.json", "kolonne 'value': 'size' [4, 1, 2, 2, 1, 2] gir 32"),
        ("broken_category_index.json", "kolonne 'dimension.Kjonn.category.index'"),
        ("broken_missing_dimension.json", "kolonne 'dimension.Landbakgrunn'"),
        ("broken_value_text.json", "verdi nr. 6 er '12,5'; forventet et tall eller null"),
    ],
)
def test_bli_import_refuses_broken_jsonstat_files(db, capsys, name, phrase):
    before = snapshot(db)
    path = Path(__file__).resolve().parent / "fixtures" / "ssb" / name
    assert main(["--database", str(db), "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert name in err and phrase in err
    assert snapshot(db) == before


def test_bli_import_reads_a_saved_jsonstat_answer(db, capsys):
    path = Path(__file__).resolve().parent / "fixtures" / "ssb" / "13628.json"
    assert main(["--database", str(db), "import", str(path)]) == 0
    got = rows(db, "SELECT count(*) AS n, count(value) AS with_value FROM observation "
               "WHERE dataset = 'ssb_13628'")
    # 24 cells; 3806 and 4001 (both Porsgrunn) land on 4001 → 18 keys. Each year has
    # figures under one code only, so all 13 numbers survive the merge.
    assert got == [{"n": 18, "with_value": 13}]


def test_fixtures_never_reach_a_real_store(db, capsys, monkeypatch):
    monkeypatch.delenv("BLI_ALLOW_TEST_DATA")
    before = snapshot(db)
    path = Path(__file__).resolve().parent / "fixtures" / "ssb" / "11607.json"
    assert main(["--database", str(db), "import", str(path)]) == 2
    assert "testdata skrevet av Bli-atlas" in capsys.readouterr().err
    assert snapshot(db) == before


def test_latest_takes_the_last_periods_of_the_table(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch, "11607.json")
    assert sync(db, tmp_path, "11607", "--region", "4650", "--latest", "1") == 0
    body = fake.data_bodies[-1]
    # asked for as SSB's own "top" filter, so the request stays right when SSB adds a year
    assert body["query"][-1] == {"code": "Tid", "selection": {"filter": "top",
                                                               "values": ["1"]}}
    years = rows(db, "SELECT DISTINCT year FROM observation WHERE dataset = 'ssb_11607'")
    assert years == [{"year": 2023}]
    assert sync(db, tmp_path, "11607", "--region", "4650", "--latest", "1",
                "--year", "2022") == 2
    assert "enten --year eller --latest" in capsys.readouterr().err
