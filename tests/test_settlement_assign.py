"""Batch matching: constraints hold and the optimum equals brute force on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from settlement_checker import independent_check  # noqa: F401  (autouse fixture)

from bliatlas.errors import UserError
from bliatlas.settlement.assign import (
    InfeasibleError,
    MatchProblem,
    evaluate,
    greedy_best,
    greedy_capacity,
    random_within_capacity,
    solve_full_mip,
    solve_structured,
    violations,
)


def _instance(seed: int, kind: int, h: int = 6, m: int = 3) -> MatchProblem:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, h)
    households, c = [], 0
    for s in sizes:
        households.append(list(range(c, c + s)))
        c += s
    scores = rng.random((c, m))
    cap = rng.integers(c // m + 1, c // m + 6, m)
    kw: dict = {}
    if kind == 1:
        kw = {
            "unaccompanied": np.array([True, False, False, True, False, False]),
            "minor_capacity": np.array([4, 0, 3]),
            "support_needs": np.array([False, True, False, False, True, False]),
            "can_support": np.array([True, True, False]),
        }
    elif kind == 2:
        kw = {
            "groups": rng.integers(0, 2, c),
            "equity_weight": 0.5,
            "request": cap,
            "min_fill": 0.3,
            "locks": {0: 1},
            "forbids": {(1, 0)},
            "soft_ties": {(2, 2): 0.4},
            "hard_ties": {3: 2},
        }
    return MatchProblem(scores, households, cap, **kw)


def _brute(p: MatchProblem) -> float | None:
    best = None
    for a in itertools.product(range(p.n_munis), repeat=p.n_households):
        arr = np.array(a)
        if violations(p, arr):
            continue
        obj = evaluate(p, arr)[0]
        best = obj if best is None else max(best, obj)
    return best


@pytest.mark.parametrize("seed", range(24))
def test_optimum_equals_brute_force(seed: int) -> None:
    p = _instance(seed, seed % 3)
    best = _brute(p)
    if best is None:
        with pytest.raises(UserError):
            solve_structured(p, mip_gap=0)
        return
    r = solve_structured(p, mip_gap=0)
    f = solve_full_mip(p, mip_gap=0)
    assert violations(p, r.assignment) == []
    assert violations(p, f.assignment) == []
    assert r.objective == pytest.approx(best, abs=1e-6)
    assert f.objective == pytest.approx(best, abs=1e-6)
    assert r.bound >= best - 1e-6


def test_identical_households_are_aggregated_and_still_optimal() -> None:
    rng = np.random.default_rng(7)
    base = rng.random((3, 3))
    kinds = [0, 1, 2, 0, 1, 0, 2]
    scores = np.vstack([base[k] for k in kinds for _ in range(2)])
    households = [[2 * i, 2 * i + 1] for i in range(len(kinds))]
    p = MatchProblem(scores, households, np.array([6, 4, 6]))
    r = solve_structured(p, mip_gap=0)
    assert r.stats["types"] == 3
    assert r.objective == pytest.approx(_brute(p), abs=1e-9)


def test_constraints_hold_for_every_rule_on_a_larger_instance() -> None:
    rng = np.random.default_rng(3)
    h, m = 400, 25
    sizes = rng.choice([1, 2, 3, 4, 5], size=h, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    households, c = [], 0
    for s in sizes:
        households.append(list(range(c, c + s)))
        c += s
    scores = rng.random((c, m)) * 0.5 + 0.2
    cap = np.full(m, int(np.ceil(c * 1.1 / m)))
    unacc = np.zeros(h, dtype=bool)
    unacc[:10] = True
    sizes_arr = np.array([len(x) for x in households])
    p = MatchProblem(
        scores, households, cap,
        unaccompanied=unacc, minor_capacity=np.where(np.arange(m) < 5, 12, 0),
        support_needs=np.arange(h) % 17 == 0, can_support=np.arange(m) % 2 == 0,
        locks={20: 3, 21: 4}, forbids={(22, int(np.argmax(scores[households[22]].sum(0))))},
    )
    results = [solve_structured(p), solve_full_mip(p, time_limit=20), greedy_best(p),
               greedy_capacity(p), random_within_capacity(p, np.random.default_rng(1))]
    for res in results:
        assert violations(p, res.assignment) == [], res.method
        assert res.assignment[20] == 3 and res.assignment[21] == 4
        used = np.bincount(res.assignment, weights=sizes_arr, minlength=m)
        assert (used <= cap).all()
        assert set(res.assignment[:10]) <= set(range(5))
    opt = results[0]
    assert opt.gap <= 1e-3
    assert opt.objective >= results[2].objective >= results[4].objective


def test_infeasible_inputs_give_norwegian_errors() -> None:
    scores = np.ones((4, 2))
    with pytest.raises(InfeasibleError, match="Samlet kapasitet"):
        solve_structured(MatchProblem(scores, [[0, 1], [2, 3]], np.array([1, 2])))
    with pytest.raises(InfeasibleError, match="enslige mindreårige"):
        solve_structured(MatchProblem(scores, [[0, 1], [2, 3]], np.array([4, 4]),
                                      unaccompanied=np.array([True, False]),
                                      minor_capacity=np.array([1, 0])))
    with pytest.raises(InfeasibleError, match="låst"):
        solve_structured(MatchProblem(scores, [[0, 1], [2, 3]], np.array([4, 4]),
                                      locks={0: 1}, forbids={(0, 1)}))
    # capacity suffices in total but not for whole households
    with pytest.raises(InfeasibleError, match="Ingen plassering"):
        solve_structured(MatchProblem(np.ones((6, 2)), [[0, 1, 2], [3, 4, 5]], np.array([4, 2])))
