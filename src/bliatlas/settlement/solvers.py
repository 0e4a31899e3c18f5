"""Solvers for :class:`~.problem.MatchProblem`, all through :mod:`~.highs`.

* :func:`solve_structured` — the default. The problem is a transportation problem over
  household *types* (identical households aggregated) × municipalities whose only
  integrality comes from household sizes. The LP relaxation is solved by column generation
  (start from each type's best candidates under capacity prices sampled on small
  subproblems, price every eligible pair with the duals, add improving columns until none);
  the LP is rounded and repaired into an incumbent; then the integer program is solved
  over a candidate set pruned by reduced cost: with LP bound ``z_LP`` and incumbent
  ``z_inc``, a pair with reduced cost worse than ``z_LP − z_inc`` is in no better solution
  (:attr:`MatchResult.proven`). On large instances the pruned set keeps the LP support and
  each type's best pairs; the gap stated is always against the global LP bound.
* :func:`solve_exact` — the same aggregated integer program over *all* eligible type ×
  municipality columns (exact; for the stress set and as the last resort).
* :func:`solve_full_lp_rounding` — the fair naive baseline: the LP over all eligible
  columns at once, rounded down and repaired.
* :func:`solve_full_mip` — one binary per household × eligible municipality.
* :func:`solve` — :func:`solve_structured` behind the promise that "infeasible" is only
  said with a proof; :func:`resolve` — warm re-solve after locks and forbids.

**No false "infeasible".** The LP carries a penalised slack on every household row *and*
every floor row, so the restricted LP is always feasible and its duals price the missing
columns. When the slack stays positive at the LP optimum, a phase-one LP (minimise the
slack, every eligible column priced) gives a Farkas certificate: multipliers for the rows
such that every eligible column has a non-positive combined coefficient while the combined
right-hand side is positive. :func:`verify_certificate` checks it on the households
themselves, independently of the solver, and the message names the rows it uses. When the
LP is feasible and no integer placement is found, the solver falls back (more freedom in
the repair MIP, the exact MIP over all columns); only the exact MIP's "infeasible" proves
it, and then each constraint family is dropped in turn to name the ones that bind. If
time runs out first, :class:`~.problem.NoPlacementFound` says that no placement was found
and that none is proven impossible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bliatlas.errors import UserError
from bliatlas.format import fmt_count
from bliatlas.settlement.checks import violations
from bliatlas.settlement.highs import INF, Model
from bliatlas.settlement.problem import (
    InfeasibleError,
    MatchProblem,
    MatchResult,
    NoPlacementFound,
    evaluate,
    published,
)

_TOL = 1e-7
#: The heuristic (pruned) MIP is a means to an incumbent, not a proof: bounded in time.
PRUNED_MIP_SECONDS = 15.0
#: The large-neighbourhood search's own limit when the solver has none.
LNS_SECONDS = 30.0


# ---------------------------------------------------------------------------
# Units: households or aggregated household types
# ---------------------------------------------------------------------------


@dataclass
class Units:
    """Rows of the model: 'units' are households or aggregated household types."""

    count: np.ndarray  # (U,) how many households the unit stands for
    size: np.ndarray  # (U,) persons per household
    uses: np.ndarray  # (U, R) resource use per household (EMA places first, if any)
    value: np.ndarray  # (U, M) objective coefficient per household (scores + bonus)
    eligible: np.ndarray  # (U, M)
    group_value: np.ndarray | None  # (U, G, M) / group size, for the equity rows
    members: list[np.ndarray]  # household indices per unit

    def index_of_households(self, n_households: int) -> np.ndarray:
        iu = np.empty(n_households, dtype=np.int64)
        for u, mem in enumerate(self.members):
            iu[mem] = u
        return iu


def make_units(problem: MatchProblem, aggregate: bool = True) -> Units:
    elig = problem.eligibility()
    value = problem.household_values() + problem.bonus()
    res = problem.all_resources()
    uses = (np.stack([r.use for r in res], axis=1) if res
            else np.zeros((problem.n_households, 0), dtype=np.int64))
    gv = None
    if problem.equity_weight > 0 and problem.groups is not None:
        g_abs, g_n = problem.group_values()
        gv = g_abs / g_n[None, :, None]
    h_n = problem.n_households
    if not aggregate or h_n == 0:
        return Units(np.ones(h_n, dtype=np.int64), problem.sizes, uses, value, elig, gv,
                     [np.array([h]) for h in range(h_n)])
    special = np.zeros(h_n)
    marked = (set(problem.locks) | set(problem.hard_ties) | {h for h, _ in problem.soft_ties}
              | {h for h, _ in problem.forbids} | {h for h, _ in problem.preferences}
              | {h for h, _ in problem.allowed})
    for h in marked:
        special[h] = h + 1
    parts = [value, elig.astype(float), problem.sizes[:, None].astype(float),
             uses.astype(float), special[:, None]]
    if gv is not None:
        parts.append(gv.reshape(h_n, -1))
    key = np.ascontiguousarray(np.hstack(parts))
    _, first, inv = np.unique(
        key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel(),
        return_index=True, return_inverse=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv)
    members = np.split(order, np.cumsum(counts)[:-1])
    return Units(counts.astype(np.int64), problem.sizes[first], uses[first], value[first],
                 elig[first], None if gv is None else gv[first], members)


# ---------------------------------------------------------------------------
# The model over (unit, municipality) columns
# ---------------------------------------------------------------------------


class UnitModel:
    """A HiGHS model over (unit, municipality) columns, built column-wise.

    Rows: one assignment row per unit (= count), one capacity row per municipality
    (≤ capacity), one row per resource and municipality (≤ what it offers), floor rows
    (≥ floor), overflow rows for the soft capacity and the spread term (used − eⱼ ≤
    targetⱼ, eⱼ at a cost per person) and equity rows (z − Σ group value ·
    x ≤ 0). Minimisation of −objective; ``phase_one`` sets every cost to 0 (only the
    slack counts), for the infeasibility proof.
    """

    def __init__(self, problem: MatchProblem, units: Units, integer: bool,
                 threads: int | None = None, count: np.ndarray | None = None,
                 scale: float = 1.0, side_rows: bool = True,
                 fixed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 phase_one: bool = False) -> None:
        """``count`` overrides the units' counts and ``scale`` multiplies the capacities (used
        when pricing on a sample); ``side_rows=False`` leaves out the floor, spread and
        equity rows; ``fixed`` = (units, municipalities, counts) already placed: their use
        of every row is taken off the rows' bounds."""
        self.problem, self.units, self.integer = problem, units, integer
        self.phase_one = phase_one
        m = problem.n_munis
        count = units.count if count is None else count
        self.count = count
        n_u = len(units.count)
        self.model = Model(threads)
        res = problem.all_resources()
        lower = [count.astype(float), np.full(m, -INF)]
        upper = [count.astype(float), scale * problem.capacity.astype(float)]
        self.row_cap = n_u
        nxt = n_u + m
        self.row_res: list[int] = []
        self.res_index: list[int] = []
        for k, r in enumerate(res):
            if not units.uses[:, k].any():
                continue
            self.row_res.append(nxt)
            self.res_index.append(k)
            nxt += m
            lower.append(np.full(m, -INF))
            upper.append(scale * r.capacity.astype(float))
        self.floor = problem.fill_floor() if side_rows else None
        self.row_floor = -1
        if self.floor is not None:
            self.row_floor = nxt
            nxt += m
            lower.append(self.floor.astype(float))
            upper.append(np.full(m, INF))
        # overflow rows (soft capacity, spread): used − eⱼ ≤ targetⱼ, eⱼ ≥ 0 at a cost
        terms = problem.overflow_terms() if side_rows and not phase_one else []
        self.overflow: list[tuple[int, float]] = []  # (first row, weight)
        for target, weight in terms:
            self.overflow.append((nxt, weight))
            nxt += m
            lower.append(np.full(m, -INF))
            upper.append(target.astype(float))
        self.n_groups = 0
        if units.group_value is not None and side_rows and not phase_one:
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
            for row, k in zip(self.row_res, self.res_index, strict=True):
                np.add.at(use, row + fj, fc * units.uses[fu, k])
            if self.row_floor >= 0:
                np.add.at(use, self.row_floor + fj, fc * units.size[fu])
            for row, _ in self.overflow:
                np.add.at(use, row + fj, fc * units.size[fu])
            if self.n_groups:
                use[self.row_eq:self.row_eq + self.n_groups] -= np.einsum(
                    "cg,c->g", units.group_value[fu, :, fj], fc)
            lo[n_u:] -= use[n_u:]
            up[n_u:] -= use[n_u:]
        self.model.add_rows(lo, up)
        self.lo, self.up = lo, up
        self.col_u = np.zeros(0, dtype=np.int64)
        self.col_j = np.zeros(0, dtype=np.int64)
        self.offset = 0
        self.has_z = False
        if self.n_groups:
            # z: the lowest group mean outcome, rewarded with weight × P.
            w = problem.equity_weight * problem.n_persons
            idx = np.arange(self.row_eq, self.row_eq + self.n_groups)
            self.model.add_columns([-w], [-INF], [INF], [0], idx, np.ones(len(idx)))
            self.has_z = True
            self.offset += 1
        self.overflow_at: list[int] = []
        for row, weight in self.overflow:
            self.overflow_at.append(self.offset)
            self.model.add_columns(np.full(m, weight), np.zeros(m), np.full(m, INF),
                                   np.arange(m), row + np.arange(m), -np.ones(m))
            self.offset += m
        self.slack_at = -1
        self.floor_slack_at = -1

    def add_slack(self, big: float) -> None:
        """Let every unit stay unplaced, and every floor fall short, at a large cost (a
        big-M phase one): the restricted LP is then always feasible and its duals price
        the missing columns."""
        n_u = len(self.units.count)
        self.slack_at = self.offset
        # In phase one no column has an upper bound (they are implied by the rows), so
        # that the row duals alone are the Farkas certificate.
        ub = np.full(n_u, INF) if self.phase_one else self.count.astype(float)
        self.model.add_columns(np.full(n_u, big), np.zeros(n_u), ub,
                               np.arange(n_u), np.arange(n_u), np.ones(n_u))
        self.offset += n_u
        if self.row_floor >= 0:
            m = self.problem.n_munis
            self.floor_slack_at = self.offset
            need = np.maximum(self.lo[self.row_floor:self.row_floor + m], 0)
            self.model.add_columns(np.full(m, big), np.zeros(m),
                                   np.full(m, INF) if self.phase_one else need, np.arange(m),
                                   self.row_floor + np.arange(m), np.ones(m))
            self.offset += m

    def slack(self) -> np.ndarray:
        """Slack values (units, then floors)."""
        x = self.model.values()
        parts = []
        if self.slack_at >= 0:
            parts.append(x[self.slack_at:self.slack_at + len(self.units.count)])
        if self.floor_slack_at >= 0:
            parts.append(x[self.floor_slack_at:self.floor_slack_at + self.problem.n_munis])
        return np.concatenate(parts) if parts else np.zeros(0)

    def add(self, cu: np.ndarray, cj: np.ndarray) -> None:
        if not len(cu):
            return
        u = self.units
        entries_r = [cu, self.row_cap + cj]
        entries_v = [np.ones(len(cu)), u.size[cu].astype(float)]
        for row, k in zip(self.row_res, self.res_index, strict=True):
            entries_r.append(row + cj)
            entries_v.append(u.uses[cu, k].astype(float))
        if self.row_floor >= 0:
            entries_r.append(self.row_floor + cj)
            entries_v.append(u.size[cu].astype(float))
        for row, _ in self.overflow:
            entries_r.append(row + cj)
            entries_v.append(u.size[cu].astype(float))
        for g in range(self.n_groups):
            entries_r.append(np.full(len(cu), self.row_eq + g))
            entries_v.append(-u.group_value[cu, g, cj])
        cost = np.zeros(len(cu)) if self.phase_one else -u.value[cu, cj]
        ub = np.full(len(cu), INF) if self.phase_one and not self.integer else \
            self.count[cu].astype(float)
        first = self.model.add_columns_dense_rows(
            cost, np.zeros(len(cu)), ub,
            np.stack(entries_r, axis=1), np.stack(entries_v, axis=1))
        if self.integer:
            self.model.set_integer(first, len(cu))
        self.col_u = np.concatenate([self.col_u, cu])
        self.col_j = np.concatenate([self.col_j, cj])

    def values(self) -> np.ndarray:
        return self.model.values()[self.offset:]

    def duals(self) -> np.ndarray:
        return self.model.row_duals()

    def reduced_costs(self, y: np.ndarray) -> np.ndarray:
        """(U, M) reduced cost of every unit × municipality pair (minimisation form)."""
        u = self.units
        m = self.problem.n_munis
        n_u = len(u.count)
        base = np.zeros_like(u.value) if self.phase_one else -u.value
        d = base - y[:n_u, None] - u.size[:, None] * y[self.row_cap:self.row_cap + m][None, :]
        for row, k in zip(self.row_res, self.res_index, strict=True):
            d -= u.uses[:, k][:, None] * y[row:row + m][None, :]
        if self.row_floor >= 0:
            d -= u.size[:, None] * y[self.row_floor:self.row_floor + m][None, :]
        for row, _ in self.overflow:
            d -= u.size[:, None] * y[row:row + m][None, :]
        if self.n_groups:
            yg = y[self.row_eq:self.row_eq + self.n_groups]
            d += np.einsum("ugm,g->um", u.group_value, yg)
        return d

    def start_from(self, x: np.ndarray) -> None:
        """Warm-start the MIP from counts per x column (the other columns get values that
        keep their rows satisfied)."""
        vals = np.zeros(self.offset + len(x))
        vals[self.offset:] = x
        if self.overflow:
            m = self.problem.n_munis
            used = np.bincount(self.col_j, weights=x * self.units.size[self.col_u], minlength=m)
            for (row, _), at in zip(self.overflow, self.overflow_at, strict=True):
                target = self.up[row:row + m]
                vals[at:at + m] = np.maximum(used - target, 0)
        if self.has_z:
            # z ≤ Σ group value · x + what a fixed part already holds (the row's bound)
            gm = np.einsum("cg,c->g", self.units.group_value[self.col_u, :, self.col_j], x)
            vals[0] = float((gm + self.up[self.row_eq:self.row_eq + self.n_groups]).min())
        self.model.set_start(vals)


def _assignment_from_units(units: Units, cu: np.ndarray, cj: np.ndarray, x: np.ndarray,
                           n_households: int) -> np.ndarray:
    """Turn integer unit × municipality counts into a municipality per household (−1 for
    households the counts leave out)."""
    a = np.full(n_households, -1, dtype=np.int64)
    xi = np.rint(x).astype(np.int64)
    pos = np.zeros(len(units.count), dtype=np.int64)
    for k in np.flatnonzero(xi > 0):
        u = cu[k]
        mem = units.members[u]
        a[mem[pos[u]:pos[u] + xi[k]]] = cj[k]
        pos[u] += xi[k]
    return a


def _big_m(problem: MatchProblem, units: Units) -> float:
    big = 10.0 * (np.abs(units.value).max(initial=0.0) + 1.0) * max(1.0, units.size.max(initial=1))
    if problem.equity_weight > 0:
        big *= 1 + problem.equity_weight * problem.n_persons
    for _, weight in problem.overflow_terms():
        big += 10.0 * weight * max(1.0, units.size.max(initial=1))
    return float(big)


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


def _column_generation(model: UnitModel, start: np.ndarray, add_per_round: int = 5,
                       max_rounds: int = 400, deadline: float | None = None
                       ) -> tuple[np.ndarray, int, bool]:
    """Solve the LP over all eligible pairs, starting from the ``start`` mask (U, M).
    Returns the reduced costs (U, M) at the end, the number of rounds and whether no
    eligible column with negative reduced cost is left (the LP optimum over all pairs)."""
    units = model.units
    n_u, m = units.eligible.shape
    present = start & units.eligible
    cu, cj = np.nonzero(present)
    model.add(cu.astype(np.int64), cj.astype(np.int64))
    kk = min(add_per_round, m)
    d = np.zeros((n_u, m))
    for rounds in range(1, max_rounds + 1):
        model.model.run()
        if not model.model.optimal:
            # with the slack columns the restricted LP is always feasible and bounded
            raise UserError("LP-løseren svarte ikke med en optimal løsning "
                            f"({model.model.status_text}).")
        d = model.reduced_costs(model.duals())
        cand = units.eligible & ~present & (d < -_TOL)
        if not cand.any():
            return d, rounds, True
        if deadline is not None and time.perf_counter() > deadline:
            return d, rounds, False
        dd = np.where(cand, d, np.inf)
        best = (np.argpartition(dd, kk - 1, axis=1)[:, :kk] if kk < m
                else np.tile(np.arange(m), (n_u, 1)))
        bu = np.repeat(np.arange(n_u), best.shape[1])
        bj = best.ravel()
        ok = cand[bu, bj]
        model.add(bu[ok], bj[ok])
        present[bu[ok], bj[ok]] = True
    return d, max_rounds, False


def _sample_prices(problem: MatchProblem, units: Units, levels: Sequence[int], k: int,
                   seed: int, threads: int | None) -> np.ndarray:
    """Capacity prices (per person) from LPs over growing random samples of the households,
    capacities scaled to the sample. Each level starts from the previous level's prices, so
    the column generation on the whole problem starts near its optimum."""
    m = problem.n_munis
    v = np.zeros(m)
    iu = units.index_of_households(problem.n_households)
    rng = np.random.default_rng(seed)
    big = _big_m(problem, units)
    for size in levels:
        if size >= problem.n_households:
            break
        pick = rng.choice(problem.n_households, size=size, replace=False)
        count = np.bincount(iu[pick], minlength=len(units.count))
        model = UnitModel(problem, units, integer=False, threads=threads, count=count,
                          scale=size / problem.n_households, side_rows=False)
        model.add_slack(big)
        adjusted = units.value - units.size[:, None] * v[None, :]
        active = units.eligible & (count[:, None] > 0)
        start = _top_by(adjusted, active, k)
        sub = Units(count, units.size, units.uses, units.value, active, None, units.members)
        model.units = sub
        _column_generation(model, start)
        v = -model.duals()[model.row_cap:model.row_cap + m]
    return v


# ---------------------------------------------------------------------------
# Infeasibility proofs
# ---------------------------------------------------------------------------


@dataclass
class Certificate:
    """Farkas multipliers: ``alpha`` per household (free), ``beta`` ≥ 0 per capacity row,
    ``gamma`` ≥ 0 per resource row (R, M), ``delta`` ≥ 0 per floor row."""

    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    delta: np.ndarray
    margin: float = 0.0  # combined right-hand side minus the worst the columns can add


def verify_certificate(problem: MatchProblem, cert: Certificate) -> float:
    """The margin by which ``cert`` proves that no (even fractional) placement exists, > 0
    when it does. Computed on the households, independently of any solver: for every
    feasible placement Σ_{h,j} x_hj·k_hj ≥ R with k_hj = α_h − β_j·size_h − Σ_r γ_rj·use_rh
    + δ_j·size_h and R = Σ α_h − Σ β_j·cap_j − Σ γ_rj·rcap_rj + Σ δ_j·floor_j; since every
    household is placed once, Σ x·k ≤ Σ_h max_j max(k_hj, 0); the margin is R minus that."""
    elig = problem.eligibility()
    res = problem.all_resources()
    sizes = problem.sizes.astype(float)
    k = cert.alpha[:, None] - sizes[:, None] * cert.beta[None, :] \
        + sizes[:, None] * cert.delta[None, :]
    for r_i, r in enumerate(res):
        k -= r.use[:, None].astype(float) * cert.gamma[r_i][None, :]
    k = np.where(elig, k, -np.inf)
    worst = np.maximum(k.max(axis=1), 0.0).sum()
    floor = problem.fill_floor()
    rhs = cert.alpha.sum() - float(cert.beta @ problem.capacity)
    for r_i, r in enumerate(res):
        rhs -= float(cert.gamma[r_i] @ r.capacity)
    if floor is not None:
        rhs += float(cert.delta @ floor)
    if (cert.beta < -1e-12).any() or (cert.gamma < -1e-12).any() or (cert.delta < -1e-12).any():
        return -math.inf
    return float(rhs - worst)


def _lp_certificate(problem: MatchProblem, units: Units, threads: int | None,
                    deadline: float | None, start: np.ndarray | None = None
                    ) -> Certificate | None:
    """Phase one over all eligible columns: minimise the slack. A positive optimum gives
    the Farkas multipliers (the row duals); None when the LP is feasible. ``start`` (U, M):
    the columns to begin from — the big-M LP's columns when it has just converged with
    slack left (phase one then converges in a round or two; from each unit's best pairs by
    value, with every cost 0, the pricing adds degenerate columns for minutes on a
    national instance)."""
    model = UnitModel(problem, units, integer=False, threads=threads, phase_one=True)
    model.add_slack(1.0)
    if start is None:
        start = _top_by(units.value, units.eligible, 8)
    _, _, complete = _column_generation(model, start, deadline=deadline)
    if not complete:
        return None
    if model.model.objective <= 1e-6:
        return None
    y = model.duals()
    n_u, m = len(units.count), problem.n_munis
    iu = units.index_of_households(problem.n_households)
    res = problem.all_resources()
    gamma = np.zeros((len(res), m))
    for row, k in zip(model.row_res, model.res_index, strict=True):
        gamma[k] = np.maximum(-y[row:row + m], 0)
    delta = (np.maximum(y[model.row_floor:model.row_floor + m], 0) if model.row_floor >= 0
             else np.zeros(m))
    cert = Certificate(alpha=y[:n_u][iu].astype(float),
                       beta=np.maximum(-y[model.row_cap:model.row_cap + m], 0),
                       gamma=gamma, delta=delta)
    cert.margin = verify_certificate(problem, cert)
    return cert if cert.margin > 1e-7 else None


def _names(problem: MatchProblem, idx: np.ndarray, numbers: np.ndarray, word: str,
           limit: int = 6) -> str:
    order = idx[np.argsort(-numbers[idx], kind="stable")]
    shown = [f"{problem.muni_name(int(j))} ({word} {int(numbers[j])})" for j in order[:limit]]
    more = f" og {len(order) - limit} til" if len(order) > limit else ""
    return ", ".join(shown) + more


def _certificate_message(problem: MatchProblem, cert: Certificate) -> tuple[str, list[str]]:
    """Norwegian text naming the rows the certificate combines."""
    parts, binding = [], []
    floor = problem.fill_floor()
    f_idx = np.flatnonzero(cert.delta > 1e-9)
    if len(f_idx) and floor is not None:
        elig = problem.eligibility()
        reach = (problem.sizes[:, None] * elig).sum(axis=0)
        text = (f"minsteandelen i {fmt_count(len(f_idx), 'kommune', 'kommuner')}: "
                + _names(problem, f_idx, floor, "minst"))
        short = [j for j in f_idx if reach[j] < floor[j]]
        if short:
            text += (" – men bare " + ", ".join(
                f"{int(reach[j])} personer kan bosettes i {problem.muni_name(int(j))}"
                for j in short[:6]) + " (de andre er utelukket av forbud, kapasitet, "
                "EMA-vedtak eller oppfølgingsbehov)")
        parts.append(text)
        binding += [f"minsteandel {problem.muni_name(int(j))}" for j in f_idx]
    c_idx = np.flatnonzero(cert.beta > 1e-9)
    if len(c_idx):
        parts.append(f"kapasiteten i {fmt_count(len(c_idx), 'kommune', 'kommuner')}: "
                     + _names(problem, c_idx, problem.capacity, "høyst"))
        binding += [f"kapasitet {problem.muni_name(int(j))}" for j in c_idx]
    for r_i, r in enumerate(problem.all_resources()):
        g_idx = np.flatnonzero(cert.gamma[r_i] > 1e-9)
        if len(g_idx):
            parts.append(f"{r.label} i {fmt_count(len(g_idx), 'kommune', 'kommuner')}: "
                         + _names(problem, g_idx, r.capacity, "høyst"))
            binding += [f"{r.key} {problem.muni_name(int(j))}" for j in g_idx]
    h_idx = np.flatnonzero(np.abs(cert.alpha) > 1e-9)
    forced = [h for h in h_idx if h in problem.locks or h in problem.hard_ties]
    if forced:
        parts.append(f"{len(forced)} låste eller knyttede husholdninger (f.eks. "
                     + ", ".join(problem.hh_name(int(h)) for h in forced[:5]) + ")")
        binding += [f"husholdning {problem.hh_name(int(h))}" for h in forced]
    text = ("Ingen plassering oppfyller kravene samtidig – bevist (LP-sertifikat: selv om "
            "husholdningene kunne deles, går regnestykket ikke opp). Kravene som sammen ikke "
            "kan oppfylles: " + "; ".join(parts) + ". Løsne ett av dem (for eksempel senk "
            "minsteandelen eller øk kapasiteten i kommunene som er nevnt).")
    return text, binding


# ---------------------------------------------------------------------------
# Rounding and repair
# ---------------------------------------------------------------------------


def _repaired_assignment(problem: MatchProblem, units: Units, cu: np.ndarray, cj: np.ndarray,
                         x: np.ndarray, d: np.ndarray) -> np.ndarray | None:
    """Round an LP solution down and complete it (floors first, then the remaining
    households by reduced cost, see :func:`~.heuristics.complete_placement`)."""
    from bliatlas.settlement.heuristics import complete_placement

    a = _assignment_from_units(units, cu, cj, np.floor(x + 1e-7), problem.n_households)
    iu = units.index_of_households(problem.n_households)
    pick = -d[iu]
    elig = units.eligible[iu]
    return complete_placement(problem, a, pick, elig)


# ---------------------------------------------------------------------------
# The structured solver
# ---------------------------------------------------------------------------


@dataclass
class _Search:
    """The incumbent and the LP facts shared by the steps of :func:`solve_structured`."""

    problem: MatchProblem
    units: Units
    iu: np.ndarray
    z_lp: float
    x_lp: np.ndarray
    lp_u: np.ndarray
    lp_j: np.ndarray
    d: np.ndarray
    t0: float
    time_limit: float | None
    threads: int | None
    stats: dict = field(default_factory=dict)
    z_inc: float = -math.inf
    inc: np.ndarray | None = None

    def offer(self, a: np.ndarray | None) -> bool:
        if a is None or (a < 0).any() or violations(self.problem, a):
            return False
        z = evaluate(self.problem, a)[0]
        if z > self.z_inc:
            self.inc, self.z_inc = a, z
            return True
        return False

    def left(self, share: float = 1.0) -> float | None:
        if self.time_limit is None:
            return None
        return max(0.05, share * (self.time_limit - (time.perf_counter() - self.t0)))

    def out_of_time(self) -> bool:
        return self.time_limit is not None and time.perf_counter() - self.t0 > self.time_limit


def _fix_and_solve(s: _Search, n_free: int, mip_gap: float, floors: bool = False,
                   per_unit: int = 16) -> np.ndarray | None:
    """Keep most of the LP's integral part and solve the rest as a small integer program:
    the fractional households plus the ``n_free`` placed households that are cheapest to
    move (smallest reduced cost of their best alternative), so that swaps are possible.
    With ``floors`` the households in every municipality whose floor binds (short after
    rounding, or a floor within one household of its capacity) are freed too, and the
    cheapest to move are taken among small households (the ones that can fill a gap).
    Candidates for the residual households: their ``per_unit`` best municipalities with
    room by reduced cost, and every municipality still short of its floor."""
    problem, units = s.problem, s.units
    n_u, m = len(units.count), problem.n_munis
    xi = np.floor(s.x_lp + 1e-7).astype(np.int64)
    floor = problem.fill_floor()
    if floors and floor is not None:
        used = np.bincount(s.lp_j, weights=xi * units.size[s.lp_u], minlength=m)
        binding = (used < floor) | (floor > 0) & (floor >= problem.capacity - units.size.max())
        xi[binding[s.lp_j]] = 0
    if n_free > 0:
        placed = np.flatnonzero(xi > 0)
        if floors:
            placed = placed[units.size[s.lp_u[placed]] <= 2]
        dd = np.where(units.eligible, s.d, np.inf)
        dd[s.lp_u[placed], s.lp_j[placed]] = np.inf
        second = np.partition(dd, 1, axis=1)[:, 0] if m > 1 else np.zeros(n_u)
        cost = second[s.lp_u[placed]]
        budget = n_free
        for k in placed[np.argsort(cost, kind="stable")]:
            if budget <= 0:
                break
            take = min(int(xi[k]), budget)
            xi[k] -= take
            budget -= take
    rest = units.count - np.bincount(s.lp_u, weights=xi, minlength=n_u).astype(np.int64)
    if rest.sum() == 0:
        return _assignment_from_units(units, s.lp_u, s.lp_j, xi, problem.n_households)
    nzf = xi > 0
    sub = UnitModel(problem, units, integer=True, threads=s.threads, count=rest,
                    fixed=(s.lp_u[nzf], s.lp_j[nzf], xi[nzf]))
    used = np.bincount(s.lp_j[nzf], weights=xi[nzf] * units.size[s.lp_u[nzf]], minlength=m)
    room = problem.capacity - used
    ok = units.eligible & (rest[:, None] > 0) & (units.size[:, None] <= room[None, :])
    cand = _top_by(-s.d, ok, per_unit)
    if floor is not None:
        cand |= ok & (used < floor)[None, :]
    mu, mj = np.nonzero(cand)
    sub.add(mu.astype(np.int64), mj.astype(np.int64))
    sub.model.run(time_limit=s.left(0.4), mip_gap=0.0,
                  mip_abs_gap=max(0.25 * mip_gap * abs(s.z_lp), 1e-7)
                  if math.isfinite(s.z_lp) else 1e-7)
    s.stats.setdefault("fix_columns", []).append(len(mu))
    s.stats.setdefault("fix_households", []).append(int(rest.sum()))
    s.stats.setdefault("fix_status", []).append(sub.model.status_text)
    if not sub.model.has_solution:
        return None
    cu = np.concatenate([s.lp_u[nzf], sub.col_u])
    cj = np.concatenate([s.lp_j[nzf], sub.col_j])
    cx = np.concatenate([xi[nzf], np.rint(sub.values())])
    return _assignment_from_units(units, cu, cj, cx, problem.n_households)


def _solve_neighbourhood(problem: MatchProblem, a: np.ndarray, idx: np.ndarray,
                         value: np.ndarray, prices: np.ndarray | None, abs_gap: float,
                         time_limit: float) -> tuple[np.ndarray, dict] | None:
    """The households ``idx`` solved again on the room the others (fixed at ``a``) leave
    (:func:`_subproblem`), warm-started from ``a``; ``abs_gap`` is the absolute gap the
    caller allows (as a share of the neighbourhood's objective, the sub-solve's gap).
    Returns the whole placement with the neighbourhood put back and the sub-solve's stats,
    or None when the sub-solve gives nothing. The caller checks the whole objective."""
    sub = _subproblem(problem, a, idx)
    z_here = float(value[idx, a[idx]].sum())
    gap = abs_gap / abs(z_here) if z_here else 1e-3
    try:
        r = solve_structured(sub, mip_gap=min(gap, 0.05), time_limit=time_limit,
                             price_levels=(), start_prices=prices, incumbent=a[idx],
                             initial_candidates=4, neighbourhood_search=False)
    except (InfeasibleError, NoPlacementFound):
        return None
    out = a.copy()
    out[idx] = r.assignment
    return out, r.stats


def _guided_pick(s: _Search, a: np.ndarray, used: np.ndarray, prices: np.ndarray, k: int,
                 rng: np.random.Generator) -> set:
    """Municipalities where the incumbent loses most against the LP bound, and the ones its
    households there would rather be in. The loss splits exactly (LP duality) into the
    reduced costs of the households' municipalities and the capacity prices of the room
    left unused: z_LP - z(a) = sum_h d[h, a_h] + sum_j price_j * room_j. Half of ``k`` are
    drawn in proportion to that loss per municipality; a quarter among the municipalities
    with the smallest reduced cost for the households in those (where they could move)."""
    problem = s.problem
    m = problem.n_munis
    d_h = s.d[s.iu, a]
    loss = (np.bincount(a, weights=np.maximum(d_h, 0.0), minlength=m)
            + np.maximum(prices, 0.0) * np.maximum(problem.capacity - used, 0))
    pos = np.flatnonzero(loss > 1e-9)
    if not len(pos):
        return set()
    seeds = rng.choice(pos, min(len(pos), k // 2), replace=False, p=loss[pos] / loss[pos].sum())
    pick = set(seeds.tolist())
    hh = np.flatnonzero(np.isin(a, seeds))
    if len(hh):
        dd = np.where(s.units.eligible[s.iu[hh]], s.d[s.iu[hh]], np.inf)
        dd[np.arange(len(hh)), a[hh]] = np.inf
        alt = np.argpartition(dd, min(2, m - 1), axis=1)[:, :3].ravel()
        freq = np.bincount(alt, minlength=m).astype(float)
        freq[list(pick)] = 0.0
        cand = np.flatnonzero(freq > 0)
        if len(cand):
            take = min(len(cand), k // 4)
            pick |= set(rng.choice(cand, take, replace=False,
                                   p=freq[cand] / freq[cand].sum()).tolist())
    return pick


def _neighbourhood_search(s: _Search, mip_gap: float, seconds: float, seed: int,
                          n_munis: int = 40, patience: int = 32, guided: bool = True) -> None:
    """Large-neighbourhood search from the incumbent, for when the exact candidate set is
    too large: free every household in ``n_munis`` municipalities, solve them on the room
    the others leave (:func:`_subproblem`, the sub-solve's gap set so that it is a quarter
    of the whole problem's) and keep the result when the whole objective improves. With
    ``guided`` (the default) half the municipalities are drawn where the incumbent loses
    most against the LP bound and a quarter where their households could move
    (:func:`_guided_pick`), the rest at random; without it, half among those with room left
    and half at random. Stops at the gap target, after ``seconds``, at the time limit, or
    after ``patience`` rounds without a gain (the neighbourhood grows every 8 rounds without
    one). On large households (mean size 5–9, capacity 3 % above the cohort) the rounded
    LP is 0.5 % from the bound and the pruned MIP finds nothing better in 15 s; this gets
    to about 0.1 % in the minute (benchmarks/bench_settlement_match.py)."""
    problem = s.problem
    rng = np.random.default_rng(seed)
    t_end = time.perf_counter() + seconds
    value = s.units.value[s.iu]  # (H, M) household values + bonuses
    prices = s.stats.get("_prices")
    s.stats["lns_start"] = s.z_inc
    rounds = idle = 0
    while (s.inc is not None and idle < patience and time.perf_counter() < t_end
           and not s.out_of_time()):
        if (s.z_lp - s.z_inc) <= mip_gap * abs(s.z_lp):
            break
        rounds += 1
        a = s.inc
        used = np.bincount(a, weights=problem.sizes, minlength=problem.n_munis)
        room = np.flatnonzero(problem.capacity - used > 0)
        # a neighbourhood that gives nothing for a while grows (more room to trade)
        k = min(n_munis * (1 + idle // 8), problem.n_munis)
        if guided and prices is not None:
            pick = _guided_pick(s, a, used, prices, k, rng)
        else:
            pick = set(rng.choice(room, min(len(room), k // 2), replace=False).tolist())
        rest = np.setdiff1d(np.arange(problem.n_munis), list(pick))
        pick |= set(rng.choice(rest, min(len(rest), k - len(pick)), replace=False).tolist())
        idx = np.flatnonzero(np.isin(a, list(pick)))
        if not len(idx):
            idx_gain = False
        else:
            left = min(2.0, max(0.05, t_end - time.perf_counter()))
            if s.time_limit is not None:
                left = min(left, s.left())
            got = _solve_neighbourhood(problem, a, idx, value, prices,
                                       0.25 * mip_gap * abs(s.z_lp), left)
            idx_gain = got is not None and s.offer(got[0])
        idle = 0 if idx_gain else idle + 1
    s.stats["lns_rounds"] = rounds
    s.stats["lns_incumbent"] = s.z_inc


def _run_mip(s: _Search, mask: np.ndarray, gap: float, time_limit: float | None,
             feasibility: bool = False) -> tuple[np.ndarray | None, float, bool, bool]:
    """The integer program over the columns in ``mask`` (plus the incumbent's), warm-started
    from the incumbent. Returns (assignment, bound, optimal, infeasible)."""
    problem, units = s.problem, s.units
    n_u, m = len(units.count), problem.n_munis
    mask = mask.copy()
    if s.inc is not None:
        mask[s.iu, s.inc] = True
    mu, mj = np.nonzero(mask)
    mip = UnitModel(problem, units, integer=True, threads=s.threads, phase_one=feasibility)
    mip.add(mu.astype(np.int64), mj.astype(np.int64))
    if s.inc is not None and not feasibility:
        col = np.full((n_u, m), -1, dtype=np.int64)
        col[mu, mj] = np.arange(len(mu))
        mip.start_from(np.bincount(col[s.iu, s.inc], minlength=len(mu)).astype(float))
    if feasibility:
        mip.model.option("mip_max_improving_sols", 1)
    mip.model.run(time_limit=time_limit, mip_gap=gap, mip_abs_gap=1e-7)
    s.stats.setdefault("mip_columns", []).append(len(mu))
    s.stats.setdefault("mip_status", []).append(mip.model.status_text)
    if not mip.model.has_solution:
        return None, math.inf, False, mip.model.infeasible
    a = _assignment_from_units(units, mip.col_u, mip.col_j, mip.values(), problem.n_households)
    bound = -mip.model.dual_bound if math.isfinite(mip.model.dual_bound) else math.inf
    return a, bound, mip.model.optimal, False


def _prove_integer_infeasible(problem: MatchProblem, time_limit: float | None,
                              threads: int | None) -> InfeasibleError | None:
    """The exact integer program over every eligible column, as a feasibility problem.
    When HiGHS proves it infeasible: if the LP relaxation is infeasible too, its
    certificate names the rows; otherwise drop each constraint family in turn to name the
    ones that bind (each test is an exact feasibility MIP too)."""
    units = make_units(problem)
    cert = _lp_certificate(problem, units, threads, None)
    if cert is not None:
        text, binding = _certificate_message(problem, cert)
        return InfeasibleError(text, proof="lp-sertifikat", binding=binding, certificate=cert)
    s = _Search(problem, units, units.index_of_households(problem.n_households), math.nan,
                np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                np.zeros_like(units.value), time.perf_counter(), time_limit, threads)
    _, _, _, infeasible = _run_mip(s, units.eligible, 0.0, s.left(0.5), feasibility=True)
    if not infeasible:
        return None
    families: list[tuple[str, MatchProblem]] = []
    if problem.fill_floor() is not None:
        families.append(("minsteandelen", _without(problem, floors=True)))
    for r in problem.all_resources():
        families.append((r.label, _without(problem, resource=r.key)))
    if problem.locks:
        families.append(("låsingene", _without(problem, locks=True)))
    if problem.hard_ties:
        families.append(("de faste tilknytningene", _without(problem, ties=True)))
    loosen = []
    for name, relaxed in families:
        try:
            ru = make_units(relaxed)
        except InfeasibleError:
            continue
        rs = _Search(relaxed, ru, ru.index_of_households(relaxed.n_households), math.nan,
                     np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                     np.zeros_like(ru.value), time.perf_counter(), s.left(0.5), threads)
        ra, _, _, _ = _run_mip(rs, ru.eligible, 0.0, rs.left(1.0 / max(1, len(families))),
                               feasibility=True)
        if ra is not None:
            loosen.append(name)
    text = ("Ingen plassering oppfyller kravene samtidig – bevist med heltallsprogrammet over "
            "alle tillatte plasseringer: regnestykket går opp hvis husholdningene kunne deles, "
            "men ikke med hele husholdninger (husholdningsstørrelsene passer ikke inn i "
            "kapasiteten som er igjen).")
    if loosen:
        text += " Det blir løsbart hvis du løsner " + " eller ".join(loosen) + "."
    else:
        text += " Øk kapasiteten i kommunene der store husholdninger kan bo."
    return InfeasibleError(text, proof="heltallsprogram", binding=loosen)


def _without(problem: MatchProblem, floors: bool = False, resource: str | None = None,
             locks: bool = False, ties: bool = False) -> MatchProblem:
    from dataclasses import replace

    kw: dict = {}
    if floors:
        kw.update(floor=None, min_fill=0.0)
    if resource == "ema":
        kw.update(unaccompanied=None, minor_capacity=None)
    elif resource is not None:
        kw.update(resources=[r for r in problem.resources if r.key != resource])
    if locks:
        kw.update(locks={})
    if ties:
        kw.update(hard_ties={})
    return replace(problem, **kw)


@published
def solve_structured(
    problem: MatchProblem,
    mip_gap: float = 1e-3,
    time_limit: float | None = None,
    initial_candidates: int = 8,
    per_unit_columns: int = 4,
    max_exact_columns: int = 400_000,
    price_levels: Sequence[int] = (600, 2500),
    free_households: Sequence[int] = (0, 400),
    seed: int = 0,
    threads: int | None = None,
    start_prices: np.ndarray | None = None,
    incumbent: np.ndarray | None = None,
    neighbourhood_search: bool = True,
) -> MatchResult:
    """Aggregate, solve the LP by column generation (started from sampled prices, or
    ``start_prices``), round and repair, solve the integer program over a candidate set
    pruned by reduced cost. The gap is always stated against the LP bound of the whole
    problem. ``incumbent`` (a valid placement, e.g. the previous solution repaired) is used
    when it is better than what the search finds. When the exact candidate set is too
    large, a large-neighbourhood search (``neighbourhood_search``) improves the incumbent
    (:func:`_neighbourhood_search`). Raises :class:`InfeasibleError` only with
    a proof, :class:`NoPlacementFound` when time runs out without a placement."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = make_units(problem)
    n_u, m = len(units.count), problem.n_munis
    iu = units.index_of_households(problem.n_households)
    deadline = None if time_limit is None else t0 + 0.5 * time_limit
    if start_prices is not None:
        v0 = np.asarray(start_prices, dtype=float)
    else:
        v0 = _sample_prices(problem, units, price_levels, initial_candidates, seed, threads)
    t_prices = time.perf_counter() - t0
    lp = UnitModel(problem, units, integer=False, threads=threads)
    lp.add_slack(_big_m(problem, units))
    start = _top_by(units.value - units.size[:, None] * v0[None, :], units.eligible,
                    initial_candidates)
    if incumbent is not None:  # a warm start: the incumbent's pairs are likely LP columns
        inc_a = np.asarray(incumbent, dtype=np.int64)
        ok_h = inc_a >= 0
        start[iu[ok_h], inc_a[ok_h]] = True
        start &= units.eligible
    d, rounds, complete = _column_generation(lp, start, deadline=deadline)
    stats: dict = {"households": problem.n_households, "types": n_u, "lp_rounds": rounds,
                   "lp_columns": len(lp.col_u), "price_seconds": round(t_prices, 3)}
    if lp.slack().max(initial=0) > 1e-6:
        # The big-M LP leaves households or floors short: prove it, or carry on with the
        # bound from the slack LP (which is then not the problem's bound).
        present = np.zeros((n_u, m), dtype=bool)
        present[lp.col_u, lp.col_j] = True
        cert = _lp_certificate(problem, units, threads,
                               None if time_limit is None else t0 + 0.8 * time_limit,
                               start=present)
        if cert is not None:
            text, binding = _certificate_message(problem, cert)
            raise InfeasibleError(text, proof="lp-sertifikat", binding=binding,
                                  certificate=cert)
        complete = False
    z_lp = -lp.model.objective
    if not complete:
        z_lp = math.inf  # no valid bound without a converged LP
    x_lp = lp.values()
    cap_prices = -lp.duals()[lp.row_cap:lp.row_cap + m]
    stats.update(lp_bound=z_lp if math.isfinite(z_lp) else None,
                 lp_seconds=round(time.perf_counter() - t0, 3), lp_complete=complete)
    s = _Search(problem, units, iu, z_lp, x_lp, lp.col_u, lp.col_j, d, t0, time_limit,
                threads, stats)
    del lp
    s.stats["_prices"] = cap_prices
    s.offer(_repaired_assignment(problem, units, s.lp_u, s.lp_j, x_lp, d))
    stats["rounded_incumbent"] = s.z_inc
    if incumbent is not None:
        s.offer(np.asarray(incumbent, dtype=np.int64))

    def done(bound: float, step: str, proven: bool) -> MatchResult:
        obj, exp = evaluate(problem, s.inc)
        stats["step"] = step
        stats.pop("_prices", None)
        return MatchResult(s.inc, obj, exp, bound, "strukturert", time.perf_counter() - t0,
                           proven=proven, stats=stats, capacity_prices=cap_prices)

    def target_met(z: float) -> bool:
        return (mip_gap > 0 and math.isfinite(z_lp)
                and (z_lp - z) <= mip_gap * abs(z_lp) + 1e-9)

    if s.inc is not None and target_met(s.z_inc):
        return done(z_lp, "avrundet LP + reparasjon", True)

    free = list(free_households) if mip_gap > 0 else []
    for n_free in free:
        s.offer(_fix_and_solve(s, n_free, mip_gap))
        stats.setdefault("fixed_incumbent", []).append(s.z_inc)
        if s.inc is not None and target_met(s.z_inc):
            return done(z_lp, "LP-heltallsdel fast + liten MIP for resten", True)
    # No incumbent yet: more freedom for the repair MIP before anything larger (with
    # floors: free where the floors bind, and small households to fill the gaps).
    has_floor = problem.fill_floor() is not None
    for n_free, fl in ((0, True), (500, True), (2000, True)) if has_floor else \
            ((200, False), (2000, False)):
        if s.inc is not None or s.out_of_time() or (n_free in free and not fl):
            continue
        s.offer(_fix_and_solve(s, n_free, mip_gap, floors=fl))
        stats.setdefault("fixed_incumbent", []).append(s.z_inc)
        if s.inc is not None and target_met(s.z_inc):
            return done(z_lp, "LP-heltallsdel fast + liten MIP for resten", True)

    if mip_gap > 0 and not s.out_of_time():
        support = np.zeros((n_u, m), dtype=bool)
        nz = x_lp > 1e-9
        support[s.lp_u[nz], s.lp_j[nz]] = True
        mask = support | _top_by(-d, units.eligible, per_unit_columns)
        left = s.left(0.5)
        # with the neighbourhood search to follow, a pruned MIP that does not finish soon is
        # time the search uses better (large households: 15 s and nothing found)
        cap = PRUNED_MIP_SECONDS / 3 if neighbourhood_search else PRUNED_MIP_SECONDS
        a, _, _, _ = _run_mip(s, mask, mip_gap, cap if left is None else min(left, cap))
        s.offer(a)
        if s.inc is not None and target_met(s.z_inc):
            return done(z_lp, "beskåret MIP (redusert kostnad)", True)
    # Exact pruning: a pair whose reduced cost exceeds z_lp - z_inc cannot be in any
    # solution better than the incumbent.
    delta = (z_lp - s.z_inc) if s.inc is not None and math.isfinite(z_lp) else math.inf
    keep = units.eligible & (d <= delta + 1e-7)
    if (neighbourhood_search and s.inc is not None and mip_gap > 0 and math.isfinite(z_lp)
            and int(keep.sum()) > max_exact_columns and not s.out_of_time()):
        _neighbourhood_search(s, mip_gap, LNS_SECONDS if time_limit is None
                              else 0.9 * time_limit - (time.perf_counter() - t0), seed)
        if target_met(s.z_inc):
            return done(z_lp, "nabolagssøk (LNS) fra beste funnet", True)
        delta = z_lp - s.z_inc
        keep = units.eligible & (d <= delta + 1e-7)
    if s.inc is not None and (int(keep.sum()) > max_exact_columns and mip_gap > 0
                              or s.out_of_time()):
        return done(z_lp, "beste funnet (gapet er over målet)", False)
    if int(keep.sum()) <= max_exact_columns or s.inc is None:
        if s.inc is None and int(keep.sum()) > max_exact_columns:
            # no placement yet and too many columns for the exact set: look for any
            # placement first (feasibility), over all eligible columns
            a, _, _, infeasible = _run_mip(s, units.eligible, 0.0, s.left(0.6),
                                           feasibility=True)
            s.offer(a)
            if s.inc is None:
                return _no_placement(problem, s, infeasible, threads)
            delta = z_lp - s.z_inc if math.isfinite(z_lp) else math.inf
            keep = units.eligible & (d <= delta + 1e-7)
            if int(keep.sum()) > max_exact_columns or s.out_of_time():
                return done(z_lp, "beste funnet (gapet er over målet)", False)
        a, sub_bound, optimal, infeasible = _run_mip(s, keep, mip_gap, s.left())
        if a is None:
            if s.inc is None:
                return _no_placement(problem, s, infeasible and not math.isfinite(delta),
                                     threads)
            return done(z_lp, "beste funnet (tidsgrense)", False)
        found = s.offer(a)
        z = s.z_inc
        bound = min(z_lp, max(sub_bound, z)) if found or optimal else z_lp
        return done(bound, "eksakt beskjæring + MIP", optimal or target_met(z))
    return done(z_lp, "beste funnet (gapet er over målet)", False)


def _no_placement(problem: MatchProblem, s: _Search, mip_infeasible: bool,
                  threads: int | None) -> MatchResult:
    """No placement found: prove infeasibility with the exact MIP, or say that none was
    found in the time allowed (never a bare "infeasible")."""
    if mip_infeasible or not s.out_of_time():
        err = _prove_integer_infeasible(problem, s.left(), threads)
        if err is not None:
            raise err
    err = NoPlacementFound(
        "Fant ingen plassering innenfor tidsgrensen, men det er heller ikke bevist at ingen "
        "finnes (LP-relaksasjonen er løsbar). Gi løseren mer tid, eller løsne minsteandelen "
        "eller kravene til store husholdninger.")
    err.stats = s.stats  # type: ignore[attr-defined]
    raise err


@published
def solve(problem: MatchProblem, mip_gap: float = 1e-3, time_limit: float | None = None,
          threads: int | None = None, start_prices: np.ndarray | None = None) -> MatchResult:
    """The default solver (:func:`solve_structured`). "Infeasible" only with a proof; the
    placement returned always passes :func:`~.checks.violations`."""
    result = solve_structured(problem, mip_gap=mip_gap, time_limit=time_limit,
                              threads=threads, start_prices=start_prices)
    bad = violations(problem, result.assignment)
    if bad:  # a solver defect, not the planner's problem: never hand it out
        raise RuntimeError("løseren leverte en ugyldig plassering: " + bad[0])
    return result


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------


@published
def solve_exact(problem: MatchProblem, mip_gap: float = 1e-3, time_limit: float | None = None,
                threads: int | None = None) -> MatchResult:
    """The aggregated integer program over every eligible type × municipality column
    (exact: the same problem as the household MIP, with identical households merged)."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = make_units(problem)
    s = _Search(problem, units, units.index_of_households(problem.n_households), math.inf,
                np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                np.zeros_like(units.value), t0, time_limit, threads)
    a, bound, optimal, infeasible = _run_mip(s, units.eligible, mip_gap, time_limit)
    stats = {"columns": int(units.eligible.sum()), "types": len(units.count),
             "status": s.stats["mip_status"][-1]}
    if a is None:
        if infeasible:
            err = _prove_integer_infeasible(problem, None, threads)
            raise err or InfeasibleError("Heltallsprogrammet har ingen løsning.",
                                         proof="heltallsprogram")
        return MatchResult(np.full(problem.n_households, -1), -math.inf, -math.inf, bound,
                           "eksakt MIP (typer)", time.perf_counter() - t0, stats=stats,
                           unplaced=problem.n_households)
    obj, exp = evaluate(problem, a)
    return MatchResult(a, obj, exp, bound, "eksakt MIP (typer)", time.perf_counter() - t0,
                       proven=optimal, stats=stats)


@published
def solve_full_lp_rounding(problem: MatchProblem, threads: int | None = None) -> MatchResult:
    """The fair naive baseline: the LP over all eligible type × municipality columns at
    once (no column generation), rounded down and repaired greedily. The LP bound is exact;
    the placement is whatever rounding gives (−1 where the repair finds no room)."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = make_units(problem)
    lp = UnitModel(problem, units, integer=False, threads=threads)
    lp.add_slack(_big_m(problem, units))
    cu, cj = np.nonzero(units.eligible)
    lp.add(cu.astype(np.int64), cj.astype(np.int64))
    t_build = time.perf_counter() - t0
    lp.model.run()
    z_lp = -lp.model.objective if lp.slack().max(initial=0) <= 1e-6 else math.inf
    d = lp.reduced_costs(lp.duals())
    a = _repaired_assignment(problem, units, lp.col_u, lp.col_j, lp.values(), d)
    stats = {"columns": len(cu), "types": len(units.count), "build_seconds": round(t_build, 2),
             "lp_seconds": round(time.perf_counter() - t0 - t_build, 2)}
    if a is None or violations(problem, a):
        # rounding alone did not give a valid placement; report what it gave
        stats["valid"] = False
        a = np.full(problem.n_households, -1) if a is None else a
        return MatchResult(a, -math.inf, -math.inf, z_lp, "full LP + avrunding",
                           time.perf_counter() - t0, stats=stats,
                           unplaced=int((a < 0).sum()))
    stats["valid"] = True
    obj, exp = evaluate(problem, a)
    return MatchResult(a, obj, exp, z_lp, "full LP + avrunding", time.perf_counter() - t0,
                       stats=stats)


@published
def solve_full_mip(problem: MatchProblem, mip_gap: float = 1e-3, time_limit: float | None = None,
                   threads: int | None = None) -> MatchResult:
    """The straightforward formulation: one binary per household × eligible municipality."""
    t0 = time.perf_counter()
    problem.check_totals()
    units = make_units(problem, aggregate=False)
    model = UnitModel(problem, units, integer=True, threads=threads)
    cu, cj = np.nonzero(units.eligible)
    model.add(cu.astype(np.int64), cj.astype(np.int64))
    build = time.perf_counter() - t0
    model.model.run(time_limit=None if time_limit is None else time_limit - build,
                    mip_gap=mip_gap, mip_abs_gap=1e-7)
    stats = {"status": model.model.status_text, "columns": len(cu),
             "build_seconds": round(build, 2), "nodes": model.model.nodes}
    if model.model.infeasible:
        err = _prove_integer_infeasible(problem, None, threads)
        raise err or InfeasibleError("Heltallsprogrammet har ingen løsning.",
                                     proof="heltallsprogram")
    bound = -model.model.dual_bound if math.isfinite(model.model.dual_bound) else math.nan
    if not model.model.has_solution:  # no feasible solution found in time
        return MatchResult(np.full(problem.n_households, -1), -math.inf, -math.inf, bound,
                           "full MIP", time.perf_counter() - t0, stats=stats,
                           unplaced=problem.n_households)
    a = _assignment_from_units(units, model.col_u, model.col_j, model.values(),
                               problem.n_households)
    obj, exp = evaluate(problem, a)
    return MatchResult(a, obj, exp, bound, "full MIP", time.perf_counter() - t0,
                       proven=model.model.optimal, stats=stats)


# ---------------------------------------------------------------------------
# Re-solving after a planner's edits
# ---------------------------------------------------------------------------


def _move_out(problem: MatchProblem, a: np.ndarray, elig: np.ndarray, prices: np.ndarray,
              value: np.ndarray | None = None) -> np.ndarray | None:
    """The previous placement with every household that is no longer allowed where it is
    (and every newly locked one) moved: locked households to their municipality, the
    others to their best allowed municipality with room by price-adjusted value; others
    are moved (cheapest first) when a lock needs their room. None when that fails."""
    from bliatlas.settlement.heuristics import _Room

    a = a.copy()
    if value is None:
        value = problem.household_values() + problem.bonus()
    adj = value - problem.sizes[:, None] * prices[None, :]
    forced = {**problem.hard_ties, **problem.locks}
    out = [h for h in range(problem.n_households)
           if not elig[h, a[h]] or (h in forced and a[h] != forced[h])]
    a[out] = -1
    room = _Room(problem)
    for h in np.flatnonzero(a >= 0):
        room.take(int(h), int(a[h]))
    members: list[list[int]] = [[] for _ in range(problem.n_munis)]
    for h in np.flatnonzero(a >= 0):
        members[a[h]].append(int(h))
    order = sorted(out, key=lambda h: (h not in forced, -problem.sizes[h]))
    for h in order:
        if h in forced:
            j = forced[h]
            # make room at j by moving the cheapest unforced households elsewhere
            guard = 0
            while not room.fits_at(h, j) and guard < 50:
                guard += 1
                movable = [g for g in members[j] if g not in forced]
                if not movable:
                    return None
                g = min(movable, key=lambda g: adj[g, j] - np.max(
                    np.where(elig[g] & room.fits(g), adj[g], -np.inf)))
                dest = elig[g] & room.fits(g)
                dest[j] = False
                if not dest.any():
                    return None
                j2 = int(np.argmax(np.where(dest, adj[g], -np.inf)))
                room.take(g, j, sign=-1)
                members[j].remove(g)
                a[g] = j2
                room.take(g, j2)
                members[j2].append(g)
            if not room.fits_at(h, j):
                return None
        else:
            ok = elig[h] & room.fits(h)
            if not ok.any():
                return None
            j = int(np.argmax(np.where(ok, adj[h], -np.inf)))
        a[h] = j
        room.take(h, j)
        members[j].append(h)
    return a


def lagrangian_bound(problem: MatchProblem, prices: np.ndarray,
                     value: np.ndarray | None = None) -> float:
    """An upper bound on the optimum from capacity prices π ≥ 0 (any π — e.g. the previous
    solution's duals): Σⱼ πⱼ·capⱼ + Σₕ maxⱼ (valueₕⱼ − sizeₕ·πⱼ) over the municipalities the
    household may go to, with every other row dropped (a relaxation: resources, floors and
    the overflow penalties only lower the optimum). The equity term is bounded by its
    weight × P × the largest score. ``value``: the (H, M) household values + bonuses, when
    the caller has them already."""
    pi = np.maximum(np.asarray(prices, dtype=float), 0.0)
    elig = problem.eligibility()
    if value is None:
        value = problem.household_values() + problem.bonus()
    adj = np.where(elig, value - problem.sizes[:, None] * pi[None, :], -np.inf)
    bound = float(pi @ problem.capacity) + float(adj.max(axis=1).sum())
    if problem.equity_weight > 0 and problem.groups is not None:
        bound += problem.equity_weight * problem.n_persons * float(problem.scores.max())
    return bound


@published
def resolve(problem: MatchProblem, previous: MatchResult, mip_gap: float = 1e-3,
            time_limit: float | None = None) -> MatchResult:
    """Re-solve after a planner adds locks or forbids, warm-started from ``previous``.

    The previous placement is repaired first: households no longer allowed where they are
    (and newly locked ones) move — locked ones to their municipality, the others to their
    best allowed municipality with room by the previous capacity prices. Locks and forbids
    only restrict the problem, so the previous bound stays valid, and the previous prices
    give a second, usually tighter one (:func:`lagrangian_bound`); when the repaired
    placement is within ``mip_gap`` of the better bound, it is the answer (milliseconds).
    Otherwise the whole problem is solved again from the previous prices (no sampling) with
    the repaired placement as incumbent.
    """
    t0 = time.perf_counter()
    a_prev = np.asarray(previous.assignment, dtype=np.int64)
    if a_prev.shape != (problem.n_households,):
        raise UserError("Forrige løsning passer ikke med kohorten (ulikt antall husholdninger).")
    problem.check_totals()
    elig = problem.eligibility()
    prices = (previous.capacity_prices if previous.capacity_prices is not None
              else np.zeros(problem.n_munis))
    value = problem.household_values() + problem.bonus()  # once: (H, M), ~0.5 s nationally
    bound = lagrangian_bound(problem, prices, value)
    if math.isfinite(previous.bound):
        bound = min(bound, previous.bound)
    repaired = _move_out(problem, a_prev, elig, prices, value)
    ok = repaired is not None and not violations(problem, repaired)
    stats: dict = {"moved": int((repaired != a_prev).sum()) if repaired is not None else None,
                   "bound_from_prices": bound}

    def answer(a: np.ndarray, step: str) -> MatchResult:
        obj, exp = evaluate(problem, a)
        stats["step"] = step
        return MatchResult(a, obj, exp, bound, "ny løsning etter endring (varmstart)",
                           time.perf_counter() - t0, proven=True, stats=stats,
                           capacity_prices=prices)

    def within(a: np.ndarray) -> bool:
        return bound - evaluate(problem, a)[0] <= mip_gap * abs(bound) + 1e-9

    if ok:
        if within(repaired):
            return answer(repaired, "forrige løsning reparert")
        # A few edits: re-optimise the neighbourhood they touch (the households in the
        # municipalities that changed, and those cheapest to move) on the room the others
        # leave, before anything larger.
        if len(problem.locks) + len(problem.forbids) <= NEIGHBOURHOOD_EDITS:
            better = _reoptimise_neighbourhood(problem, repaired, a_prev, prices, value, elig,
                                               mip_gap, bound, stats)
            if better is not None and within(better):
                return answer(better, "nabolaget til endringen optimert på nytt")
            if better is not None:
                repaired = better
    full = solve_structured(problem, mip_gap=mip_gap, price_levels=(), start_prices=prices,
                            incumbent=repaired if ok else None, time_limit=time_limit,
                            initial_candidates=4)
    full.stats.update(stats, resolve="hele problemet (varmstart fra forrige priser)")
    if math.isfinite(bound) and bound < full.bound:
        full.bound = max(bound, full.objective)
        full.proven = full.proven or (full.bound - full.objective
                                      <= mip_gap * abs(full.bound) + 1e-9)
    full.seconds = time.perf_counter() - t0
    return full


#: :func:`resolve` re-optimises a neighbourhood first when there are at most this many
#: locks + forbids; NEIGHBOURHOOD_HOUSEHOLDS households are freed.
NEIGHBOURHOOD_EDITS = 20
NEIGHBOURHOOD_HOUSEHOLDS = 1500


def _reoptimise_neighbourhood(problem: MatchProblem, a: np.ndarray, a_prev: np.ndarray,
                              prices: np.ndarray, value: np.ndarray, elig: np.ndarray,
                              mip_gap: float, bound: float, stats: dict
                              ) -> np.ndarray | None:
    """Free the households of the municipalities where ``a`` differs from ``a_prev``, then
    those with the smallest regret of moving (value at their best other municipality, by
    the previous prices, against where they are), up to NEIGHBOURHOOD_HOUSEHOLDS; solve
    them on the room the others leave (:func:`_subproblem`) and put them back. The better
    of that and ``a`` by the whole objective, or None when the neighbourhood gives nothing
    valid."""
    t = time.perf_counter()
    h_n = problem.n_households
    changed = np.flatnonzero(a != a_prev)
    munis = np.union1d(a[changed], a_prev[changed][a_prev[changed] >= 0])
    adj = np.where(elig, value - problem.sizes[:, None] * prices[None, :], -np.inf)
    here = adj[np.arange(h_n), a]
    adj[np.arange(h_n), a] = -np.inf
    regret = here - adj.max(axis=1)
    regret[np.isin(a, munis)] = -np.inf  # the changed municipalities' households first
    idx = np.sort(np.argsort(regret, kind="stable")[:min(NEIGHBOURHOOD_HOUSEHOLDS, h_n)])
    # the target is the whole problem's gap; half of it for the neighbourhood
    got = _solve_neighbourhood(problem, a, idx, value, prices, 0.5 * mip_gap * abs(bound), 1.0)
    if got is None:
        return None
    out, sub_stats = got
    stats["neighbourhood"] = {"households": len(idx), "municipalities": len(munis),
                              "seconds": round(time.perf_counter() - t, 3),
                              "step": sub_stats.get("step")}
    if (out < 0).any() or violations(problem, out):
        return None
    z_out, z_a = evaluate(problem, out)[0], evaluate(problem, a)[0]
    stats["neighbourhood"]["gain"] = z_out - z_a
    return out if z_out > z_a else a


def _subproblem(problem: MatchProblem, a: np.ndarray, idx: np.ndarray) -> MatchProblem:
    """The households ``idx`` on the room the other households (fixed at ``a``) leave."""
    from dataclasses import replace

    from bliatlas.settlement.problem import Resource

    fixed = np.ones(problem.n_households, dtype=bool)
    fixed[idx] = False
    used = np.bincount(a[fixed], weights=problem.sizes[fixed], minlength=problem.n_munis)
    pos = {int(h): k for k, h in enumerate(idx)}
    persons = np.concatenate([np.asarray(problem.households[h]) for h in idx])
    remap = {int(p): k for k, p in enumerate(persons)}
    sub_households = [[remap[int(p)] for p in problem.households[h]] for h in idx]
    minors = problem.minors()
    mcap = None
    if problem.minor_capacity is not None:
        mcap = np.asarray(problem.minor_capacity, dtype=np.int64) - np.bincount(
            a[fixed], weights=minors[fixed], minlength=problem.n_munis).astype(np.int64)
    resources = [Resource(r.key, r.label, r.use[idx], r.capacity - np.bincount(
        a[fixed], weights=r.use[fixed], minlength=problem.n_munis).astype(np.int64))
        for r in problem.resources]
    floor = problem.fill_floor()
    sub = replace(
        problem,
        scores=problem.scores[persons],
        households=sub_households,
        capacity=(problem.capacity - used).astype(np.int64),
        household_ids=[problem.hh_name(int(h)) for h in idx],
        unaccompanied=None if problem.unaccompanied is None else minors[idx],
        minor_capacity=mcap,
        support_needs=None if problem.support_needs is None
        else np.asarray(problem.support_needs)[idx],
        hard_ties={pos[h]: j for h, j in problem.hard_ties.items() if h in pos},
        soft_ties={(pos[h], j): v for (h, j), v in problem.soft_ties.items() if h in pos},
        preferences={(pos[h], j): v for (h, j), v in problem.preferences.items() if h in pos},
        locks={pos[h]: j for h, j in problem.locks.items() if h in pos},
        forbids={(pos[h], j) for h, j in problem.forbids if h in pos},
        allowed={(pos[h], j) for h, j in problem.allowed if h in pos},
        resources=resources,
        floor=None if floor is None else np.maximum(floor - used, 0).astype(np.int64),
        request=None, min_fill=0.0,
        # the soft capacity carries over (what the fixed households use is taken off);
        # the spread and equity terms are not separable: the neighbourhood leaves them out
        # (the full objective is checked when it is put back)
        target=None if problem.target is None else np.asarray(problem.target, float) - used,
        spread_weight=0.0,
        groups=None, equity_weight=0.0,
    )
    return sub

