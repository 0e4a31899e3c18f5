"""Re-solving after a planner's edits (:func:`bliatlas.settlement.solvers.resolve`): the
neighbourhood of a single lock is re-optimised when the repaired placement is not within
the gap; every result passes the independent checker (autouse)."""

from __future__ import annotations

import numpy as np
import pytest
from settlement_checker import (
    independent_check,  # noqa: F401  (autouse fixture)
    problem_violations,
    random_instance,
)

from bliatlas.settlement.problem import MatchProblem, MatchResult
from bliatlas.settlement.solvers import resolve, solve, solve_structured


def _instance() -> MatchProblem:
    return random_instance(3000, 60)


def _objective(p: MatchProblem, a: np.ndarray) -> float:
    """Summed scores, from the raw fields (not the library's evaluate)."""
    return float(sum(p.scores[list(p.households[h]), a[h]].sum() for h in range(len(a))))


def test_one_lock_on_a_spoilt_placement_is_repaired_by_its_neighbourhood():
    p = _instance()
    opt = solve_structured(p)
    # the previous placement: the optimum with 40 households moved to their worst
    # municipality with room (0,5 % below the bound: the repaired placement is not enough)
    rng = np.random.default_rng(1)
    a = opt.assignment.copy()
    sizes = np.array([len(h) for h in p.households])
    used = np.bincount(a, weights=sizes, minlength=p.n_munis)
    moved = 0
    for h in rng.permutation(p.n_households):
        if moved == 40:
            break
        j = int(np.argmin([p.scores[p.households[h], k].sum() for k in range(p.n_munis)]))
        if j != a[h] and used[j] + sizes[h] <= p.capacity[j]:
            used[a[h]] -= sizes[h]
            used[j] += sizes[h]
            a[h] = j
            moved += 1
    z = _objective(p, a)
    prev = MatchResult(a, z, z, opt.bound, "strukturert", 0.0,
                       capacity_prices=opt.capacity_prices)
    assert (opt.bound - z) / opt.bound > 3e-3
    target = int((a[0] + 1) % p.n_munis)
    p.locks = {0: target}
    r = resolve(p, prev, mip_gap=1e-3)
    assert r.stats["step"] == "nabolaget til endringen optimert på nytt"
    assert problem_violations(p, r.assignment) == []
    assert r.assignment[0] == target
    assert r.objective == pytest.approx(_objective(p, r.assignment), rel=1e-12)
    fresh = solve(p, mip_gap=1e-3)
    assert r.objective >= fresh.objective - 1e-3 * abs(fresh.bound)
    assert r.bound >= fresh.objective - 1e-6  # the stated bound holds for the locked problem
    assert r.gap <= 1e-3


def test_one_lock_on_a_good_placement_keeps_it_repaired():
    p = _instance()
    first = solve_structured(p)
    target = int((first.assignment[5] + 1) % p.n_munis)
    p.locks = {5: target}
    r = resolve(p, first, mip_gap=1e-3)
    assert r.stats["step"] == "forrige løsning reparert"
    assert problem_violations(p, r.assignment) == []
    assert r.assignment[5] == target
    assert (r.assignment != first.assignment).sum() <= 10
    fresh = solve(p, mip_gap=1e-3)
    assert r.objective >= fresh.objective - 1e-3 * abs(fresh.bound)
