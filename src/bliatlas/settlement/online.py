"""Online placement: households arrive week by week and are placed before the next are known.

Two-stage stochastic placement in the spirit of Ahani, Gölz, Procaccia, Teytelboym and
Trapp, "Dynamic placement in refugee resettlement" (Operations Research, 2024): each week one
program places the week's arrivals (integer) jointly with sampled future arrivals
(continuous, the second stage) over the *remaining* capacity, and keeps only the week's
placement. Future arrivals are drawn from the arrivals seen so far; each scenario stands for
the number still to come.

**No oracle.** The placer never sees how many households are still to come. It works from a
:class:`VolumeForecast`: the planner's yearly volume (e.g. IMDi's prognosis) as a prior,
updated with the weekly arrivals (gamma–Poisson), with its uncertainty. The second stage is
sized at the forecast's upper quantile, so an under-forecast does not spend the room that
late arrivals need; EMA places are held back for the unaccompanied minors the upper forecast
expects (at the rate seen so far), and the households with relatives known to come keep
their room. Large households are kept in view by the second stage, which samples the
arrivals seen so far. When a household fits nowhere with the reserves, the reserves give
way; a household that
fits nowhere at all is reported unplaced — the year never aborts.

**Work, not time.** Nothing inside a week is decided by the clock, so the same seed gives
the same placement on a loaded machine as on an idle one. The week's work is bounded by
counts (:class:`WeekLimits`): columns per household (fewer for a surge week), a fixed number
of pricing rounds, a node limit for the integer step. The batch rows of the program are
"at most once" with a large bonus for every household placed, so a week whose households do
not all fit under the reserves and the pace still gets a program solution for those that
do. What is left goes to a greedy step (reserves first, then the hard limits), and a
household still without room gets an exact repair: a small integer program over the week's
households with the reserves and the pace released, which may move the week's other
households to make room. A household is reported unplaced only when no placement of the
week fits it within the hard limits.

Compared with :func:`greedy_week` in arrival order — with the same reserves and the same
swap-free rule, scored on the same households — and with the hindsight-optimal placement of
the same arrivals (:func:`~.solvers.solve_structured` on the whole year).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bliatlas.settlement.checks import violations
from bliatlas.settlement.highs import INF, Model
from bliatlas.settlement.problem import MatchProblem, MatchResult, evaluate, published
from bliatlas.settlement.solvers import solve_structured

#: Pacing is reported for municipalities with at least this yearly number (persons).
PACE_MIN_CAPACITY = 20
#: Households of at least this size count as large (the late-large-families pattern).
LARGE = 5
#: Upper quantile (one-sided normal) the reserves are sized for.
RESERVE_Z = 1.64
#: How far ahead of its even weekly schedule a municipality may get (share of its year).
DEFAULT_PACE_TOLERANCE = 0.35
ARRIVAL_PATTERNS = {
    "jevn": "jevn strøm (tilfeldig rekkefølge)",
    "topp": "topp: 40 % av husholdningene på fire uker midt i året",
    "drift": "drift: sammensetningen endres gjennom året (små først, store sist)",
    "sene_store": "store husholdninger (5+) kommer de siste ti ukene",
}


@dataclass
class VolumeForecast:
    """Households still to come, from the planned yearly volume and the arrivals so far.

    A gamma prior on the weekly arrival rate with mean ``planned / weeks`` and the weight of
    ``prior_weeks`` weeks of observations; each week's arrivals update it (Poisson). The
    forecast of what is left is the rate times the weeks left, with a normal approximation
    of its spread (the rate's uncertainty and the arrivals' own)."""

    planned: float
    weeks: int
    prior_weeks: float = 6.0

    def remaining(self, weeks_done: int, arrived: int) -> tuple[float, float, float]:
        """(mean, low, high) of the households still to come (90 % one-sided bounds)."""
        left = max(self.weeks - weeks_done, 0)
        if left == 0:
            return 0.0, 0.0, 0.0
        alpha = max(self.planned, 1.0) / self.weeks * self.prior_weeks
        beta = self.prior_weeks
        rate = (alpha + arrived) / (beta + weeks_done)
        var_rate = (alpha + arrived) / (beta + weeks_done) ** 2
        mean = rate * left
        sd = math.sqrt(mean + left ** 2 * var_rate)
        return mean, max(0.0, mean - RESERVE_Z * sd), mean + RESERVE_Z * sd


@dataclass
class OnlineState:
    """What the placer knows between weeks."""

    capacity_left: np.ndarray  # persons, per municipality (the planning capacity)
    hard_left: np.ndarray  # persons, per municipality (the hard limit)
    resource_left: list[np.ndarray]  # per resource (EMA first), per municipality
    seen_values: list[np.ndarray] = field(default_factory=list)
    seen_sizes: list[np.ndarray] = field(default_factory=list)
    seen_uses: list[np.ndarray] = field(default_factory=list)  # (n, R)
    seen_eligible: list[np.ndarray] = field(default_factory=list)
    prices: np.ndarray | None = None  # capacity duals from the last week's program


@dataclass(frozen=True)
class WeekLimits:
    """Deterministic work limits of one week's program (counts, not seconds).

    ``columns``: initial candidate columns for the week's batch in all (each household gets
    ``columns // n`` of its best municipalities, at least ``min_candidates``, at most the
    ``candidates`` asked for); ``price_columns``: columns added per pricing round for a
    block; ``mip_nodes`` / ``repair_nodes``: branch-and-bound nodes of the integer step and
    of the repair."""

    columns: int = 2400
    min_candidates: int = 3
    price_columns: int = 1500
    mip_nodes: int = 200
    repair_nodes: int = 100
    repair_alternatives: int = 8


@dataclass
class WeekResult:
    assignment: np.ndarray  # municipality per household in the batch, −1 = no room
    seconds: float
    scenarios: int
    scenario_households: int
    step: str = ""


def _candidates(values: np.ndarray, sizes: np.ndarray, eligible: np.ndarray, prices: np.ndarray,
                room: np.ndarray, k: int) -> np.ndarray:
    """Mask of each household's k best municipalities by price-adjusted value, among those
    with room; the municipality with most room is always added, so the batch can be placed."""
    ok = eligible & (sizes[:, None] <= room[None, :])
    adj = np.where(ok, values - sizes[:, None] * prices[None, :], -np.inf)
    n, m = adj.shape
    mask = np.zeros((n, m), dtype=bool)
    kk = min(k, m)
    top = np.argpartition(-adj, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(np.arange(m), (n, 1))
    mask[np.repeat(np.arange(n), top.shape[1]), top.ravel()] = True
    mask[np.arange(n), np.argmax(np.where(ok, room[None, :], -1), axis=1)] = True
    return mask & ok


def _greedy_batch(values: np.ndarray, sizes: np.ndarray, uses: np.ndarray,
                  eligible: np.ndarray, room: np.ndarray, res_room: list[np.ndarray],
                  hard_room: np.ndarray, res_hard: list[np.ndarray]) -> np.ndarray:
    """Largest (and most constrained) first, each to its best municipality with room under
    the reserves, else under the hard limits; −1 where nothing fits."""
    room, hard_room = room.copy(), hard_room.copy()
    res_room = [r.copy() for r in res_room]
    res_hard = [r.copy() for r in res_hard]
    n = len(sizes)
    a = np.full(n, -1, dtype=np.int64)
    n_ok = (eligible & (sizes[:, None] <= room[None, :])).sum(axis=1)
    uses_any = uses.sum(axis=1) if uses.size else np.zeros(n)
    for i in np.lexsort((-sizes, n_ok, -uses_any)):
        for r_room, r_res in ((room, res_room), (hard_room, res_hard)):
            ok = eligible[i] & (r_room >= sizes[i])
            for k, left in enumerate(r_res):
                if uses[i, k]:
                    ok &= left >= uses[i, k]
            if ok.any():
                j = int(np.argmax(np.where(ok, values[i], -np.inf)))
                a[i] = j
                room[j] -= sizes[i]
                hard_room[j] -= sizes[i]
                for k in range(len(res_room)):
                    res_room[k][j] -= uses[i, k]
                    res_hard[k][j] -= uses[i, k]
                break
    return a


def place_week(
    state: OnlineState,
    values: np.ndarray,
    sizes: np.ndarray,
    eligible: np.ndarray,
    uses: np.ndarray,
    expected_future: float,
    rng: np.random.Generator,
    scenarios: int = 1,
    sample: int = 300,
    candidates: int = 12,
    mip_gap: float = 1e-3,
    pricing_rounds: int = 3,
    reserve: np.ndarray | None = None,
    resource_reserve: list[np.ndarray] | None = None,
    pace_room: np.ndarray | None = None,
    limits: WeekLimits = WeekLimits(),
    hard_reserve: np.ndarray | None = None,
    hard_resource_reserve: list[np.ndarray] | None = None,
) -> WeekResult:
    """Place one batch (``values`` (n, M), ``sizes``, ``eligible`` (n, M), ``uses`` (n, R):
    resource use per household, EMA first) given ``expected_future`` households still to
    come (a forecast, never the true count). ``reserve`` (persons per municipality) and
    ``resource_reserve`` are held back for the future where the batch can do without them;
    ``pace_room`` caps what this batch may take, to keep municipalities on track.
    ``hard_reserve`` / ``hard_resource_reserve`` are held back even under the hard limits
    (the room of households with a hard tie still to come: they can go nowhere else). The work
    is bounded by ``limits`` and ``pricing_rounds``, never by the clock: the same inputs and
    ``rng`` state give the same placement. Updates ``state``."""
    t0 = time.perf_counter()
    n, m = values.shape
    n_res = len(state.resource_left)
    uses = uses.reshape(n, n_res) if n_res else np.zeros((n, 0), dtype=np.int64)
    room = state.capacity_left.astype(float)
    if reserve is not None:
        room = room - reserve
    res_room = [state.resource_left[k].astype(float)
                - (0 if resource_reserve is None else resource_reserve[k]) for k in range(n_res)]
    prices = state.prices if state.prices is not None else np.zeros(m)
    state.seen_values.append(values)
    state.seen_sizes.append(sizes)
    state.seen_uses.append(uses)
    state.seen_eligible.append(eligible)
    hist = (np.concatenate(state.seen_values), np.concatenate(state.seen_sizes),
            np.concatenate(state.seen_uses), np.concatenate(state.seen_eligible))
    hard_room = state.hard_left.astype(float)
    if hard_reserve is not None:
        hard_room = hard_room - hard_reserve
    hard_res = [state.resource_left[k].astype(float)
                - (0 if hard_resource_reserve is None else hard_resource_reserve[k])
                for k in range(n_res)]
    batch_room = room if pace_room is None else np.minimum(room, pace_room)
    fits = (eligible & (sizes[:, None] <= np.maximum(batch_room, 0)[None, :])).any(axis=1)
    step = "to-trinns program"
    a = np.full(n, -1, dtype=np.int64)
    n_scen = scenarios if expected_future >= 1 else 0
    n_sample = int(min(sample, max(1, math.ceil(expected_future)))) if n_scen else 0
    ok = np.flatnonzero(fits)
    if len(ok):
        a[ok] = _two_stage(values[ok], sizes[ok], uses[ok], eligible[ok], room, res_room,
                           batch_room, prices, hist, expected_future, n_scen, n_sample, rng,
                           candidates, mip_gap, pricing_rounds, limits, state)
    todo = np.flatnonzero(a < 0)
    if len(todo):
        # households that fit nowhere under the reserves and the pace (or that the program
        # left out): greedily, reserves first, then the hard limits
        step = "to-trinns + grådig" if len(todo) < n else "grådig reserve"
        placed = a >= 0
        r_room = batch_room - np.bincount(a[placed], weights=sizes[placed], minlength=m)
        h_room = hard_room - np.bincount(a[placed], weights=sizes[placed], minlength=m)
        r_res = [res_room[k] - np.bincount(a[placed], weights=uses[placed, k], minlength=m)
                 for k in range(n_res)]
        h_res = [hard_res[k] - np.bincount(a[placed], weights=uses[placed, k], minlength=m)
                 for k in range(n_res)]
        a[todo] = _greedy_batch(values[todo] - sizes[todo, None] * prices[None, :], sizes[todo],
                                uses[todo], eligible[todo], r_room, r_res, h_room, h_res)
    if (a < 0).any():
        before = int((a < 0).sum())
        a = _repair(values, sizes, uses, eligible, a, hard_room, hard_res, limits)
        if int((a < 0).sum()) < before:
            step += " + reparasjon"
    placed = a >= 0
    np.subtract.at(state.capacity_left, a[placed], sizes[placed])
    np.subtract.at(state.hard_left, a[placed], sizes[placed])
    for k in range(n_res):
        np.subtract.at(state.resource_left[k], a[placed], uses[placed, k])
    return WeekResult(a, time.perf_counter() - t0, n_scen, n_sample, step)


def _place_bonus(values: np.ndarray) -> float:
    """A bonus per household placed that outweighs any difference in value."""
    return 10.0 * (float(np.abs(values).max(initial=0.0)) + 1.0)


def _repair(values: np.ndarray, sizes: np.ndarray, uses: np.ndarray, eligible: np.ndarray,
            a: np.ndarray, hard_room: np.ndarray, hard_res: list[np.ndarray],
            limits: WeekLimits) -> np.ndarray:
    """The exact last step for households still without room: an integer program within the
    hard limits only (reserves and pace released). Each unplaced household may go to any
    municipality where it fits alone; the week's households already placed in those
    municipalities stay placed but may move to one of their best municipalities with room to
    spare; everyone else keeps their place. Returns ``a`` with as many households placed as
    the program finds room for (the incumbent is the current placement)."""
    n, m = values.shape
    n_res = len(hard_res)

    def fits(i: np.ndarray, room: np.ndarray, res: list[np.ndarray]) -> np.ndarray:
        ok = eligible[i] & (sizes[i, None] <= room[None, :])
        for k in range(n_res):
            ok &= uses[i, k, None] <= res[k][None, :]
        return ok

    left = np.flatnonzero(a < 0)
    open_left = fits(left, hard_room, hard_res)
    if not open_left.any():
        return a  # nobody left has a municipality with room at all
    placed = a >= 0
    wanted = open_left.any(axis=0)
    movable = np.flatnonzero(placed & wanted[np.maximum(a, 0)])
    fixed = placed.copy()
    fixed[movable] = False

    def usage(sel: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.bincount(a[sel], weights=w[sel], minlength=m)

    room0 = hard_room - usage(fixed, sizes)
    res0 = [hard_res[k] - usage(fixed, uses[:, k]) for k in range(n_res)]
    spare = room0 - usage(movable, sizes)
    spare_res = [res0[k] - usage(movable, uses[:, k]) for k in range(n_res)]
    mask = np.zeros((n, m), dtype=bool)
    mask[left] = open_left
    if len(movable):
        alt = fits(movable, spare, spare_res)
        kk = min(limits.repair_alternatives, m)
        score = np.where(alt, values[movable], -np.inf)
        best = np.argpartition(-score, kk - 1, axis=1)[:, :kk] if kk < m else \
            np.tile(np.arange(m), (len(movable), 1))
        keep = np.zeros_like(alt)
        keep[np.repeat(np.arange(len(movable)), best.shape[1]), best.ravel()] = True
        mask[movable] = alt & keep
        mask[movable, a[movable]] = True
    iu, jj = np.nonzero(mask)
    model = Model()
    lo = np.concatenate([np.isin(np.arange(n), movable).astype(float),
                         np.full(m * (1 + n_res), -INF)])
    up = np.concatenate([np.ones(n), room0] + res0)
    model.add_rows(lo, up)
    rows = [iu, n + jj] + [n + m * (1 + k) + jj for k in range(n_res)]
    coef = [np.ones(len(iu)), sizes[iu].astype(float)] + [uses[iu, k].astype(float)
                                                         for k in range(n_res)]
    first = model.add_columns_dense_rows(-values[iu, jj] - _place_bonus(values),
                                         np.zeros(len(iu)), np.ones(len(iu)),
                                         np.stack(rows, axis=1), np.stack(coef, axis=1))
    model.set_integer(first, len(iu))
    model.set_start((a[iu] == jj).astype(float))
    model.option("mip_max_nodes", limits.repair_nodes)
    model.run(mip_gap=1e-4)
    if not model.has_solution:
        return a
    chosen = model.values() > 0.5
    out = a.copy()
    out[np.unique(iu)] = -1
    out[iu[chosen]] = jj[chosen]
    return out if (out >= 0).sum() > (a >= 0).sum() else a


def _two_stage(values, sizes, uses, eligible, room, res_room, batch_room, prices, hist,
               expected_future, n_scen, n_sample, rng, candidates, mip_gap, pricing_rounds,
               limits, state) -> np.ndarray:
    hist_v, hist_s, hist_u, hist_e = hist
    n, m = values.shape
    n_res = len(res_room)
    model = Model()
    # a small LP re-solved from its last basis after each pricing round: presolve would
    # only redo work (and costs more than the solve itself)
    model.option("presolve", "off")
    weight = expected_future / n_sample if n_sample else 0.0
    use_res = [k for k in range(n_res) if uses[:, k].any() or hist_u[:, k].any()]
    per_scen = m * (1 + len(use_res)) + n_sample
    n_rows = n + max(n_scen, 1) * m * (1 + len(use_res)) + n_scen * n_sample
    lo = np.full(n_rows, -INF)
    up = np.full(n_rows, INF)
    # each of the week's households at most once, with a bonus for being placed: where the
    # week does not fit under the reserves and the pace, the program still places the most
    lo[:n] = 0.0
    up[:n] = 1.0
    bonus = _place_bonus(values)
    cap_rows, res_rows = [], []
    for k in range(max(n_scen, 1)):
        base = n + k * per_scen
        cap_rows.append(base)
        up[base:base + m] = room
        rr = []
        for q, r in enumerate(use_res):
            rr.append(base + m * (1 + q))
            up[base + m * (1 + q):base + m * (2 + q)] = res_room[r]
        res_rows.append(rr)
        if n_scen:
            srow = base + m * (1 + len(use_res))
            up[srow:srow + n_sample] = weight
    pace_rows: list[int] = []
    if not np.array_equal(batch_room, room):
        pace_rows.append(n_rows)
        lo = np.concatenate([lo, np.full(m, -INF)])
        up = np.concatenate([up, np.maximum(batch_room, 0).astype(float)])
        n_rows += m
    model.add_rows(lo, up)
    # blocks: (values, sizes, uses, eligible, assign row 0, cap rows, res rows, scale, ub,
    # bonus)
    blocks = [(values, sizes, uses[:, use_res] if use_res else np.zeros((n, 0)),
               eligible & (sizes[:, None] <= room[None, :]), 0, cap_rows + pace_rows,
               [rr for rr_k in res_rows for rr in rr_k], 1.0, 1.0, bonus)]
    for k in range(n_scen):
        pick = rng.integers(0, len(hist_s), size=n_sample)
        base = n + k * per_scen
        srow = base + m * (1 + len(use_res))
        se = hist_e[pick] & (hist_s[pick][:, None] <= room[None, :])
        blocks.append((hist_v[pick], hist_s[pick],
                       hist_u[pick][:, use_res] if use_res else np.zeros((n_sample, 0)), se,
                       srow, [cap_rows[k]], res_rows[k], 1.0 / n_scen, INF, 0.0))
    present = [np.zeros_like(b[3]) for b in blocks]
    cols: list[tuple[int, np.ndarray, np.ndarray, int]] = []  # (block, rows i, munis j, first)

    def add(bi: int, mask: np.ndarray) -> None:
        vals, sz, us, _, r0, caps, ress, scale, ub, bon = blocks[bi]
        iu, jj = np.nonzero(mask & ~present[bi])
        if not len(iu):
            return
        rr = [r0 + iu] + [c + jj for c in caps]
        vv = [np.ones(len(iu))] + [sz[iu].astype(float)] * len(caps)
        for q, rrow in enumerate(ress):  # per scenario, one row block per resource
            rr.append(rrow + jj)
            vv.append(us[iu, q % us.shape[1]].astype(float))
        first = model.add_columns_dense_rows(-vals[iu, jj] * scale - bon, np.zeros(len(iu)),
                                             np.full(len(iu), ub), np.stack(rr, axis=1),
                                             np.stack(vv, axis=1))
        present[bi][iu, jj] = True
        cols.append((bi, iu, jj, first))

    for bi, b in enumerate(blocks):
        nb = len(b[1])
        k_cand = min(candidates, max(limits.min_candidates, limits.columns // max(nb, 1)))
        add(bi, _candidates(b[0], b[1], b[3], prices, batch_room if bi == 0 else room, k_cand))
    y = np.zeros(n_rows)
    solved = False
    for _ in range(pricing_rounds):
        model.run()
        solved = model.has_solution
        if not solved:
            break
        y = model.row_duals()
        added = 0
        for bi, (vals, sz, us, el, r0, caps, ress, scale, _, bon) in enumerate(blocks):
            nb = len(sz)
            d = -vals * scale - bon - y[r0:r0 + nb][:, None]
            for c in caps:
                d -= sz[:, None] * y[c:c + m][None, :]
            for q, rrow in enumerate(ress):
                d -= us[:, q % us.shape[1]][:, None] * y[rrow:rrow + m][None, :]
            cand = el & ~present[bi] & (d < -1e-7)
            if cand.any():
                # the most negative reduced costs, at most price_columns per block
                flat = np.flatnonzero(cand.ravel())
                if len(flat) > limits.price_columns:
                    dv = d.ravel()[flat]
                    flat = flat[np.argpartition(dv, limits.price_columns - 1)
                                [:limits.price_columns]]
                mask = np.zeros(cand.size, dtype=bool)
                mask[flat] = True
                before = len(cols)
                add(bi, mask.reshape(cand.shape))
                added += len(cols) - before
        if not added:
            break
        solved = False  # new columns: the next round (or the final solve) must re-solve
    if not solved:  # the last columns were added after the last solve
        model.run()
    if n_scen and model.has_solution:
        state.prices = -sum(y[c:c + m] for c in cap_rows)
    batch_cols = [(iu, jj, first) for bi, iu, jj, first in cols if bi == 0]
    a = np.full(n, -1, dtype=np.int64)
    if not model.has_solution:
        return a
    # The integer step: the week's households only, the future priced by the LP's duals
    # (capacity and resource rows summed over the scenarios); households the LP places whole
    # keep that placement. A small program with a node limit.
    x_lp = model.values()
    pi_cap = -sum(y[c:c + m] for c in cap_rows) if n_scen else np.zeros(m)
    pi_res = [-sum(y[rr_k[q]:rr_k[q] + m] for rr_k in res_rows) if n_scen else np.zeros(m)
              for q in range(len(use_res))]
    iu = np.concatenate([c[0] for c in batch_cols])
    jj = np.concatenate([c[1] for c in batch_cols])
    xv = np.concatenate([x_lp[first:first + len(c_iu)] for c_iu, _, first in batch_cols])
    whole = np.zeros(n, dtype=bool)
    whole[iu[xv > 1 - 1e-6]] = True
    a[iu[xv > 1 - 1e-6]] = jj[xv > 1 - 1e-6]
    rest = ~whole[iu]
    if not rest.any():
        return a
    iu, jj = iu[rest], jj[rest]
    used = np.bincount(a[whole], weights=sizes[whole], minlength=m)
    adj = values[iu, jj] - sizes[iu] * pi_cap[jj]
    for q, r in enumerate(use_res):
        adj -= uses[iu, r] * pi_res[q][jj]
    small = Model()
    free = np.flatnonzero(~whole)
    pos = np.full(n, -1)
    pos[free] = np.arange(len(free))
    # each household at most once, a large bonus for every household placed: where whole
    # households no longer fit the room the LP split between them, the program places as
    # many as it can and leaves the rest to the greedy step
    rows_lo = [np.zeros(len(free)), np.full(m, -INF)]
    rows_up = [np.ones(len(free)), np.maximum(batch_room - used, 0)]
    res_first = []
    nxt = len(free) + m
    for r in use_res:
        r_used = np.bincount(a[whole], weights=uses[whole, r], minlength=m)
        res_first.append(nxt)
        nxt += m
        rows_lo.append(np.full(m, -INF))
        rows_up.append(np.maximum(res_room[r] - r_used, 0))
    small.add_rows(np.concatenate(rows_lo), np.concatenate(rows_up))
    entries_r = [pos[iu], len(free) + jj] + [rf + jj for rf in res_first]
    entries_v = [np.ones(len(iu)), sizes[iu].astype(float)] + [
        uses[iu, r].astype(float) for r in use_res]
    first = small.add_columns_dense_rows(-adj - _place_bonus(adj), np.zeros(len(iu)),
                                         np.ones(len(iu)), np.stack(entries_r, axis=1),
                                         np.stack(entries_v, axis=1))
    small.set_integer(first, len(iu))
    small.option("mip_max_nodes", limits.mip_nodes)
    small.run(mip_gap=mip_gap)
    if not small.has_solution:
        return a
    chosen = small.values() > 0.5
    a[iu[chosen]] = jj[chosen]
    return a


@dataclass
class OnlineComparison:
    """One simulated year: online two-stage vs greedy vs hindsight-optimal."""

    two_stage: float
    greedy: float
    hindsight: float
    hindsight_bound: float
    ratio_two_stage: float
    ratio_greedy: float
    week_seconds_max: float
    week_seconds_mean: float
    weeks: int
    assignment: np.ndarray
    # max over weeks and municipalities with a yearly number ≥ PACE_MIN_CAPACITY persons of
    # (share of the yearly number used − share of the year gone)
    pace_deviation: float
    greedy_unplaced: int = 0
    unplaced: int = 0  # households the online placer found no room for when they came
    greedy_assignment: np.ndarray | None = None
    forecast_error_mid: float = 0.0  # |forecast of what is left − truth| / truth, mid-year
    forecast_factor: float = 1.0
    pattern: str = "jevn"
    ratio_common: float = math.nan  # two-stage / greedy on the households both placed
    steps: dict[str, int] = field(default_factory=dict)


def arrival_batches(problem: MatchProblem, weeks: int, rng: np.random.Generator,
                    pattern: str = "jevn", order: np.ndarray | None = None
                    ) -> list[np.ndarray]:
    """The households arriving each week under an arrival pattern (:data:`ARRIVAL_PATTERNS`);
    ``order`` (an arrival order) with ``jevn`` splits it evenly."""
    n = problem.n_households
    if pattern not in ARRIVAL_PATTERNS:
        raise ValueError(pattern)
    if pattern == "jevn":
        base = rng.permutation(n) if order is None else np.asarray(order)
        return np.array_split(base, weeks)
    perm = rng.permutation(n)
    if pattern == "topp":
        surge = perm[: int(0.4 * n)]
        rest = np.array_split(perm[int(0.4 * n):], weeks - 4)
        mid = weeks // 2 - 2
        out = rest[:mid] + list(np.array_split(surge, 4)) + rest[mid:]
        return out
    if pattern == "drift":
        key = problem.sizes[perm] + rng.normal(0, 1.5, n)
        return np.array_split(perm[np.argsort(key, kind="stable")], weeks)
    large = perm[problem.sizes[perm] >= LARGE]
    small = perm[problem.sizes[perm] < LARGE]
    early = np.array_split(small, weeks)
    late = np.array_split(large, min(10, weeks))
    return [np.concatenate([early[w], late[w - (weeks - len(late))]])
            if w >= weeks - len(late) else early[w] for w in range(weeks)]


def _planning_capacity(problem: MatchProblem) -> np.ndarray:
    """What the year is planned on: the soft capacity (share) where there is one, at most
    the hard capacity."""
    if problem.target is not None and problem.target_weight > 0:
        return np.minimum(np.floor(np.asarray(problem.target, dtype=float) + 1e-9),
                          problem.capacity).astype(np.int64)
    return problem.capacity.astype(np.int64)


def greedy_week(problem: MatchProblem, batches: Sequence[np.ndarray], elig: np.ndarray,
                values: np.ndarray, uses: np.ndarray, forecast: VolumeForecast,
                reserve_for_ties: bool = True) -> np.ndarray:
    """The greedy comparator, week by week in arrival order: each household to its best
    municipality with room, with the same reserves as the two-stage placer (tied households'
    room, EMA places and large rooms for the forecast's upper quantile), falling back to the
    hard limits before leaving a household unplaced."""
    state = _initial_state(problem)
    a = np.full(problem.n_households, -1, dtype=np.int64)
    arrived = 0
    tie_res, tie_res_u = _tie_reserve(problem, uses)
    n_res = uses.shape[1]
    for w, b in enumerate(batches):
        arrived += len(b)
        for h in b:
            j = problem.hard_ties.get(int(h))
            if j is not None and reserve_for_ties:
                tie_res[j] -= problem.sizes[h]
                for k in range(n_res):
                    tie_res_u[k][j] -= uses[h, k]
        _, _, high = forecast.remaining(w + 1, arrived)
        res_reserve = _resource_reserve(state, uses, b, arrived, high, tie_res_u)
        room = state.capacity_left - (tie_res if reserve_for_ties else 0)
        res_room = [state.resource_left[k] - res_reserve[k] for k in range(n_res)]
        ab = _greedy_batch(values[b], problem.sizes[b], uses[b], elig[b], room.astype(float),
                           [r.astype(float) for r in res_room],
                           state.hard_left.astype(float),
                           [r.astype(float) for r in state.resource_left])
        a[b] = ab
        ok = ab >= 0
        np.subtract.at(state.capacity_left, ab[ok], problem.sizes[b][ok])
        np.subtract.at(state.hard_left, ab[ok], problem.sizes[b][ok])
        for k in range(n_res):
            np.subtract.at(state.resource_left[k], ab[ok], uses[b][ok, k])
    return a


def _initial_state(problem: MatchProblem) -> OnlineState:
    return OnlineState(_planning_capacity(problem).copy(), problem.capacity.astype(np.int64).copy(),
                       [r.capacity.astype(np.int64).copy() for r in problem.all_resources()])


def _uses(problem: MatchProblem) -> np.ndarray:
    res = problem.all_resources()
    return (np.stack([r.use for r in res], axis=1) if res
            else np.zeros((problem.n_households, 0), dtype=np.int64))


def _tie_reserve(problem: MatchProblem, uses: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Households with a hard tie are known from the case pipeline before they arrive: their
    room (and resource places) in the tied municipality is held for them."""
    reserve = np.zeros(problem.n_munis)
    res = [np.zeros(problem.n_munis) for _ in range(uses.shape[1])]
    for h, j in problem.hard_ties.items():
        reserve[j] += problem.sizes[h]
        for k in range(uses.shape[1]):
            res[k][j] += uses[h, k]
    return reserve, res


def _resource_reserve(state: OnlineState, uses: np.ndarray, batch: np.ndarray, arrived: int,
                      future_high: float, tie_res: list[np.ndarray]) -> list[np.ndarray]:
    """Resource places held back for the future: the rate of use seen so far times the
    forecast's upper quantile of households still to come, spread over the municipalities in
    proportion to what they have left (plus the tied households' own places)."""
    out = []
    seen = np.concatenate(state.seen_uses) if state.seen_uses else uses[batch]
    for k in range(uses.shape[1]):
        rate = float(seen[:, k].sum()) / max(len(seen), 1)
        need = rate * future_high
        left = state.resource_left[k].astype(float)
        share = left / left.sum() if left.sum() > 0 else np.zeros_like(left)
        out.append(np.minimum(left, np.floor(share * need) + tie_res[k]))
    return out


@published
def online_result(problem: MatchProblem, assignment: np.ndarray, method: str,
                  seconds: float) -> MatchResult:
    """The online placement as a :class:`MatchResult` (−1 where a household found no room)."""
    obj, exp = evaluate(problem, assignment)
    return MatchResult(assignment, obj, exp, math.nan, method, seconds,
                       unplaced=int((np.asarray(assignment) < 0).sum()))


def simulate_year(
    problem: MatchProblem,
    weeks: int,
    rng: np.random.Generator,
    order: np.ndarray | None = None,
    scenarios: int = 1,
    sample: int = 300,
    pricing_rounds: int = 3,
    pace_tolerance: float | None = DEFAULT_PACE_TOLERANCE,
    forecast_factor: float = 1.0,
    pattern: str = "jevn",
    hindsight: MatchResult | None = None,
    limits: WeekLimits = WeekLimits(),
) -> OnlineComparison:
    """Households arrive over ``weeks`` weeks (``pattern``, or ``order`` split evenly); place
    them online (two-stage, from a forecast whose planned volume is ``forecast_factor`` × the
    true number), greedily with the same reserves, and with hindsight; return the totals and
    ratios. With ``pace_tolerance`` t, by the end of week w a municipality has used at most
    (w/weeks + t) of its yearly number (at least room for the largest household). ``None``
    turns pacing off. ``hindsight`` reuses a solution of the whole problem (the same for every
    pattern) instead of solving it again."""
    t_start = time.perf_counter()
    problem.check_totals()
    elig_all = problem.eligibility()
    values = problem.household_values() + problem.bonus()
    uses = _uses(problem)
    n_h = problem.n_households
    batches = arrival_batches(problem, weeks, rng, pattern, order)
    forecast = VolumeForecast(forecast_factor * n_h, weeks)
    state = _initial_state(problem)
    plan_cap = _planning_capacity(problem)
    a = np.full(n_h, -1, dtype=np.int64)
    secs: list[float] = []
    steps: dict[str, int] = {}
    pace = 0.0
    cap = np.maximum(plan_cap, 1)
    arrived = 0
    tie_res, tie_res_u = _tie_reserve(problem, uses)
    forecast_error_mid = 0.0
    n_res = uses.shape[1]
    for w, b in enumerate(batches):
        for h in b:
            j = problem.hard_ties.get(int(h))
            if j is not None:
                tie_res[j] -= problem.sizes[h]
                for k in range(n_res):
                    tie_res_u[k][j] -= uses[h, k]
        # the forecast knows only what has arrived before this week (and this week's batch)
        arrived += len(b)
        mean, _, high = forecast.remaining(w + 1, arrived)
        if w == len(batches) // 2:
            truth = n_h - arrived
            forecast_error_mid = abs(mean - truth) / max(truth, 1)
        reserve = tie_res
        res_reserve = _resource_reserve(state, uses, b, arrived, high, tie_res_u)
        pace_room = None
        if pace_tolerance is not None:
            allowed = np.ceil(plan_cap * min(1.0, (w + 1) / weeks + pace_tolerance))
            used = plan_cap - state.capacity_left
            pace_room = np.maximum(allowed, problem.sizes.max()) - used
        res = place_week(state, values[b], problem.sizes[b], elig_all[b], uses[b], high, rng,
                         scenarios=scenarios, sample=sample, pricing_rounds=pricing_rounds,
                         reserve=reserve, resource_reserve=res_reserve, pace_room=pace_room,
                         limits=limits, hard_reserve=tie_res, hard_resource_reserve=tie_res_u)
        a[b] = res.assignment
        secs.append(res.seconds)
        steps[res.step] = steps.get(res.step, 0) + 1
        used_share = 1 - state.capacity_left / cap
        big = plan_cap >= PACE_MIN_CAPACITY
        if big.any():
            pace = max(pace, float((used_share - (w + 1) / weeks)[big].max()))
    bad = violations(problem, a, partial=True)
    if bad:
        raise RuntimeError("nettbasert plassering brøt et krav: " + bad[0])
    online = online_result(problem, a, "nettbasert (to-trinns)", time.perf_counter() - t_start)
    g = greedy_week(problem, batches, elig_all, values, uses, forecast)
    greedy = online_result(problem, g, "nettbasert (grådig)", 0.0)
    hind = solve_structured(problem) if hindsight is None else hindsight
    both = (a >= 0) & (g >= 0)
    idx = np.flatnonzero(both)
    common_two = float(values[idx, a[idx]].sum())
    common_greedy = float(values[idx, g[idx]].sum())
    return OnlineComparison(
        online.objective, greedy.objective, hind.objective, hind.bound,
        online.objective / hind.objective, greedy.objective / hind.objective,
        float(max(secs)), float(np.mean(secs)), weeks, a, pace, greedy.unplaced,
        online.unplaced, g, forecast_error_mid, forecast_factor, pattern,
        common_two / common_greedy if common_greedy else math.nan, steps)


def week_of_arrivals(problem: MatchProblem, batch: Sequence[int], expected_future: float,
                     rng: np.random.Generator, history: Sequence[int] = ()) -> WeekResult:
    """Place one batch of households of ``problem`` with the full capacity left, using
    ``history`` (households seen before) and the batch itself as the scenario pool."""
    elig = problem.eligibility()
    values = problem.household_values() + problem.bonus()
    uses = _uses(problem)
    state = _initial_state(problem)
    hist = np.asarray(history, dtype=np.int64)
    if len(hist):
        state.seen_values.append(values[hist])
        state.seen_sizes.append(problem.sizes[hist])
        state.seen_uses.append(uses[hist])
        state.seen_eligible.append(elig[hist])
    b = np.asarray(batch, dtype=np.int64)
    return place_week(state, values[b], problem.sizes[b], elig[b], uses[b], expected_future,
                      rng)
