"""Suppression: primary, propagation to aggregates, secondary suppression in partitions,
and a differencing attack over every published total."""

from __future__ import annotations

import shutil
from collections import defaultdict

import pytest

from bliatlas.indicators.engine import LEVELS, build_cube
from bliatlas.store import open_store

pytest_plugins = ["conftest_indicators"]


def membership(cube):
    """(level, group code) -> set of member municipality codes, from the registry."""
    groups = defaultdict(set)
    for (level, code), reg in cube.regions.items():
        if level != "kommune":
            continue
        groups[("fylke", reg["county_code"])].add(code)
        groups[("sentralitet", str(reg["centrality"]))].add(code)
        groups[("distrikt", "distrikt" if reg["centrality"] >= 5 else "ikke-distrikt")].add(code)
        groups[("kostra", reg["kostra_group"])].add(code)
        groups[("nasjonal", "NO")].add(code)
    return groups


def municipal(cube, indicator):
    rows = cube.rows(
        "SELECT code, year, numerator, denominator, status FROM cells "
        "WHERE indicator = ? AND level = 'kommune'", [indicator])
    return {(r["code"], r["year"]): r for r in rows}


def aggregates(cube, indicator):
    return cube.rows(
        "SELECT level, code, year, numerator, denominator, value, status, n_ok, n_suppressed "
        "FROM cells WHERE indicator = ? AND level NOT IN ('kommune')", [indicator])


def summed_indicators(cube):
    """Indicators whose aggregates are sums of municipal numerators (a difference of two
    such indicators is checked through its components)."""
    return [i.id for i in cube.catalogue.indicators
            if i.aggregation == "sum" and i.base_level == "kommune" and i.kind != "difference"]


def test_suppressed_source_cells_stay_suppressed(cube, panel):
    hidden = [(code, year) for (code, year), r in panel.items() if r["ema_prikket"]]
    assert hidden, "the panel has suppressed counts of unaccompanied minors"
    for code, year in hidden:
        cell = cube.cell("enslige_mindreaarige", "kommune", code, year)
        assert cell["status"] == "suppressed"
        assert cell["value"] is None and cell["numerator"] is None
        assert "færre enn 5" in cell["reason"]


def test_aggregates_with_a_suppressed_member_are_suppressed(cube, panel):
    code, year = next((c, y) for (c, y), r in panel.items() if r["ema_prikket"])
    county = panel[(code, year)]["Fylkenummer"]
    for level, group in [("fylke", county), ("nasjonal", "NO")]:
        cell = cube.cell("enslige_mindreaarige", level, group, year)
        assert cell["status"] == "suppressed" and cell["value"] is None
        assert cell["n_suppressed"] >= 1


def test_aggregates_equal_the_sum_of_their_parts(cube):
    groups = membership(cube)
    checked = 0
    for indicator in summed_indicators(cube):
        muni = municipal(cube, indicator)
        for agg in aggregates(cube, indicator):
            if agg["status"] != "ok":
                continue
            members = [muni.get((m, agg["year"])) for m in groups[(agg["level"], agg["code"])]]
            ok = [m for m in members if m is not None and m["status"] == "ok"]
            assert not any(m is not None and m["status"] == "suppressed" for m in members)
            assert agg["n_ok"] == len(ok)
            assert agg["numerator"] == pytest.approx(sum(m["numerator"] for m in ok), rel=1e-12)
            if agg["denominator"] is not None:
                assert agg["denominator"] == pytest.approx(
                    sum(m["denominator"] for m in ok), rel=1e-12)
            checked += 1
    assert checked > 1000


def differencing_attack(cube, indicator):
    """Try to recover suppressed municipal values from published totals.

    For every published aggregate (every level, every grouping), subtract every published
    member. A non-zero remainder carries information about unpublished members; if exactly
    one member is hidden, the remainder *is* that member. Returns what was recovered.
    """
    groups = membership(cube)
    muni = municipal(cube, indicator)
    recovered = []
    for agg in aggregates(cube, indicator):
        if agg["status"] != "ok" or agg["numerator"] is None:
            continue
        published = 0.0
        hidden = []
        for m in groups[(agg["level"], agg["code"])]:
            cell = muni.get((m, agg["year"]))
            if cell is None or cell["status"] == "missing":
                continue
            if cell["status"] == "ok":
                published += cell["numerator"]
            else:
                hidden.append(m)
        remainder = agg["numerator"] - published
        if abs(remainder) > 1e-9 * max(1.0, abs(agg["numerator"])) or (hidden and len(hidden) == 1):
            recovered.append((agg["level"], agg["code"], agg["year"], hidden, remainder))
    # Totals at two levels of one hierarchy (e.g. national minus all counties) are sums of
    # the same published cells, so their differences reveal nothing either.
    return recovered


def test_differencing_attack_recovers_nothing(cube):
    for indicator in summed_indicators(cube):
        assert differencing_attack(cube, indicator) == [], indicator


def partition_attack(cube, level="kommune"):
    """Total minus the other members of a partition, for every region and year."""
    leaks = []
    for part in cube.catalogue.partitions:
        cells = cube.rows(
            "SELECT indicator, code, year, numerator, denominator, status FROM cells "
            f"WHERE level = ? AND indicator IN ({','.join('?' for _ in part.members)})",
            [level, *part.members])
        by_key = defaultdict(list)
        for c in cells:
            by_key[(c["code"], c["year"])].append(c)
        for key, members in by_key.items():
            hidden = [c for c in members if c["status"] == "suppressed"]
            shown = [c for c in members if c["status"] == "ok"]
            if len(hidden) == 1 and len(shown) == len(members) - 1 and shown:
                leaks.append((part.id, key, hidden[0]["indicator"]))
    return leaks


def test_no_partition_reveals_a_member_by_subtraction(cube):
    for level in LEVELS:
        assert partition_attack(cube, level) == []


@pytest.fixture(scope="module")
def cube_with_hidden_reason(imported_db, tmp_path_factory):
    """A copy of the real import where IMDi had suppressed one cell: Gloppen's immigrants
    who came for education in 2021 (the scenario the export's ':' marks would create)."""
    path = tmp_path_factory.mktemp("supp") / "copy.duckdb"
    shutil.copy(imported_db, path)
    with open_store(path) as store:
        store.execute(
            "UPDATE observation_source SET value = NULL, status = 'suppressed', status_note = ':' "
            "WHERE dataset = 'imdi_innvandringsgrunn' AND region_code = '4650' AND year = 2021 "
            "AND dims = 'innvandringsgrunn=Utdanning (inkl. au pair) eller andre grunner|"
            "kjonn=Alle' AND unit = 'personer'")
    with open_store(path, read_only=True) as store:
        return build_cube(store)


def test_secondary_suppression_hides_a_second_member(cube_with_hidden_reason, cube):
    c = cube_with_hidden_reason
    members = c.catalogue.partitions[0].members
    cells = {m: c.cell(m, "kommune", "4650", 2021) for m in members}
    hidden = [m for m, cell in cells.items() if cell["status"] == "suppressed"]
    assert "innvandrere_utdanning_andel" in hidden
    assert len(hidden) == 2, hidden
    second = next(m for m in hidden if m != "innvandrere_utdanning_andel")
    assert cells[second]["reason"].startswith("Sekundærskjermet")
    # the smallest other member was chosen (uoppgitt: 7.6 % against 26-38 %)
    original = {m: cube.cell(m, "kommune", "4650", 2021)["numerator"] for m in members}
    others = {m: v for m, v in original.items() if m != "innvandrere_utdanning_andel"}
    assert second == min(others, key=others.get)
    # both are gone from every aggregate containing Gloppen, and nothing can be recovered
    for m in hidden:
        for level, code in [("fylke", "46"), ("nasjonal", "NO"), ("sentralitet", "5"),
                            ("distrikt", "distrikt"), ("kostra", "EKG04")]:
            assert c.cell(m, level, code, 2021)["status"] == "suppressed"
    for level in LEVELS:
        assert partition_attack(c, level) == []
    for m in members:
        assert differencing_attack(c, m) == []
    # the unaffected members are still published for Gloppen
    shown = [m for m in members if m not in hidden]
    assert all(cells[m]["status"] == "ok" for m in shown)
