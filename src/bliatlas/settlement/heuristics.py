"""Simple placement rules, used as comparators and as the solvers' last resort.

* :func:`greedy_best` — each household in turn to its best municipality with room;
* :func:`greedy_capacity` — capacity only: to the municipality with most room left relative
  to its capacity (uses no outcome predictions — today's practice);
* :func:`random_within_capacity` — a random municipality with room, in proportion to it.

All three place the most constrained households first (locked and tied, unaccompanied
minors, support needs, large households) and respect every rule of the problem except the
balance terms (floors, spread, equity); with a soft capacity (the cohort's share of each
decision) they keep within it wherever the household fits, and use the room up to the
decision only when it fits nowhere else. When a household finds no room they try one swap
(move a placed household elsewhere to make room) and otherwise leave it unplaced
(assignment −1, counted in :attr:`MatchResult.unplaced`): a rule places everyone it can
and never stops at the first household that does not fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from bliatlas.settlement.problem import MatchProblem, MatchResult, evaluate, published

Pick = Callable[[int, np.ndarray, np.ndarray], int]


class _Room:
    """Capacity and resources left per municipality while placing."""

    def __init__(self, problem: MatchProblem) -> None:
        self.p = problem
        self.left = problem.capacity.astype(np.int64).copy()
        self.res = [(r.use, r.capacity.astype(np.int64).copy()) for r in problem.all_resources()]
        # room under the soft capacity (the cohort's share), when there is one
        self.soft = (None if problem.target is None or problem.target_weight <= 0
                     else np.floor(np.asarray(problem.target, dtype=float) + 1e-9))

    def fits(self, h: int) -> np.ndarray:
        ok = self.left >= self.p.sizes[h]
        for use, left in self.res:
            if use[h]:
                ok &= left >= use[h]
        return ok

    def fits_at(self, h: int, j: int, extra_size: int = 0,
                extra_res: list[int] | None = None) -> bool:
        if self.left[j] + extra_size < self.p.sizes[h]:
            return False
        for k, (use, left) in enumerate(self.res):
            if use[h] and left[j] + (extra_res[k] if extra_res else 0) < use[h]:
                return False
        return True

    def take(self, h: int, j: int, sign: int = 1) -> None:
        self.left[j] -= sign * self.p.sizes[h]
        if self.soft is not None:
            self.soft[j] -= sign * self.p.sizes[h]
        for use, left in self.res:
            left[j] -= sign * use[h]

    def within_share(self, h: int) -> np.ndarray | None:
        """Where the household fits under the soft capacity too (None without one)."""
        return None if self.soft is None else self.soft >= self.p.sizes[h]


def place_in_order(problem: MatchProblem, order: np.ndarray, pick: Pick,
                   eligible: np.ndarray, value: np.ndarray | None = None,
                   swap: bool = True) -> np.ndarray:
    """Place households in ``order``; ``pick(h, room_mask, left)`` chooses among the
    municipalities with room. Households that fit nowhere get one swap attempt (by
    ``value`` when given) and are otherwise left at −1."""
    room = _Room(problem)
    a = np.full(problem.n_households, -1, dtype=np.int64)
    forced = set(problem.locks) | set(problem.hard_ties)
    members: list[list[int]] = [[] for _ in range(problem.n_munis)]
    for h in order:
        h = int(h)
        ok = eligible[h] & room.fits(h)
        share = room.within_share(h)
        if share is not None and (ok & share).any():
            ok = ok & share  # keep to the cohort's share where the household fits in it
        if ok.any():
            j = int(pick(h, ok, room.left))
        elif swap:
            j = _swap_in(problem, h, a, room, eligible, members, forced, value)
            if j < 0:
                continue
        else:
            continue
        a[h] = j
        room.take(h, j)
        members[j].append(h)
    return a


def _swap_in(problem: MatchProblem, h: int, a: np.ndarray, room: _Room, eligible: np.ndarray,
             members: list[list[int]], forced: set[int], value: np.ndarray | None,
             max_tries: int = 400, floor: np.ndarray | None = None) -> int:
    """Make room for ``h`` by moving one placed household g from a municipality k where h
    could go to another municipality with room; returns k (g moved) or −1. With ``floor``,
    no municipality is taken below its floor by the swap."""
    best: tuple[float, int, int, int] | None = None
    tries = 0
    cand = np.flatnonzero(eligible[h])
    if value is not None:
        cand = cand[np.argsort(-value[h, cand], kind="stable")]
    n_res = len(room.res)
    for k in cand:
        for g in members[k]:
            if g in forced:
                continue
            tries += 1
            if tries > max_tries:
                break
            extra_res = [int(use[g]) for use, _ in room.res] if n_res else None
            if not room.fits_at(h, int(k), int(problem.sizes[g]), extra_res):
                continue
            if floor is not None and (problem.capacity[k] - room.left[k] - problem.sizes[g]
                                      + problem.sizes[h]) < floor[k]:
                continue
            dest = eligible[g] & room.fits(g)
            dest[k] = False
            if not dest.any():
                continue
            if value is None:
                j2 = int(np.flatnonzero(dest)[0])
                gain = 0.0
            else:
                j2 = int(np.argmax(np.where(dest, value[g], -np.inf)))
                gain = float(value[h, k] + value[g, j2] - value[g, k])
            if best is None or gain > best[0]:
                best = (gain, int(k), g, j2)
            if value is None:
                break
        if (best is not None and value is None) or tries > max_tries:
            break
    if best is None:
        return -1
    _, k, g, j2 = best
    room.take(g, k, sign=-1)
    members[k].remove(g)
    a[g] = j2
    room.take(g, j2)
    members[j2].append(g)
    return k


def complete_placement(problem: MatchProblem, a: np.ndarray, pick: np.ndarray,
                       eligible: np.ndarray) -> np.ndarray | None:
    """Complete a partial placement (−1 = not placed) so that it meets every rule and every
    floor, or return None. Floors first: a municipality short of its floor gets the largest
    unplaced household that fits the gap (best by ``pick``, an (H, M) value), else a small
    household moved from a municipality with persons to spare above its floor. Then the
    remaining households, largest first, to their best municipality with room, with one
    swap (that keeps every floor) when none has room."""
    a = np.asarray(a, dtype=np.int64).copy()
    room = _Room(problem)
    members: list[list[int]] = [[] for _ in range(problem.n_munis)]
    for h in np.flatnonzero(a >= 0):
        room.take(int(h), int(a[h]))
        members[a[h]].append(int(h))
    forced = set(problem.locks) | set(problem.hard_ties)
    forced_mask = np.zeros(problem.n_households, dtype=bool)
    forced_mask[list(forced)] = True
    sizes = problem.sizes
    floor = problem.fill_floor()
    unplaced = set(np.flatnonzero(a < 0).tolist())
    if floor is not None:
        used = problem.capacity - room.left
        for j in np.argsort(-(floor - used), kind="stable"):
            j = int(j)
            while True:
                deficit = int(floor[j] - (problem.capacity[j] - room.left[j]))
                if deficit <= 0:
                    break
                cands = [h for h in unplaced if eligible[h, j] and sizes[h] <= deficit
                         and room.fits_at(h, j)]
                if cands:
                    h = max(cands, key=lambda h: (sizes[h], pick[h, j]))
                    unplaced.discard(h)
                else:
                    spare = problem.capacity - room.left - floor
                    placed = a >= 0
                    k_of = np.where(placed, a, 0)
                    ok = (placed & ~forced_mask & (sizes <= deficit) & (sizes <= spare[k_of])
                          & (k_of != j) & eligible[:, j] & (sizes <= room.left[j]))
                    movers = [g for g in np.flatnonzero(ok) if room.fits_at(int(g), j)]
                    if not movers:
                        return None
                    h = int(max(movers, key=lambda g: (sizes[g], pick[g, j] - pick[g, a[g]])))
                    k = int(a[h])
                    room.take(h, k, sign=-1)
                    members[k].remove(h)
                a[h] = j
                room.take(h, j)
                members[j].append(h)
    for h in sorted(unplaced, key=lambda h: -sizes[h]):
        ok = eligible[h] & room.fits(h)
        if ok.any():
            j = int(np.argmax(np.where(ok, pick[h], -np.inf)))
        else:
            j = _swap_in(problem, h, a, room, eligible, members, forced, pick, floor=floor)
            if j < 0:
                return None
        a[h] = j
        room.take(h, j)
        members[j].append(h)
    return a


def constrained_first(problem: MatchProblem, order: np.ndarray) -> np.ndarray:
    """Keep ``order`` but place the most constrained households first (stable): locked and
    tied ones, then unaccompanied minors and other resource users, then households with
    support needs, then by decreasing size — so that the rules do not run out of room for
    them."""
    forced = np.zeros(problem.n_households, dtype=bool)
    forced[list(set(problem.locks) | set(problem.hard_ties))] = True
    need = (np.zeros(problem.n_households, dtype=bool) if problem.support_needs is None
            else np.asarray(problem.support_needs, dtype=bool))
    uses = np.zeros(problem.n_households, dtype=bool)
    for r in problem.all_resources():
        uses |= r.use > 0
    order = np.asarray(order, dtype=np.int64)
    keys = (-problem.sizes[order], ~need[order], ~uses[order], ~forced[order])
    return order[np.lexsort(keys)]


def _rule_result(problem: MatchProblem, a: np.ndarray, method: str, t0: float) -> MatchResult:
    obj, exp = evaluate(problem, a)
    return MatchResult(a, obj, exp, math.nan, method, time.perf_counter() - t0,
                       unplaced=int((a < 0).sum()))


@published
def greedy_best(problem: MatchProblem, order: np.ndarray | None = None) -> MatchResult:
    """Each household in turn (arrival order by default) to its best municipality with room."""
    t0 = time.perf_counter()
    elig = problem.eligibility()
    value = problem.household_values() + problem.bonus()
    order = constrained_first(problem, np.arange(problem.n_households) if order is None
                              else np.asarray(order))
    a = place_in_order(
        problem, order, lambda h, room, left: np.argmax(np.where(room, value[h], -np.inf)),
        elig, value)
    return _rule_result(problem, a, "grådig (beste ledige kommune)", t0)


@published
def greedy_capacity(problem: MatchProblem, order: np.ndarray | None = None) -> MatchResult:
    """Capacity only: each household to the municipality with most room left relative to its
    capacity (ties to the lowest index). Uses no outcome predictions — today's practice."""
    t0 = time.perf_counter()
    elig = problem.eligibility()
    cap = np.maximum(problem.capacity, 1).astype(float)
    order = constrained_first(problem, np.arange(problem.n_households) if order is None
                              else np.asarray(order))
    a = place_in_order(
        problem, order, lambda h, room, left: np.argmax(np.where(room, left / cap, -np.inf)),
        elig)
    return _rule_result(problem, a, "grådig (bare kapasitet)", t0)


@published
def random_within_capacity(problem: MatchProblem, rng: np.random.Generator) -> MatchResult:
    """Households in random order, each to a random municipality with room, chosen with
    probability proportional to the room left."""
    t0 = time.perf_counter()
    elig = problem.eligibility()
    order = constrained_first(problem, rng.permutation(problem.n_households))

    def pick(h: int, room: np.ndarray, left: np.ndarray) -> int:
        w = np.where(room, left, 0).astype(float)
        return int(rng.choice(problem.n_munis, p=w / w.sum()))

    a = place_in_order(problem, order, pick, elig)
    return _rule_result(problem, a, "tilfeldig innenfor kapasitet", t0)
