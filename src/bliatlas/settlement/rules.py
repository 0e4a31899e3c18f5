"""Rules that hold or speak: hard ties against the other rules, and refugees' preferences.

A hard tie (relatives in a municipality, ``tie_kind = hard``) forces the household there —
unless that would break another rule. It never overrides silently:

* the EMA decision (an unaccompanied minor only where the municipality has places for
  minors), support needs (only where the municipality can serve them) and the planner's own
  locks and forbids always win;
* capacity: with capacity scaled below the decision (``andel``), the municipality's capacity
  is raised for the tied households, but only up to its decision;
* whatever still does not fit is a :class:`Conflict`, reported per household with the
  choices the planner has: keep the rule (the default — the tie then counts as a preference,
  a soft tie), override the rule for this one household (the planner's explicit choice,
  shown on the result), or lock the household elsewhere. A tie to a municipality outside the
  run's municipalities is reported the same way.

Preferences (``onske_1``–``onske_3``: municipality or county codes, ranked) add a bonus per
person where they point (:data:`PREFERENCE_BONUS`, times the planner's weight) and are
reported: which rank each household got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bliatlas.settlement.problem import MatchProblem

#: Soft tie bonus per person, in units of expected outcome (probability points).
SOFT_TIE_BONUS = 0.05
#: Bonus per person for a household's 1st, 2nd and 3rd wish (probability points).
PREFERENCE_BONUS = (0.04, 0.025, 0.015)

CHOICE_KEEP = "behold regelen: plasser etter reglene, tilknytningen teller som ønske"
CHOICE_OVERRIDE = "overstyr regelen for denne husholdningen (tilknytningen går foran)"
CHOICE_LOCK = "lås husholdningen til en annen kommune"


@dataclass
class Conflict:
    household: int
    household_id: str
    municipality: int  # index in the run; −1 when outside the run's municipalities
    code: str
    reasons: list[str]
    resolution: str
    choices: list[str] = field(default_factory=list)
    overridden: bool = False

    def text(self, names: Sequence[str] | None = None) -> str:
        where = self.code if names is None or self.municipality < 0 else \
            f"{names[self.municipality]} ({self.code})"
        return (f"Husholdning {self.household_id}: fast tilknytning til {where}, men "
                + "; ".join(self.reasons) + f". {self.resolution[:1].upper()}"
                f"{self.resolution[1:]}.")


def apply_tie_rules(problem: MatchProblem, decision: np.ndarray | None = None,
                    overrides: set[int] | None = None,
                    outside: dict[int, str] | None = None) -> list[Conflict]:
    """Check every hard tie of ``problem`` against the other rules and resolve it (changes
    ``problem``): kept, kept with capacity raised up to ``decision``, overridden for the
    households in ``overrides`` (EMA places, support rule or capacity lifted for that
    household alone), or turned into a soft tie. ``outside`` maps households to tie
    codes outside the run. Returns the conflicts, in household order."""
    overrides = overrides or set()
    conflicts: list[Conflict] = []
    for h, code in sorted((outside or {}).items()):
        conflicts.append(Conflict(h, problem.hh_name(h), -1, code,
                                  ["kommunen er ikke blant kommunene det plasseres i"],
                                  "husholdningen plasseres etter reglene i utvalget",
                                  [CHOICE_LOCK]))
    cap_limit = (problem.capacity.copy() if decision is None
                 else np.maximum(problem.capacity, np.nan_to_num(decision).astype(np.int64)))
    minors = problem.minors()
    support = (np.zeros(problem.n_households, dtype=bool) if problem.support_needs is None
               else np.asarray(problem.support_needs, dtype=bool))
    keep: dict[int, int] = {}
    soft = dict(problem.soft_ties)
    for h, j in sorted(problem.hard_ties.items()):
        reasons, choices = [], [CHOICE_KEEP, CHOICE_OVERRIDE, CHOICE_LOCK]
        if h in problem.locks and problem.locks[h] != j:
            reasons.append(f"planleggeren har låst den til {problem.muni_name(problem.locks[h])}")
            conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j), reasons,
                                      "låsingen gjelder", [CHOICE_KEEP]))
            continue
        if (h, j) in problem.forbids:
            conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j),
                                      ["planleggeren har forbudt plasseringen der"],
                                      "forbudet gjelder; tilknytningen teller som ønske",
                                      [CHOICE_KEEP]))
            soft[(h, j)] = SOFT_TIE_BONUS * int(problem.sizes[h])
            continue
        if minors[h]:
            mcap = (0 if problem.minor_capacity is None
                    else int(np.asarray(problem.minor_capacity)[j]))
            if minors[h] > mcap:
                reasons.append(f"kommunen har ikke plass til {minors[h]} enslig(e) mindreårig(e) "
                               f"(EMA-vedtak {mcap})")
        if support[h] and not (problem.can_support is not None and
                               bool(np.asarray(problem.can_support)[j])) \
                and (h, j) not in problem.allowed:
            reasons.append("kommunen har ikke tilbud for oppfølgingsbehovet")
        if reasons and h in overrides:
            if minors[h]:
                mc = np.asarray(problem.minor_capacity if problem.minor_capacity is not None
                                else np.zeros(problem.n_munis), dtype=np.int64).copy()
                mc[j] = max(mc[j], 0) + int(minors[h])
                problem.minor_capacity = mc
            if support[h]:
                problem.allowed.add((h, j))
            conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j), reasons,
                                      "overstyrt av planleggeren: husholdningen plasseres der",
                                      [CHOICE_KEEP], overridden=True))
            keep[h] = j
            continue
        if reasons:
            conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j), reasons,
                                      "plassert etter reglene; tilknytningen teller som ønske",
                                      choices))
            soft[(h, j)] = SOFT_TIE_BONUS * int(problem.sizes[h])
            continue
        keep[h] = j
    # capacity: the tied households of a municipality must fit in it
    need = np.zeros(problem.n_munis, dtype=np.int64)
    mneed = np.zeros(problem.n_munis, dtype=np.int64)
    mcap_all = (np.zeros(problem.n_munis, dtype=np.int64) if problem.minor_capacity is None
                else np.asarray(problem.minor_capacity, dtype=np.int64))
    cap = problem.capacity.copy()
    for h, j in sorted(keep.items(), key=lambda x: problem.sizes[x[0]]):
        if minors[h] and mneed[j] + minors[h] > mcap_all[j]:
            conflicts.append(Conflict(
                h, problem.hh_name(h), j, problem.muni_name(j),
                [(f"EMA-plassene i kommunen ({int(mcap_all[j])}) er brukt av andre enslige "
                  "mindreårige med tilknytning dit")],
                "plassert etter reglene; tilknytningen teller som ønske",
                [CHOICE_KEEP, CHOICE_LOCK]))
            soft[(h, j)] = SOFT_TIE_BONUS * int(problem.sizes[h])
            del keep[h]
            continue
        mneed[j] += minors[h]
        if need[j] + problem.sizes[h] <= cap[j]:
            need[j] += problem.sizes[h]
            continue
        if need[j] + problem.sizes[h] <= cap_limit[j]:
            cap[j] = need[j] + problem.sizes[h]
            need[j] += problem.sizes[h]
            continue
        why = [(f"kapasiteten ({int(cap[j])} personer, vedtak {int(cap_limit[j])}) har ikke "
                f"plass til husholdningen ({int(problem.sizes[h])} personer) ved siden av de "
                "andre med tilknytning dit")]
        if h in overrides:
            cap[j] = need[j] + problem.sizes[h]
            need[j] += problem.sizes[h]
            conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j), why,
                                      "overstyrt av planleggeren: kapasiteten er hevet over "
                                      "vedtaket for denne husholdningen", [CHOICE_KEEP],
                                      overridden=True))
            continue
        conflicts.append(Conflict(h, problem.hh_name(h), j, problem.muni_name(j), why,
                                  "plassert etter reglene; tilknytningen teller som ønske",
                                  [CHOICE_KEEP, CHOICE_OVERRIDE, CHOICE_LOCK]))
        soft[(h, j)] = SOFT_TIE_BONUS * int(problem.sizes[h])
        del keep[h]
    problem.capacity = cap
    problem.hard_ties = keep
    problem.soft_ties = soft
    conflicts.sort(key=lambda c: c.household)
    return conflicts


def raised_municipalities(before: np.ndarray, after: np.ndarray,
                          names: Sequence[str]) -> list[str]:
    """Names of municipalities whose capacity the tie rules raised (within the decision)."""
    return [str(names[j]) for j in np.flatnonzero(np.asarray(after) > np.asarray(before))]


# -- preferences -------------------------------------------------------------------------------
def preference_bonuses(wishes: Sequence[Sequence[str]], sizes: np.ndarray, codes: Sequence[str],
                       counties: Sequence[str], weight: float = 1.0
                       ) -> dict[tuple[int, int], float]:
    """Bonus per (household, municipality): for each household's ranked wishes (municipality
    or county codes), the rank's bonus per person; the best rank counts when several point to
    the same municipality."""
    out: dict[tuple[int, int], float] = {}
    if weight <= 0:
        return out
    by_code = {c: j for j, c in enumerate(codes)}
    by_county: dict[str, list[int]] = {}
    for j, c in enumerate(counties):
        by_county.setdefault(str(c), []).append(j)
    for h, ranked in enumerate(wishes):
        for rank, code in enumerate(ranked[:len(PREFERENCE_BONUS)]):
            targets = [by_code[code]] if code in by_code else by_county.get(code, [])
            for j in targets:
                bonus = weight * PREFERENCE_BONUS[rank] * float(sizes[h])
                out[(h, j)] = max(out.get((h, j), 0.0), bonus)
    return out


@dataclass
class PreferenceReport:
    with_wishes: int  # households that stated at least one wish (in the run's scope or not)
    got: list[int]  # households that got their 1st, 2nd, 3rd wish
    none_in_scope: int  # households whose wishes all point outside the run
    rank_of: dict[int, int]  # household -> rank obtained (1-based), 0 = none

    def text(self) -> str:
        if not self.with_wishes:
            return "Ingen husholdninger oppga ønsker."
        got = sum(self.got)
        parts = ", ".join(f"{n} fikk ønske {k + 1}" for k, n in enumerate(self.got) if n)
        text = (f"{self.with_wishes} husholdninger oppga ønsker; {got} fikk ett av dem"
                + (f" ({parts})" if parts else "") + ".")
        if self.none_in_scope:
            text += (f" {self.none_in_scope} hadde bare ønsker utenfor kommunene det plasseres "
                     "i.")
        return text


def preference_report(wishes: Sequence[Sequence[str]], codes: Sequence[str],
                      counties: Sequence[str], assignment: np.ndarray) -> PreferenceReport:
    by_code = {c: j for j, c in enumerate(codes)}
    got = [0] * len(PREFERENCE_BONUS)
    rank_of: dict[int, int] = {}
    with_wishes = none_in = 0
    for h, ranked in enumerate(wishes):
        if not ranked:
            continue
        with_wishes += 1
        j = int(assignment[h])
        rank = 0
        reachable = False
        for k, code in enumerate(ranked[:len(PREFERENCE_BONUS)]):
            hit_muni = code in by_code
            hit_county = code in set(map(str, counties))
            reachable |= hit_muni or hit_county
            if j >= 0 and ((hit_muni and by_code[code] == j)
                           or (len(code) == 2 and str(counties[j]) == code)):
                rank = k + 1
                break
        rank_of[h] = rank
        if rank:
            got[rank - 1] += 1
        elif not reachable:
            none_in += 1
    return PreferenceReport(with_wishes, got, none_in, rank_of)


# -- building the problem from a cohort --------------------------------------------------------
def cohort_problem(cohort, codes: Sequence[str], scores: np.ndarray, capacity: np.ndarray,
                   minor_capacity: np.ndarray, can_support: np.ndarray,
                   locks: dict[int, int] | None = None,
                   forbids: set[tuple[int, int]] | None = None,
                   ) -> tuple[MatchProblem, dict[int, str]]:
    """A :class:`MatchProblem` from a cohort (:mod:`~.cohort`): households as in the cohort,
    hard ties forced and soft ties a bonus (:data:`SOFT_TIE_BONUS` per person), EMA counts
    and support needs per household, country group as the equity group. Returns the problem
    and the households whose hard tie points outside ``codes`` (household → code), which
    are left unforced here (see :func:`apply_tie_rules`)."""
    pos = {str(code): j for j, code in enumerate(codes)}
    first = np.array([h[0] for h in cohort.households], dtype=np.int64)
    hard: dict[int, int] = {}
    soft: dict[tuple[int, int], float] = {}
    outside: dict[int, str] = {}
    for h, row in enumerate(first.tolist()):
        kind, code = cohort.tie_kind[row], cohort.tie_municipality[row]
        if not kind:
            continue
        if code not in pos:
            if kind == "hard":
                outside[h] = str(code)
            continue
        if kind == "hard":
            hard[h] = pos[code]
        else:
            soft[(h, pos[code])] = SOFT_TIE_BONUS * len(cohort.households[h])
    problem = MatchProblem(
        scores=np.asarray(scores, dtype=float),
        households=cohort.households,
        capacity=np.asarray(capacity, dtype=np.int64),
        muni_codes=[str(c) for c in codes],
        household_ids=[str(x) for x in cohort.household_id[first]],
        unaccompanied=np.array([int(cohort.unaccompanied_minor[h].sum())
                                for h in cohort.households], dtype=np.int64),
        minor_capacity=np.asarray(minor_capacity, dtype=np.int64),
        support_needs=np.array([bool(cohort.support_need[h].any()) for h in cohort.households]),
        can_support=np.asarray(can_support, dtype=bool),
        hard_ties=hard,
        soft_ties=soft,
        locks=dict(locks or {}),
        forbids=set(forbids or set()),
        groups=np.asarray(cohort.country_group),
    )
    return problem, outside
