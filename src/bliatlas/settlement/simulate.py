"""Building a matching problem from a cohort, and what the literature reports.

Evaluation of placements (predicted beside realised, with intervals) is in
:mod:`~.evaluation`; the gains quoted from comparable systems (:data:`LITERATURE`) are from
the papers, not computed here, and are shown beside the tool's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bliatlas.errors import UserError
from bliatlas.settlement.problem import MatchProblem
from bliatlas.settlement.rules import SOFT_TIE_BONUS

#: What comparable systems report (quoted from the papers, in Norwegian for output).
LITERATURE = (
    "Til sammenligning: GeoMatch (Bansak mfl., Science 2018) anslo omtrent 40–70 % høyere "
    "sysselsetting ved algoritmisk plassering av flyktninger i USA og Sveits, målt i "
    "tilbaketest på registerdata, og Annie MOORE (Ahani mfl., Operations Research 2021) anslo "
    "omtrent 22–37 % økning i forventet sysselsetting for HIAS i USA. Tallene her er beregnet "
    "på en annen modell og andre (syntetiske) data og kan ikke sammenlignes direkte."
)

__all__ = ["LITERATURE", "SOFT_TIE_BONUS", "problem_from_cohort"]


def problem_from_cohort(
    cohort,
    muni_codes: np.ndarray,
    scores: np.ndarray,
    capacity: np.ndarray,
    minor_capacity: np.ndarray,
    can_support: np.ndarray,
    locks: Mapping[int, int] | None = None,
    forbids: set[tuple[int, int]] | None = None,
) -> MatchProblem:
    """A :class:`MatchProblem` from a cohort with every hard tie forced
    (:func:`~.rules.cohort_problem`); a hard tie outside ``muni_codes`` is an error here.
    The matching runs use :func:`~.runs.prepare`, which reports such conflicts instead."""
    from bliatlas.settlement.rules import cohort_problem

    problem, outside = cohort_problem(cohort, [str(c) for c in muni_codes], scores, capacity,
                                      minor_capacity, can_support, dict(locks or {}),
                                      set(forbids or set()))
    if outside:
        h, code = next(iter(sorted(outside.items())))
        raise UserError(f"husholdning {problem.hh_name(h)}: fast tilknytning til kommune "
                        f"{code}, som ikke er blant kommunene det plasseres i")
    return problem
