"""`bli sync standard` end to end: IMDi's tables (the real exports in ../shared/data/imdi and
our long-table fixtures) and SSB's tables (our labelled JSON-stat fixtures, with groupings
built from the real registry) behind fakes, into a copy of the full real import.

Checks: the run is resumable (a failed table is fetched on the next run, the finished ones
are skipped), shows progress, and says what changed (new years, revised values); every
catalogue selector of the standard set finds cells afterwards; the indicators appear in
profiles; with no network the run stops at once, naming the service.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import shutil

import httpx
import pytest
from conftest import db_rows, unmatched_selectors
from imdi_fake import SHARED_IMDI, FakeImdi
from ssb_fake import FakeSsb, FakeSsbBank, load_fixture, region_codelists

from bliatlas.cli import main
from bliatlas.indicators.catalogue import load_catalogue
from bliatlas.indicators.engine import build_cube
from bliatlas.indicators.profile import build_profile
from bliatlas.regions.crosswalk import Crosswalk
from bliatlas.regions.registry import Registry
from bliatlas.sources import imdi_client, ssb
from bliatlas.sources.standard import STANDARD_JOBS, standard_datasets
from bliatlas.store import open_store


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


@pytest.fixture(scope="module")
def registry(imported_db) -> Registry:
    with open_store(imported_db, read_only=True) as store:
        return Registry.from_store(store)


def kostra_12268(registry: Registry) -> dict:
    """A KOSTRA answer for 12268 on today's structure, generated here (TEST DATA): every
    municipality, KOSTRA's county codes (EKAxx), the country (EAK), the country without
    Oslo (EAKUO) and one KOSTRA group (EKG13)."""
    doc = load_fixture("12268.json")
    codes = {m.code: m.name for m in sorted(registry.municipalities.values(),
                                              key=lambda m: m.code)}
    codes.update({f"EKA{c}": r.name for c, r in sorted(registry.counties.items())})
    codes.update({"EAK": "Landet", "EAKUO": "Landet uten Oslo", "EKG13": "Kostragruppe 13"})
    dim = doc["dimension"]["KOKkommuneregion0000"]["category"]
    dim["index"] = {c: i for i, c in enumerate(codes)}
    dim["label"] = codes
    n_other = len(doc["dimension"]["ContentsCode"]["category"]["index"]) * len(
        doc["dimension"]["Tid"]["category"]["index"])
    doc["size"][0] = len(codes)
    # in 1000 kr, as SSB publishes the table
    doc["value"] = [round((200 + (i * 37) % 900) / 1000, 3) for i in range(len(codes) * n_other)]
    doc.pop("status", None)
    return doc


def ssb_bank(registry: Registry, crosswalk: Crosswalk, with_12268: bool = True) -> FakeSsbBank:
    tables = []
    for name, elimination in (("11607.json", {}), ("09817.json", {}), ("13628.json", {}),
                              ("07459.json", {"Kjonn": True, "Alder": True})):
        doc = load_fixture(name)
        tables.append(FakeSsb(doc, elimination=elimination,
                              codelists={"Region": region_codelists(doc, registry, crosswalk)}))
    if with_12268:
        tables.append(FakeSsb(kostra_12268(registry)))
    return FakeSsbBank(tables)


def revised_export() -> bytes:
    """IMDi's education export as served again, with Gloppen's 2020 count of immigrants
    with higher education revised from 131 to 133 (a publisher's revision)."""
    data = (SHARED_IMDI / "utdanningsniva_kommuner_2011-2020.csv").read_bytes()
    lines = data.split(b"\n")
    header = [line.split(b";") for line in lines[:5]]
    target = [i for i in range(2, len(header[0]))
              if header[0][i].endswith(b"Universitet og h\xf8gskole")
              and header[1][i].endswith(b"Innvandrere") and header[2][i].endswith(b"Alle")
              and header[3][i].endswith(b"Personer") and header[4][i].strip().endswith(b"2020")]
    assert len(target) == 1
    for n, line in enumerate(lines):
        if line.startswith(b"K4650;"):
            cells = line.split(b";")
            assert cells[target[0]] == b"131"
            cells[target[0]] = b"133"
            lines[n] = b";".join(cells)
    return b"\n".join(lines)


def run(db, tmp_path, *extra) -> int:
    return main(["--database", str(db), "sync", "standard", "--cache-dir",
                 str(tmp_path / "ssb"), "--imdi-cache-dir", str(tmp_path / "imdi"),
                 "--state", str(tmp_path / "state.json"), *extra])


@pytest.fixture(scope="module")
def synced(imported_db, registry, tmp_path_factory):
    """Two runs: the first without SSB table 12268 (its job fails), the second resumes."""
    tmp = tmp_path_factory.mktemp("standard")
    db = tmp / "bli.duckdb"
    shutil.copy(imported_db, db)
    crosswalk = Crosswalk(registry)
    mp = pytest.MonkeyPatch()
    mp.setenv("BLI_ALLOW_TEST_DATA", "1")
    files = FakeImdi().files
    files[("k", "utdanningsniva")] = revised_export()
    imdi = FakeImdi(files=files)
    mp.setattr(imdi_client, "transport_factory", imdi.factory())
    first_bank = ssb_bank(registry, crosswalk, with_12268=False)
    mp.setattr(ssb, "transport_factory", first_bank.factory())
    outs = []
    for bank in (first_bank, ssb_bank(registry, crosswalk)):
        mp.setattr(ssb, "transport_factory", bank.factory())
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(db, tmp)
        outs.append((code, out.getvalue(), err.getvalue(), len(imdi.requests),
                     len(bank.requests)))
    mp.undo()
    return db, outs


def test_first_run_fetches_all_but_the_failing_table(synced):
    _, outs = synced
    code, out, err, imdi_requests, _ = outs[0]
    assert code == 2
    assert "feilet: ssb:12268" in err and "fant ikke tabell 12268 hos SSB" in err
    assert "Kjør `bli sync standard` igjen" in err
    assert f"{len(STANDARD_JOBS)}/{len(STANDARD_JOBS)}" in err        # the progress bar
    assert imdi_requests == 13
    # what changed: new years for new datasets, a revised value named, unchanged ones said
    assert re.search(r"imdi:intro_status_arbutd_avslutta:fylke +hentet +2022 ", out)
    row = next(line for line in out.splitlines() if line.startswith("ssb:07459"))
    assert "2019, 2020, 2023, 2024" in row
    # the same export as in ../shared/data: nothing to store again
    assert re.search(r"imdi:befolkning_innvandringsgrunn:kommune +uendret", out)
    assert "Reviderte verdier i imdi:utdanningsniva:kommune, f.eks. 4650 2020: 131,0 → 133,0" in out


def test_second_run_resumes_with_the_table_that_failed(synced):
    _, outs = synced
    code, out, err, imdi_requests, ssb_requests = outs[1]
    assert code == 0, err
    assert "fortsatt fra en avbrutt kjøring" in out
    assert out.count("hoppet over") == len(STANDARD_JOBS) - 1
    assert "ssb:12268" in out and imdi_requests == 13      # no IMDi table fetched again
    assert ssb_requests > 0


def test_every_standard_selector_finds_cells_after_the_sync(synced):
    db, _ = synced
    with open_store(db, read_only=True) as store:
        checked, missing = unmatched_selectors(store, load_catalogue(), standard_datasets())
    assert missing == []
    assert checked >= 15
    assert {j.dataset for j in STANDARD_JOBS} == standard_datasets()


def test_indicators_appear_once_synced(synced, imported_db):
    db, _ = synced
    with open_store(imported_db, read_only=True) as store:
        before = build_profile(build_cube(store), "4650")
    with open_store(db, read_only=True) as store:
        cube = build_cube(store)
    after = build_profile(cube, "4650")
    waiting = {m["id"] for m in before["ikke_hentet"]}
    assert {"intro_arbeid_utdanning_andel", "sysselsatte_innvandrere_imdi",
            "innvandrere_ssb"} <= waiting
    assert all(m["hvordan"] == "hentes med kommandoen «bli sync standard»"
               for m in before["ikke_hentet"])
    assert after["ikke_hentet"] == []
    shown = {i["id"]: i for i in after["indikatorer"]}
    # IMDi's county figure as the fixture has it; SSB's population from 07459 for 2019,
    # summed on today's borders (Volda + Hornindal) by the grouping
    cell = cube.cell("intro_arbeid_utdanning_andel_fylke", "fylke", "46", 2022)
    assert cell.status == "ok" and cell.value == 65.0
    base = load_fixture("07459.json")
    regions = list(base["dimension"]["Region"]["category"]["index"])
    years = list(base["dimension"]["Tid"]["category"]["index"])
    grid = itertools.product(regions, ["1", "2"], ["000-049", "050+"], years)
    volda_2019 = sum(v for (r, _, _, t), v in zip(grid, base["value"], strict=True)
                     if r in ("1519", "1444") and t == "2019" and v is not None)
    got = cube.cell("folkemengde_1_januar", "kommune", "1577", 2019)
    assert got.value == volda_2019
    assert "sysselsatte_innvandrere_imdi" in shown


def test_offline_stops_at_once_and_resumes(imported_db, registry, tmp_path, monkeypatch,
                                           capsys):
    db = tmp_path / "bli.duckdb"
    shutil.copy(imported_db, db)

    def no_network(request):
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(imdi_client, "transport_factory",
                        lambda: httpx.MockTransport(no_network))
    monkeypatch.setattr(ssb, "transport_factory", lambda: httpx.MockTransport(no_network))
    assert run(db, tmp_path) == 3  # no network: a source error
    err = capsys.readouterr().err
    assert "Ingen nettverksforbindelse" in err and "IMDis statistikktjeneste" in err
    assert "Stoppet ved imdi:bosatt_anmodede:kommune; 0 av" in err
    state = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert state["done"] == {} and "imdi:bosatt_anmodede:kommune" in state["failed"]


def test_the_sync_summary_is_kept_in_the_store_and_shown_on_the_updates_page(synced,
                                                                             monkeypatch):
    from conftest import reset_app_caches
    from fastapi.testclient import TestClient

    from bliatlas.api.app import create_app

    db, _ = synced
    rows = db_rows(db, "SELECT run_at, source, publisher, status, new_years, n_changed, "
                       "examples, message FROM refresh_log WHERE command = 'sync standard'")
    runs = sorted({r["run_at"] for r in rows})
    assert len(runs) == 2
    first = {r["source"]: r for r in rows if r["run_at"] == runs[0]}
    second = {r["source"]: r for r in rows if r["run_at"] == runs[1]}
    assert len(first) == len(second) == len(STANDARD_JOBS)
    assert first["ssb:12268"]["status"] == "feilet"
    assert "fant ikke tabell 12268 hos SSB" in first["ssb:12268"]["message"]
    assert first["ssb:07459"]["new_years"].startswith("2019, 2020, 2023, 2024")
    assert first["imdi:befolkning_innvandringsgrunn:kommune"]["status"] == "uendret"
    revised = first["imdi:utdanningsniva:kommune"]
    assert revised["n_changed"] >= 1 and "4650 2020: 131,0 → 133,0" in revised["examples"]
    assert second["ssb:12268"]["status"] == "hentet" and second["ssb:12268"]["publisher"] == "SSB"
    assert sum(r["status"] == "hoppet over" for r in second.values()) == len(STANDARD_JOBS) - 1

    monkeypatch.setenv("BLI_DATABASE", str(db))
    reset_app_caches()
    try:
        with TestClient(create_app()) as client:
            page = client.get("/oppdateringer")
    finally:
        reset_app_caches()
    assert page.status_code == 200
    html = page.text
    assert "henting fra IMDi og SSB (bli sync standard). 1 av " \
        f"{len(STANDARD_JOBS)} kilder ga nye eller endrede tall." in html
    assert html.count('data-status="hoppet over"') == len(STANDARD_JOBS) - 1
    assert '<th scope="row">ssb:12268</th><td>SSB</td><td data-status="hentet">' in html
