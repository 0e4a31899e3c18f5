"""The matching problem: households to municipalities, and what a placement must respect.

Every household (never split) goes to one municipality. A municipality takes at most its
capacity in persons; every *resource* (places for unaccompanied minors under the EMA
decision, upper-secondary school places, large dwellings …) at most what the municipality
offers; households with support needs only where the municipality can serve them (or
where the planner has explicitly allowed it); planners' locks and forbids and hard ties
(relatives) are respected; soft ties and stated preferences add a bonus. Optional balance
terms: a floor per municipality (a minimum number of persons), a spread term that
penalises filling a municipality ahead of the others, and an equity term that rewards the
lowest group mean outcome (max–min across groups).

This module holds the model only: :class:`MatchProblem`, the result type
:class:`MatchResult`, :func:`evaluate` and :class:`InfeasibleError`. Constraint checks are
in :mod:`~.checks`, the simple rules in :mod:`~.heuristics`, the solvers in
:mod:`~.solvers`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# InfeasibleError and NoPlacementFound live in bliatlas.errors (one hierarchy); re-exported.
from bliatlas.errors import InfeasibleError, NoPlacementFound, UserError  # noqa: F401


@dataclass
class Resource:
    """A side capacity: ``use[h]`` units per household, at most ``capacity[j]`` per
    municipality (e.g. EMA places, upper-secondary places, dwellings for large families)."""

    key: str  # short id, e.g. 'ema'
    label: str  # Norwegian, e.g. 'plasser for enslige mindreårige (EMA-vedtak)'
    use: np.ndarray  # (H,) int
    capacity: np.ndarray  # (M,) int

    def __post_init__(self) -> None:
        self.use = np.asarray(self.use, dtype=np.int64)
        self.capacity = np.asarray(self.capacity, dtype=np.int64)


@dataclass
class MatchProblem:
    """One matching instance. Indices: persons 0..P-1, households 0..H-1, municipalities 0..M-1.

    ``scores[p, j]`` is person p's objective value in municipality j (the weighted expected
    outcomes; 0 for persons outside every outcome's range). ``soft_ties`` and
    ``preferences`` map (household, municipality) to a bonus added to the objective.
    ``hard_ties`` and ``locks`` map household → municipality (forced; a lock wins over a tie
    only through :mod:`~.rules`, here both must agree); ``forbids`` holds (household,
    municipality) pairs that are not allowed; ``allowed`` holds pairs where the planner has
    lifted the support-need rule for that household. ``unaccompanied`` (minors per
    household, or a boolean per household) with ``minor_capacity`` is the EMA rule; more
    side capacities go in ``resources``. Floors: ``floor`` persons per municipality, and/or
    ``min_fill`` × ``request``; both capped at the capacity. ``spread_weight`` > 0 adds
    ``− spread_weight × Σⱼ max(0, usedⱼ − f̄·capacityⱼ)`` with f̄ the cohort's share of the
    total capacity. ``groups`` with ``equity_weight`` > 0 adds
    ``equity_weight × P × min_g (mean score of group g)``. ``target`` (persons per
    municipality, e.g. its share of the year) with ``target_weight`` > 0 is a soft capacity:
    ``− target_weight × Σⱼ max(0, usedⱼ − targetⱼ)``, while ``capacity`` stays the hard limit.
    """

    scores: np.ndarray
    households: Sequence[Sequence[int]]
    capacity: np.ndarray
    muni_codes: Sequence[str] | None = None
    household_ids: Sequence[str] | None = None
    unaccompanied: np.ndarray | None = None
    minor_capacity: np.ndarray | None = None
    support_needs: np.ndarray | None = None
    can_support: np.ndarray | None = None
    hard_ties: Mapping[int, int] = field(default_factory=dict)
    soft_ties: Mapping[tuple[int, int], float] = field(default_factory=dict)
    locks: Mapping[int, int] = field(default_factory=dict)
    forbids: set[tuple[int, int]] = field(default_factory=set)
    request: np.ndarray | None = None
    min_fill: float = 0.0
    groups: np.ndarray | None = None
    equity_weight: float = 0.0
    resources: list[Resource] = field(default_factory=list)
    floor: np.ndarray | None = None
    spread_weight: float = 0.0
    preferences: Mapping[tuple[int, int], float] = field(default_factory=dict)
    allowed: set[tuple[int, int]] = field(default_factory=set)
    target: np.ndarray | None = None
    target_weight: float = 0.0

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=float)
        self.capacity = np.asarray(self.capacity, dtype=np.int64)
        if self.scores.ndim != 2:
            raise UserError("Skårmatrisen må ha én rad per person og én kolonne per kommune.")
        n_p, n_m = self.scores.shape
        if self.capacity.shape != (n_m,):
            raise UserError(
                f"Kapasitet må gis for alle {n_m} kommuner (fikk {self.capacity.shape[0]})."
            )
        if (self.capacity < 0).any():
            raise UserError("Kapasitet kan ikke være negativ.")
        self._person_index = np.concatenate(
            [np.asarray(h, dtype=np.int64) for h in self.households]
        ) if len(self.households) else np.zeros(0, dtype=np.int64)
        sizes = np.array([len(h) for h in self.households], dtype=np.int64)
        if (sizes == 0).any():
            raise UserError(f"Husholdning {self.hh_name(int(np.argmin(sizes)))} har ingen personer.")
        if len(self._person_index) and (
            np.bincount(self._person_index, minlength=n_p).max() > 1
            or self._person_index.max() >= n_p
        ):
            raise UserError("Hver person må høre til nøyaktig én husholdning.")
        self.sizes = sizes
        for r in self.resources:
            if r.use.shape != (len(sizes),) or r.capacity.shape != (n_m,):
                raise UserError(f"Ressursen {r.label} må ha én verdi per husholdning og "
                                "én per kommune.")

    # -- names for messages --------------------------------------------------
    def hh_name(self, h: int) -> str:
        return str(self.household_ids[h]) if self.household_ids is not None else str(h)

    def muni_name(self, j: int) -> str:
        return str(self.muni_codes[j]) if self.muni_codes is not None else str(j)

    @property
    def n_households(self) -> int:
        return len(self.households)

    @property
    def n_munis(self) -> int:
        return self.scores.shape[1]

    @property
    def n_persons(self) -> int:
        return int(self.sizes.sum())

    # -- derived arrays --------------------------------------------------------
    def household_values(self) -> np.ndarray:
        """(H, M) summed scores of each household in each municipality."""
        if not len(self.households):
            return np.zeros((0, self.n_munis))
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        return np.add.reduceat(self.scores[self._person_index], starts, axis=0)

    def bonus(self) -> np.ndarray:
        """(H, M) soft-tie and preference bonuses."""
        b = np.zeros((self.n_households, self.n_munis))
        for mapping in (self.soft_ties, self.preferences):
            for (h, j), v in mapping.items():
                b[h, j] += float(v)
        return b

    def minors(self) -> np.ndarray:
        """Unaccompanied minors per household (a boolean ``unaccompanied`` means all members)."""
        if self.unaccompanied is None:
            return np.zeros(self.n_households, dtype=np.int64)
        u = np.asarray(self.unaccompanied)
        if u.dtype == bool:
            return np.where(u, self.sizes, 0).astype(np.int64)
        return u.astype(np.int64)

    def all_resources(self) -> list[Resource]:
        """The EMA rule as a resource (when any household has minors or a minor capacity is
        given) followed by :attr:`resources`."""
        out = []
        minors = self.minors()
        if minors.any() or self.minor_capacity is not None:
            mcap = (np.zeros(self.n_munis, dtype=np.int64) if self.minor_capacity is None
                    else np.asarray(self.minor_capacity, dtype=np.int64))
            out.append(Resource("ema", "plasser for enslige mindreårige (EMA-vedtak)", minors,
                                mcap))
        return out + list(self.resources)

    def group_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, G, M) summed scores per household and group, and persons per group (G,)."""
        labels, inv = np.unique(np.asarray(self.groups), return_inverse=True)
        n_g = len(labels)
        out = np.zeros((self.n_households, n_g, self.n_munis))
        hh_of_person = np.repeat(np.arange(self.n_households), self.sizes)
        persons = self._person_index
        np.add.at(out, (hh_of_person, inv[persons]), self.scores[persons])
        return out, np.bincount(inv, minlength=n_g).astype(float)

    def fill_floor(self) -> np.ndarray | None:
        """Minimum persons per municipality: the larger of ``floor`` and
        ⌈min_fill × request⌉, capped at the capacity; None without floors."""
        parts = []
        if self.floor is not None:
            parts.append(np.asarray(self.floor, dtype=float))
        if self.min_fill > 0 and self.request is not None:
            parts.append(np.ceil(self.min_fill * np.asarray(self.request, dtype=float) - 1e-9))
        if not parts:
            return None
        f = np.maximum.reduce(parts) if len(parts) > 1 else parts[0]
        f = np.minimum(np.nan_to_num(f, nan=0.0), self.capacity).astype(np.int64)
        return f if f.any() else None

    def spread_target(self) -> np.ndarray | None:
        """Persons per municipality at an even fill (f̄ × capacity — or × the soft target when
        there is one), for the spread term."""
        if self.spread_weight <= 0:
            return None
        base = (self.capacity if self.target is None
                else np.minimum(np.asarray(self.target, dtype=float), self.capacity))
        total = float(np.sum(base))
        if total <= 0:
            return None
        return base * min(1.0, self.n_persons / total)

    def overflow_terms(self) -> list[tuple[np.ndarray, float]]:
        """(target persons per municipality, penalty per person above it): the soft
        capacity and the spread term, whichever are set."""
        out = []
        if self.target is not None and self.target_weight > 0:
            out.append((np.asarray(self.target, dtype=float), float(self.target_weight)))
        spread = self.spread_target()
        if spread is not None:
            out.append((spread, float(self.spread_weight)))
        return out

    def base_eligibility(self) -> np.ndarray:
        """(H, M): allowed by capacity, resources, support needs and forbids (before locks
        and hard ties)."""
        m_n = self.n_munis
        ok = self.sizes[:, None] <= self.capacity[None, :]
        for r in self.all_resources():
            ok &= (r.use[:, None] == 0) | (r.use[:, None] <= r.capacity[None, :])
        if self.support_needs is not None:
            need = np.asarray(self.support_needs, dtype=bool)
            serve = (np.zeros(m_n, dtype=bool) if self.can_support is None
                     else np.asarray(self.can_support, dtype=bool))
            support_ok = ~need[:, None] | serve[None, :]
            for h, j in self.allowed:
                support_ok[h, j] = True
            ok &= support_ok
        for h, j in self.forbids:
            ok[h, j] = False
        return ok

    def reasons_not_allowed(self, h: int, j: int) -> list[str]:
        """Why household h may not go to municipality j (Norwegian phrases), before locks."""
        out = []
        if self.sizes[h] > self.capacity[j]:
            out.append(f"kapasiteten ({int(self.capacity[j])}) er mindre enn husholdningen "
                       f"({int(self.sizes[h])} personer)")
        for r in self.all_resources():
            if r.use[h] > r.capacity[j]:
                out.append(f"{r.label}: trenger {int(r.use[h])}, kommunen har "
                           f"{int(r.capacity[j])}")
        if (self.support_needs is not None and bool(np.asarray(self.support_needs)[h])
                and (h, j) not in self.allowed):
            serve = (False if self.can_support is None
                     else bool(np.asarray(self.can_support)[j]))
            if not serve:
                out.append("kommunen har ikke tilbud for oppfølgingsbehovet")
        if (h, j) in self.forbids:
            out.append("plasseringen er forbudt av planleggeren")
        return out

    def eligibility(self) -> np.ndarray:
        """(H, M) boolean: may household h go to municipality j. Raises
        :class:`InfeasibleError` (a one-household proof) when a household has none."""
        ok = self.base_eligibility()
        m_n = self.n_munis
        forced: dict[int, tuple[int, str]] = {}
        for kind, mapping in (("knyttet (fast tilknytning)", self.hard_ties),
                              ("låst", self.locks)):
            for h, j in mapping.items():
                if h in forced and forced[h][0] != j:
                    raise InfeasibleError(
                        f"Husholdning {self.hh_name(h)} er både {forced[h][1]} til kommune "
                        f"{self.muni_name(forced[h][0])} og {kind} til {self.muni_name(j)}.",
                        proof="husholdning", binding=[f"husholdning {self.hh_name(h)}"])
                forced[h] = (j, kind)
        for h, (j, kind) in forced.items():
            if not ok[h, j]:
                why = "; ".join(self.reasons_not_allowed(h, j)) or "ikke tillatt"
                raise InfeasibleError(
                    f"Husholdning {self.hh_name(h)} er {kind} til kommune {self.muni_name(j)}, "
                    f"men kommunen kan ikke ta imot den: {why}.",
                    proof="husholdning", binding=[f"husholdning {self.hh_name(h)}"])
            row = np.zeros(m_n, dtype=bool)
            row[j] = True
            ok[h] = row
        none = np.flatnonzero(~ok.any(axis=1))
        if len(none):
            h = int(none[0])
            raise InfeasibleError(
                f"Husholdning {self.hh_name(h)} ({self.sizes[h]} personer) har ingen kommune "
                "som oppfyller kravene (kapasitet, enslige mindreårige, oppfølgingsbehov, "
                f"forbud). {len(none)} husholdning(er) i alt har ingen gyldig kommune.",
                proof="husholdning",
                binding=[f"husholdning {self.hh_name(int(x))}" for x in none[:10]])
        return ok

    def check_totals(self) -> None:
        """Totals that no placement can meet (each a proof by counting)."""
        total_cap = int(self.capacity.sum())
        if self.n_persons > total_cap:
            raise InfeasibleError(
                f"Samlet kapasitet ({total_cap} personer) er mindre enn antall personer i "
                f"kohorten ({self.n_persons}). Øk kapasiteten eller del kohorten.",
                proof="totaler", binding=["samlet kapasitet"])
        for r in self.all_resources():
            need, have = int(r.use.sum()), int(r.capacity.sum())
            if need > have:
                text = (f"Kohorten har {need} enslige mindreårige, men kommunene har vedtak om "
                        f"bare {have} plasser for enslige mindreårige." if r.key == "ema" else
                        f"Kohorten trenger {need} {r.label}, men kommunene har bare {have}.")
                raise InfeasibleError(text, proof="totaler", binding=[r.label])
        floor = self.fill_floor()
        if floor is not None and floor.sum() > self.n_persons:
            share = (f"Minsteandelen {self.min_fill:.0%} av anmodningene krever"
                     if self.min_fill > 0 and self.floor is None else "Gulvene krever")
            raise InfeasibleError(
                f"{share} {int(floor.sum())} personer, men kohorten har bare "
                f"{self.n_persons}.", proof="totaler", binding=["minsteandel"])


@dataclass
class MatchResult:
    """An assignment (municipality per household, −1 = not placed) with its value and the
    proof of its quality."""

    assignment: np.ndarray
    objective: float  # scores + bonuses − spread penalty + equity term
    expected_outcome: float  # sum over placed persons of the scores
    bound: float  # an upper bound on the optimal objective (nan when none)
    method: str
    seconds: float
    proven: bool = False  # bound is the optimum of the whole problem within the gap
    stats: dict = field(default_factory=dict)
    capacity_prices: np.ndarray | None = None  # LP duals of the capacity rows (per person)
    unplaced: int = 0  # households a rule found no room for (assignment −1)

    @property
    def gap(self) -> float:
        if not math.isfinite(self.bound) or not math.isfinite(self.objective):
            return math.nan
        return max(0.0, (self.bound - self.objective) / max(abs(self.bound), 1e-12))


def persons_per_municipality(problem: MatchProblem, assignment: np.ndarray) -> np.ndarray:
    a = np.asarray(assignment, dtype=np.int64)
    placed = a >= 0
    return np.bincount(a[placed], weights=problem.sizes[placed],
                       minlength=problem.n_munis).astype(np.int64)


def evaluate(problem: MatchProblem, assignment: np.ndarray) -> tuple[float, float]:
    """(objective, expected outcome) of an assignment; unplaced households (−1) add 0 and
    are left out of the group means."""
    a = np.asarray(assignment, dtype=np.int64)
    placed_h = a >= 0
    persons_muni = np.repeat(a, problem.sizes)
    placed_p = persons_muni >= 0
    pidx = problem._person_index
    person_scores = np.zeros(len(pidx))
    person_scores[placed_p] = problem.scores[pidx[placed_p], persons_muni[placed_p]]
    expected = float(person_scores.sum())
    obj = expected
    if problem.soft_ties or problem.preferences:
        h_idx = np.flatnonzero(placed_h)
        obj += float(problem.bonus()[h_idx, a[h_idx]].sum())
    terms = problem.overflow_terms()
    if terms:
        used = persons_per_municipality(problem, a)
        for target, weight in terms:
            obj -= weight * float(np.maximum(used - target, 0).sum())
    if problem.equity_weight > 0 and problem.groups is not None:
        labels, inv = np.unique(np.asarray(problem.groups), return_inverse=True)
        g_of = inv[pidx]
        sums = np.bincount(g_of[placed_p], weights=person_scores[placed_p],
                           minlength=len(labels))
        counts = np.bincount(g_of[placed_p], minlength=len(labels))
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
        obj += problem.equity_weight * problem.n_persons * float(means.min())
    return obj, expected


#: Called as ``observer(problem, result)`` for every result a public solver or rule returns
#: (an audit seam: the test suite checks each one with an independent checker).
RESULT_OBSERVERS: list[Callable[[MatchProblem, MatchResult], None]] = []


def published(fn: Callable[..., MatchResult]) -> Callable[..., MatchResult]:
    """Decorator for functions ``fn(problem, …) -> MatchResult``: hand each result to the
    :data:`RESULT_OBSERVERS`."""

    @functools.wraps(fn)
    def wrapper(problem: MatchProblem, *args, **kwargs) -> MatchResult:
        result = fn(problem, *args, **kwargs)
        for observer in RESULT_OBSERVERS:
            observer(problem, result)
        return result

    return wrapper
