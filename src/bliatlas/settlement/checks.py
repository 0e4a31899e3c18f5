"""Constraint checks on a placement: every broken rule, named in Norwegian.

:func:`violations` is what the solvers use to accept a candidate placement; it reads the
problem's raw fields (capacities, resources, rules), not the solver's internal model.
"""

from __future__ import annotations

import numpy as np

from bliatlas.settlement.problem import MatchProblem


def violations(problem: MatchProblem, assignment: np.ndarray, partial: bool = False) -> list[str]:
    """Every broken constraint, in Norwegian; empty when the assignment is valid.

    With ``partial`` a household may be left unplaced (−1: a rule that found no room);
    the placed ones must still respect every rule, and floors are not checked."""
    a = np.asarray(assignment, dtype=np.int64)
    out: list[str] = []
    if a.shape != (problem.n_households,):
        return [f"Tildelingen har {a.shape[0]} husholdninger, ventet {problem.n_households}."]
    if (a >= problem.n_munis).any() or (a < -1).any():
        return ["Tildelingen har husholdninger uten gyldig kommune."]
    unplaced = np.flatnonzero(a < 0)
    if len(unplaced) and not partial:
        out.append(f"{len(unplaced)} husholdning(er) er ikke plassert (f.eks. "
                   f"{problem.hh_name(int(unplaced[0]))}).")
    placed = a >= 0
    used = np.bincount(a[placed], weights=problem.sizes[placed], minlength=problem.n_munis)
    for j in np.flatnonzero(used > problem.capacity):
        out.append(
            f"Kommune {problem.muni_name(j)}: {int(used[j])} personer, kapasitet {problem.capacity[j]}."
        )
    for r in problem.all_resources():
        rused = np.bincount(a[placed], weights=r.use[placed], minlength=problem.n_munis)
        for j in np.flatnonzero(rused > r.capacity):
            if r.key == "ema":
                out.append(f"Kommune {problem.muni_name(j)}: {int(rused[j])} enslige mindreårige, "
                           f"vedtak {int(r.capacity[j])}.")
            else:
                out.append(f"Kommune {problem.muni_name(j)}: {int(rused[j])} {r.label}, "
                           f"har {int(r.capacity[j])}.")
    if problem.support_needs is not None:
        serve = np.asarray(problem.can_support if problem.can_support is not None else
                           np.zeros(problem.n_munis), dtype=bool)
        need = np.asarray(problem.support_needs, dtype=bool)
        for h in np.flatnonzero(need & placed):
            if not serve[a[h]] and (int(h), int(a[h])) not in problem.allowed:
                out.append(f"Husholdning {problem.hh_name(h)} har oppfølgingsbehov kommunen "
                           "ikke dekker.")
    for kind, mapping in (("låst", problem.locks), ("knyttet", problem.hard_ties)):
        for h, j in mapping.items():
            if a[h] != j and (a[h] >= 0 or not partial):
                out.append(f"Husholdning {problem.hh_name(h)} er {kind} til {problem.muni_name(j)}.")
    for h, j in problem.forbids:
        if a[h] == j:
            out.append(f"Husholdning {problem.hh_name(h)} er forbudt i {problem.muni_name(j)}.")
    floor = problem.fill_floor()
    if floor is not None and not partial:
        for j in np.flatnonzero(used < floor):
            out.append(
                f"Kommune {problem.muni_name(j)}: {int(used[j])} personer, minst {floor[j]} kreves."
            )
    return out
