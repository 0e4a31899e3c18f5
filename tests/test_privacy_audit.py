"""The privacy audit: every suppressed cell minimised and maximised (HiGHS) subject to
everything the atlas publishes; the feasible interval must stay the whole box (0–4)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest_indicators import hide_education_count

from bliatlas.indicators.audit import audit
from bliatlas.indicators.engine import build_cube
from bliatlas.privacy import LinearSystem, feasible_ranges
from bliatlas.store import open_store

pytest_plugins = ["conftest_indicators"]


def test_no_published_figure_narrows_a_suppressed_cell(imported_db, cube):
    with open_store(imported_db, read_only=True) as store:
        report = audit(store, cube)
    print(json.dumps(report.as_dict(), ensure_ascii=False))  # the figures for the issue note
    assert report.protected_cells > 1000
    # the model is not empty: published facts involve hidden cells, and the LP ran on the
    # ones the boxes do not already imply
    assert report.constraints > 1000 and report.binding_constraints > 0 and report.solves > 0
    assert report.narrowed == [], [n.message() for n in report.narrowed[:10]]


def test_feasible_ranges_solve_blocks_exactly():
    s = LinearSystem()
    a, b = s.add_unknown(0, 4), s.add_unknown(0, None)   # a hidden count and a hidden total
    c, d = s.add_unknown(0, 4), s.add_unknown(0, 4)
    s.add_row({a: 1, b: 1}, 10, 10)                       # a + b = 10
    s.add_row({c: 1, d: 1}, 3, 3)                         # c + d = 3: both narrowed to 0-3
    r = feasible_ranges(s)
    assert r.blocks == 2 and r.solves == 8
    assert list(r.low) == [0, 6, 0, 0] and list(r.high) == [4, 10, 3, 3]


@pytest.fixture(scope="module")
def without_secondary(imported_db, tmp_path_factory):
    """The real import with the store's secondary suppression removed: IMDi's grant totals
    published beside the types, one of them anonymised."""
    path = tmp_path_factory.mktemp("leak") / "copy.duckdb"
    shutil.copy(imported_db, path)
    with open_store(path) as store:
        store.execute("DELETE FROM observation_secondary")
    with open_store(path, read_only=True) as store:
        yield store, build_cube(store)


def test_the_audit_finds_a_total_that_reveals_an_anonymised_grant(without_secondary):
    store, cube = without_secondary
    report = audit(store, cube)
    assert report.narrowed, "a total beside its parts reveals a lone anonymised part"
    assert {n.dataset for n in report.narrowed} == {"imdi_tilskudd"}
    # the lone anonymised type is pinned: its feasible interval is one point
    assert any(n.feasible[0] == pytest.approx(n.feasible[1]) for n in report.narrowed)


@pytest.fixture(scope="module")
def leaking_partition(imported_db, tmp_path_factory):
    """Gloppen 2021 with the education count suppressed (as IMDi's ':' would), and the cell
    the engine hid to protect it published anyway."""
    path = tmp_path_factory.mktemp("leak2") / "copy.duckdb"
    shutil.copy(imported_db, path)
    hide_education_count(path, true_value=2)
    return path


def test_the_audit_passes_the_engines_secondary_suppression(leaking_partition):
    with open_store(leaking_partition, read_only=True) as store:
        cube = build_cube(store)
        report = audit(store, cube)
    assert report.narrowed == []
    hidden = [r["indicator"] for r in cube.rows(
        "SELECT indicator FROM base WHERE code = '4650' AND year = 2021 AND secondary")]
    assert hidden


def test_the_audit_finds_a_published_secondary_cell(leaking_partition):
    store = open_store(leaking_partition, read_only=True)
    cube = build_cube(store)
    (indicator, value), = cube.sql(
        "SELECT b.indicator, o.value FROM base b JOIN term_val t USING (indicator, code, year) "
        "JOIN sel s ON s.indicator = t.indicator AND s.part = t.part AND s.term = t.term "
        "AND s.prio = t.prio JOIN obs o ON o.dataset = s.dataset AND o.measure = s.measure "
        "AND o.unit = s.unit AND o.dims = s.dims AND o.region_code = b.code AND o.year = b.year "
        "WHERE b.code = '4650' AND b.year = 2021 AND b.secondary AND t.part = 'num'")
    # publish it exactly, as an output without secondary suppression would
    cube.sql("UPDATE cells SET status = 'ok', numerator = ? WHERE indicator = ? AND "
             "level = 'kommune' AND code = '4650' AND year = 2021", [value, indicator])
    report = audit(store, cube)
    store.close()
    pinned = [n for n in report.narrowed if n.code == "4650" and n.year == 2021]
    # total − the published reasons − the published secondary cell = the hidden count (2)
    assert pinned and pinned[0].feasible == pytest.approx((2.0, 2.0))
