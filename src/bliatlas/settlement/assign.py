"""Batch matching of refugee households to municipalities.

The problem: every household (never split) goes to one municipality; a municipality
takes at most its decision (vedtak) in persons; unaccompanied minors only where an
EMA decision exists (and within it); households with support needs only where the
municipality can serve them; planners' locks and forbids and hard ties (relatives)
are respected, soft ties add a bonus. The objective is the total expected outcome
(sum over persons of the predicted probability of work or education in the
municipality), optionally with balance terms: a minimum share of each
municipality's request (anmodning) filled, and an equity term that rewards the
lowest group mean outcome (max-min across groups).

Two exact formulations solved with HiGHS:

* :func:`solve_full_mip` — the straightforward integer program, one binary per
  household × eligible municipality. The baseline.
* :func:`solve_structured` — exploits the structure. The problem is a transportation
  problem over household *types* (identical households aggregated) × municipalities
  whose only integrality comes from household sizes. We solve the LP relaxation by
  column generation (start with each type's best candidates, price every eligible
  type × municipality pair with the duals, add improving columns until none), round
  the LP and repair to get an incumbent, and prune the candidate set by reduced cost:
  with LP bound ``z_LP`` and incumbent ``z_inc``, any solution that uses a pair with
  reduced cost worse than ``z_LP - z_inc`` is worse than the incumbent, so those
  pairs are dropped exactly (:attr:`MatchResult.proven` is then true). On large
  instances, where that set would be too big, the pruned set keeps the LP support and
  each type's best pairs by reduced cost; the gap stated is then always measured
  against the global LP bound, which stays valid.

Plus the rules used for comparison: :func:`greedy_best` (each household to its best
municipality with room), :func:`greedy_capacity` (capacity only: each household to
the municipality with most room left relative to its decision) and
:func:`random_within_capacity`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from bliatlas.errors import InfeasibleError, UserError

INF = highspy.kHighsInf
_TOL = 1e-9


@dataclass
class MatchProblem:
    """One matching instance. Indices: persons 0..P-1, households 0..H-1, municipalities 0..M-1.

    ``scores[p, j]`` is person p's expected outcome (a probability) in municipality j.
    ``soft_ties`` maps (household, municipality) to a bonus added to the objective.
    ``hard_ties`` and ``locks`` map household → municipality (forced);
    ``forbids`` holds (household, municipality) pairs that are not allowed.
    ``request`` with ``min_fill`` > 0 demands at least ``ceil(min_fill × request_j)`` persons
    in municipality j (capped at its capacity). ``groups`` (a label per person) with
    ``equity_weight`` > 0 adds ``equity_weight × P × min_g (mean outcome of group g)``.
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
        """(H, M) expected outcome of each household in each municipality (sum over persons)."""
        if not len(self.households):
            return np.zeros((0, self.n_munis))
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        return np.add.reduceat(self.scores[self._person_index], starts, axis=0)

    def bonus(self) -> np.ndarray:
        b = np.zeros((self.n_households, self.n_munis))
        for (h, j), v in self.soft_ties.items():
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
        if self.min_fill <= 0 or self.request is None:
            return None
        req = np.asarray(self.request, dtype=float)
        return np.minimum(np.ceil(self.min_fill * req - 1e-9), self.capacity).astype(np.int64)

    def eligibility(self) -> np.ndarray:
        """(H, M) boolean: may household h go to municipality j. Raises if a household has none."""
        _h_n, m_n = self.n_households, self.n_munis
        ok = self.sizes[:, None] <= self.capacity[None, :]
        if self.unaccompanied is not None:
            minors = self.minors()
            mcap = (
                np.zeros(m_n, dtype=np.int64)
                if self.minor_capacity is None
                else np.asarray(self.minor_capacity, dtype=np.int64)
            )
            ok &= (minors[:, None] == 0) | (minors[:, None] <= mcap[None, :])
        if self.support_needs is not None:
            need = np.asarray(self.support_needs, dtype=bool)
            serve = (
                np.zeros(m_n, dtype=bool)
                if self.can_support is None
                else np.asarray(self.can_support, dtype=bool)
            )
            ok &= ~need[:, None] | serve[None, :]
        for h, j in self.forbids:
            ok[h, j] = False
        forced: dict[int, tuple[int, str]] = {}
        for kind, mapping in (("knyttet (fast binding)", self.hard_ties), ("låst", self.locks)):
            for h, j in mapping.items():
                if h in forced and forced[h][0] != j:
                    raise InfeasibleError(
                        f"Husholdning {self.hh_name(h)} er både {forced[h][1]} til kommune "
                        f"{self.muni_name(forced[h][0])} og {kind} til {self.muni_name(j)}."
                    )
                forced[h] = (j, kind)
        for h, (j, kind) in forced.items():
            if not ok[h, j]:
                raise InfeasibleError(
                    f"Husholdning {self.hh_name(h)} er {kind} til kommune {self.muni_name(j)}, "
                    "men kommunen kan ikke ta imot den (forbudt, for liten kapasitet, "
                    "ikke vedtak om enslige mindreårige eller ikke tilbud for oppfølgingsbehov)."
                )
            row = np.zeros(m_n, dtype=bool)
            row[j] = True
            ok[h] = row
        none = np.flatnonzero(~ok.any(axis=1))
        if len(none):
            h = int(none[0])
            raise InfeasibleError(
                f"Husholdning {self.hh_name(h)} ({self.sizes[h]} personer) har ingen kommune "
                "som oppfyller kravene (kapasitet, enslige mindreårige, oppfølgingsbehov, "
                f"forbud). {len(none)} husholdning(er) i alt har ingen gyldig kommune."
            )
        return ok

    def check_totals(self) -> None:
        total_cap = int(self.capacity.sum())
        if self.n_persons > total_cap:
            raise InfeasibleError(
                f"Samlet kapasitet ({total_cap} personer) er mindre enn antall personer i "
                f"kohorten ({self.n_persons}). Øk kapasiteten eller del kohorten."
            )
        mins = self.minors()
        if mins.sum():
            mcap = int(np.asarray(self.minor_capacity if self.minor_capacity is not None else 0).sum())
            if mins.sum() > mcap:
                raise InfeasibleError(
                    f"Kohorten har {int(mins.sum())} enslige mindreårige, men kommunene har vedtak "
                    f"om bare {mcap} plasser for enslige mindreårige."
                )
        floor = self.fill_floor()
        if floor is not None and floor.sum() > self.n_persons:
            raise InfeasibleError(
                f"Minsteandelen {self.min_fill:.0%} av anmodningene krever {int(floor.sum())} "
                f"personer, men kohorten har bare {self.n_persons}."
            )


@dataclass
class MatchResult:
    """An assignment (municipality index per household) with its value and proof of quality."""

    assignment: np.ndarray
    objective: float  # expected outcome + soft-tie bonuses + equity term
    expected_outcome: float  # sum over persons of the predicted probability
    bound: float  # an upper bound on the optimal objective (nan when none)
    method: str
    seconds: float
    proven: bool = False  # bound is the optimum of the whole problem within the gap
    stats: dict = field(default_factory=dict)
    capacity_prices: np.ndarray | None = None  # LP duals of the capacity rows (per person)

    @property
    def gap(self) -> float:
        if not math.isfinite(self.bound):
            return math.nan
        return max(0.0, (self.bound - self.objective) / max(abs(self.bound), 1e-12))


# ---------------------------------------------------------------------------
# Evaluation and checks
# ---------------------------------------------------------------------------


def evaluate(problem: MatchProblem, assignment: np.ndarray) -> tuple[float, float]:
    """(objective, expected outcome) of an assignment."""
    a = np.asarray(assignment, dtype=np.int64)
    h_idx = np.arange(problem.n_households)
    persons_muni = np.repeat(a, problem.sizes)
    person_scores = problem.scores[problem._person_index, persons_muni]
    expected = float(person_scores.sum())
    obj = expected
    if problem.soft_ties:
        obj += float(problem.bonus()[h_idx, a].sum())
    if problem.equity_weight > 0 and problem.groups is not None:
        labels, inv = np.unique(np.asarray(problem.groups), return_inverse=True)
        sums = np.bincount(inv[problem._person_index], weights=person_scores, minlength=len(labels))
        counts = np.bincount(inv, minlength=len(labels))
        obj += problem.equity_weight * problem.n_persons * float((sums / counts).min())
    return obj, expected


def violations(problem: MatchProblem, assignment: np.ndarray) -> list[str]:
    """Every broken constraint, in Norwegian; empty when the assignment is valid."""
    a = np.asarray(assignment, dtype=np.int64)
    out: list[str] = []
    if a.shape != (problem.n_households,):
        return [f"Tildelingen har {a.shape[0]} husholdninger, ventet {problem.n_households}."]
    if (a < 0).any() or (a >= problem.n_munis).any():
        return ["Tildelingen har husholdninger uten gyldig kommune."]
    used = np.bincount(a, weights=problem.sizes, minlength=problem.n_munis)
    for j in np.flatnonzero(used > problem.capacity):
        out.append(
            f"Kommune {problem.muni_name(j)}: {int(used[j])} personer, kapasitet {problem.capacity[j]}."
        )
    minors = problem.minors()
    if minors.any():
        mcap = np.asarray(problem.minor_capacity if problem.minor_capacity is not None else
                          np.zeros(problem.n_munis), dtype=float)
        mused = np.bincount(a, weights=minors, minlength=problem.n_munis)
        for j in np.flatnonzero(mused > mcap):
            out.append(
                f"Kommune {problem.muni_name(j)}: {int(mused[j])} enslige mindreårige, "
                f"vedtak {int(mcap[j])}."
            )
    if problem.support_needs is not None:
        serve = np.asarray(problem.can_support if problem.can_support is not None else
                           np.zeros(problem.n_munis), dtype=bool)
        for h in np.flatnonzero(np.asarray(problem.support_needs, dtype=bool) & ~serve[a]):
            out.append(f"Husholdning {problem.hh_name(h)} har oppfølgingsbehov kommunen ikke dekker.")
    for kind, mapping in (("låst", problem.locks), ("knyttet", problem.hard_ties)):
        for h, j in mapping.items():
            if a[h] != j:
                out.append(f"Husholdning {problem.hh_name(h)} er {kind} til {problem.muni_name(j)}.")
    for h, j in problem.forbids:
        if a[h] == j:
            out.append(f"Husholdning {problem.hh_name(h)} er forbudt i {problem.muni_name(j)}.")
    floor = problem.fill_floor()
    if floor is not None:
        for j in np.flatnonzero(used < floor):
            out.append(
                f"Kommune {problem.muni_name(j)}: {int(used[j])} personer, minst {floor[j]} kreves."
            )
    return out


# ---------------------------------------------------------------------------
# Simple rules
# ---------------------------------------------------------------------------


def _place_greedily(
    problem: MatchProblem,
    order: np.ndarray,
    pick,
    eligible: np.ndarray,
) -> np.ndarray:
    """Place households in ``order``; ``pick(h, room_mask, left)`` chooses among municipalities."""
    left = problem.capacity.astype(np.int64).copy()
    minors = problem.minors()
    mleft = (
        np.asarray(problem.minor_capacity, dtype=np.int64).copy()
        if problem.minor_capacity is not None
        else np.zeros(problem.n_munis, dtype=np.int64)
    )
    a = np.full(problem.n_households, -1, dtype=np.int64)
    for h in order:
        room = eligible[h] & (left >= problem.sizes[h])
        if minors[h]:
            room &= mleft >= minors[h]
        if not room.any():
            raise InfeasibleError(
                f"Regelen fant ikke plass til husholdning {problem.hh_name(int(h))} "
                f"({problem.sizes[h]} personer): ingen gyldig kommune har ledig kapasitet igjen."
            )
        j = int(pick(int(h), room, left))
        a[h] = j
        left[j] -= problem.sizes[h]
        mleft[j] -= minors[h]
    return a


def _rule_result(problem: MatchProblem, a: np.ndarray, method: str, t0: float) -> MatchResult:
    obj, exp = evaluate(problem, a)
    return MatchResult(a, obj, exp, math.nan, method, time.perf_counter() - t0)


def _forced_first(problem: MatchProblem, order: np.ndarray) -> np.ndarray:
    """Keep ``order`` but place the most constrained households first (stable): locked and
    tied ones, then unaccompanied minors, then households with support needs, then by
    decreasing size — so that the rules do not run out of room for them."""
    forced = np.zeros(problem.n_households, dtype=bool)
    forced[list(set(problem.locks) | set(problem.hard_ties))] = True
    need = (np.zeros(problem.n_households, dtype=bool) if problem.support_needs is None
            else np.asarray(problem.support_needs, dtype=bool))
    order = np.asarray(order, dtype=np.int64)
    keys = (-problem.sizes[order], ~need[order], problem.minors()[order] == 0, ~forced[order])
    return order[np.lexsort(keys)]


def greedy_best(problem: MatchProblem, order: np.ndarray | None = None) -> MatchResult:
    """Each household in turn (arrival order by default) to its best municipality with room."""
    t0 = time.perf_counter()
    problem.check_totals()
    elig = problem.eligibility()
    value = problem.household_values() + problem.bonus()
    if order is None:
        order = np.arange(problem.n_households)
    order = _forced_first(problem, np.asarray(order))
    a = _place_greedily(
        problem, order, lambda h, room, left: np.argmax(np.where(room, value[h], -np.inf)), elig
    )
    return _rule_result(problem, a, "grådig (beste ledige kommune)", t0)


def greedy_capacity(problem: MatchProblem, order: np.ndarray | None = None) -> MatchResult:
    """Capacity only: each household to the municipality with most room left relative to its
    decision (ties to the lowest index). Uses no outcome predictions — today's practice."""
    t0 = time.perf_counter()
    problem.check_totals()
    elig = problem.eligibility()
    cap = np.maximum(problem.capacity, 1).astype(float)
    if order is None:
        order = np.arange(problem.n_households)
    order = _forced_first(problem, np.asarray(order))
    a = _place_greedily(
        problem, order, lambda h, room, left: np.argmax(np.where(room, left / cap, -np.inf)), elig
    )
    return _rule_result(problem, a, "grådig (bare kapasitet)", t0)


def random_within_capacity(problem: MatchProblem, rng: np.random.Generator) -> MatchResult:
    """Households in random order, each to a random municipality with room, chosen with
    probability proportional to the room left."""
    t0 = time.perf_counter()
    problem.check_totals()
    elig = problem.eligibility()
    order = _forced_first(problem, rng.permutation(problem.n_households))

    def pick(h: int, room: np.ndarray, left: np.ndarray) -> int:
        w = np.where(room, left, 0).astype(float)
        return int(rng.choice(problem.n_munis, p=w / w.sum()))

    a = _place_greedily(problem, order, pick, elig)
    return _rule_result(problem, a, "tilfeldig innenfor kapasitet", t0)


# ---------------------------------------------------------------------------
# The model (shared by the full MIP and the aggregated formulation)
# ---------------------------------------------------------------------------


@dataclass
class _Units:
    """Rows of the model: 'units' are households or aggregated household types."""

    count: np.ndarray  # (U,) how many households the unit stands for
    size: np.ndarray  # (U,) persons per household
    minors: np.ndarray  # (U,) unaccompanied minors per household
    value: np.ndarray  # (U, M) objective coefficient per household (outcome + bonus)
    eligible: np.ndarray  # (U, M)
    group_value: np.ndarray | None  # (U, G, M) / group size, for the equity rows
    members: list[np.ndarray]  # household indices per unit


def _units(problem: MatchProblem, aggregate: bool) -> _Units:
    elig = problem.eligibility()
    value = problem.household_values() + problem.bonus()
    minors = problem.minors()
    gv = None
    if problem.equity_weight > 0 and problem.groups is not None:
        g_abs, g_n = problem.group_values()
        gv = g_abs / g_n[None, :, None]
    h_n = problem.n_households
    if not aggregate or h_n == 0:
        return _Units(np.ones(h_n, dtype=np.int64), problem.sizes, minors, value, elig, gv,
                      [np.array([h]) for h in range(h_n)])
    special = np.zeros(h_n)
    for h in set(problem.locks) | set(problem.hard_ties) | {h for h, _ in problem.soft_ties} | {
        h for h, _ in problem.forbids
    }:
        special[h] = h + 1
    parts = [value, elig.astype(float), problem.sizes[:, None], minors[:, None], special[:, None]]
    if gv is not None:
        parts.append(gv.reshape(h_n, -1))
    key = np.ascontiguousarray(np.hstack(parts))
    _, first, inv = np.unique(
        key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv)
    members = np.split(order, np.cumsum(counts)[:-1])
    return _Units(
        counts.astype(np.int64),
        problem.sizes[first],
        minors[first],
        value[first],
        elig[first],
        None if gv is None else gv[first],
        members,
    )


class _Model:
    """A HiGHS model over (unit, municipality) columns, built column-wise.

    Rows: one assignment row per unit (= count), one capacity row per municipality
    (≤ capacity), optionally minor rows (≤ EMA decision), fill rows (≥ floor) and
    equity rows (z − Σ group value · x ≤ 0). Minimisation of −objective.
    """

    def __init__(
        self,
        problem: MatchProblem,
        units: _Units,
        integer: bool,
        threads: int | None,
        count: np.ndarray | None = None,
        scale: float = 1.0,
        side_rows: bool = True,
        fixed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ):
        """``count`` overrides the units' counts and ``scale`` multiplies the capacities (used
        when pricing on a sample); ``side_rows=False`` leaves out the fill and equity rows;
        ``fixed`` = (units, municipalities, counts) already placed: their use of capacity,
        EMA places, fill floors and group outcomes is taken off the rows' bounds."""
        self.problem, self.units, self.integer = problem, units, integer
        m = problem.n_munis
        count = units.count if count is None else count
        self.count = count
        n_u = len(units.count)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if threads:
            h.setOptionValue("threads", int(threads))
        self.h = h
        lower = [count.astype(float), np.full(m, -INF)]
        upper = [count.astype(float), scale * problem.capacity.astype(float)]
        self.row_cap = n_u
        nxt = n_u + m
        self.row_minor = self.row_fill = self.row_eq = -1
        if units.minors.any():
            self.row_minor = nxt
            nxt += m
            mcap = np.asarray(problem.minor_capacity, dtype=float)
            lower.append(np.full(m, -INF))
            upper.append(scale * mcap)
        floor = problem.fill_floor() if side_rows else None
        if floor is not None:
            self.row_fill = nxt
            nxt += m
            lower.append(floor.astype(float))
            upper.append(np.full(m, INF))
        self.n_groups = 0
        if units.group_value is not None and side_rows:
            self.n_groups = units.group_value.shape[1]
            self.row_eq = nxt
            nxt += self.n_groups
            lower.append(np.full(self.n_groups, -INF))
            upper.append(np.zeros(self.n_groups))
        lo, up = np.concatenate(lower), np.concatenate(upper)
        if fixed is not None:
            fu, fj, fc = fixed
            fc = fc.astype(float)
            use = np.zeros(len(lo))
            np.add.at(use, self.row_cap + fj, fc * units.size[fu])
            if self.row_minor >= 0:
                np.add.at(use, self.row_minor + fj, fc * units.minors[fu])
            if self.row_fill >= 0:
                np.add.at(use, self.row_fill + fj, fc * units.size[fu])
            if self.n_groups:
                use[self.row_eq:self.row_eq + self.n_groups] -= np.einsum(
                    "cg,c->g", units.group_value[fu, :, fj], fc)
            lo[n_u:] -= use[n_u:]
            up[n_u:] -= use[n_u:]
        h.addRows(len(lo), lo, up, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
        self.n_rows = len(lo)
        self.col_u = np.zeros(0, dtype=np.int64)
        self.col_j = np.zeros(0, dtype=np.int64)
        self.has_z = False
        if self.n_groups:
            # z: the lowest group mean outcome, rewarded with weight × P.
            w = problem.equity_weight * problem.n_persons
            idx = np.arange(self.row_eq, self.row_eq + self.n_groups, dtype=np.int32)
            h.addCols(1, np.array([-w]), np.array([-INF]), np.array([INF]), len(idx),
                      np.array([0], np.int32), idx, np.ones(len(idx)))
            self.has_z = True
        self.offset = 1 if self.has_z else 0

    def add_slack(self, big: float) -> None:
        """Let every unit stay unplaced at a large cost (a big-M phase one): the restricted LP
        is then always feasible and its duals price the missing columns."""
        n_u = len(self.units.count)
        self.h.addCols(n_u, np.full(n_u, big), np.zeros(n_u), self.count.astype(float), n_u,
                       np.arange(n_u, dtype=np.int32), np.arange(n_u, dtype=np.int32),
                       np.ones(n_u))
        self.slack_at = self.offset
        self.offset += n_u

    def slack(self) -> np.ndarray:
        n_u = len(self.units.count)
        return np.asarray(self.h.getSolution().col_value)[self.slack_at:self.slack_at + n_u]

    def add(self, cu: np.ndarray, cj: np.ndarray) -> None:
        if not len(cu):
            return
        u = self.units
        entries_r = [cu, self.row_cap + cj]
        entries_v = [np.ones(len(cu)), u.size[cu].astype(float)]
        if self.row_minor >= 0:
            entries_r.append(self.row_minor + cj)
            entries_v.append(u.minors[cu].astype(float))
        if self.row_fill >= 0:
            entries_r.append(self.row_fill + cj)
            entries_v.append(u.size[cu].astype(float))
        if self.n_groups:
            for g in range(self.n_groups):
                entries_r.append(np.full(len(cu), self.row_eq + g))
                entries_v.append(-u.group_value[cu, g, cj])
        r = np.stack(entries_r, axis=1)
        v = np.stack(entries_v, axis=1)
        keep = v != 0
        nnz_per = keep.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(nnz_per)[:-1]]).astype(np.int32)
        cost = -u.value[cu, cj]
        ub = self.count[cu].astype(float)
        self.h.addCols(len(cu), cost, np.zeros(len(cu)), ub, int(keep.sum()), starts,
                       r[keep].astype(np.int32), v[keep])
        if self.integer:
            idx = np.arange(self.offset + len(self.col_u), self.offset + len(self.col_u) + len(cu),
                            dtype=np.int32)
            self.h.changeColsIntegrality(len(cu), idx, np.full(len(cu), 1, dtype=np.uint8))
        self.col_u = np.concatenate([self.col_u, cu])
        self.col_j = np.concatenate([self.col_j, cj])

    def run(self, mip_gap: float | None = None, time_limit: float | None = None) -> str:
        if mip_gap is not None:
            self.h.setOptionValue("mip_rel_gap", float(mip_gap))
            self.h.setOptionValue("mip_abs_gap", 1e-7)
        if time_limit is not None:
            self.h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
        self.h.run()
        return self.h.modelStatusToString(self.h.getModelStatus())

    def status(self) -> highspy.HighsModelStatus:
        return self.h.getModelStatus()

    def values(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value)[self.offset:]

    def duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().row_dual)

    def reduced_costs(self, y: np.ndarray) -> np.ndarray:
        """(U, M) reduced cost of every unit × municipality pair (minimisation form)."""
        u = self.units
        m = self.problem.n_munis
        n_u = len(u.count)
        d = -u.value - y[:n_u, None] - u.size[:, None] * y[self.row_cap:self.row_cap + m][None, :]
        if self.row_minor >= 0:
            d -= u.minors[:, None] * y[self.row_minor:self.row_minor + m][None, :]
        if self.row_fill >= 0:
            d -= u.size[:, None] * y[self.row_fill:self.row_fill + m][None, :]
        if self.n_groups:
            yg = y[self.row_eq:self.row_eq + self.n_groups]
            d += np.einsum("ugm,g->um", u.group_value, yg)
        return d

    def set_start(self, x: np.ndarray) -> None:
        n = len(x) + self.offset
        vals = np.concatenate([[0.0] * self.offset, x]) if self.offset else x
        if self.has_z:
            # z is free: its best value given x is the smallest group mean.
            u = self.units
            gm = np.einsum("cg,c->g", u.group_value[self.col_u, :, self.col_j], x)
            vals[0] = gm.min()
        self.h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(vals, dtype=float))


_INFEASIBLE_TEXT = (
    "Ingen plassering oppfyller alle kravene samtidig (kapasitet, husholdninger samlet, "
    "enslige mindreårige, oppfølgingsbehov, låsinger, forbud og minsteandel av anmodningen). "
    "Løs opp en lås eller et forbud, senk minsteandelen eller øk kapasiteten."
)


def _assignment_from_units(units: _Units, cu: np.ndarray, cj: np.ndarray, x: np.ndarray,
                           n_households: int) -> np.ndarray:
    """Turn integer unit × municipality counts into a municipality per household."""
    a = np.full(n_households, -1, dtype=np.int64)
    xi = np.rint(x).astype(np.int64)
    pos = np.zeros(len(units.count), dtype=np.int64)
    for k in np.flatnonzero(xi > 0):
        u = cu[k]
        mem = units.members[u]
        a[mem[pos[u]:pos[u] + xi[k]]] = cj[k]
        pos[u] += xi[k]
    return a


def solve_full_mip(
    problem: MatchProblem,
    mip_gap: float = 1e-3,
    time_limit: float | None = None,
    threads: int | None = None,
) -> MatchResult:
    """The straightforward formulation: one binary per household × eligible municipality."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = _units(problem, aggregate=False)
    model = _Model(problem, units, integer=True, threads=threads)
    cu, cj = np.nonzero(units.eligible)
    model.add(cu.astype(np.int64), cj.astype(np.int64))
    build = time.perf_counter() - t0
    model.run(mip_gap, None if time_limit is None else time_limit - build)
    st = model.status()
    if st == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError(_INFEASIBLE_TEXT)
    info = model.h.getInfo()
    if info.primal_solution_status != 2:  # no feasible solution found in time
        return MatchResult(np.full(problem.n_households, -1), -math.inf, -math.inf,
                           -info.mip_dual_bound if math.isfinite(info.mip_dual_bound) else math.nan,
                           "full MIP", time.perf_counter() - t0,
                           stats={"status": model.h.modelStatusToString(st), "columns": len(cu)})
    a = _assignment_from_units(units, model.col_u, model.col_j, model.values(), problem.n_households)
    obj, exp = evaluate(problem, a)
    bound = -info.mip_dual_bound
    return MatchResult(
        a, obj, exp, bound, "full MIP", time.perf_counter() - t0,
        proven=st == highspy.HighsModelStatus.kOptimal,
        stats={"status": model.h.modelStatusToString(st), "columns": len(cu),
               "build_seconds": build, "nodes": int(info.mip_node_count)},
    )


def _repair(problem: MatchProblem, units: _Units, cu: np.ndarray, cj: np.ndarray, x: np.ndarray,
            value_for_pick: np.ndarray) -> np.ndarray | None:
    """Round an LP solution down and place the remaining households greedily (largest first).
    Returns integer counts per column of the (possibly extended) column list, or None."""
    xi = np.floor(x + 1e-7).astype(np.int64)
    m = problem.n_munis
    left = problem.capacity.astype(np.int64) - np.bincount(cj, weights=xi * units.size[cu],
                                                           minlength=m).astype(np.int64)
    mleft = None
    if units.minors.any():
        mleft = np.asarray(problem.minor_capacity, dtype=np.int64) - np.bincount(
            cj, weights=xi * units.minors[cu], minlength=m).astype(np.int64)
    placed = np.bincount(cu, weights=xi, minlength=len(units.count)).astype(np.int64)
    todo = units.count - placed
    extra: dict[tuple[int, int], int] = {}
    for u in np.argsort(-units.size, kind="stable"):
        for _ in range(int(todo[u])):
            room = units.eligible[u] & (left >= units.size[u])
            if mleft is not None and units.minors[u]:
                room &= mleft >= units.minors[u]
            if not room.any():
                return None
            j = int(np.argmax(np.where(room, value_for_pick[u], -np.inf)))
            extra[(int(u), j)] = extra.get((int(u), j), 0) + 1
            left[j] -= units.size[u]
            if mleft is not None:
                mleft[j] -= units.minors[u]
    return xi, extra


def _big_m(problem: MatchProblem, units: _Units) -> float:
    big = 10.0 * (np.abs(units.value).max(initial=0.0) + 1.0) * max(1.0, units.size.max(initial=1))
    if problem.equity_weight > 0:
        big *= 1 + problem.equity_weight * problem.n_persons
    return float(big)


def _column_generation(
    model: _Model, start: np.ndarray, add_per_round: int = 5, max_rounds: int = 200
) -> tuple[np.ndarray, int]:
    """Solve the LP over all eligible pairs, starting from the ``start`` mask (U, M).
    Returns the reduced costs (U, M) at the optimum and the number of rounds."""
    units = model.units
    n_u, m = units.eligible.shape
    present = start & units.eligible
    cu, cj = np.nonzero(present)
    model.add(cu.astype(np.int64), cj.astype(np.int64))
    kk = min(add_per_round, m)
    for rounds in range(1, max_rounds + 1):
        model.run()
        if model.status() != highspy.HighsModelStatus.kOptimal:
            raise InfeasibleError(_INFEASIBLE_TEXT)
        d = model.reduced_costs(model.duals())
        cand = units.eligible & ~present & (d < -1e-7)
        if not cand.any():
            return d, rounds
        dd = np.where(cand, d, np.inf)
        best = np.argpartition(dd, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(
            np.arange(m), (n_u, 1))
        bu = np.repeat(np.arange(n_u), best.shape[1])
        bj = best.ravel()
        ok = cand[bu, bj]
        model.add(bu[ok], bj[ok])
        present[bu[ok], bj[ok]] = True
    raise InfeasibleError("LP-løsningen konvergerte ikke (for mange runder med kolonnegenerering).")


def _top_by(values: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """Mask (U, M) of each row's k largest eligible values."""
    n_u, m = values.shape
    mask = np.zeros((n_u, m), dtype=bool)
    if k >= m:
        return eligible.copy()
    v = np.where(eligible, values, -np.inf)
    top = np.argpartition(-v, k - 1, axis=1)[:, :k]
    mask[np.repeat(np.arange(n_u), k), top.ravel()] = True
    return mask & eligible


def _sample_prices(
    problem: MatchProblem, units: _Units, levels: Sequence[int], k: int, seed: int,
    threads: int | None,
) -> np.ndarray:
    """Capacity prices (per person) from LPs over growing random samples of the households,
    capacities scaled to the sample. Each level starts from the previous level's prices, so
    the column generation on the whole problem starts near its optimum."""
    m = problem.n_munis
    v = np.zeros(m)
    iu = np.empty(problem.n_households, dtype=np.int64)
    for u, mem in enumerate(units.members):
        iu[mem] = u
    rng = np.random.default_rng(seed)
    big = _big_m(problem, units)
    for size in levels:
        if size >= problem.n_households:
            break
        pick = rng.choice(problem.n_households, size=size, replace=False)
        count = np.bincount(iu[pick], minlength=len(units.count))
        model = _Model(problem, units, integer=False, threads=threads, count=count,
                       scale=size / problem.n_households, side_rows=False)
        model.add_slack(big)
        adjusted = units.value - units.size[:, None] * v[None, :]
        active = units.eligible & (count[:, None] > 0)
        start = _top_by(adjusted, active, k)
        sub = _Units(count, units.size, units.minors, units.value, active, None, units.members)
        model.units = sub
        _column_generation(model, start)
        v = -model.duals()[model.row_cap:model.row_cap + m]
    return v


def solve_structured(
    problem: MatchProblem,
    mip_gap: float = 1e-3,
    time_limit: float | None = None,
    initial_candidates: int = 8,
    per_unit_columns: int = 4,
    max_exact_columns: int = 400_000,
    price_levels: Sequence[int] = (600, 2500),
    free_households: Sequence[int] = (0,),
    seed: int = 0,
    threads: int | None = None,
) -> MatchResult:
    """Aggregate, solve the LP by column generation (started from sampled prices), round and
    repair, solve the integer program over a candidate set pruned by reduced cost. The gap is
    always stated against the LP bound of the whole problem. See the module docstring."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = _units(problem, aggregate=True)
    n_u, m = len(units.count), problem.n_munis
    iu = np.empty(problem.n_households, dtype=np.int64)
    for u, mem in enumerate(units.members):
        iu[mem] = u
    v0 = _sample_prices(problem, units, price_levels, initial_candidates, seed, threads)
    t_prices = time.perf_counter() - t0
    lp = _Model(problem, units, integer=False, threads=threads)
    lp.add_slack(_big_m(problem, units))
    start = _top_by(units.value - units.size[:, None] * v0[None, :], units.eligible,
                    initial_candidates)
    d, rounds = _column_generation(lp, start)
    if lp.slack().max(initial=0) > 1e-6:
        raise InfeasibleError(_INFEASIBLE_TEXT)
    z_lp = -lp.h.getInfo().objective_function_value
    x_lp = lp.values()
    lp_u, lp_j = lp.col_u, lp.col_j
    y = lp.duals()
    cap_prices = -y[lp.row_cap:lp.row_cap + m]
    stats: dict = {"households": problem.n_households, "types": n_u, "lp_rounds": rounds,
                   "lp_columns": len(lp_u), "lp_bound": z_lp,
                   "price_seconds": round(t_prices, 3),
                   "lp_seconds": round(time.perf_counter() - t0, 3)}
    del lp

    # Incumbent: round the LP down, place the rest greedily by price-adjusted value.
    z_inc, inc_a = -math.inf, None
    rep = _repair(problem, units, lp_u, lp_j, x_lp, -d)
    if rep is not None:
        xi, extra = rep
        a = _assignment_from_units(units, lp_u, lp_j, xi, problem.n_households)
        for (u, j), c in extra.items():
            mem = units.members[u]
            a[mem[a[mem] < 0][:c]] = j
        if not violations(problem, a):
            inc_a, z_inc = a, evaluate(problem, a)[0]
    stats["rounded_incumbent"] = z_inc

    def done(a: np.ndarray, bound: float, step: str, proven: bool) -> MatchResult:
        obj, exp = evaluate(problem, a)
        stats["step"] = step
        return MatchResult(a, obj, exp, bound, "strukturert", time.perf_counter() - t0,
                           proven=proven, stats=stats, capacity_prices=cap_prices)

    def target_met(z: float) -> bool:
        return mip_gap > 0 and (z_lp - z) <= mip_gap * abs(z_lp) + 1e-9

    if inc_a is not None and target_met(z_inc):
        return done(inc_a, z_lp, "avrundet LP + reparasjon", True)

    def fix_and_solve(n_free: int) -> np.ndarray | None:
        """Keep most of the LP's integral part and solve the rest as a small integer program:
        the fractional households plus the ``n_free`` placed households that are cheapest to
        move (smallest reduced cost of their best alternative), so that swaps are possible.
        Every municipality with room is a candidate for the residual households."""
        xi = np.floor(x_lp + 1e-7).astype(np.int64)
        if n_free > 0:
            placed = np.flatnonzero(xi > 0)
            dd = np.where(units.eligible, d, np.inf)
            dd[lp_u[placed], lp_j[placed]] = np.inf
            second = np.partition(dd, 1, axis=1)[:, 0] if m > 1 else np.zeros(n_u)
            cost = second[lp_u[placed]]
            order = placed[np.argsort(cost, kind="stable")]
            budget = n_free
            for k in order:
                if budget <= 0:
                    break
                take = min(int(xi[k]), budget)
                xi[k] -= take
                budget -= take
        rest = units.count - np.bincount(lp_u, weights=xi, minlength=n_u).astype(np.int64)
        if rest.sum() == 0:
            return _assignment_from_units(units, lp_u, lp_j, xi, problem.n_households)
        nzf = xi > 0
        sub = _Model(problem, units, integer=True, threads=threads, count=rest,
                     fixed=(lp_u[nzf], lp_j[nzf], xi[nzf]))
        used = np.bincount(lp_j[nzf], weights=xi[nzf] * units.size[lp_u[nzf]], minlength=m)
        room = problem.capacity - used
        # every municipality with room for the household after the fixed part
        cand = units.eligible & (rest[:, None] > 0) & (units.size[:, None] <= room[None, :])
        mu, mj = np.nonzero(cand)
        sub.add(mu.astype(np.int64), mj.astype(np.int64))
        sub.h.setOptionValue("mip_abs_gap", max(0.25 * mip_gap * abs(z_lp), 1e-7))
        sub.h.setOptionValue("mip_rel_gap", 0.0)
        left = None if time_limit is None else 0.4 * (time_limit - (time.perf_counter() - t0))
        if left is not None:
            sub.h.setOptionValue("time_limit", float(max(left, 0.01)))
        sub.h.run()
        stats.setdefault("fix_columns", []).append(len(mu))
        stats.setdefault("fix_households", []).append(int(rest.sum()))
        stats.setdefault("fix_status", []).append(sub.h.modelStatusToString(sub.status()))
        if sub.h.getInfo().primal_solution_status != 2:
            return None
        cu = np.concatenate([lp_u[nzf], sub.col_u])
        cj = np.concatenate([lp_j[nzf], sub.col_j])
        cx = np.concatenate([xi[nzf], np.rint(sub.values())])
        return _assignment_from_units(units, cu, cj, cx, problem.n_households)

    for n_free in (free_households if mip_gap > 0 else ()):
        a = fix_and_solve(n_free)
        if a is not None and not violations(problem, a):
            z = evaluate(problem, a)[0]
            if z > z_inc:
                inc_a, z_inc = a, z
        stats.setdefault("fixed_incumbent", []).append(z_inc)
        if inc_a is not None and target_met(z_inc):
            return done(inc_a, z_lp, "LP-heltallsdel fast + liten MIP for resten", True)

    def run_mip(mask: np.ndarray, gap: float) -> tuple[np.ndarray | None, float, bool]:
        mask = mask.copy()
        if inc_a is not None:
            mask[iu, inc_a] = True
        mu, mj = np.nonzero(mask)
        mip = _Model(problem, units, integer=True, threads=threads)
        mip.add(mu.astype(np.int64), mj.astype(np.int64))
        if inc_a is not None:
            col = np.full((n_u, m), -1, dtype=np.int64)
            col[mu, mj] = np.arange(len(mu))
            x0 = np.bincount(col[iu, inc_a], minlength=len(mu)).astype(float)
            mip.set_start(x0)
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        mip.run(gap, left)
        info = mip.h.getInfo()
        stats.setdefault("mip_columns", []).append(len(mu))
        stats.setdefault("mip_status", []).append(mip.h.modelStatusToString(mip.status()))
        if info.primal_solution_status != 2:
            return None, math.inf, False
        a = _assignment_from_units(units, mip.col_u, mip.col_j, mip.values(),
                                   problem.n_households)
        bound = -info.mip_dual_bound if math.isfinite(info.mip_dual_bound) else math.inf
        return a, bound, mip.status() == highspy.HighsModelStatus.kOptimal

    # Heuristic candidate set: the LP support and each type's best pairs by reduced cost.
    if mip_gap > 0:
        support = np.zeros((n_u, m), dtype=bool)
        nz = x_lp > 1e-9
        support[lp_u[nz], lp_j[nz]] = True
        mask = support | _top_by(-d, units.eligible, per_unit_columns)
        a, _, _ = run_mip(mask, mip_gap * 0.5)
        if a is not None:
            z = evaluate(problem, a)[0]
            if z > z_inc:
                inc_a, z_inc = a, z
        if inc_a is not None and target_met(z_inc):
            return done(inc_a, z_lp, "beskåret MIP (redusert kostnad)", True)
    # Exact pruning: a pair whose reduced cost exceeds z_lp - z_inc cannot be in any
    # solution better than the incumbent.
    delta = (z_lp - z_inc) if inc_a is not None else math.inf
    keep = units.eligible & (d <= delta + 1e-7)
    if int(keep.sum()) > max_exact_columns and mip_gap > 0:
        if inc_a is None:
            raise InfeasibleError(_INFEASIBLE_TEXT)
        return done(inc_a, z_lp, "beste funnet (gapet er over målet)", False)
    a, sub_bound, optimal = run_mip(keep, mip_gap)
    if a is None:
        if inc_a is None:
            raise InfeasibleError(_INFEASIBLE_TEXT)
        return done(inc_a, z_lp, "beste funnet (tidsgrense)", False)
    z = evaluate(problem, a)[0]
    if z < z_inc and inc_a is not None:
        a, z = inc_a, z_inc
    bound = min(z_lp, max(sub_bound, z))
    return done(a, bound, "eksakt beskjæring + MIP", optimal or target_met(z))


def solve(problem: MatchProblem, mip_gap: float = 1e-3, time_limit: float | None = None,
          threads: int | None = None) -> MatchResult:
    """The default solver: the structured one; with balance rows (``min_fill``) that it
    reports infeasible, the full formulation with the same solver decides, so a
    feasible problem is never refused."""
    try:
        return solve_structured(problem, mip_gap=mip_gap, time_limit=time_limit,
                                threads=threads)
    except InfeasibleError:
        if problem.min_fill <= 0:
            raise
        result = solve_full_mip(problem, mip_gap=mip_gap,
                                time_limit=time_limit if time_limit is not None else 60.0)
        if result.assignment is None or violations(problem, result.assignment):
            raise
        result.stats["fallback"] = "full MIP (structured solver rejected the fill rows)"
        return result


def resolve(
    problem: MatchProblem,
    previous: MatchResult,
    free_per_municipality: int = 80,
    mip_gap: float = 1e-4,
) -> MatchResult:
    """Re-solve after a planner adds locks or forbids, warm-started from ``previous``.

    Everything stays where it was except a neighbourhood: the households whose placement
    the new locks/forbids change, and in every municipality they leave or enter the
    ``free_per_municipality`` households that are cheapest to move (by the previous
    solution's capacity prices). That sub-problem is solved exactly on the room the fixed
    households leave. Locks and forbids only restrict the problem, so the previous bound
    stays a valid bound and the gap is stated against it.
    """
    t0 = time.perf_counter()
    a = np.asarray(previous.assignment, dtype=np.int64).copy()
    if a.shape != (problem.n_households,):
        raise UserError("Forrige løsning passer ikke med kohorten (ulikt antall husholdninger).")
    elig = problem.eligibility()
    moved = [h for h in range(problem.n_households) if not elig[h, a[h]]]
    touched = {int(a[h]) for h in moved} | {int(j) for h, j in problem.locks.items()}
    free = np.zeros(problem.n_households, dtype=bool)
    free[moved] = True
    prices = (previous.capacity_prices if previous.capacity_prices is not None
              else np.zeros(problem.n_munis))
    value = problem.household_values() + problem.bonus()
    adj = np.where(elig, value - problem.sizes[:, None] * prices[None, :], -np.inf)
    here = adj[np.arange(problem.n_households), a]
    alt = adj.copy()
    alt[np.arange(problem.n_households), a] = -np.inf
    penalty = here - alt.max(axis=1)
    for j in touched:
        members = np.flatnonzero(a == j)
        members = members[np.argsort(penalty[members], kind="stable")][:free_per_municipality]
        free[members] = True
    idx = np.flatnonzero(free)
    fixed = ~free
    used = np.bincount(a[fixed], weights=problem.sizes[fixed], minlength=problem.n_munis)
    minors = problem.minors()
    sub_persons: list[np.ndarray] = [np.asarray(problem.households[h]) for h in idx]
    remap = {}
    persons = np.concatenate(sub_persons)
    for k, p in enumerate(persons):
        remap[int(p)] = k
    sub_households = [[remap[int(p)] for p in hh] for hh in sub_persons]
    pos = {int(h): k for k, h in enumerate(idx)}
    mcap = None
    if problem.minor_capacity is not None:
        mcap = np.asarray(problem.minor_capacity, dtype=np.int64) - np.bincount(
            a[fixed], weights=minors[fixed], minlength=problem.n_munis).astype(np.int64)
    request = None
    if problem.fill_floor() is not None:
        # the fixed part already fills some of the floor; keep what is left as a floor
        request = np.maximum(problem.fill_floor() - used, 0)
    sub = MatchProblem(
        scores=problem.scores[persons],
        households=sub_households,
        capacity=(problem.capacity - used).astype(np.int64),
        muni_codes=problem.muni_codes,
        household_ids=[problem.hh_name(int(h)) for h in idx],
        unaccompanied=None if problem.unaccompanied is None else minors[idx],
        minor_capacity=mcap,
        support_needs=None if problem.support_needs is None
        else np.asarray(problem.support_needs)[idx],
        can_support=problem.can_support,
        hard_ties={pos[h]: j for h, j in problem.hard_ties.items() if h in pos},
        soft_ties={(pos[h], j): v for (h, j), v in problem.soft_ties.items() if h in pos},
        locks={pos[h]: j for h, j in problem.locks.items() if h in pos},
        forbids={(pos[h], j) for h, j in problem.forbids if h in pos},
        request=request,
        min_fill=1.0 if request is not None else 0.0,
    )
    try:
        r = solve_structured(sub, mip_gap=mip_gap, price_levels=())
    except InfeasibleError:
        # the neighbourhood was too small: solve the whole problem again
        full = solve_structured(problem)
        full.stats["resolve"] = "hele problemet (nabolaget var for lite)"
        return full
    a[idx] = r.assignment
    obj, exp = evaluate(problem, a)
    bad = violations(problem, a)
    if bad:
        full = solve_structured(problem)
        full.stats["resolve"] = "hele problemet (" + bad[0] + ")"
        return full
    bound = previous.bound if math.isfinite(previous.bound) else math.nan
    return MatchResult(
        a, obj, exp, bound, "ny løsning etter låsing (varmstart)", time.perf_counter() - t0,
        proven=math.isfinite(bound) and (bound - obj) <= 1e-3 * abs(bound),
        stats={"free_households": len(idx), "moved": len(moved)},
        capacity_prices=previous.capacity_prices,
    )
