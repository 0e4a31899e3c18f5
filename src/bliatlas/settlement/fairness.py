"""Fairness report: expected outcome by group under each placement rule.

Groups: sex, age band at settlement, country group and education (from the cohort), over the
persons the outcome is defined for (15–74 years at measurement). For every group and rule:
persons and the mean predicted probability of work or education. Groups with
fewer than :data:`MIN_GROUP` persons are suppressed (shown as ``<5``), never as numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bliatlas.format import fmt_share
from bliatlas.settlement.problem import MatchProblem

MIN_GROUP = 5
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "0–17 år"), (18, 29, "18–29 år"), (30, 44, "30–44 år"), (45, 59, "45–59 år"),
    (60, 200, "60 år og over"),
)
DIMENSIONS = {"sex": "kjønn", "age_band": "aldersgruppe", "country_group": "landgruppe",
              "education": "utdanning"}


@dataclass
class GroupRow:
    dimension: str  # Norwegian label
    group: str
    persons: int | None  # None when suppressed
    suppressed: bool
    outcome: dict[str, float | None]  # rule -> mean expected outcome


def person_groups(cohort) -> dict[str, np.ndarray]:
    """Group labels per person from a cohort."""
    age = np.asarray(cohort.age, dtype=np.int64)
    band = np.empty(len(age), dtype=object)
    for lo, hi, label in AGE_BANDS:
        band[(age >= lo) & (age <= hi)] = label
    sex = np.where(np.asarray(cohort.sex) == "K", "kvinner", "menn").astype(object)
    from bliatlas.settlement.cohort import label_nb

    def named(field: str, codes: np.ndarray) -> np.ndarray:
        return np.array([label_nb(field, str(c)) for c in codes], dtype=object)

    return {"sex": sex, "age_band": band,
            "country_group": named("country_group", np.asarray(cohort.country_group)),
            "education": named("education", np.asarray(cohort.education))}


def fairness_report(
    problem: MatchProblem,
    placements: Mapping[str, np.ndarray | list[np.ndarray]],
    groups: Mapping[str, np.ndarray],
    scores: np.ndarray | None = None,
) -> list[GroupRow]:
    """``placements`` maps a rule name to an assignment (or several, e.g. random draws,
    averaged). ``groups`` maps a dimension (see :data:`DIMENSIONS`) to labels per person.
    ``scores`` (persons × municipalities, nan outside the outcome's age range; default the
    problem's scores) gives the outcome; persons with nan, and households a rule left
    unplaced, are left out of the groups."""
    mat = problem.scores if scores is None else np.asarray(scores, dtype=float)
    person_hh = np.empty(problem.n_persons, dtype=np.int64)
    for h, hh in enumerate(problem.households):
        person_hh[np.asarray(hh)] = h
    in_scope = ~np.isnan(mat[:, 0])
    per_rule: dict[str, np.ndarray] = {}
    for name, a in placements.items():
        draws = a if isinstance(a, list) else [a]
        vals = []
        for d in draws:
            muni = np.asarray(d, dtype=np.int64)[person_hh]
            v = np.full(problem.n_persons, np.nan)
            ok = muni >= 0
            v[ok] = mat[np.flatnonzero(ok), muni[ok]]
            vals.append(v)
        with warnings.catch_warnings():  # persons outside the range: nan, left out below
            warnings.simplefilter("ignore", RuntimeWarning)
            per_rule[name] = np.nanmean(vals, axis=0)
    rows = []
    for dim, labels in groups.items():
        labels = np.asarray(labels)
        for g in sorted({str(x) for x in labels[in_scope]}):
            mask = (labels.astype(str) == g) & in_scope
            n = int(mask.sum())
            small = n < MIN_GROUP
            rows.append(GroupRow(
                DIMENSIONS.get(dim, dim), g, None if small else n, small,
                {r: None if small else float(np.nanmean(v[mask])) for r, v in per_rule.items()}))
    return rows


def report_lines(rows: list[GroupRow], synthetic: bool) -> list[str]:
    """Rows as Norwegian text lines (percent)."""
    lines = ["SYNTETISKE DATA — " if synthetic else ""]
    lines[0] += "Forventet andel i arbeid eller utdanning etter gruppe:"
    for r in rows:
        if r.suppressed:
            lines.append(f"  {r.dimension} {r.group}: færre enn 5 personer (skjermet)")
            continue
        vals = ", ".join(f"{k} {fmt_share(v)}" for k, v in r.outcome.items())
        lines.append(f"  {r.dimension} {r.group} ({r.persons} personer): {vals}")
    return lines
