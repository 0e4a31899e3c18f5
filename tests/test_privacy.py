"""Secondary suppression: no published total and its parts reveal a hidden cell."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bliatlas.store import open_store


@pytest.fixture(scope="module")
def published(imported_db):
    with open_store(imported_db, read_only=True) as store:
        yield store


def test_grant_totals_never_reveal_anonymised_types(published):
    rows = published.query(
        "SELECT region_code, year, dims, value, status FROM observation "
        "WHERE dataset = 'imdi_tilskudd' AND measure = 'tilskudd'")
    cells = defaultdict(dict)
    for r in rows:
        cells[(r["region_code"], r["year"])][r["dims"]] = r
    hidden_types = 0
    for key, by_type in cells.items():
        total = by_type.get("tilskuddstype=Totalt")
        parts = [v for k, v in by_type.items() if k != "tilskuddstype=Totalt"]
        n_hidden = sum(p["status"] == "suppressed" for p in parts)
        hidden_types += n_hidden
        if n_hidden:
            # The differencing attack: total minus the published types.
            assert total is None or total["status"] != "ok", key
    assert hidden_types > 400  # the real file has 491 anonymised cells


def test_the_raw_values_are_kept_but_not_published(published):
    raw = published.query(
        "SELECT count(*) AS n FROM observation_source WHERE dataset = 'imdi_tilskudd' "
        "AND dims = 'tilskuddstype=Totalt' AND status = 'ok'")[0]["n"]
    shown = published.query(
        "SELECT count(*) AS n FROM observation WHERE dataset = 'imdi_tilskudd' "
        "AND dims = 'tilskuddstype=Totalt' AND status = 'ok'")[0]["n"]
    secondary = published.query(
        "SELECT count(*) AS n FROM observation_secondary WHERE dataset = 'imdi_tilskudd'")[0]["n"]
    assert raw - shown == secondary > 100
    note = published.query(
        "SELECT status_note FROM observation o JOIN observation_secondary s USING "
        "(dataset, measure, region_code, year, dims, unit) LIMIT 1")[0]["status_note"]
    assert note.startswith("sekundærskjermet")


def test_sex_and_age_cells_cannot_be_recovered_from_group_totals(published):
    totals = {(r["region_code"], r["year"], r["dims"]): r for r in published.query(
        "SELECT region_code, year, dims, value, status FROM observation "
        "WHERE dataset = 'kommuner_bosetting' AND measure = 'bosatte_flyktninger'")}
    groups = defaultdict(list)
    for r in published.query(
            "SELECT region_code, year, dims, value, status FROM observation "
            "WHERE dataset = 'kommuner_bosetting_kjonn_alder'"):
        group = next(p for p in r["dims"].split("|") if p.startswith("gruppe="))
        groups[(r["region_code"], r["year"], group)].append(r)
    checked = 0
    for (code, year, group), parts in groups.items():
        total = totals.get((code, year, group))
        n_hidden = sum(p["status"] == "suppressed" for p in parts)
        n_missing = sum(p["status"] == "missing" for p in parts)
        if total and total["status"] == "ok" and n_missing == 0:
            assert n_hidden != 1, (code, year, group)
            checked += 1
    assert checked > 1000
