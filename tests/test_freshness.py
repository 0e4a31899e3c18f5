"""Freshness: every `bli import` run is logged (also when nothing was new), and
/oppdateringer shows when each source last gave new figures and was last checked, and what
the last run changed. The sync side is tested in ``test_sync_standard.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from conftest import bli_on, db_rows, reset_app_caches

MONTHS = {1: "januar", 2: "februar", 3: "mars", 4: "april", 5: "mai", 6: "juni", 7: "juli",
          8: "august", 9: "september", 10: "oktober", 11: "november", 12: "desember"}
PANEL = "panel/kommuner_bosetting_2022-2024.xlsx"
KOSTRA = "panel/kostra_grupper.xlsx"


def _norwegian(stamp: str) -> str:
    t = datetime.fromisoformat(stamp).replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
    return f"{t.day}. {MONTHS[t.month]} {t.year} kl. {t.hour:02d}.{t.minute:02d}"


def test_imports_are_logged_and_the_updates_page_shows_them(db, shared_data, tmp_path,
                                                            monkeypatch, capsys):
    from fastapi.testclient import TestClient

    from bliatlas.api.app import create_app

    assert bli_on(db, "import", shared_data / KOSTRA) == 0
    assert bli_on(db, "import", shared_data / PANEL, shared_data / KOSTRA) == 0  # both unchanged
    capsys.readouterr()
    log = db_rows(db, "SELECT run_at, command, source, publisher, dataset, status, n_new "
                      "FROM refresh_log ORDER BY run_at, source")
    runs = sorted({r["run_at"] for r in log})
    assert len(runs) == 3  # the registry database's own import, then two more
    last = [r for r in log if r["run_at"] == runs[-1]]
    assert [(r["source"], r["status"], r["n_new"]) for r in last] == [
        ("kommuner_bosetting_2022-2024.xlsx", "uendret", 0), ("kostra_grupper.xlsx",
                                                               "uendret", 0)]
    assert {r["publisher"] for r in last} == {
        "IMDi, SSB, KOSTRA og Helsedirektoratet (kommunepanel)"}
    assert bli_on(db, "sources", "--json") == 0
    imports = {r["source"]: r for r in json.loads(capsys.readouterr().out)}

    monkeypatch.setenv("BLI_DATABASE", str(db))
    reset_app_caches()
    try:
        with TestClient(create_app()) as client:
            page = client.get("/oppdateringer")
            home = client.get("/indikatorer")
    finally:
        reset_app_caches()
    assert page.status_code == 200
    html = page.text
    assert "import av filer (bli import). 0 av 2 kilder ga nye eller endrede tall." in html
    assert html.count('data-status="uendret">ingen endringer</td>') == 2
    panel = imports["kommuner_bosetting_2022-2024.xlsx"]
    changed = _norwegian(str(panel["imported_at"]))
    checked = _norwegian(runs[-1].isoformat())
    assert (f'<td data-source="kommuner_bosetting_2022-2024.xlsx">{changed}</td>'
            f"<td>{checked}</td>") in html
    assert '<a href="/oppdateringer">Sist oppdatert</a>' in home.text
