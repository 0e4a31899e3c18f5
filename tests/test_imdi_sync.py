"""`bli sync imdi` against a fake of IMDi's download service (tests/imdi_fake.py).

The fake serves the real IMDi exports in ../shared/data/imdi (the format IMDi serves) and
our long-table fixtures (tests/fixtures/imdi, labelled TESTDATA); no network is used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from conftest import db_rows, db_snapshot
from imdi_fake import SHARED_IMDI, FakeImdi

from bliatlas.cli import main
from bliatlas.sources import imdi_client
from bliatlas.sources.imdi import TABLES


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


def serve(monkeypatch, fake: FakeImdi | None = None) -> FakeImdi:
    fake = fake or FakeImdi()
    monkeypatch.setattr(imdi_client, "transport_factory", fake.factory())
    return fake


def sync(db: Path, tmp_path: Path, *args: str) -> int:
    return main(["--database", str(db), "sync", "imdi", *args,
                 "--cache-dir", str(tmp_path / "c")])


rows = db_rows
snapshot = db_snapshot


def test_list_names_the_known_tables_in_norwegian(capsys):
    assert main(["sync", "imdi", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("bosatt_anmodede", "befolkning_innvandringsgrunn", "befolkning_botid",
                 "flyktning_botid_flytting", "enslige_mindrearige", "intro_deltakere",
                 "intro_status_arbutd_avslutta", "sysselsatte_botid_land", "utdanningsniva",
                 "vedvarende_lavinntekt", "barnehagedeltakelse_spraak"):
        assert name in out
    assert "I arbeid eller utdanning etter avsluttet introduksjonsprogram" in out
    assert "Utdanningsnivå etter innvandringsbakgrunn" in out
    assert len(TABLES) == 11


def test_sync_of_the_real_export_with_provenance_and_values(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch)
    assert sync(db, tmp_path, "utdanningsniva") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    (req,) = fake.requests
    assert str(req.url) == ("https://app-simapi-prod.azurewebsites.net/download_csv/k/"
                            "utdanningsniva")
    assert "Lagret som imdi_utdanningsniva" in out and "lisens NLOD 2.0" in out
    (imp,) = rows(db, "SELECT * FROM import WHERE dataset = 'imdi_utdanningsniva'")
    data = (SHARED_IMDI / "utdanningsniva_kommuner_2011-2020.csv").read_bytes()
    assert (imp["publisher"], imp["source"], imp["format"], imp["licence"]) == (
        "IMDi", "IMDi-tabell utdanningsniva (kommune)", "imdi-csv", "NLOD 2.0")
    assert imp["content_sha256"] == hashlib.sha256(data).hexdigest()
    assert "download_csv/k/utdanningsniva" in imp["notes"]
    # Gloppen 2020: 131 of 345 immigrants with university or college education
    got = {r["dims"]: r["value"] for r in rows(
        db, "SELECT dims, value FROM observation WHERE dataset = 'imdi_utdanningsniva' AND "
        "region_code = '4650' AND year = 2020 AND unit = 'personer' AND dims LIKE "
        "'bakgrunn=Innvandrere|kjonn=Alle|%'")}
    assert got["bakgrunn=Innvandrere|kjonn=Alle|utdanningsniva=Universitet og høgskole"] == 131
    assert got["bakgrunn=Innvandrere|kjonn=Alle|utdanningsniva=alle"] == 345


def test_second_sync_comes_from_the_cache_and_changes_nothing(db, tmp_path, monkeypatch,
                                                               capsys):
    fake = serve(monkeypatch)
    assert sync(db, tmp_path, "befolkning_botid") == 0
    before = snapshot(db)
    assert sync(db, tmp_path, "befolkning_botid") == 0
    out = capsys.readouterr().out
    assert len(fake.requests) == 1
    assert "fra hurtigbufferen" in out and "Ingen endringer" in out
    assert snapshot(db) == before


def test_intro_status_long_table_per_county(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch)
    assert sync(db, tmp_path, "intro_status_arbutd_avslutta", "--level", "fylke") == 0, (
        capsys.readouterr().err)
    assert fake.requests[0].url.path == "/download_csv/f/intro_status_arbutd_avslutta"
    (imp,) = rows(db, "SELECT format, source, n_values, n_unassigned FROM import")[-1:]
    assert imp["format"] == "imdi-csv-lang"
    assert imp["source"] == "IMDi-tabell intro_status_arbutd_avslutta (fylke)"
    vestland = rows(db, "SELECT year, value FROM observation WHERE dataset = "
                    "'imdi_intro_status' AND region_code = '46' AND unit = 'prosent' AND dims = "
                    "'arbeidssituasjon=I arbeid eller utdanning|avslutningsar=Avsluttet eller "
                    "avbrutt intro for ett år siden|kjonn=Alle' ORDER BY year")
    assert vestland == [{"year": 2022, "value": 65.0}, {"year": 2023, "value": 66.0},
                        {"year": 2024, "value": 67.0}]
    # Norge (0) is the country; Vestfold og Telemark (38, split in 2024) and Ukjent fylke
    # (99) are kept aside with the reason
    national = rows(db, "SELECT count(*) AS n FROM observation WHERE dataset = "
                    "'imdi_intro_status' AND region_code = '0'")
    assert national[0]["n"] > 0
    aside = {r["code"] for r in rows(db, "SELECT DISTINCT source_region_code AS code FROM "
                                     "observation_unassigned WHERE dataset = 'imdi_intro_status'")}
    assert aside == {"38", "99"}


def test_intro_status_per_municipality_places_old_codes(db, tmp_path, monkeypatch, capsys):
    serve(monkeypatch)
    assert sync(db, tmp_path, "intro_status_arbutd_avslutta") == 0, capsys.readouterr().err
    codes = rows(db, "SELECT DISTINCT region_code, year FROM observation WHERE dataset = "
                 "'imdi_intro_status' ORDER BY 1, 2")
    # Tokke 2023 (3824) lands on today's 4034, as does the 2024 row without a name
    assert {"region_code": "4034", "year": 2023} in codes
    assert {"region_code": "4034", "year": 2024} in codes


def test_dry_run_sends_nothing(db, tmp_path, monkeypatch, capsys):
    fake = serve(monkeypatch)
    assert sync(db, tmp_path, "intro_deltakere", "--level", "fylke", "--dry-run") == 0
    out = capsys.readouterr().out
    assert ("GET https://app-simapi-prod.azurewebsites.net/download_csv/f/intro_deltakere"
            in out)
    assert fake.requests == []


def test_offline_fails_cleanly(db, tmp_path, monkeypatch, capsys):
    def no_network(request):
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(imdi_client, "transport_factory",
                        lambda: httpx.MockTransport(no_network))
    before = snapshot(db)
    assert sync(db, tmp_path, "intro_status_arbutd_avslutta") == 2
    err = capsys.readouterr().err
    assert "Ingen nettverksforbindelse" in err and "IMDis statistikktjeneste" in err
    assert "app-simapi-prod.azurewebsites.net" in err and "bli import" in err
    assert snapshot(db) == before


def test_service_unavailable_is_retried_with_backoff(db, tmp_path, monkeypatch, capsys):
    serve(monkeypatch, FakeImdi(script=[503, 502]))
    slept: list[float] = []
    monkeypatch.setattr(imdi_client, "default_sleep", slept.append)
    assert sync(db, tmp_path, "befolkning_botid") == 0
    assert slept == [2.0, 4.0]


def test_error_page_instead_of_a_table_is_refused(db, tmp_path, monkeypatch, capsys):
    page = b"<!DOCTYPE html><html><body>Service Unavailable</body></html>"
    serve(monkeypatch, FakeImdi(script=[(200, page)]))
    before = snapshot(db)
    assert sync(db, tmp_path, "befolkning_botid") == 2
    err = capsys.readouterr().err
    assert "IMDi-tabell befolkning_botid (kommune): svaret er ikke en IMDi-tabell" in err
    assert snapshot(db) == before
    # and nothing broken was cached: the next (good) answer is fetched
    serve(monkeypatch)
    assert sync(db, tmp_path, "befolkning_botid") == 0


def test_unknown_table_is_a_clear_404(db, tmp_path, monkeypatch, capsys):
    serve(monkeypatch)
    assert sync(db, tmp_path, "finnes_ikke") == 2
    assert "IMDi kjenner ikke tabellen (HTTP 404)" in capsys.readouterr().err


def _with_new_header_row(data: bytes) -> bytes:
    lines = data.split(b"\r\n") if b"\r\n" in data else data.split(b"\n")
    width = lines[1].count(b";") + 1
    extra = b";;" + b";".join([b"Alder: 16 \xe5r og over"] * (width - 2))
    sep = b"\r\n" if b"\r\n" in data else b"\n"
    return sep.join([lines[0], extra, *lines[1:]])


def test_new_header_row_fails_naming_table_and_field(db, tmp_path, monkeypatch, capsys):
    files = FakeImdi().files
    key = ("k", "utdanningsniva")
    files[key] = _with_new_header_row(files[key])
    serve(monkeypatch, FakeImdi(files=files))
    before = snapshot(db)
    assert sync(db, tmp_path, "utdanningsniva") == 2
    err = capsys.readouterr().err
    assert "IMDi-tabell utdanningsniva (kommune)" in err and "kolonne 'alder'" in err
    assert "ny dimensjon 'alder'" in err and "ingenting er lagret" in err
    assert snapshot(db) == before


def test_renamed_column_fails_naming_table_and_field(db, tmp_path, monkeypatch, capsys):
    files = FakeImdi().files
    key = ("f", "intro_status_arbutd_avslutta")
    files[key] = files[key].replace(
        b"Arbeidssituasjon etter avsluttet/avbrutt introduksjonsprogram", b"Status", 1)
    serve(monkeypatch, FakeImdi(files=files))
    before = snapshot(db)
    assert sync(db, tmp_path, "intro_status_arbutd_avslutta", "--level", "fylke") == 2
    err = capsys.readouterr().err
    assert "IMDi-tabell intro_status_arbutd_avslutta (fylke)" in err
    assert "ny dimensjon 'status'" in err and "mangler 'arbeidssituasjon'" in err
    assert snapshot(db) == before


def test_fixtures_are_refused_outside_tests(db, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BLI_ALLOW_TEST_DATA")
    path = Path(__file__).resolve().parent / "fixtures" / "imdi" / "intro_deltakere_k.csv"
    before = snapshot(db)
    assert main(["--database", str(db), "import", str(path)]) == 2
    assert "testdata skrevet av Bli-atlas" in capsys.readouterr().err
    assert snapshot(db) == before
