"""The stress set: families of matching instances that are hard for rounding heuristics.

Used by the tests (small sizes, exact optimum by :func:`~.solvers.solve_exact`) and by
``benchmarks/bench_settlement_match.py`` (national sizes). Every instance is SYNTHETIC:
scores come from a documented random model, not from the outcome model, and carry no
meaning beyond being realistic in shape (person effects, municipality effects and an
interaction, probabilities in 0.05–0.95).

Families (``FAMILIES``):

* ``gulv`` — floors: a minimum share of each municipality's request, with requests drawn
  around the capacities so that many floors reach the capacity (exact fill);
* ``store_husholdninger`` — large households (mean size 5–9) with capacity only a few
  percent above the cohort (fragmentation: the LP is feasible long before a whole-household
  placement is);
* ``ema`` — unaccompanied minors with EMA places for exactly as many in a few
  municipalities, hard ties and support needs;
* ``umulig_lp`` — infeasible already as an LP (floors no eligible households can meet);
* ``umulig_heltall`` — LP-feasible but integer-infeasible (household sizes do not fit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bliatlas.settlement.problem import MatchProblem

FAMILIES = ("gulv", "store_husholdninger", "ema", "umulig_lp", "umulig_heltall")


def _households(sizes: Sequence[int]) -> list[list[int]]:
    out, c = [], 0
    for s in sizes:
        out.append(list(range(c, c + int(s))))
        c += int(s)
    return out


def _scores(rng: np.random.Generator, persons: int, m: int) -> np.ndarray:
    edu = rng.integers(0, 4, persons)
    muni = rng.normal(0, 0.4, m)
    labour = rng.normal(0, 1, m)
    z = -0.6 + 0.4 * edu[:, None] + muni[None, :] + 0.25 * edu[:, None] * labour[None, :]
    return np.clip(1 / (1 + np.exp(-z)), 0.05, 0.95)


def _capacity(rng: np.random.Generator, persons: int, m: int, slack: float,
              weights: np.ndarray | None) -> np.ndarray:
    w = rng.gamma(1.2, 1.0, m) if weights is None else np.asarray(weights, dtype=float)
    w = np.where(np.isfinite(w), w, 0.0)
    return np.ceil(w / w.sum() * persons * (1 + slack) - 1e-9).astype(np.int64)


def floors(n_households: int, m: int, min_fill: float, seed: int = 0,
           weights: np.ndarray | None = None, slack: float = 0.05) -> MatchProblem:
    """Family ``gulv``: floors = ``min_fill`` × request, requests 0.8–1.4 × capacity."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5, 6, 7], size=n_households,
                       p=[0.42, 0.16, 0.15, 0.14, 0.08, 0.03, 0.02])
    hh = _households(sizes)
    cap = _capacity(rng, int(sizes.sum()), m, slack, weights)
    request = np.round(cap * rng.uniform(0.8, 1.4, m))
    return MatchProblem(_scores(rng, int(sizes.sum()), m), hh, cap, request=request,
                        min_fill=min_fill)


def large_households(n_households: int, m: int, mean_size: float, seed: int = 0,
                     slack: float = 0.03, weights: np.ndarray | None = None) -> MatchProblem:
    """Family ``store_husholdninger``: sizes 1 + Poisson(mean − 1), at most 14; capacity
    ``slack`` above the cohort."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(1 + rng.poisson(mean_size - 1, n_households), 14)
    hh = _households(sizes)
    cap = _capacity(rng, int(sizes.sum()), m, slack, weights)
    return MatchProblem(_scores(rng, int(sizes.sum()), m), hh, cap)


def minors_and_ties(n_households: int, m: int, seed: int = 0,
                    weights: np.ndarray | None = None) -> MatchProblem:
    """Family ``ema``: 8 % unaccompanied minors (households of one), EMA places for exactly
    that many in a quarter of the municipalities; 3 % hard ties (where they fit), 8 %
    support needs served in half of the municipalities."""
    rng = np.random.default_rng(seed)
    minor = rng.random(n_households) < 0.08
    sizes = np.where(minor, 1, rng.choice([1, 2, 3, 4, 5], size=n_households,
                                          p=[0.4, 0.2, 0.2, 0.12, 0.08]))
    hh = _households(sizes)
    persons = int(sizes.sum())
    cap = _capacity(rng, persons, m, 0.08, weights)
    ema_munis = rng.choice(m, size=max(1, m // 4), replace=False)
    mcap = np.zeros(m, dtype=np.int64)
    share = rng.dirichlet(np.ones(len(ema_munis))) * minor.sum()
    mcap[ema_munis] = np.floor(share).astype(np.int64)
    mcap[ema_munis[0]] += int(minor.sum() - mcap.sum())
    cap = cap + mcap  # room for the minors beside the others (the EMA rule is the tight one)
    can = rng.random(m) < 0.5
    can[ema_munis] = True
    need = ~minor & (rng.random(n_households) < 0.08)
    ties: dict[int, int] = {}
    # the minors fill every EMA place (there are exactly as many), so the room a tie may
    # take is the capacity without them
    room = cap - mcap
    for h in np.flatnonzero(~minor & (rng.random(n_households) < 0.03)):
        j = int(rng.integers(0, m))
        if room[j] >= sizes[h] * 2 and (not need[h] or can[j]):
            ties[int(h)] = j
            room[j] -= sizes[h]
    return MatchProblem(_scores(rng, persons, m), hh, cap,
                        unaccompanied=minor, minor_capacity=mcap, support_needs=need,
                        can_support=can, hard_ties=ties)


def infeasible_lp(seed: int = 0) -> MatchProblem:
    """Family ``umulig_lp``: municipality 0 must get at least 8 persons, but only 5 singles
    may go there (the others are forbidden there) — infeasible even fractionally."""
    rng = np.random.default_rng(seed)
    sizes = np.array([1] * 5 + [2] * 10)
    hh = _households(sizes)
    cap = np.array([12, 20, 20])
    forbids = {(h, 0) for h in range(5, 15)}
    return MatchProblem(_scores(rng, int(sizes.sum()), 3), hh, cap,
                        floor=np.array([8, 0, 0]), forbids=forbids,
                        muni_codes=["9001", "9002", "9003"])


def infeasible_integer(seed: int = 0) -> MatchProblem:
    """Family ``umulig_heltall``: four households of 3 and three municipalities with room
    for 4 each: 12 persons, 12 places, but a municipality fits only one household."""
    rng = np.random.default_rng(seed)
    hh = _households([3, 3, 3, 3])
    return MatchProblem(_scores(rng, 12, 3), hh, np.array([4, 4, 4]),
                        muni_codes=["9001", "9002", "9003"])


def family(name: str, scale: str = "liten", seed: int = 0,
           weights: np.ndarray | None = None) -> list[tuple[str, MatchProblem]]:
    """The instances of one family: (label, problem). ``scale`` 'liten' (tests: a few
    hundred households, 25 municipalities) or 'nasjonal' (14,000 households; pass the
    municipalities' decisions as ``weights`` for realistic capacity shares)."""
    small = scale == "liten"
    h, m = (300, 25) if small else (14_000, len(weights) if weights is not None else 357)
    if name == "gulv":
        return [(f"gulv {f}", floors(h, m, f, seed, weights)) for f in (0.5, 0.8)]
    if name == "store_husholdninger":
        hh = h // 4 if small else h // 3
        return [(f"store husholdninger snitt {s}", large_households(hh, m, s, seed,
                                                                     weights=weights))
                for s in (5, 7, 9)]
    if name == "ema":
        return [("ema og tilknytning", minors_and_ties(h, m, seed, weights))]
    if name == "umulig_lp":
        return [("umulig som LP", infeasible_lp(seed))]
    if name == "umulig_heltall":
        return [("umulig med hele husholdninger", infeasible_integer(seed))]
    raise ValueError(name)
