"""Evaluation, fairness, explanations and the `bli settlement match` command."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from settlement_checker import independent_check  # noqa: F401  (autouse fixture)

from bliatlas.cli import main as bli
from bliatlas.settlement.assign import (
    MatchProblem,
    greedy_best,
    resolve,
    solve_structured,
    violations,
)
from bliatlas.settlement.explain import explain
from bliatlas.settlement.fairness import fairness_report
from bliatlas.settlement.simulate import report_text, simulate_outcomes


def _two_type_problem(copies: int = 1) -> MatchProblem:
    # persons of type A do well in municipality 0, type B in municipality 1
    scores = np.array([[0.9, 0.1]] * 4 * copies + [[0.2, 0.8]] * 4 * copies)
    households = [[2 * i, 2 * i + 1] for i in range(4 * copies)]
    ids = [f"H{i}" for i in range(4 * copies)]
    return MatchProblem(scores, households, np.array([4, 4]) * copies,
                        muni_codes=["0301", "4601"], household_ids=ids)


def test_simulated_gain_has_interval_and_cites_literature() -> None:
    p = _two_type_problem(copies=25)
    opt = solve_structured(p, mip_gap=0)
    assert list(opt.assignment) == [0] * 50 + [1] * 50
    sims = simulate_outcomes(p, {"optimert": opt.assignment}, repetitions=200, seed=1)
    rand, best = sims
    assert best.mean == pytest.approx(170, abs=2)  # 100 × 0.9 + 100 × 0.8
    # random: by symmetry each household is in either municipality with probability 1/2
    assert rand.mean == pytest.approx(100, abs=3)
    assert best.gain_over_random == pytest.approx(best.mean / rand.mean - 1)
    assert rand.mean < best.mean
    assert best.gain_low > 0 and best.low <= best.mean <= best.high
    text = report_text(sims, p.n_persons, synthetic=True)
    assert "GeoMatch" in text and "Annie MOORE" in text and "SYNTETISKE" in text


def test_fairness_means_by_group_and_small_groups_suppressed() -> None:
    p = _two_type_problem()
    a = np.array([0, 0, 1, 1])
    groups = {"sex": np.array(["kvinner"] * 6 + ["menn"] * 2)}
    rows = fairness_report(p, {"optimert": a, "bytte": np.array([1, 1, 0, 0])}, groups)
    by = {r.group: r for r in rows}
    assert by["kvinner"].persons == 6
    assert by["kvinner"].outcome["optimert"] == pytest.approx((4 * 0.9 + 2 * 0.8) / 6)
    assert by["kvinner"].outcome["bytte"] == pytest.approx((4 * 0.1 + 2 * 0.2) / 6)
    assert by["menn"].suppressed and by["menn"].persons is None
    assert by["menn"].outcome["optimert"] is None


def test_explanations_list_alternatives_and_locks() -> None:
    p = _two_type_problem()
    p.locks = {0: 1}
    r = solve_structured(p, mip_gap=0)
    ex = explain(p, r.assignment, names=["Oslo", "Bergen"])
    assert ex[0].municipality == "4601" and "låst" in ex[0].text
    assert ex[0].alternatives[0].name == "Oslo"
    assert ex[0].alternatives[0].predicted == pytest.approx(0.9)
    assert "Bedre alternativer: Oslo 90 %" in ex[0].text


def test_resolve_after_lock_keeps_constraints_and_quality() -> None:
    rng = np.random.default_rng(4)
    h, m = 600, 30
    sizes = rng.choice([1, 2, 3, 4], size=h, p=[0.4, 0.3, 0.2, 0.1])
    households, c = [], 0
    for s in sizes:
        households.append(list(range(c, c + s)))
        c += s
    edu = rng.integers(0, 4, c)
    z = -0.5 + 0.3 * edu[:, None] + rng.normal(0, 0.5, m)[None, :] * edu[:, None] / 3
    cap = np.full(m, int(np.ceil(c * 1.05 / m)))
    p = MatchProblem(1 / (1 + np.exp(-z)), households, cap)
    first = solve_structured(p)
    target = int((first.assignment[0] + 1) % m)
    p.locks = {0: target}
    p.forbids = {(1, int(first.assignment[1]))}
    again = resolve(p, first)
    assert violations(p, again.assignment) == []
    assert again.assignment[0] == target
    full = solve_structured(p)
    assert again.objective >= full.objective * (1 - 2e-3)
    assert again.objective > greedy_best(p).objective


@pytest.fixture(scope="module")
def cohort_file(imported_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("match") / "kohort.csv"
    assert bli(["--database", str(imported_db), "settlement", "generate", "--persons", "400",
                "--seed", "3", "--out", str(out)]) == 0
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_match_cli_writes_assignment_with_lock_and_forbid(
    imported_db, cohort_file, tmp_path, capsys
) -> None:
    people = _rows(cohort_file)
    plain = [r for r in people if r["unaccompanied_minor"] == "0" and not r["tie_kind"]]
    hh_lock, hh_forbid = plain[0]["household_id"], plain[-1]["household_id"]
    out = tmp_path / "tildeling.csv"
    code = bli(["--database", str(imported_db), "settlement", "match", str(cohort_file),
                "--scale", "1.0", "--lock", f"{hh_lock}=0301", "--forbid", f"{hh_forbid}=0301",
                "--simulate", "3", "--explain", "2", "--out", str(out)])
    captured = capsys.readouterr()
    text = captured.out
    assert code == 0, captured.err
    assert "SYNTETISK" in text and "GeoMatch" in text and "Plasseringen er låst" in text
    rows = _rows(out)
    n_households = len({r["household_id"] for r in people})
    assert len(rows) == n_households
    by = {r["household_id"]: r for r in rows}
    assert by[hh_lock]["kommune"] == "0301"
    assert by[hh_forbid]["kommune"] != "0301"
    assert {r["syntetisk"] for r in rows} == {"1"}
    size = {}
    for r in people:
        size[r["household_id"]] = size.get(r["household_id"], 0) + 1
    assert all(int(r["personer"]) == size[r["household_id"]] for r in rows)


def test_match_cli_errors_name_the_problem(imported_db, cohort_file, tmp_path, capsys) -> None:
    out = tmp_path / "x.csv"
    assert bli(["--database", str(imported_db), "settlement", "match", str(cohort_file),
                "--scale", "0.1", "--lock", "FINNES-IKKE=0301", "--out", str(out)]) == 2
    assert "husholdning 'FINNES-IKKE' finnes ikke" in capsys.readouterr().err
    cap = tmp_path / "kapasitet.csv"
    cap.write_text("kommune;kapasitet\n0301;mange\n", encoding="utf-8")
    assert bli(["--database", str(imported_db), "settlement", "match", str(cohort_file),
                "--capacity", str(cap), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "rad 2" in err and "kapasitet" in err and "heltall" in err
    cap.write_text("kommune;kapasitet\n0301;10\n", encoding="utf-8")
    assert bli(["--database", str(imported_db), "settlement", "match", str(cohort_file),
                "--capacity", str(cap), "--out", str(out)]) == 2
    assert "Samlet kapasitet (10 personer)" in capsys.readouterr().err
    assert not out.exists()
