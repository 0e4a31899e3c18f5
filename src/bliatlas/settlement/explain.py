"""Explanations: for each placement, the best alternative municipalities and their outcomes.

Numbers are the model's predicted score (the probability of being in work or education,
plus the planner's weight on staying in the county) per person, averaged over the household
members the outcome is defined for. The text says why the household is not in a better
municipality when one exists: a lock or tie, a constraint (EMA decision, support needs,
forbid), or capacity used better by others (the optimisation's trade-off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bliatlas.format import fmt_share
from bliatlas.settlement.problem import MatchProblem


@dataclass
class Alternative:
    municipality: str
    name: str
    predicted: float  # mean predicted probability per person in the household
    allowed: bool
    full: bool  # no room left for this household in the solution


@dataclass
class Explanation:
    household: str
    persons: int
    municipality: str
    name: str
    predicted: float
    alternatives: list[Alternative]
    text: str


def _pct(x: float) -> str:
    return fmt_share(x, 0)


def explain(
    problem: MatchProblem,
    assignment: np.ndarray,
    names: Sequence[str] | None = None,
    top: int = 3,
    households: Sequence[int] | None = None,
) -> list[Explanation]:
    """One :class:`Explanation` per household (or for ``households``), in Norwegian."""
    a = np.asarray(assignment, dtype=np.int64)
    codes = [problem.muni_name(j) for j in range(problem.n_munis)]
    names = list(names) if names is not None else codes
    # mean per person with a score (children outside the outcome's age range have none)
    scored = (problem.scores > 0).any(axis=1)
    n_scored = np.array([max(int(scored[np.asarray(hh)].sum()), 1)
                         for hh in problem.households])
    value = problem.household_values() / n_scored[:, None]
    elig = problem.eligibility()
    used = np.bincount(a, weights=problem.sizes, minlength=problem.n_munis)
    left = problem.capacity - used
    out = []
    idx = range(problem.n_households) if households is None else households
    for h in idx:
        j = int(a[h])
        order = [int(k) for k in np.argsort(-value[h], kind="stable") if k != j][:top]
        alts = [Alternative(codes[k], names[k], float(value[h, k]), bool(elig[h, k]),
                            bool(left[k] < problem.sizes[h])) for k in order]
        here = float(value[h, j])
        persons = "1 person" if problem.sizes[h] == 1 else f"{problem.sizes[h]} personer"
        text = (f"Husholdning {problem.hh_name(h)} ({persons}) foreslås "
                f"bosatt i {names[j]} ({codes[j]}): {_pct(here)} forventet i arbeid eller "
                "utdanning.")
        if h in problem.locks:
            text += " Plasseringen er låst av planleggeren."
        elif h in problem.hard_ties:
            text += " Husholdningen har fast tilknytning (familie) hit."
        better = [x for x in alts if x.predicted > here + 1e-9]
        forced = h in problem.locks or h in problem.hard_ties
        if better:
            parts = []
            for x in better:
                if forced:
                    why = "husholdningen er bundet hit"
                elif not x.allowed:
                    why = "ikke tillatt (vedtak for enslige mindreårige, oppfølging eller forbud)"
                elif x.full:
                    why = "kapasiteten er brukt av andre husholdninger som får mer igjen der"
                else:
                    why = "gir et lavere samlet resultat for hele kohorten"
                parts.append(f"{x.name} {_pct(x.predicted)} ({why})")
            text += " Bedre alternativer: " + "; ".join(parts) + "."
        elif alts:
            text += " Nest beste: " + ", ".join(f"{x.name} {_pct(x.predicted)}" for x in alts) + "."
        out.append(Explanation(problem.hh_name(h), int(problem.sizes[h]), codes[j], names[j],
                               here, alts, text))
    return out
