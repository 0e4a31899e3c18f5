"""Settlement matching (issue 15), side by side in one run. Prints one JSON object per figure.

Everything is SYNTHETIC (cohorts, training extract, truth), calibrated to published figures
in the store; the municipalities and their decisions are real (2024).

1. ``settlement_backtest_realised_gain`` — the back-test (:mod:`bliatlas.settlement.backtest`):
   both model kinds trained on one synthetic year (20,000 persons), the next year's national
   cohort (``--backtest-persons``, default 25,000: a year must fit in the 28,327 places the
   municipalities decided for 2024) placed with the default capacity (each decision scaled
   to the cohort's share, never above it) and rules; realised gain over random on held-out true
   outcomes for optimised, greedy and capacity-only placement, with 95 % intervals, the
   predicted gain beside it, the share that survives, calibration, the kind chosen.
2. ``settlement_stress_<instance>`` — the stress set: the structured solver beside the fair
   naive baseline (the full LP over all type × municipality columns, rounded and repaired)
   and the exact MIP (the aggregated integer program over all eligible columns, time-limited)
   on the national instance with the old benchmark's capacity (decisions scaled to the cohort
   + 5 %), with ``--min-fill`` 0.5 and 0.8 on IMDi's requests, and on large-household and EMA
   instances from :mod:`bliatlas.settlement.stress`; objective, bound, gap, seconds, valid,
   and whether any method said "infeasible" while another found a placement
   (``false_infeasible``, must be 0). Small instances are solved to proven optimality.
3. ``settlement_online_<pattern>_x<factor>`` — a simulated year online (52 weeks) from a
   forecast of the remaining volume whose planned total is factor × the truth: share of
   hindsight, slowest week (budget 1 s), households unplaced, greedy with the same reserves.
4. ``settlement_resolve_*`` — re-solve after 1 lock, and after 50 locks + 500 forbids,
   against a fresh solve of the same restricted problem.
5. ``settlement_match_national`` — the structured solver's own budget on the national
   instance (< 60 s, gap ≤ 0.1 %, peak RSS < 4 GiB, in a child process).

Usage: .venv/bin/python benchmarks/bench_settlement_match.py [--database DB]
       [--persons N] [--exact-limit S] [--quick]
(``--quick``: a 6,000-person cohort, shorter limits, fewer online runs — a smoke run.
``--parts stress,resolve,online`` runs some parts only; ``--full-lp first`` runs the naive
full-LP baseline on the first national instance only.)
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, settlement_inputs


def _round(x, n=4):
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return [_round(v, n) for v in x]
    return None if not math.isfinite(float(x)) else round(float(x), n)


def emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def legacy_instance(munis, targets, persons: int, seed: int):
    """The earlier benchmark's instance: decisions scaled to the cohort + 5 %, EMA + 50 %,
    room raised for hard ties (the capacity the issue's --min-fill runs failed on)."""
    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.models import fit_models
    from bliatlas.settlement.rules import cohort_problem

    world, extract, *_ = syn.generate_world(20000, targets, munis, seed=2024)
    models = fit_models(extract, munis, "hierarkisk")
    cohort = syn.generate_cohort(persons, targets, munis, seed=seed)
    scores = models.score_matrix(cohort, munis)
    dec = np.nan_to_num(munis.vedtak)
    cap = np.ceil(dec / dec.sum() * len(cohort) * 1.05 - 1e-9).astype(np.int64)
    minors = int(cohort.unaccompanied_minor.sum())
    ema = np.nan_to_num(munis.ema_vedtak)
    mcap = np.ceil(ema / ema.sum() * max(minors, 1) * 1.5 - 1e-9).astype(np.int64)
    p, _ = cohort_problem(cohort, [str(c) for c in munis.codes], scores, cap, mcap,
                          np.ones(len(munis), dtype=bool))
    need = np.zeros(len(munis), dtype=np.int64)
    mneed = np.zeros(len(munis), dtype=np.int64)
    mn = p.minors()
    for h, j in p.hard_ties.items():
        need[j] += p.sizes[h]
        mneed[j] += mn[h]
    p.capacity = np.maximum(cap, need)
    p.minor_capacity = np.maximum(mcap, mneed)
    del world
    return p


def _child(kind: str, problem, limit: float, queue) -> None:
    from bliatlas.settlement.checks import violations
    from bliatlas.settlement.problem import InfeasibleError, NoPlacementFound
    from bliatlas.settlement.solvers import (
        solve,
        solve_exact,
        solve_full_lp_rounding,
        solve_structured,
    )

    t = time.perf_counter()
    out: dict = {"kind": kind}
    try:
        if kind == "structured":
            r = solve(problem, mip_gap=1e-3, time_limit=limit)
        elif kind == "structured_raw":
            r = solve_structured(problem, mip_gap=1e-3, time_limit=limit)
        elif kind == "full_lp":
            r = solve_full_lp_rounding(problem, threads=2)
        else:
            r = solve_exact(problem, mip_gap=1e-3, time_limit=limit, threads=2)
        a = r.assignment
        out.update(seconds=time.perf_counter() - t, objective=r.objective, bound=r.bound,
                   gap=r.gap, valid=bool((a >= 0).all() and not violations(problem, a)),
                   infeasible=False, found=bool((a >= 0).all()), assignment=a,
                   prices=r.capacity_prices,
                   stats={k: v for k, v in r.stats.items() if isinstance(v, (int, float, str))})
    except InfeasibleError as exc:
        out.update(seconds=time.perf_counter() - t, infeasible=True, proof=exc.proof,
                   found=False, valid=False, message=str(exc)[:200])
    except NoPlacementFound as exc:
        out.update(seconds=time.perf_counter() - t, infeasible=False, found=False, valid=False,
                   message=str(exc)[:200])
    out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    queue.put(out)


def run_child(kind: str, problem, limit: float) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, problem, limit, q))
    proc.start()
    out = q.get()
    proc.join()
    return out


def stress(label: str, problem, exact_limit: float, structured_limit: float,
           baselines: bool, full_lp: bool = True) -> dict:
    s = run_child("structured", problem, structured_limit)
    rows = {"structured": s}
    if baselines:
        if full_lp:
            rows["full_lp_rounding"] = run_child("full_lp", problem, 0)
        rows["exact_mip"] = run_child("exact", problem, exact_limit)
    found = any(r.get("found") for r in rows.values())
    false_inf = sum(1 for r in rows.values() if r.get("infeasible")) if found else 0
    proven_inf = all(r.get("infeasible") for r in rows.values())
    best_bound = min((r["bound"] for r in rows.values()
                      if r.get("bound") is not None and math.isfinite(r["bound"])),
                     default=math.nan)
    out = {"benchmark": f"settlement_stress_{label}", "households": problem.n_households,
           "persons": problem.n_persons, "municipalities": problem.n_munis,
           "false_infeasible": false_inf, "all_say_infeasible": bool(proven_inf),
           "best_bound": _round(best_bound, 2), "syntetisk": True,
           "pass": bool(false_inf == 0 and (s.get("valid") or proven_inf)),
           "figure": _round(s.get("seconds"), 2), "unit": "s (structured)"}
    for name, r in rows.items():
        gap_best = (None if not r.get("found") or not math.isfinite(best_bound) else
                    max(0.0, (best_bound - r["objective"]) / abs(best_bound)))
        out[name] = {"seconds": _round(r.get("seconds"), 2),
                     "objective": _round(r.get("objective"), 2),
                     "bound": _round(r.get("bound"), 2), "gap_own": _round(r.get("gap"), 6),
                     "gap_to_best_bound": _round(gap_best, 6), "valid": r.get("valid"),
                     "infeasible": r.get("infeasible"), "proof": r.get("proof"),
                     "message": r.get("message"), "rss_gib": _round(r.get("rss_gib"), 3),
                     "step": (r.get("stats") or {}).get("step")}
    emit(out)
    return s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", type=Path)
    parser.add_argument("--persons", type=int, default=35000)
    parser.add_argument("--backtest-persons", type=int, default=25000)
    parser.add_argument("--exact-limit", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", default="backtest,stress,national,resolve,online",
                        help="comma-separated parts to run (backtest, stress, national, "
                             "resolve, online); the default runs all")
    parser.add_argument("--full-lp", choices=("all", "first"), default="all",
                        help="'first': the naive full-LP baseline (≈8 min on the national "
                             "instance) only on the first national instance")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    unknown = parts - {"backtest", "stress", "national", "resolve", "online"}
    if unknown:
        parser.error(f"ukjent del i --parts: {', '.join(sorted(unknown))}")
    if args.quick:
        args.persons, args.exact_limit = min(args.persons, 6000), min(args.exact_limit, 60.0)
        args.backtest_persons = min(args.backtest_persons, 4000)

    from bliatlas.settlement import stress as families
    from bliatlas.settlement.online import simulate_year
    from bliatlas.settlement.solvers import resolve, solve

    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        munis, targets = settlement_inputs(db)

    if "backtest" in parts:
        backtest(args, targets, munis)
    if not parts & {"stress", "national", "resolve", "online"}:
        return
    legacy = legacy_instance(munis, targets, args.persons, args.seed)
    # the first national instance is always solved: national, resolve and online start
    # from its placement
    s_main = stress("national_scaled_5pct", legacy, args.exact_limit, 60,
                    "stress" in parts)
    if "stress" in parts:
        stress_set(args, legacy, munis, families)
    if "national" in parts:
        national(s_main, legacy)
    if "resolve" in parts:
        resolve_part(s_main, legacy, resolve, solve)
    if "online" in parts:
        online(args, legacy, solve, simulate_year)


def backtest(args, targets, munis) -> None:
    """1. the back-test"""
    from bliatlas.settlement.backtest import run_backtest

    t = time.perf_counter()
    report = run_backtest(targets, munis, cohort_persons=args.backtest_persons,
                          repetitions=200, time_limit=60)
    chosen = report.results[report.chosen]
    rules = {}
    for rule in ("optimert", "grådig (beste ledige)", "bare kapasitet"):
        for kind, res in report.results.items():
            r = res.evaluations["arbeid"].rule(rule)
            rules.setdefault(rule, {})[kind] = {
                "realised_gain": _round(r.realised_gain), "realised_ci95": _round(
                    r.realised_gain_ci), "predicted_gain": _round(r.predicted_gain),
                "predicted_ci95": _round(r.predicted_gain_ci),
                "surviving_share": _round(r.surviving_share), "persons_15_74": r.persons,
                "unplaced_households": r.unplaced_households}
    opt = chosen.evaluations["arbeid"].rule("optimert")
    emit({"benchmark": "settlement_backtest_realised_gain",
          "figure": _round(opt.realised_gain), "unit": "realised gain over random (arbeid)",
          "budget": 0.0, "pass": bool(opt.realised_gain_ci[0] > 0),
          "ci95": _round(opt.realised_gain_ci), "predicted": _round(opt.predicted_gain),
          "chosen_kind": report.chosen, "rules": rules,
          "log_loss_next_year": {k: _round(r.log_loss_next_year) for k, r in
                                 report.results.items()},
          "calibration_optimised": chosen.evaluations["arbeid"].calibration,
          "bofast": {k: _round(r.evaluations["bofast"].rule("optimert").realised_gain)
                     for k, r in report.results.items() if "bofast" in r.evaluations},
          "setup": report.setup, "seconds": round(time.perf_counter() - t, 1),
          "syntetisk": True})



def stress_set(args, legacy, munis, families) -> None:
    """2. the stress set (the first national instance is solved by the caller)"""
    full_lp = args.full_lp == "all"
    for mf in (0.5, 0.8):
        legacy.request = np.nan_to_num(munis.anmodning)
        legacy.min_fill = mf
        stress(f"national_min_fill_{mf}", legacy, args.exact_limit, 60, True, full_lp)
    legacy.request, legacy.min_fill = None, 0.0
    weights = np.nan_to_num(munis.vedtak)
    for name in ("store_husholdninger", "ema"):
        for label, p in families.family(name, "nasjonal", seed=3, weights=weights):
            stress(label.replace(" ", "_").replace(".", "_"), p, args.exact_limit, 60, True,
                   full_lp)
    for name in families.FAMILIES:
        for label, p in families.family(name, "liten", seed=3):
            stress("liten_" + label.replace(" ", "_").replace(".", "_"), p, 120, 60, True)


def national(s_main, legacy) -> None:
    """5. the structured solver's own budget (from the first stress run, in a child
    process)"""
    emit({"benchmark": "settlement_match_national", "figure": _round(s_main["seconds"], 2),
          "unit": "s", "budget": 60.0,
          "pass": bool(s_main["seconds"] < 60 and s_main["gap"] <= 1e-3
                       and s_main["rss_gib"] < 4 and s_main["valid"]),
          "gap_to_bound": _round(s_main["gap"], 6), "peak_rss_gib": _round(s_main["rss_gib"], 3),
          "persons": legacy.n_persons, "households": legacy.n_households, "syntetisk": True})


def resolve_part(s_main, legacy, resolve, solve) -> None:
    """4. re-solving after edits"""
    from bliatlas.settlement.problem import MatchResult

    prev = MatchResult(s_main["assignment"], s_main["objective"], s_main["objective"],
                       s_main["bound"], "strukturert", s_main["seconds"],
                       capacity_prices=s_main["prices"])
    rng = np.random.default_rng(3)
    elig = legacy.eligibility()
    free = [h for h in range(legacy.n_households) if h not in legacy.hard_ties
            and elig[h].sum() > 3]
    pick = rng.choice(free, 550, replace=False)

    def other(h):
        opts = np.flatnonzero(elig[h])
        return int(rng.choice(opts[opts != prev.assignment[h]]))

    for label, locks, forbids in (
            ("1_lock", {int(pick[0]): other(pick[0])}, set()),
            ("50_locks_500_forbids", {int(h): other(h) for h in pick[:50]},
             {(int(h), int(prev.assignment[h])) for h in pick[50:]})):
        legacy.locks, legacy.forbids = locks, forbids
        t = time.perf_counter()
        r = resolve(legacy, prev)
        t_resolve = time.perf_counter() - t
        t = time.perf_counter()
        f = solve(legacy, mip_gap=1e-3)
        t_fresh = time.perf_counter() - t
        budget = 2.0 if label == "1_lock" else t_fresh
        emit({"benchmark": f"settlement_resolve_{label}", "figure": round(t_resolve, 3),
              "unit": "s", "budget": round(budget, 3), "pass": bool(t_resolve < budget),
              "fresh_seconds": round(t_fresh, 3), "gap": _round(r.gap, 6),
              "objective": _round(r.objective, 2), "fresh_objective": _round(f.objective, 2),
              "step": r.stats.get("step"), "syntetisk": True})
    legacy.locks, legacy.forbids = {}, set()


def online(args, legacy, solve, simulate_year) -> None:
    """3. online, from a forecast"""
    hind = solve(legacy)
    runs = ([("jevn", f) for f in (0.5, 0.8, 1.0, 1.2, 1.5)]
            + [(p, f) for p in ("topp", "drift", "sene_store") for f in (0.8, 1.2)])
    if args.quick:
        runs = [("jevn", 1.0), ("jevn", 0.5), ("sene_store", 0.8)]
    for pattern, factor in runs:
        t = time.perf_counter()
        year = simulate_year(legacy, weeks=52, rng=np.random.default_rng(7), pattern=pattern,
                             forecast_factor=factor, hindsight=hind)
        emit({"benchmark": f"settlement_online_{pattern}_x{factor}",
              "figure": _round(year.week_seconds_max, 3), "unit": "s (slowest of 52 weeks)",
              "budget": 1.0, "pass": bool(year.week_seconds_max < 1.0 and year.unplaced == 0),
              "share_of_hindsight": _round(year.ratio_two_stage),
              "greedy_share_of_hindsight": _round(year.ratio_greedy),
              "two_stage_over_greedy_on_common": _round(year.ratio_common),
              "unplaced": year.unplaced, "greedy_unplaced": year.greedy_unplaced,
              "week_seconds_mean": _round(year.week_seconds_mean, 3),
              "forecast_error_mid_year": _round(year.forecast_error_mid),
              "max_pace_deviation": _round(year.pace_deviation, 3), "steps": year.steps,
              "seconds": round(time.perf_counter() - t, 1), "syntetisk": True})


if __name__ == "__main__":
    main()
