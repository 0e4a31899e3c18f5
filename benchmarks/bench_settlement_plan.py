"""Settlement planning budgets: county/national plan, synthetic cohort, prediction matrix.

Budgets (issue 7, planner interactivity): a national recommendation (357 municipalities,
minimum group, ceiling and district priority) solved to optimality in under 5 s; a
35,000-person synthetic cohort generated in under 15 s; the 35,000 × 357 outcome
matrix predicted in under 5 s and 2 GiB peak memory. Uses ``--database`` (or imports
../shared/data into a temporary database). Prints one JSON object per budget; the
figure is the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, settlement_inputs


def _timed(fn, runs: int) -> tuple[float, list[float], object]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", type=Path)
    args = parser.parse_args()

    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.plan import PlanParameters, make_plan
    from bliatlas.settlement.predict import OutcomeModel

    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        munis, targets = settlement_inputs(db)

        params = PlanParameters(total=25000, min_group=10, max_per_1000=20, district_priority=0.25)
        t, runs, plan = _timed(lambda: make_plan(munis, params), args.runs)
        print(
            json.dumps(
                {
                    "benchmark": "settlement_plan_national",
                    "figure": round(t, 3),
                    "unit": "s",
                    "budget": 5.0,
                    "pass": t < 5.0,
                    "runs": [round(x, 3) for x in runs],
                    "municipalities": len(munis),
                    "total": plan.total,
                }
            )
        )

        t, runs, cohort = _timed(
            lambda: syn.generate_cohort(35000, targets, munis, seed=1), args.runs
        )
        print(
            json.dumps(
                {
                    "benchmark": "settlement_generate_35000",
                    "figure": round(t, 3),
                    "unit": "s",
                    "budget": 15.0,
                    "pass": t < 15.0,
                    "runs": [round(x, 3) for x in runs],
                    "persons": len(cohort),
                    "households": cohort.n_households,
                    "syntetisk": True,
                }
            )
        )

        extract, _, _ = syn.generate_extract(20000, targets, munis, seed=2)
        model = OutcomeModel().fit(extract, munis)
        t, runs, probs = _timed(lambda: model.predict_matrix(cohort, munis), args.runs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "benchmark": "settlement_predict_matrix_35000x357",
                    "figure": round(t, 3),
                    "unit": "s",
                    "budget": 5.0,
                    "pass": t < 5.0,
                    "runs": [round(x, 3) for x in runs],
                    "shape": list(probs.shape),
                }
            )
        )
        print(
            json.dumps(
                {
                    "benchmark": "settlement_peak_memory",
                    "figure": round(peak, 1),
                    "unit": "MiB",
                    "budget": 2048,
                    "pass": peak < 2048,
                }
            )
        )


if __name__ == "__main__":
    main()
