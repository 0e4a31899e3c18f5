"""Settlement planner pages: server time for the national plan page and for a full-size upload.

Figures (JSON, one object per budget), measured in-process through the FastAPI app
(TestClient; no network), after one warm-up request that builds the indicator cube, the
map geometry and the (synthetic) outcome model:

* ``web_planner_plan_page_national`` — ``GET /bosetting`` for the whole country (357
  municipalities, minimum group 10, district priority 25 %) with two scenarios beside the
  base plan (ceiling 20 per 1,000; district priority 40 %): three integer programs, the
  map and the table, median of ``--runs``. Budget 3 s.
* ``web_planner_matching_upload`` — ``POST /bosetting/matching`` with a synthetic cohort
  CSV of ``--persons`` persons (default 50,000, the upload limit) uploaded for the whole
  country with the decisions scaled to the cohort plus 10 % as capacity (the 2024
  decisions sum to about 28,000 persons), until the result page has been rendered:
  read and validate the file, predict the persons × 357 matrix, solve, run the greedy
  rules and 10 random placements, fairness table, first page of explanations.
  Budget 60 s. (Ties to municipalities without a decision, or of unaccompanied minors to
  ones without a decision for minors, which the generator can produce and no placement
  can meet, are dropped.)
* ``web_planner_peak_memory`` — peak resident memory of the process. Budget 4 GiB.

    .venv/bin/python benchmarks/bench_web_planner.py [--database PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, settlement_inputs

PLAN_BUDGET_S = 3.0
MATCH_BUDGET_S = 60.0
MEMORY_BUDGET_MIB = 4096.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--database", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        os.environ["BLI_DATABASE"] = str(db)
        os.environ.pop("BLI_SETTLEMENT_MODEL", None)

        import numpy as np
        from fastapi.testclient import TestClient

        from bliatlas.api.app import create_app
        from bliatlas.settlement import synthetic as syn
        from bliatlas.settlement.cohort import write_cohort

        client = TestClient(create_app())
        query = "/bosetting?" + urlencode(
            {"total": "25000", "gruppe": "10", "distrikt": "25",
             "s": ["tak=max_per_1000:20", "distrikt40=district_priority:0.4"]}, doseq=True)
        assert client.get(query).status_code == 200  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            r = client.get(query)
            times.append(time.perf_counter() - start)
            assert r.status_code == 200
        t = statistics.median(times)
        print(json.dumps({
            "benchmark": "web_planner_plan_page_national", "figure": round(t, 3), "unit": "s",
            "budget": PLAN_BUDGET_S, "pass": t < PLAN_BUDGET_S,
            "runs": [round(x, 3) for x in times], "scenarios": 3, "bytes": len(r.content),
        }))

        munis, targets = settlement_inputs(db)
        cohort = syn.generate_cohort(args.persons, targets, munis, seed=7)
        while len(cohort) > args.persons:  # the last household may overshoot the limit
            cohort = cohort.subset(np.concatenate(cohort.households[:-1]))
        # The generator may tie a household to a municipality without a decision (vedtak),
        # or an unaccompanied minor to one without a decision for minors; no placement can
        # meet such a hard tie, so those ties are dropped here.
        dec = np.nan_to_num(munis.vedtak, nan=0.0)
        ema = np.nan_to_num(munis.ema_vedtak, nan=0.0)
        pos = {c: j for j, c in enumerate(munis.codes.tolist())}
        for rows in cohort.households:
            code = cohort.tie_municipality[rows[0]]
            if code and (dec[pos[code]] <= 0 or (
                    cohort.unaccompanied_minor[rows].any() and ema[pos[code]] < len(rows))):
                cohort.tie_municipality[rows] = ""
                cohort.tie_kind[rows] = ""
        path = Path(tmp) / "kohort.csv"
        write_cohort(cohort, path)
        data = path.read_bytes()
        # warm the outcome model with a small run
        r = client.post("/bosetting/matching", data={"kilde": "syntetisk", "personer": "50"})
        assert r.status_code == 200, r.text[-500:]
        start = time.perf_counter()
        r = client.post("/bosetting/matching", data={"kilde": "fil", "kapasitet": "skalert", "margin": "10"},
                        files={"kohort": ("kohort.csv", data, "text/csv")})
        t = time.perf_counter() - start
        assert r.status_code == 200, re.findall(r"<p>([^<]*)</p></div>", r.text)
        print(json.dumps({
            "benchmark": "web_planner_matching_upload", "figure": round(t, 3), "unit": "s",
            "budget": MATCH_BUDGET_S, "pass": t < MATCH_BUDGET_S, "persons": len(cohort),
            "households": cohort.n_households, "upload_bytes": len(data),
            "municipalities": len(munis), "syntetisk": True,
        }))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({
            "benchmark": "web_planner_peak_memory", "figure": round(peak, 1), "unit": "MiB",
            "budget": MEMORY_BUDGET_MIB, "pass": peak < MEMORY_BUDGET_MIB,
        }))


if __name__ == "__main__":
    main()
