"""Suppression as bounds: primary suppression, intervals for aggregates, secondary
suppression in partitions. Whether anything published narrows a hidden cell is checked by
the LP audit (tests/test_privacy_audit.py)."""

from __future__ import annotations

import shutil
from collections import defaultdict

import pytest
from conftest_indicators import hide_education_count

from bliatlas.indicators.engine import all_cells, build_cube
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


def test_suppressed_source_cells_stay_suppressed(cube, panel):
    hidden = [(code, year) for (code, year), r in panel.items() if r["ema_prikket"]]
    assert hidden, "the panel has suppressed counts of unaccompanied minors"
    for code, year in hidden:
        cell = cube.cell("enslige_mindreaarige", "kommune", code, year)
        assert cell.status == "suppressed"
        assert cell.value is None and cell.numerator is None
        assert "færre enn 5" in cell.reason
        assert (cell.lower, cell.upper) == (0, 4)  # what everyone knows: one of 0-4


def test_aggregates_with_suppressed_members_are_intervals_from_the_raw_panel(cube, panel):
    """Every county and the nation, every year: [published sum, published sum + 4 × hidden]."""
    checked = 0
    for year in (2022, 2023, 2024):
        rows = [r for (c, y), r in panel.items() if y == year]
        by_county = defaultdict(list)
        for r in rows:
            by_county[r["Fylkenummer"]].append(r)
        for level, code, members in [("nasjonal", "NO", rows), *(
                ("fylke", k, v) for k, v in by_county.items())]:
            shown = [r for r in members if not r["ema_prikket"]
                     and isinstance(r["ema"], (int, float))]
            n_hidden = sum(1 for r in members if r["ema_prikket"])
            cell = cube.cell("enslige_mindreaarige", level, code, year)
            published = sum(r["ema"] for r in shown)
            if n_hidden:
                assert cell.status == "intervall", (level, code, year)
                assert cell.value is None
                assert cell.n_suppressed == n_hidden
                assert (cell.lower, cell.upper) == (published, published + 4 * n_hidden)
            else:
                assert cell.status == "ok" and cell.value == published
            checked += 1
    assert checked == 3 * 16


def test_rates_take_the_bounds_of_numerator_and_denominator(cube, panel):
    """Vestland 2024: settled against decision, with suppressed settled counts."""
    rows = [r for (c, y), r in panel.items() if y == 2024 and r["Fylkenummer"] == "46"]
    settled = [r["innvandr_bosatt"] for r in rows]
    hidden = sum(1 for v in settled if str(v).startswith("Prikket"))
    shown = sum(int(v) for v in settled if str(v).isdigit())
    decisions = sum(int(r["innvandr_vedtak"]) for r in rows if str(r["innvandr_vedtak"]).isdigit())
    cell = cube.cell("bosatt_andel_av_vedtak", "fylke", "46", 2024)
    assert hidden > 0 and cell.status == "intervall"
    assert cell.lower == pytest.approx(100 * shown / decisions)
    assert cell.upper == pytest.approx(100 * (shown + 4 * hidden) / decisions)


def test_intervals_hold_the_exact_aggregates_of_their_members(cube):
    groups = membership(cube)
    checked = 0
    for ind in cube.catalogue.indicators:
        if ind.aggregation != "sum" or ind.base_level != "kommune" or ind.kind == "difference":
            continue  # a difference is checked through its components (test_differences_…)
        cells = all_cells(cube, [ind.id])
        muni = {(c.code, c.year): c for c in cells if c.level == "kommune"}
        for agg in cells:
            if agg.level in ("kommune", "fylke", "nasjonal") or agg.status not in (
                    "ok", "intervall"):
                continue  # counties and the nation also hold split municipalities
            members = [muni.get((m, agg.year)) for m in groups[(agg.level, agg.code)]]
            # exact members, and members whose own share is 0/0 or n/0 but whose counts add in
            ok = [m for m in members if m is not None and (m.status == "ok" or (
                m.denominator == 0 and m.numerator is not None))]
            hidden = [m for m in members if m is not None and m.status == "suppressed"]
            assert agg.numerator_lower == pytest.approx(
                sum(m.numerator for m in ok) + sum(m.numerator_lower for m in hidden),
                rel=1e-12)
            assert (agg.status == "intervall") == bool(hidden)
            checked += 1
    assert checked > 1000


def test_a_share_whose_denominator_is_a_true_zero_is_not_missing_coverage(cube, panel):
    """Finnmark 2023: four municipalities settled nobody, so their Ukrainian share is 0/0;
    the county's share is still published, from all 18."""
    rows = [r for (c, y), r in panel.items() if y == 2023 and r["Fylkenummer"] == "56"]
    zero = [r for r in rows if r["innvandr"] == 0]
    assert len(zero) >= 4
    for r in zero:
        assert cube.cell("ukrainere_andel", "kommune", r["Kommunenummer"], 2023).status == \
            "missing"
    cell = cube.cell("ukrainere_andel", "fylke", "56", 2023)
    assert cell.status == "ok" and cell.coverage == 1.0
    assert cell.value == pytest.approx(
        100 * sum(r["ukrainere"] for r in rows) / sum(r["innvandr"] for r in rows))


@pytest.fixture(scope="module")
def cube_with_hidden_reason(imported_db, tmp_path_factory):
    """A copy of the real import where IMDi had suppressed one cell: Gloppen's immigrants
    who came for education in 2021 (the scenario the export's ':' marks would create)."""
    path = tmp_path_factory.mktemp("supp") / "copy.duckdb"
    shutil.copy(imported_db, path)
    hide_education_count(path)
    with open_store(path, read_only=True) as store:
        return path, build_cube(store)


def test_secondary_suppression_hides_a_second_member(cube_with_hidden_reason, cube):
    _, c = cube_with_hidden_reason
    members = c.catalogue.partitions[0].members
    cells = {m: c.cell(m, "kommune", "4650", 2021) for m in members}
    hidden = [m for m, cell in cells.items() if cell.status == "suppressed"]
    assert "innvandrere_utdanning_andel" in hidden
    assert len(hidden) == 2, hidden
    second = next(m for m in hidden if m != "innvandrere_utdanning_andel")
    assert cells[second].reason.startswith("Sekundærskjermet")
    # the smallest other member with at least 4 was chosen (uoppgitt: 7.6 % against 26-38 %)
    original = {m: cube.cell(m, "kommune", "4650", 2021).numerator for m in members}
    others = {m: v for m, v in original.items() if m != "innvandrere_utdanning_andel"}
    assert second == min((m for m in others if others[m] >= 4), key=others.get)
    # The hidden pair adds up to the total minus the published members, so the secondary
    # one's numerator lies in [R - 4, R] and the primary one keeps all of 0-4.
    total = cells[members[0]].denominator
    rest = total - sum(cells[m].numerator for m in members if m not in hidden)
    assert (cells[second].numerator_lower, cells[second].numerator_upper) == (rest - 4, rest)
    primary = cells["innvandrere_utdanning_andel"]
    assert (primary.numerator_lower, primary.numerator_upper) == (0, 4)
    # every aggregate containing Gloppen is an interval for both, never exact
    for m in hidden:
        for level, code in [("fylke", "46"), ("nasjonal", "NO"), ("sentralitet", "5"),
                            ("distrikt", "distrikt"), ("kostra", "EKG04")]:
            assert c.cell(m, level, code, 2021).status == "intervall"
    # the unaffected members are still published for Gloppen
    shown = [m for m in members if m not in hidden]
    assert all(cells[m].status == "ok" for m in shown)


def test_differences_carry_the_interval_their_components_give(tmp_path):
    """A difference A − B of a suppressed or interval component is not blank: it has the
    interval that follows from theirs (A.lower − B.upper … A.upper − B.lower), which tells
    nobody more than the components already do; exact only where both are."""
    from bliatlas.indicators.catalogue import parse_catalogue

    def count(ind_id, group):
        return {"id": ind_id, "topic": "t", "name_nb": ind_id, "name_en": ind_id,
                "definition": "d", "kind": "count", "unit": "personer",
                "direction": "neutral", "sources": ["test"],
                "numerator": {"dataset": "d", "measure": "m", "unit": "personer",
                              "dims": {"g": group}}}

    catalogue = parse_catalogue({"indicators": [
        count("a", "A"), count("b", "B"),
        {"id": "a_minus_b", "topic": "t", "name_nb": "A − B", "name_en": "A - B",
         "definition": "d", "kind": "difference", "difference_of": ["a", "b"],
         "unit": "personer", "direction": "neutral", "sources": ["test"]}]})
    store = open_store(tmp_path / "diff.duckdb")
    store.insert_rows("region", [
        ("4650", "kommune", "Gloppen", "Gloppen", "46", 5, "EKG02", False, 1),
        ("4651", "kommune", "Stryn", "Stryn", "46", 5, "EKG02", False, 1),
        ("46", "fylke", "Vestland", "Vestland", None, None, None, None, 1)])
    store.insert_rows("observation_source", [
        ("d", "m", "4650", 2022, "g=A", "personer", 10.0, "ok", None, 1, None, None),
        ("d", "m", "4650", 2022, "g=B", "personer", 3.0, "ok", None, 1, None, None),
        ("d", "m", "4651", 2022, "g=A", "personer", None, "suppressed", ":", 1, 0.0, 4.0),
        ("d", "m", "4651", 2022, "g=B", "personer", 2.0, "ok", None, 1, None, None),
    ])
    try:
        cube = build_cube(store, catalogue)
    finally:
        store.close()
    exact = cube.cell("a_minus_b", "kommune", "4650", 2022)
    assert (exact.status, exact.value) == ("ok", 7.0)
    hidden = cube.cell("a_minus_b", "kommune", "4651", 2022)
    assert (hidden.status, hidden.value) == ("suppressed", None)
    assert (hidden.lower, hidden.upper) == (0 - 2, 4 - 2)
    for level, code in (("fylke", "46"), ("nasjonal", "NO")):
        a = cube.cell("a", level, code, 2022)
        assert (a.status, a.lower, a.upper) == ("intervall", 10, 14)
        diff = cube.cell("a_minus_b", level, code, 2022)
        assert (diff.status, diff.value) == ("intervall", None)
        assert (diff.lower, diff.upper) == (10 - 5, 14 - 5)
        assert diff.reason == a.reason
