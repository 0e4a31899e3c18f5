"""Batch matching of refugee households to municipalities — the public entry points.

The code is split by concept; this module gathers what callers use:

* the problem model — :mod:`~.problem` (:class:`MatchProblem`, :class:`MatchResult`,
  :class:`Resource`, :func:`evaluate`, :class:`InfeasibleError`, :class:`NoPlacementFound`);
* constraint checks — :mod:`~.checks` (:func:`violations`);
* the simple rules — :mod:`~.heuristics` (:func:`greedy_best`, :func:`greedy_capacity`,
  :func:`random_within_capacity`);
* the solvers — :mod:`~.solvers` (:func:`solve`, :func:`solve_structured`,
  :func:`solve_exact`, :func:`solve_full_lp_rounding`, :func:`solve_full_mip`,
  :func:`resolve`, :func:`verify_certificate`), all through :mod:`~.highs`.
"""

from __future__ import annotations

from bliatlas.settlement.checks import violations
from bliatlas.settlement.heuristics import greedy_best, greedy_capacity, random_within_capacity
from bliatlas.settlement.highs import INF
from bliatlas.settlement.problem import (
    InfeasibleError,
    MatchProblem,
    MatchResult,
    NoPlacementFound,
    Resource,
    evaluate,
    persons_per_municipality,
)
from bliatlas.settlement.solvers import (
    resolve,
    solve,
    solve_exact,
    solve_full_lp_rounding,
    solve_full_mip,
    solve_structured,
    verify_certificate,
)

__all__ = [
    "INF",
    "InfeasibleError",
    "MatchProblem",
    "MatchResult",
    "NoPlacementFound",
    "Resource",
    "evaluate",
    "greedy_best",
    "greedy_capacity",
    "persons_per_municipality",
    "random_within_capacity",
    "resolve",
    "solve",
    "solve_exact",
    "solve_full_lp_rounding",
    "solve_full_mip",
    "solve_structured",
    "verify_certificate",
    "violations",
]
