"""An independent constraint checker for matching results, applied to every result.

Written from the problem's raw fields (capacities, EMA decision, resources, support rule,
locks, forbids, ties, floors) without the library's own helpers (``eligibility``,
``minors``, ``all_resources``, ``fill_floor``, ``violations``, ``evaluate``), so a defect
in those cannot hide itself. It also recomputes the objective and the expected outcome
from scratch and checks that a stated bound is not below the objective.

Importing :func:`independent_check` into a test module makes it autouse there: every
:class:`MatchResult` the library publishes during a test (solvers, rules, re-solves,
online years, web runs in the TestClient's threads) is checked the moment it is made.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest


def problem_violations(problem, assignment, partial: bool = False) -> list[str]:
    a = np.asarray(assignment).astype(np.int64)
    hh = [list(h) for h in problem.households]
    n_h, n_m = len(hh), np.asarray(problem.scores).shape[1]
    out: list[str] = []
    if a.shape != (n_h,):
        return [f"shape {a.shape} != ({n_h},)"]
    if ((a < -1) | (a >= n_m)).any():
        return ["municipality index out of range"]
    if (a < 0).any() and not partial:
        out.append(f"{int((a < 0).sum())} households unplaced")
    size = np.array([len(h) for h in hh])
    used = np.zeros(n_m)
    for h in range(n_h):
        if a[h] >= 0:
            used[a[h]] += size[h]
    cap = np.asarray(problem.capacity)
    for j in range(n_m):
        if used[j] > cap[j]:
            out.append(f"capacity {j}: {used[j]} > {cap[j]}")
    if problem.unaccompanied is not None:
        u = np.asarray(problem.unaccompanied)
        minors = np.where(u, size, 0) if u.dtype == bool else u.astype(int)
        mcap = (np.zeros(n_m) if problem.minor_capacity is None
                else np.asarray(problem.minor_capacity))
        m_used = np.zeros(n_m)
        for h in range(n_h):
            if a[h] >= 0:
                m_used[a[h]] += minors[h]
        for j in range(n_m):
            if m_used[j] > mcap[j]:
                out.append(f"EMA {j}: {m_used[j]} > {mcap[j]}")
    for r in problem.resources:
        r_used = np.zeros(n_m)
        for h in range(n_h):
            if a[h] >= 0:
                r_used[a[h]] += r.use[h]
        for j in range(n_m):
            if r_used[j] > r.capacity[j]:
                out.append(f"resource {r.key} {j}: {r_used[j]} > {r.capacity[j]}")
    if problem.support_needs is not None:
        serve = (np.zeros(n_m, bool) if problem.can_support is None
                 else np.asarray(problem.can_support, bool))
        for h in range(n_h):
            if (a[h] >= 0 and bool(problem.support_needs[h]) and not serve[a[h]]
                    and (h, int(a[h])) not in problem.allowed):
                out.append(f"support need of household {h} not served in {a[h]}")
    for h, j in list(problem.locks.items()) + list(problem.hard_ties.items()):
        if a[h] != j and not (partial and a[h] < 0):
            out.append(f"household {h} forced to {j}, placed in {a[h]}")
    for h, j in problem.forbids:
        if a[h] == j:
            out.append(f"household {h} placed in forbidden {j}")
    if not partial:
        need = np.zeros(n_m)
        if problem.floor is not None:
            need = np.maximum(need, np.asarray(problem.floor, dtype=float))
        if problem.min_fill > 0 and problem.request is not None:
            need = np.maximum(need, np.ceil(problem.min_fill * np.asarray(problem.request)
                                            - 1e-9))
        need = np.minimum(need, cap)
        for j in range(n_m):
            if used[j] < need[j]:
                out.append(f"floor {j}: {used[j]} < {need[j]}")
    return out


def recomputed_value(problem, assignment) -> tuple[float, float]:
    """(objective, expected outcome) from the raw fields."""
    a = np.asarray(assignment).astype(np.int64)
    scores = np.asarray(problem.scores)
    expected = 0.0
    per_person: dict[int, float] = {}
    for h, members in enumerate(problem.households):
        if a[h] < 0:
            continue
        for p in members:
            per_person[p] = scores[p, a[h]]
            expected += scores[p, a[h]]
    obj = expected
    for mapping in (problem.soft_ties, problem.preferences):
        for (h, j), v in mapping.items():
            if a[h] == j:
                obj += v
    used = np.zeros(np.asarray(problem.capacity).shape[0])
    for h, members in enumerate(problem.households):
        if a[h] >= 0:
            used[a[h]] += len(members)
    if problem.target is not None and problem.target_weight > 0:
        obj -= problem.target_weight * float(np.maximum(used - np.asarray(problem.target), 0)
                                             .sum())
    if problem.spread_weight > 0:
        base = np.asarray(problem.capacity, dtype=float)
        if problem.target is not None:
            base = np.minimum(np.asarray(problem.target, dtype=float), base)
        n_p = sum(len(h) for h in problem.households)
        if base.sum() > 0:
            share = min(1.0, n_p / base.sum())
            obj -= problem.spread_weight * float(np.maximum(used - share * base, 0).sum())
    if problem.equity_weight > 0 and problem.groups is not None:
        groups = np.asarray(problem.groups)
        means = []
        for g in np.unique(groups):
            vals = [v for p, v in per_person.items() if groups[p] == g]
            if vals:
                means.append(sum(vals) / len(vals))
        n_p = sum(len(h) for h in problem.households)
        obj += problem.equity_weight * n_p * min(means)
    return obj, expected


_RULES = ("grådig", "tilfeldig", "full LP + avrunding", "nettbasert")


def check_result(problem, result) -> list[str]:
    a = np.asarray(result.assignment)
    no_solution = not math.isfinite(result.objective) and (a < 0).all()
    if no_solution:  # a baseline that reports it found nothing (time limit) — allowed
        return []
    partial = result.method.startswith(_RULES)
    if (a < 0).any() and not partial:
        return [f"{result.method}: a solver result with unplaced households"]
    if int((a < 0).sum()) != result.unplaced:
        return [f"{result.method}: unplaced {int((a < 0).sum())} != stated {result.unplaced}"]
    bad = problem_violations(problem, a, partial=partial)
    obj, exp = recomputed_value(problem, a)
    if not math.isclose(obj, result.objective, rel_tol=1e-6, abs_tol=1e-6):
        bad.append(f"objective {result.objective} != recomputed {obj}")
    if not math.isclose(exp, result.expected_outcome, rel_tol=1e-6, abs_tol=1e-6):
        bad.append(f"expected outcome {result.expected_outcome} != recomputed {exp}")
    if math.isfinite(result.bound) and result.bound < obj - 1e-6 * max(1.0, abs(obj)):
        bad.append(f"bound {result.bound} below the objective {obj}")
    return [f"{result.method}: {b}" for b in bad]


class _Recorder:
    def __init__(self) -> None:
        self.checked = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, problem, result) -> None:
        bad = check_result(problem, result)
        with self.lock:
            self.checked += 1
            self.failures.extend(bad)


@pytest.fixture(autouse=True)
def independent_check():
    """Check every published result of this test with the independent checker."""
    from bliatlas.settlement.problem import RESULT_OBSERVERS

    rec = _Recorder()
    RESULT_OBSERVERS.append(rec)
    try:
        yield rec
    finally:
        RESULT_OBSERVERS.remove(rec)
    assert not rec.failures, "independent checker: " + "; ".join(rec.failures[:5])


def random_instance(h: int, m: int, seed: int = 4, slack: float = 0.05):
    """A synthetic matching instance for solver tests: ``h`` households of 1–4 persons,
    scores from education × a municipality effect, equal capacity ``slack`` above the
    cohort in each of ``m`` municipalities."""
    from bliatlas.settlement.problem import MatchProblem

    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4], size=h, p=[0.4, 0.3, 0.2, 0.1])
    households, c = [], 0
    for s in sizes:
        households.append(list(range(c, c + s)))
        c += s
    edu = rng.integers(0, 4, c)
    z = -0.5 + 0.3 * edu[:, None] + rng.normal(0, 0.5, m)[None, :] * edu[:, None] / 3
    cap = np.full(m, int(np.ceil(c * (1 + slack) / m)))
    return MatchProblem(1 / (1 + np.exp(-z)), households, cap)
